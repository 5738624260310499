"""``newscrawl sites list``, ``sites new``, ``sites check``, ``sites fixture``
and ``extract``: the site definitions, and writing one (the work itself is
in crawler/cli/onboarding.py and crawler/cli/fixtures.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crawler.cli import fixtures
from crawler.exceptions import CONFIG_ERROR_EXIT
from crawler.sites.definitions import get_site, load_sites


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sites = sub.add_parser("sites", help="site definitions")
    sites_sub = sites.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    listing = sites_sub.add_parser("list", help="validate every site definition and list them")
    listing.set_defaults(func=cmd_sites_list)
    check = sites_sub.add_parser(
        "check", help="fetch a listing page and an article and show what each rule finds"
    )
    check.add_argument("site", help="site name")
    check.add_argument("url", nargs="?", help="an article URL (default: the first listing link)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=cmd_sites_check)
    new = sites_sub.add_parser("new", help="draft a site definition from a home page")
    new.add_argument("url", help="the site's home page")
    new.add_argument("--name", help="site name (default: from the host name)")
    new.add_argument("-o", "--output", metavar="FILE", help="write the YAML here (default: stdout)")
    new.set_defaults(func=cmd_sites_new)
    fixtures.add_parser(sites_sub)

    extract = sub.add_parser(
        "extract", help="extract one page (a file, standard input or a URL) and print it"
    )
    extract.add_argument(
        "source", nargs="?", default="-", help="a file, - for standard input, or an http(s) URL"
    )
    extract.add_argument("--site", help="use this site's rules (default: generic extraction)")
    extract.add_argument(
        "--url", help="the page's URL, for a file or standard input (default: none)"
    )
    extract.add_argument("--json", action="store_true", help="every field with its source")
    extract.set_defaults(func=cmd_extract)


def cmd_sites_list(args: argparse.Namespace) -> int:
    sites = load_sites()
    for name, site in sorted(sites.items()):
        spiders = [
            s for s, part in (("articles", site.listing), ("top_stories", site.top_stories)) if part
        ]
        print(f"{name:<16}{site.base_url:<40}{', '.join(spiders):<24}{site.source_file}")
    _warn_nested_quantifiers(sites)
    return 0


def _warn_nested_quantifiers(sites: dict) -> None:
    """One warning line on stderr per pattern that repeats a quantified group
    (``(a+)+``): it can backtrack for long on some pages, which then hit the
    time bound of crawler/sites/patterns.py and are rejected."""
    from crawler.sites.definitions import site_patterns
    from crawler.sites.patterns import TIMEOUT, nested_quantifiers

    for name, site in sorted(sites.items()):
        for key, pattern in site_patterns(site):
            if nested_quantifiers(pattern):
                print(
                    f"warning: site {name}: {key} {pattern!r} has nested quantifiers and can "
                    f"backtrack for long; a page where it takes over {TIMEOUT:g} s is rejected",
                    file=sys.stderr,
                )


def cmd_extract(args: argparse.Namespace) -> int:
    import json

    from crawler.cli.onboarding import FetchError, extract_page, fetch, generic_site

    source = args.source
    try:
        if source.startswith(("http://", "https://")):
            url, html = fetch(source)
        elif source == "-":
            url, html = args.url or "http://localhost/", sys.stdin.read()
        else:
            path = Path(source)
            if not path.is_file():
                print(f"newscrawl: {source}: no such file", file=sys.stderr)
                return CONFIG_ERROR_EXIT
            from w3lib.encoding import html_to_unicode

            url = args.url or path.resolve().as_uri().replace("file://", "http://localhost")
            _, html = html_to_unicode(None, path.read_bytes())
    except FetchError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return 1
    site = get_site(args.site) if args.site else generic_site(url)
    result = extract_page(html, url, site)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        body = result["fields"]["body"]["value"]
        if not body:
            print("newscrawl: no article body found", file=sys.stderr)
            return 1
        print(body)
    return 0


def cmd_sites_check(args: argparse.Namespace) -> int:
    import json

    from crawler.cli.onboarding import FetchError, check_article, fetch, first_article_url

    site = get_site(args.site)
    report: dict = {"site": site.name, "listing": None}
    try:
        url = args.url
        if url is None:
            page_url, _, links, next_page = first_article_url(site)
            report["listing"] = {
                "url": page_url,
                "article_links": len(links),
                "next_page": next_page,
            }
            if not links:
                print(
                    f"newscrawl: no article links on {page_url}: check listing.article_links "
                    "and article_url_pattern",
                    file=sys.stderr,
                )
                return 1
            url = links[0]
        final, html = fetch(url)
    except FetchError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return 1
    checks = check_article(html, final, site)
    report["article"] = final
    report["fields"] = {
        c.field: {"value": c.value, "source": c.source, "verdict": c.verdict} for c in checks
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_check(report, checks)
    missing = [c.field for c in checks if c.field in ("title", "body") and not c.value]
    return 1 if missing else 0


def _print_check(report: dict, checks: list) -> None:
    """``sites check`` as text: the listing, then one line per field."""
    if report["listing"]:
        listing = report["listing"]
        print(
            f"listing  {listing['url']}: {listing['article_links']} article links, "
            f"next page: {listing['next_page'] or 'none'}"
        )
    print(f"article  {report['article']}")
    for c in checks:
        value = c.value if not isinstance(c.value, list) else ", ".join(c.value)
        text = (str(value)[:70] + "...") if value and len(str(value)) > 70 else value
        flag = "  " if c.verdict == "ok" or not c.has_rules else "!!"
        print(f"{flag} {c.field:<13}{c.verdict:<44}{text if text else '-'}")
    broken = [c.field for c in checks if c.has_rules and not c.rules_matched]
    if broken:
        print(f"\nrules that matched nothing: {', '.join(broken)}")


def cmd_sites_new(args: argparse.Namespace) -> int:
    from crawler.cli.onboarding import FetchError, draft_site

    try:
        text, notes = draft_site(args.url, args.name)
    except FetchError as exc:
        print(f"newscrawl: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
