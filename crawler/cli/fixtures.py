"""``newscrawl sites fixture``: save one article page of a site and the item
that would be stored from it, as a test case for review.

A case is a folder ``tests/fixtures/sites/<site>/<case>/`` holding
``page.html`` (the page, as UTF-8 text) and ``expected.json``: every stored
field of the article (:data:`STORED_FIELDS`) and ``fetched_url``, the URL the
page was fetched from. ``tests/test_site_fixtures.py`` extracts every saved
page again and compares the whole item, and fails for a bundled site
(``settings/sites/*.yaml``) without a case.

The expected item is written as extraction gives it today: it is a proposal.
Read every value against the page before committing it.

Exit status 2 for a usage mistake (an unknown site, a bad case name or
``--url``, a case that exists without ``--force``, a missing file or one
that is no page), 1 when the page cannot be fetched.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from crawler.cli.options import add_settings, parse_settings
from crawler.exceptions import CONFIG_ERROR_EXIT
from crawler.items import Article
from crawler.sites.definitions import BUNDLED_SITES_DIR, SiteConfigError, get_site

FIXTURES_DIR = BUNDLED_SITES_DIR.parent.parent / "tests" / "fixtures" / "sites"

# The fields of an article that reach the ``articles`` table (ArticleRow of
# crawler/storage/models.py), but for the fingerprints: ``content_hash`` and
# ``simhash`` are computed from the body, so the body already covers them.
STORED_FIELDS = (
    "site",
    "url",
    "title",
    "body",
    "author",
    "section",
    "tags",
    "language",
    "published_at",
    "published_raw",
    "published_tz_known",
    "sources",
)
FETCHED_URL = "fetched_url"


def stored_item(article: Article) -> dict[str, Any]:
    """The stored fields of a cleaned article, as JSON values (dates ISO-8601 UTC)."""
    item: dict[str, Any] = {name: getattr(article, name) for name in STORED_FIELDS}
    item["tags"] = list(article.tags)
    item["sources"] = dict(article.sources)
    if article.published_at is not None:
        item["published_at"] = article.published_at.isoformat()
    return item


def expected_item(html: str, fetched_url: str, site: Any) -> dict[str, Any]:
    """What ``expected.json`` holds for a page fetched from ``fetched_url``:
    the page read as a crawl reads it (not a guessed link), cleaned."""
    from crawler.extraction.reader import read_article_page

    article = read_article_page(html, fetched_url, site, guessed=False, fetched_at=None)
    assert article is not None  # only a guessed link can be no article
    return {**stored_item(article), FETCHED_URL: fetched_url}


def dump_item(item: dict[str, Any]) -> str:
    """``expected.json``'s text: indented, keys sorted, non-ASCII kept as is."""
    return json.dumps(item, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def case_name(url: str) -> str:
    """A case name from the URL's last path segment: ``/eng/news/301042/`` -> ``301042``."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    last = unquote(segments[-1]) if segments else "index"
    last = re.sub(r"\.(s?html?|php|aspx?)$", "", last, flags=re.IGNORECASE)
    name = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")
    return name[:80].rstrip("-") or "index"


# ---------------------------------------------------------------------- command


def add_parser(sites_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fixture`` to the subparsers of ``newscrawl sites``."""
    parser = sites_subparsers.add_parser(
        "fixture",
        help="save an article page and the item extracted from it as a test case",
        description=(
            "Fetch an article page (or read a saved one), extract it with the site's "
            "definition as a crawl would store it, and write page.html and expected.json "
            "under tests/fixtures/sites/SITE/CASE/. Review expected.json before committing."
        ),
    )
    parser.add_argument("site", help="site name (see `newscrawl sites list`)")
    parser.add_argument("source", metavar="URL|FILE", help="an http(s) URL, or a saved page")
    parser.add_argument(
        "--case", metavar="NAME", help="case name (default: the URL's last path segment)"
    )
    parser.add_argument(
        "--url",
        help="for a FILE: the URL the page was at, which decides the article's URL (default: none)",
    )
    parser.add_argument(
        "--fixtures",
        metavar="DIR",
        type=Path,
        default=FIXTURES_DIR,
        help="the fixtures folder (default: tests/fixtures/sites of the checkout)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing case")
    add_settings(parser, "fetching a URL")
    parser.set_defaults(func=run_fixture)
    return parser


def _error(message: str, status: int = CONFIG_ERROR_EXIT) -> int:
    """One line on stderr, and the exit status to return."""
    print(f"newscrawl: {message}", file=sys.stderr)
    return status


def _read_source(args: argparse.Namespace) -> tuple[str, str] | int:
    """``(fetched URL, page text)``, or the exit status after a message: 2 for
    a usage mistake or input that is no page, 1 for a page not fetched."""
    from crawler.cli.onboarding import FetchError, NotAPage, PageFetcher, fetch, read_page_file

    source = args.source
    if source.startswith(("http://", "https://")):
        if args.url:
            return _error("--url is for a FILE; a URL is fetched from where it is")
        try:
            with PageFetcher(parse_settings(args.settings)) as fetcher:
                return fetch(source, fetcher)
        except NotAPage as exc:
            return _error(str(exc))
        except FetchError as exc:
            return _error(str(exc), 1)
    if not args.url:
        return _error(
            f"{source}: give --url, the URL the page was at (it decides the article's URL)"
        )
    if not args.url.startswith(("http://", "https://")):
        return _error(f"--url must be an http(s) URL, not {args.url!r}")
    try:
        return args.url, read_page_file(source)
    except NotAPage as exc:
        return _error(str(exc))


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "[]"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)


def _print_item(item: dict[str, Any]) -> None:
    for name in (FETCHED_URL, *STORED_FIELDS):
        if name == "body":
            continue
        print(f"  {name:<19}{_show(item[name])}")
    paragraphs = (item["body"] or "").split("\n\n") if item["body"] else []
    print(f"  {'body':<19}{len(paragraphs)} paragraphs, {len(item['body'] or '')} characters:")
    for paragraph in paragraphs:
        print(f"    | {paragraph}")


def run_fixture(args: argparse.Namespace) -> int:
    """``newscrawl sites fixture SITE URL|FILE``."""
    try:
        site = get_site(args.site)
    except SiteConfigError as exc:
        return _error(str(exc))
    name = args.case or case_name(args.url or args.source)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        return _error(f"case name {name!r}: use lower-case letters, digits, - and _")
    folder = Path(args.fixtures) / site.name / name
    if folder.exists() and not args.force:
        return _error(
            f"{folder} exists: pass --force to overwrite it, or --case to name another case"
        )
    source = _read_source(args)
    if isinstance(source, int):
        return source
    fetched_url, html = source
    item = expected_item(html, fetched_url, site)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "page.html").write_text(html, encoding="utf-8", newline="")
    (folder / "expected.json").write_text(dump_item(item), encoding="utf-8")
    print(f"site {site.name} ({site.source_file}), page {fetched_url}")
    _print_item(item)
    missing = [f for f in ("title", "body") if not item[f]]
    if missing:
        print(f"\nwarning: no {' and no '.join(missing)} found: check the site's rules")
    bundled = Path(site.source_file).parent.resolve() == BUNDLED_SITES_DIR.resolve()
    if not bundled:
        print(
            f"\nnote: {site.name} is not a bundled site ({site.source_file}): "
            "tests/test_site_fixtures.py takes cases of settings/sites/*.yaml only"
        )
    print(f"\nwrote {folder / 'page.html'}")
    print(f"wrote {folder / 'expected.json'}")
    print(
        "Review expected.json against the page before committing: every value there is "
        "what extraction gives today, right or wrong, and the test will hold it to that."
    )
    return 0
