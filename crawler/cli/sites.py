"""``newscrawl sites list``, ``sites new``, ``sites check``, ``sites fixture``
and ``extract``: the site definitions, and writing one (the work itself is
in crawler/cli/onboarding.py and crawler/cli/fixtures.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crawler.cli import fixtures
from crawler.cli.options import add_settings, parse_settings
from crawler.cli.reporting import dump_json
from crawler.exceptions import CONFIG_ERROR_EXIT, NOT_FOUND_EXIT
from crawler.sites.definitions import Site, SiteConfigError, get_site, load_sites


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
    add_settings(check, "fetching the pages")
    check.set_defaults(func=cmd_sites_check)
    new = sites_sub.add_parser("new", help="draft a site definition from a home page")
    new.add_argument("url", help="the site's home page")
    new.add_argument(
        "--name", help="site name (default: the domain, gazette for www.gazette.example)"
    )
    new.add_argument("-o", "--output", metavar="FILE", help="write the YAML here (default: stdout)")
    new.add_argument("--force", action="store_true", help="overwrite FILE when it exists")
    add_settings(new, "fetching the pages")
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
    add_settings(extract, "fetching a URL")
    extract.set_defaults(func=cmd_extract)


def cmd_sites_list(args: argparse.Namespace) -> int:
    from crawler.cli.reporting import Column, field, format_table
    from crawler.scheduling.jobs import scheduled_sites

    sites = load_sites()
    daemon = scheduled_sites(sites)
    rows = [
        {
            "name": name,
            "base_url": site.base_url,
            "spiders": site.spiders,
            "daemon": _daemon_word(site, name in daemon),
            "file": site.source_file,
        }
        for name, site in sorted(sites.items())
    ]
    columns = (
        Column("site", field("name")),
        Column("base URL", field("base_url")),
        Column("spiders", field("spiders")),
        Column("daemon", field("daemon")),
        Column("definition", field("file")),
    )
    print(format_table(columns, rows))
    _warn_nested_quantifiers(sites)
    return 0


def _daemon_word(site: Site, by_default: bool) -> str:
    """Whether a daemon schedules the site (``sites list``), by the rule of
    crawler.scheduling.jobs: the user's sites, the bundled ones when named."""
    from crawler.scheduling.jobs import site_job_specs

    if not site_job_specs(site):
        return "no enabled schedule"
    return "scheduled" if by_default else "when named (--site)"


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
    """``newscrawl extract``: exit status 2 for input that is no page (a binary
    or undecodable file, a missing file) or a bad ``--url``; 1 when a URL
    cannot be fetched or the page has no body."""
    from crawler.cli.onboarding import (
        FetchError,
        NotAPage,
        PageFetcher,
        extract_page,
        fetch,
        read_page_file,
    )

    site = get_site(args.site) if args.site else None
    source = args.source
    is_url = source.startswith(("http://", "https://"))
    if args.url and (is_url or not args.url.startswith(("http://", "https://"))):
        problem = "is for a file or standard input" if is_url else "must be an http(s) URL"
        return _error(f"--url {problem}, not {args.url!r}")
    try:
        if is_url:
            with PageFetcher(parse_settings(args.settings)) as fetcher:
                url, html = fetch(source, fetcher)
        else:
            url, html = args.url, read_page_file(source)
    except NotAPage as exc:
        return _error(str(exc))
    except FetchError as exc:
        return _error(str(exc), 1)
    result = extract_page(html, url, site)
    if is_url:
        result["url"] = source  # as given; extraction used where it led (redirects)
    if args.json:
        dump_json(result, sys.stdout)
        return 0
    body = result["fields"]["body"]["value"]
    if not body:
        return _error("no article body found", NOT_FOUND_EXIT)
    print(body)
    return 0


def _error(message: str, status: int = CONFIG_ERROR_EXIT) -> int:
    """One line on stderr, and the exit status to return."""
    print(f"newscrawl: {message}", file=sys.stderr)
    return status


def cmd_sites_check(args: argparse.Namespace) -> int:
    from crawler.cli.onboarding import PageFetcher

    site = get_site(args.site)
    with PageFetcher(parse_settings(args.settings)) as fetcher:
        return _check_site(args, site, fetcher)


def _check_site(args: argparse.Namespace, site: Site, fetcher: Any) -> int:
    """``sites check`` with pages from ``fetcher``."""
    import json

    from crawler.cli.onboarding import FetchError, check_article, fetch, first_article_url

    report: dict = {"site": site.name, "listing": None}
    try:
        url = args.url
        if url is None:
            page_url, _, links, next_page = first_article_url(site, fetcher)
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
        final, html = fetch(url, fetcher)
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
    """``newscrawl sites new``: exit status 2 for a URL that is not http(s), an
    invalid ``--name``, an output file that exists (without ``--force``) or
    cannot be written; 1 when the home page cannot be fetched (robots.txt
    disallows it, an HTTP error after the retries, a download error)."""
    from crawler.cli.onboarding import (
        FetchError,
        NotAPage,
        PageFetcher,
        draft_site,
        name_problem,
        site_name_for,
    )

    if not args.url.startswith(("http://", "https://")):
        return _error(f"give the site's home page as an http(s) URL, not {args.url!r}")
    if args.name is not None and (problem := name_problem(args.name)):
        return _error(f"invalid --name {args.name!r}: {problem}")
    name = args.name or site_name_for(args.url)
    output = Path(args.output) if args.output else None
    if output is not None and (problem := _output_problem(output, args.force)):
        return _error(problem)
    try:
        with PageFetcher(parse_settings(args.settings)) as fetcher:
            text, notes = draft_site(args.url, fetcher, name)
    except NotAPage as exc:
        return _error(str(exc))
    except FetchError as exc:
        return _error(str(exc), 1)
    if output is None:
        print(text, end="")
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            return _error(f"cannot write {output}: {exc.strerror or exc}")
        print(f"wrote {output} (site {name})", file=sys.stderr)
    for note in [*notes, *_name_notes(name)]:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _output_problem(output: Path, force: bool) -> str | None:
    """Why ``sites new -o FILE`` must not write FILE, or None."""
    if output.is_dir():
        return f"{output} is a folder: give a file name (-o {output / 'SITE.yaml'})"
    if output.exists() and not force:
        return f"{output} exists: pass --force to overwrite it"
    if not output.parent.is_dir():
        return f"cannot write {output}: there is no folder {output.parent}"
    return None


def _name_notes(name: str) -> list[str]:
    """A note when a definition of that name exists already."""
    try:
        existing = load_sites().get(name)
    except SiteConfigError:
        return []
    if existing is None:
        return []
    return [
        f"a site named {name} is defined already ({existing.source_file}): give the draft "
        "another name with --name, unless it is to replace that one"
    ]
