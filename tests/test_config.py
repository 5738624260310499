"""Site definitions: the bundled ones load; a bad file is refused with the file,
the key and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.sites.definitions import SiteConfigError, get_site, load_site_file, load_sites

MINIMAL = """\
name: mini
base_url: http://127.0.0.1:9/
listing:
  start_urls: [/news/]
article:
  body: 'div.body'
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_sites_load():
    sites = load_sites()
    assert {"demo", "panarmenian"} <= set(sites)
    pan = sites["panarmenian"]
    assert pan.timezone == "Asia/Yerevan"
    assert pan.listing is not None
    assert pan.listing.start_urls == ["https://www.panarmenian.net/eng/news/"]
    assert r"^PanARMENIAN\.Net - " in pan.article.strip


def test_relative_urls_resolve_against_base_url(tmp_path):
    site = load_site_file(write(tmp_path, "mini.yaml", MINIMAL))
    assert site.listing.start_urls == ["http://127.0.0.1:9/news/"]
    assert site.allowed_domains == ["127.0.0.1"]
    assert [r.kind for r in site.article.title] == ["css", "meta"]  # the default title rules


def test_a_spider_turned_off_or_given_a_jitter_alone_keeps_its_default_trigger(tmp_path):
    text = MINIMAL + "schedule:\n  top_stories:\n    enabled: false\n  articles:\n    jitter: 5m\n"
    schedule = load_site_file(write(tmp_path, "mini.yaml", text)).schedule
    assert (schedule.top_stories.enabled, schedule.top_stories.every) == (False, 900.0)
    assert (schedule.articles.every, schedule.articles.jitter) == (3600.0, 300.0)
    both = MINIMAL + "schedule:\n  articles:\n    every: 1h\n    cron: '0 * * * *'\n"
    with pytest.raises(SiteConfigError, match="give exactly one of every, cron"):
        load_site_file(write(tmp_path, "mini.yaml", both))


def test_a_page_template_may_pad_the_number_and_keep_literal_braces(tmp_path):
    text = MINIMAL.replace(
        "  start_urls: [/news/]\n",
        "  start_urls: [/news/]\n  page_url_template: '/news/?f={{a}}&p={page:03d}'\n",
    )
    site = load_site_file(write(tmp_path, "mini.yaml", text))
    template = site.listing.page_url_template
    assert template.format(page=7).endswith("/news/?f={a}&p=007")


def test_selector_shorthand_tells_css_from_xpath(tmp_path):
    text = MINIMAL.replace(
        "  body: 'div.body'\n",
        "  body: '//div[@id=\"text\"]'\n  author: ['.byline', {meta: author}]\n",
    )
    site = load_site_file(write(tmp_path, "mini.yaml", text))
    assert site.article.body[0].kind == "xpath"
    assert [r.kind for r in site.article.author] == ["css", "meta"]


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("name: mini\n", "name: mini\ncolour: red\n"), "colour", "unknown key"),
        (
            ("  body: 'div.body'\n", "  body: 'div.body'\n  min_body_length: lots\n"),
            "article.min_body_length",
            "valid integer",
        ),
        (
            ("  body: 'div.body'\n", "  body: 'div..body'\n"),
            "article.body[0].selector",
            "invalid CSS selector",
        ),
        (
            ("  body: 'div.body'\n", "  body: {xpath: '//div[@'}\n"),
            "article.body[0].xpath",
            "invalid XPath",
        ),
        (
            (
                "  start_urls: [/news/]\n",
                "  start_urls: [/news/]\n  article_url_pattern: '(\\d+'\n",
            ),
            "listing.article_url_pattern",
            "invalid regular expression",
        ),
        (
            ("name: mini\n", "name: mini\ntimezone: Europe/Atlantis\n"),
            "timezone",
            "unknown time zone",
        ),
        (
            ("  body: 'div.body'\n", "  body: p\ntop_stories:\n  pages: [/]\n"),
            "top_stories.entries",
            "required key is missing",
        ),
        (
            ("  body: 'div.body'\n", "  body: {css: p, meta: x}\n"),
            "article.body[0]",
            "exactly one of",
        ),
        (
            (
                "  start_urls: [/news/]\n",
                "  start_urls: [/news/]\n  page_url_template: /n/{page}/{order}\n",
            ),
            "listing.page_url_template",
            "may only use {page}, not {order}",
        ),
        (
            (
                "  start_urls: [/news/]\n",
                "  start_urls: [/news/]\n  page_url_template: '/n/?p={page'\n",
            ),
            "listing.page_url_template",
            "cannot read the template",
        ),
    ],
)
def test_bad_definition_names_file_key_and_problem(tmp_path, change, key, problem):
    path = write(tmp_path, "mini.yaml", MINIMAL.replace(*change))
    with pytest.raises(SiteConfigError) as info:
        load_site_file(path)
    message = str(info.value)
    assert str(path) in message
    assert f"  {key}: " in message
    assert problem in message


def test_yaml_errors_and_duplicate_keys_are_refused(tmp_path):
    with pytest.raises(SiteConfigError, match="not valid YAML"):
        load_site_file(write(tmp_path, "a.yaml", "name: [unclosed\n"))
    with pytest.raises(SiteConfigError, match="'name' is given twice"):
        load_site_file(write(tmp_path, "b.yaml", MINIMAL + "name: again\n"))
    with pytest.raises(SiteConfigError, match="must be a mapping"):
        load_site_file(write(tmp_path, "c.yaml", "- a list\n"))


def test_yaml_tags_that_would_run_code_are_refused(tmp_path):
    path = write(tmp_path, "evil.yaml", "name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SiteConfigError, match="not valid YAML"):
        load_site_file(path)


def test_user_folder_adds_and_overrides_sites(tmp_path, monkeypatch):
    write(tmp_path, "mini.yaml", MINIMAL)
    write(tmp_path, "demo.yaml", MINIMAL.replace("name: mini", "name: demo"))
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(tmp_path))
    assert get_site("mini").base_url == "http://127.0.0.1:9/"
    assert get_site("demo").base_url == "http://127.0.0.1:9/"  # the user's copy wins
    with pytest.raises(SiteConfigError, match=r"unknown site 'nope' \(known sites: demo, mini"):
        get_site("nope")


def test_missing_sites_folder_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(tmp_path / "absent"))
    with pytest.raises(SiteConfigError, match="NEWSCRAWL_SITES_DIR: .*absent is not a folder"):
        load_sites()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "scrapy", "crawl", "articles", "-a", "site=mini"],
        [sys.executable, "-m", "crawler.cli", "crawl", "mini"],
        [sys.executable, "-m", "crawler.cli", "sites", "list"],
    ],
    ids=["scrapy-crawl", "newscrawl-crawl", "newscrawl-sites-list"],
)
def test_bad_definition_stops_commands_with_exit_2(tmp_path, command):
    sites = tmp_path / "sites"
    sites.mkdir()
    bad = write(
        sites, "mini.yaml", MINIMAL.replace("name: mini\n", "name: mini\ntimezone: Nowhere\n")
    )
    database = tmp_path / "archive.db"
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSCRAWL_SITES_DIR": str(sites),
        "NEWSCRAWL_DATABASE_URL": f"sqlite:///{database}",
        "SCRAPY_SETTINGS_MODULE": "settings.scrapy_settings",
    }
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}: invalid site definition" in proc.stderr
    assert "timezone: unknown time zone 'Nowhere'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not database.exists()  # nothing crawled, nothing written
