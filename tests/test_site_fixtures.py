"""Every bundled site's saved pages and the whole items stored from them.

Each folder ``tests/fixtures/sites/<site>/<case>/`` holds ``page.html`` and
``expected.json``: every stored field of the article the page gives with the
bundled definition ``settings/sites/<site>.yaml``, and ``fetched_url``, the URL
the page was fetched from. The page is read again and the item compared
whole: a change of extraction, cleaning or a site's rules that changes what is
stored shows here, field by field.

Save a case with ``newscrawl sites fixture SITE URL`` (or ``SITE FILE --url
URL``), review its expected.json against the page, then commit both files
(crawler/cli/fixtures.py). Every bundled site must have at least one case.
Nothing here touches the internet: the command is tried on a saved file and
on the demo site served on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import difflib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from crawler.cli.demo_site import DemoSiteServer, resolve
from crawler.cli.fixtures import (
    FETCHED_URL,
    FIXTURES_DIR,
    STORED_FIELDS,
    add_parser,
    case_name,
    dump_item,
    expected_item,
    run_fixture,
)
from crawler.exceptions import CONFIG_ERROR_EXIT
from crawler.sites.definitions import BUNDLED_SITES_DIR, SITES_DIR_ENV, Site, load_site_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "sites"
CASES = sorted(path.parent for path in FIXTURES.glob("*/*/expected.json"))
BUNDLED = {
    site.name: site for site in map(load_site_file, sorted(BUNDLED_SITES_DIR.glob("*.yaml")))
}
SEED = FIXTURES / "demo" / "seed"


def case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def read_expected(case: Path) -> dict[str, Any]:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))


def read_page(case: Path) -> str:
    return (case / "page.html").read_text(encoding="utf-8")


def bundled_site(case: Path) -> Site:
    site = BUNDLED.get(case.parent.name)
    assert site is not None, (
        f"{case_id(case)}: no bundled site {case.parent.name!r} in settings/sites/ "
        f"(bundled: {', '.join(sorted(BUNDLED))})"
    )
    return site


def item_diff(expected: dict[str, Any], got: dict[str, Any]) -> str:
    """Each key that differs, expected then got; text fields as a line diff."""
    lines = []
    for key in sorted(expected.keys() | got.keys()):
        if key not in got:
            lines.append(f"{key}: expected {expected[key]!r}, not in the item")
        elif key not in expected:
            lines.append(f"{key}: not in expected.json, the item has {got[key]!r}")
        elif expected[key] != got[key]:
            want, have = expected[key], got[key]
            if isinstance(want, str) and isinstance(have, str) and "\n" in want + have:
                diff = difflib.unified_diff(
                    want.splitlines(), have.splitlines(), "expected", "got", lineterm="", n=1
                )
                lines.append(f"{key}:\n" + "\n".join(f"    {line}" for line in diff))
            else:
                lines.append(f"{key}:\n    expected {want!r}\n    got      {have!r}")
    return "\n".join(lines)


cases = pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])


def test_cases_are_found() -> None:
    assert FIXTURES == FIXTURES_DIR.resolve()  # where the command writes
    assert len(CASES) >= len(BUNDLED)


@cases
def test_stored_item_matches_expected(case: Path) -> None:
    expected = read_expected(case)
    got = expected_item(read_page(case), expected[FETCHED_URL], bundled_site(case))
    if got != expected:
        pytest.fail(
            f"{case_id(case)}: the item stored from page.html is not expected.json\n"
            f"{item_diff(expected, got)}\n"
            "If the change is right, save the case again with `newscrawl sites fixture "
            f"{case.parent.name} {(case / 'page.html').relative_to(ROOT)} "
            f"--url {expected[FETCHED_URL]} "
            f"--case {case.name} --force` and review the diff of expected.json.",
            pytrace=False,
        )


@cases
def test_expected_file_is_whole_and_as_written(case: Path) -> None:
    text = (case / "expected.json").read_text(encoding="utf-8")
    expected = json.loads(text)
    assert set(expected) == {*STORED_FIELDS, FETCHED_URL}
    assert expected["site"] == case.parent.name
    # Indented, keys sorted, non-ASCII as is: what the command writes, so a
    # case saved again shows only the values that changed.
    assert text == dump_item(expected)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_site_has_a_case(name: str) -> None:
    found = [case for case in CASES if case.parent.name == name]
    assert found, (
        f"settings/sites/{name}.yaml has no fixture in tests/fixtures/sites/{name}/. "
        f"Add one: `newscrawl sites fixture {name} ARTICLE_URL` (or `newscrawl sites "
        f"fixture {name} SAVED_PAGE.html --url ARTICLE_URL`), review "
        f"tests/fixtures/sites/{name}/CASE/expected.json against the page, and commit "
        "page.html and expected.json."
    )


def test_every_case_folder_is_complete_and_of_a_bundled_site() -> None:
    for folder in sorted(p for p in FIXTURES.glob("*/*") if p.is_dir()):
        assert folder.parent.name in BUNDLED, f"{folder}: not a bundled site's folder"
        missing = [f for f in ("page.html", "expected.json") if not (folder / f).is_file()]
        assert not missing, f"{folder}: missing {', '.join(missing)}"


def test_stored_fields_are_the_article_columns() -> None:
    # A new column of the articles table is a new field of every case: add it
    # to STORED_FIELDS (crawler/cli/fixtures.py) and save the cases again.
    from crawler.storage.models import ArticleRow

    bookkeeping = {"id", "first_seen_at", "last_seen_at", "version", "duplicate_of"}
    derived = {"content_hash", "simhash"}  # fingerprints of the body
    columns = {c.name for c in ArticleRow.__table__.columns}
    assert set(STORED_FIELDS) == columns - bookkeeping - derived


def test_demo_cases_are_pages_the_demo_site_serves() -> None:
    demo = [case for case in CASES if case.parent.name == "demo"]
    assert len(demo) >= 3  # the seed, a top story and a generated article
    for case in demo:
        response = resolve(urlsplit(read_expected(case)[FETCHED_URL]).path)
        assert response.status == 200
        assert response.body.decode("utf-8") == read_page(case), (
            f"{case_id(case)}: the demo site serves another page now: save the case again"
        )


# --------------------------------------------------------------------------- the command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newscrawl sites")
    add_parser(parser.add_subparsers(dest="sites_command", required=True))
    return parser.parse_args(["fixture", *map(str, argv)])


@pytest.fixture(autouse=True)
def bundled_definitions_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SITES_DIR_ENV, raising=False)


def test_parser_runs_the_command() -> None:
    args = parse("demo", "page.html", "--url", "http://127.0.0.1:8765/eng/news/1/")
    assert args.func is run_fixture
    assert (args.site, args.source, args.case, args.force) == ("demo", "page.html", None, False)
    assert args.fixtures == FIXTURES_DIR


def test_case_name_is_the_urls_last_path_segment() -> None:
    assert case_name("http://127.0.0.1:8765/eng/news/301042/") == "301042"
    assert case_name("https://x.example/2024/03/05/Port-Ellery_council.html?p=1") == (
        "port-ellery-council"
    )
    assert case_name("https://x.example/") == "index"


def test_command_saves_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = read_expected(SEED)[FETCHED_URL]
    args = parse("demo", SEED / "page.html", "--url", url, "--fixtures", tmp_path)
    assert run_fixture(args) == 0
    saved = tmp_path / "demo" / "301042"  # named after the URL
    assert (saved / "page.html").read_bytes() == (SEED / "page.html").read_bytes()
    assert (saved / "expected.json").read_text(encoding="utf-8") == (
        (SEED / "expected.json").read_text(encoding="utf-8")
    )
    out = capsys.readouterr().out
    assert "Newsroom" in out and "2021-09-21T19:40:00+00:00" in out
    assert "Review expected.json" in out

    # An existing case stays unless --force.
    (saved / "expected.json").write_text("{}", encoding="utf-8")
    assert run_fixture(args) == CONFIG_ERROR_EXIT
    assert "--force" in capsys.readouterr().err
    assert (saved / "expected.json").read_text(encoding="utf-8") == "{}"
    args = parse("demo", SEED / "page.html", "--url", url, "--fixtures", tmp_path, "--force")
    assert run_fixture(args) == 0
    assert read_expected(saved) == read_expected(SEED)


def test_command_fetches_a_url(
    tmp_path: Path, demo_site: DemoSiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{demo_site.url}/eng/news/301042/"
    args = parse("demo", url, "--case", "served", "--fixtures", tmp_path)
    assert run_fixture(args) == 0
    saved = tmp_path / "demo" / "served"
    assert read_page(saved) == read_page(SEED)
    # The same item, under the URL of the server it came from.
    assert read_expected(saved) == {**read_expected(SEED), "url": url, FETCHED_URL: url}
    assert f"wrote {saved / 'expected.json'}" in capsys.readouterr().out


def test_command_refuses_what_it_cannot_save(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = SEED / "page.html"
    assert run_fixture(parse("demo", page, "--fixtures", tmp_path)) == CONFIG_ERROR_EXIT
    assert "--url" in capsys.readouterr().err
    missing = tmp_path / "none.html"
    assert run_fixture(parse("demo", missing, "--url", "http://x/")) == CONFIG_ERROR_EXIT
    assert "no such file" in capsys.readouterr().err
    assert run_fixture(parse("nosuchsite", page, "--url", "http://x/a")) == CONFIG_ERROR_EXIT
    assert "unknown site" in capsys.readouterr().err
    args = parse("demo", page, "--url", "http://x/a", "--case", "Bad Name", "--fixtures", tmp_path)
    assert run_fixture(args) == CONFIG_ERROR_EXIT
    assert not any(tmp_path.iterdir())
