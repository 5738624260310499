"""A user's mistakes in the daemon, sites and db commands: each is one line on
stderr (no traceback) and a documented exit status, 2 for bad usage, 1 for
something missing or unreachable. Real components: a SQLite file, Redis on
127.0.0.1 (and a port nothing listens on), HTTP servers on 127.0.0.1, the
command in a child process where the import machinery matters."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support.sites import Reply, ScriptedSite, article_html, paragraphs
from wcwidth import wcswidth

from crawler.cli.main import main
from crawler.cli.onboarding import site_name_for
from crawler.exceptions import CONFIG_ERROR_EXIT, NOT_FOUND_EXIT
from crawler.scheduling.runner import PROJECT_ROOT
from crawler.sites.definitions import BUNDLED_SITES_DIR

EXTRA_HINT = "pip install 'newscrawl[distributed]'"
HUMAN_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6364f8cf500f0002870180eb47ba92"
    "0000000049454e44ae426082"
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``newscrawl ARGV`` in this process: (status, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("newscrawl: "), err
    return lines[0]


def newscrawl(*argv: str, env: dict[str, str] | None = None, stdin: bytes | None = None):
    """``newscrawl ARGV`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *argv],
        cwd=PROJECT_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def without_extra(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import scrapy_redis`` fails, as it does where the
    ``distributed`` extra is not installed."""
    shim = tmp_path / "shim" / "scrapy_redis"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'scrapy_redis'\", name='scrapy_redis')\n"
    )
    path = os.pathsep.join([str(shim.parent), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


@pytest.fixture
def sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "sites"
    folder.mkdir()
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    return folder


def write_site(folder: Path, name: str, **schedule: object) -> Path:
    path = folder / f"{name}.yaml"
    data = {"name": name, "base_url": "http://127.0.0.1:9/", "schedule": schedule}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- worker, enqueue


@pytest.mark.parametrize("command", [["enqueue", "demo"], ["worker"]])
def test_redis_down_is_one_line_and_status_1(capsys, monkeypatch, command):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    monkeypatch.setenv("NEWSCRAWL_REDIS_URL", url)
    code, out, err = run(capsys, *command)
    assert code == 1
    line = one_line(err)
    assert line.startswith(f"newscrawl: cannot reach Redis at {url} (NEWSCRAWL_REDIS_URL): ")
    assert "refused" in line.lower()


@pytest.mark.parametrize("command", [["enqueue", "demo"], ["worker"]])
def test_redis_url_unset_or_not_redis_is_bad_usage(capsys, monkeypatch, command):
    monkeypatch.delenv("NEWSCRAWL_REDIS_URL", raising=False)
    code, _, err = run(capsys, *command)
    assert code == CONFIG_ERROR_EXIT
    assert "set NEWSCRAWL_REDIS_URL" in one_line(err)

    monkeypatch.setenv("NEWSCRAWL_REDIS_URL", "127.0.0.1:6379")
    code, _, err = run(capsys, *command)
    assert code == CONFIG_ERROR_EXIT
    assert "NEWSCRAWL_REDIS_URL is not a Redis URL (127.0.0.1:6379)" in one_line(err)


@pytest.mark.parametrize("command", [["enqueue", "demo"], ["worker", "--site", "demo"]])
def test_the_distributed_extra_missing_names_the_install_command(capsys, monkeypatch, command):
    monkeypatch.setitem(sys.modules, "scrapy_redis", None)  # import scrapy_redis fails
    monkeypatch.setenv("NEWSCRAWL_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    code, _, err = run(capsys, *command)
    assert code == CONFIG_ERROR_EXIT
    line = one_line(err)
    assert line.endswith(EXTRA_HINT) and "scrapy_redis is not installed" in line


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command",
    [
        ["newscrawl", "worker"],
        ["newscrawl", "enqueue", "demo"],
        ["newscrawl", "daemon", "--log-file", "d.log"],
        ["scrapy", "crawl", "articles", "-a", "site=demo"],
    ],
)
def test_without_the_extra_no_command_shows_a_traceback(tmp_path, command):
    env = without_extra(tmp_path)
    env["NEWSCRAWL_REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    env["NEWSCRAWL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'archive.db'}"
    env.pop("NEWSCRAWL_SITES_DIR", None)
    program = ["crawler.cli"] if command[0] == "newscrawl" else ["scrapy"]
    proc = subprocess.run(
        [sys.executable, "-m", *program, *command[1:]],
        cwd=PROJECT_ROOT if command[0] == "scrapy" else tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    err = proc.stderr.decode()
    assert proc.returncode == CONFIG_ERROR_EXIT, err
    assert one_line(err).endswith(EXTRA_HINT)
    assert "Traceback" not in err
    assert not (tmp_path / "archive.db").exists()


@pytest.mark.e2e
def test_the_daemon_refuses_to_start_when_redis_does_not_answer(tmp_path):
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    env = {**os.environ, "NEWSCRAWL_REDIS_URL": url}
    env["NEWSCRAWL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'archive.db'}"
    proc = newscrawl("daemon", "--log-file", str(tmp_path / "d.log"), env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert one_line(err).startswith("newscrawl: cannot reach Redis at redis://:***@127.0.0.1:")
    assert "hunter2" not in err + (tmp_path / "d.log").read_text()


def test_enqueue_refuses_a_spider_the_site_does_not_have(capsys, sites, monkeypatch):
    monkeypatch.setenv("NEWSCRAWL_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    (sites / "plain.yaml").write_text("name: plain\nbase_url: http://127.0.0.1:9/\n")
    code, _, err = run(capsys, "enqueue", "plain", "--spider", "top_stories")
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == (
        "newscrawl: site plain has no top_stories spider (its spiders: articles)"
    )
    code, _, err = run(capsys, "enqueue", "nosuch")
    assert code == CONFIG_ERROR_EXIT and "unknown site 'nosuch'" in one_line(err)


def test_a_worker_outlives_redis_going_away(redis_url, caplog):
    from crawler.scheduling.worker import Worker

    worker = Worker(f"redis://127.0.0.1:{closed_port()}/0", poll_seconds=1)
    targets = [("demo", "articles")]
    with caplog.at_level("INFO", logger="crawler.scheduling.worker"):
        worker.poll(targets)
        worker.poll(targets)  # still down: not said again
        assert worker.redis_down and worker.children == {}
        worker.redis_url = redis_url  # Redis is back
        worker.poll(targets)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if m.startswith("cannot reach Redis")]) == 1
    assert messages[-1] == f"Redis at {redis_url} answers again"
    assert not worker.redis_down


def test_the_daemon_logs_one_line_when_it_cannot_enqueue(tmp_path, caplog):
    from crawler.scheduling.supervisor import enqueue
    from crawler.sites.definitions import get_site

    redis = f"redis://127.0.0.1:{closed_port()}/0"
    with caplog.at_level("INFO", logger="newscrawl.daemon"):
        enqueue(redis, get_site("demo"), "articles")
    [record] = caplog.records
    assert record.levelname == "ERROR" and record.exc_info is None
    assert record.getMessage().startswith(
        f"demo/articles: crawl not enqueued, cannot reach Redis at {redis}: "
    )


# --------------------------------------------------------------------------- extract


def russian_page() -> bytes:
    body = "".join(
        f"<p>Абзац {n}: городской совет утвердил план строительства нового моста через "
        "реку, который соединит два района города и сократит время в пути.</p>"
        for n in range(6)
    )
    html = (
        "<html><head><title>Новости</title></head><body><article>"
        f"<h1>Город строит новый мост через реку</h1>{body}</article></body></html>"
    )
    return html.encode("cp1251")  # no charset declared anywhere


def french_page() -> bytes:
    body = "".join(
        f"<p>Paragraphe {n} : après des années de fermeture, le café célèbre pour ses "
        "crêpes rouvre à Noël, déclare le propriétaire à la presse régionale.</p>"
        for n in range(6)
    )
    html = (
        "<html><head><meta charset='iso-8859-1'><title>Café</title></head><body><article>"
        f"<h1>Le café de la gare rouvre ses portes</h1>{body}</article></body></html>"
    )
    return html.encode("latin-1")


@pytest.mark.parametrize(
    "content,kind",
    [
        (PNG, "a PNG image"),
        (gzip.compress(b"<html><body><p>Hello</p></body></html>"), "gzip-compressed data"),
        (b"\x00\x01\x02binary\x00" * 10, "binary data"),
    ],
    ids=["png", "gzip", "nul-bytes"],
)
def test_extract_refuses_binary_input(capsys, monkeypatch, tmp_path, content, kind):
    path = tmp_path / "page.html"
    path.write_bytes(content)
    code, out, err = run(capsys, "extract", str(path))
    assert (code, out) == (CONFIG_ERROR_EXIT, "")
    assert one_line(err).startswith(f"newscrawl: {path} is {kind}")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))
    code, out, err = run(capsys, "extract", "-")
    assert (code, out) == (CONFIG_ERROR_EXIT, "")
    assert one_line(err).startswith(f"newscrawl: standard input is {kind}")


def test_extract_reads_pages_that_are_not_utf8(capsys, monkeypatch, tmp_path):
    cyrillic = tmp_path / "news.html"
    cyrillic.write_bytes(russian_page())
    code, out, err = run(capsys, "extract", str(cyrillic))
    assert (code, err) == (0, "")
    assert out.startswith("Абзац 0: городской совет утвердил план")

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(french_page())))
    code, out, err = run(capsys, "extract", "-", "--json")
    assert (code, err) == (0, "")
    fields = json.loads(out)["fields"]
    assert fields["title"]["value"] == "Le café de la gare rouvre ses portes"
    assert "crêpes rouvre à Noël" in fields["body"]["value"]


def test_extract_json_reports_the_url_it_was_given_and_no_invented_site(capsys, tmp_path):
    page = tmp_path / "page.html"
    published = '<meta property="article:published_time" content="2024-03-05T14:30:00+02:00">'
    page.write_text(article_html("Harbour works begin", paragraphs(3), published), "utf-8")
    code, out, _ = run(capsys, "extract", str(page), "--json")
    result = json.loads(out)
    assert code == 0
    assert (result["url"], result["site"]) == (None, None)
    assert "localhost" not in out
    assert result["fields"]["published_at"]["value"] == "2024-03-05T12:30:00Z"

    code, out, _ = run(capsys, "extract", str(page), "--json", "--url", "https://x.example/a")
    assert (json.loads(out)["url"], json.loads(out)["site"]) == ("https://x.example/a", None)
    code, out, _ = run(capsys, "extract", str(page), "--json", "--site", "demo")
    assert (json.loads(out)["url"], json.loads(out)["site"]) == (None, "demo")


def test_extract_usage_mistakes(capsys, tmp_path):
    code, _, err = run(capsys, "extract", str(tmp_path / "missing.html"))
    assert code == CONFIG_ERROR_EXIT and one_line(err).endswith("missing.html: no such file")
    code, _, err = run(capsys, "extract", str(tmp_path), "--url", "ftp://x.example/")
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == "newscrawl: --url must be an http(s) URL, not 'ftp://x.example/'"
    code, _, err = run(capsys, "extract", "http://127.0.0.1:9/", "--url", "http://x.example/")
    assert code == CONFIG_ERROR_EXIT and "--url is for a file or standard input" in err


def test_extract_of_a_url_reports_that_url_and_refuses_an_image(capsys):
    site = ScriptedSite()
    try:
        site.raw("/logo.png", PNG, {"Content-Type": "image/png"})
        site.raw("/ru", russian_page(), {"Content-Type": "text/html; charset=windows-1251"})
        site.redirect("/old", "/ru")
        code, out, err = run(capsys, "extract", f"{site.url}/logo.png")
        assert (code, out) == (CONFIG_ERROR_EXIT, "")
        assert one_line(err) == (
            f"newscrawl: {site.url}/logo.png is not an HTML page: the server sent image/png"
        )
        code, out, err = run(capsys, "extract", f"{site.url}/old", "--json")
        assert (code, err) == (0, "")
        result = json.loads(out)
        assert (result["url"], result["site"]) == (f"{site.url}/old", None)
        assert result["fields"]["title"]["value"] == "Город строит новый мост через реку"
    finally:
        site.close()


# --------------------------------------------------------------------------- sites new


def test_a_drafted_site_is_named_after_its_domain():
    cases = {
        "https://www.gazette.example/": "gazette",
        "https://gazette.example/news/": "gazette",
        "http://news.gazette.co.uk/": "gazette",
        "https://m.Example.COM/": "example",
        "https://www.abc.net.au/": "abc",
        "http://127.0.0.1:8765/": "127-0-0-1",
        "http://localhost:8080/": "localhost",
        "https://le_monde.example/": "le_monde",
    }
    assert {url: site_name_for(url) for url in cases} == cases


def test_sites_new_refuses_a_bad_name_and_an_existing_file_before_fetching(capsys, tmp_path):
    nowhere = f"http://127.0.0.1:{closed_port()}/"  # a fetch would fail with status 1
    for bad in ("Gazette", "_gazette", "la gazette", "g" * 65, ""):
        code, _, err = run(capsys, "sites", "new", nowhere, "--name", bad)
        assert code == CONFIG_ERROR_EXIT, bad
        assert one_line(err).startswith(f"newscrawl: invalid --name {bad!r}: a site name is ")
    existing = tmp_path / "gazette.yaml"
    existing.write_text("keep me\n")
    code, _, err = run(capsys, "sites", "new", nowhere, "-o", str(existing))
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == f"newscrawl: {existing} exists: pass --force to overwrite it"
    assert existing.read_text() == "keep me\n"
    code, _, err = run(capsys, "sites", "new", nowhere, "-o", str(tmp_path / "no" / "x.yaml"))
    assert code == CONFIG_ERROR_EXIT and "there is no folder" in one_line(err)
    code, _, err = run(capsys, "sites", "new", "gazette.example")
    assert code == CONFIG_ERROR_EXIT and "http(s) URL" in one_line(err)
    code, _, err = run(capsys, "sites", "new", nowhere, "--name", "gazette")
    assert code == 1 and one_line(err).startswith(f"newscrawl: cannot fetch {nowhere}")


def test_sites_new_writes_a_named_draft_and_overwrites_only_with_force(capsys, tmp_path):
    site = ScriptedSite()
    try:
        links = "".join(f'<a href="/2024/03/story-{n}">story {n}</a>' for n in range(3))
        site.page("/", f"<html><body>{links}</body></html>")
        for n in range(3):
            site.page(f"/2024/03/story-{n}", article_html(f"Story {n}", paragraphs(n)))
        home = site.url.replace("127.0.0.1", "localhost") + "/"
        draft = tmp_path / "draft.yaml"
        code, out, err = run(capsys, "sites", "new", home, "-o", str(draft))
        assert code == 0, err
        assert yaml.safe_load(draft.read_text())["name"] == "localhost"
        assert f"wrote {draft} (site localhost)" in err

        code, _, err = run(capsys, "sites", "new", home, "-o", str(draft), "--name", "other")
        assert code == CONFIG_ERROR_EXIT and "--force" in one_line(err)
        code, _, err = run(
            capsys, "sites", "new", home, "-o", str(draft), "--name", "other", "--force"
        )
        assert code == 0, err
        assert yaml.safe_load(draft.read_text())["name"] == "other"
    finally:
        site.close()


# ------------------------------------------------- sites new fetches as a crawl does


def news_site(flaky: str | None = None) -> ScriptedSite:
    """A home page linking three articles; ``flaky`` answers 503 once, then the article."""
    site = ScriptedSite()
    links = "".join(f'<a href="/2024/03/story-{n}">story {n}</a>' for n in range(3))
    site.page("/", f"<html><body>{links}</body></html>")
    for n in range(3):
        site.page(f"/2024/03/story-{n}", article_html(f"Story {n}", paragraphs(n)))
    if flaky is not None:
        page = article_html("Story 1", paragraphs(1)).encode()
        site.reply(flaky, Reply(503, b"busy"), Reply(200, page))
    return site


@pytest.mark.e2e
def test_sites_new_fetches_through_scrapy_with_robots_user_agent_and_retries(capsys, tmp_path):
    from settings.scrapy_settings import USER_AGENT

    site = news_site(flaky="/2024/03/story-1")
    try:
        draft = tmp_path / "draft.yaml"
        code, _, err = run(capsys, "sites", "new", f"{site.url}/", "-o", str(draft))
        assert code == 0, err
        assert "article rules agree with generic extraction on 3 pages" in err
        assert f"{site.url}/2024/03/story-1" in err
        assert yaml.safe_load(draft.read_text())["article"]["title"] == "h1"
        fetched = site.fetched()
        assert fetched[0] == "/robots.txt" and fetched.index("/robots.txt") < fetched.index("/")
        assert site.count("/2024/03/story-1") == 2  # 503, retried, 200
        assert {agent for _, agent in site.agents} == {USER_AGENT}

        before = len(site.agents)
        code, out, err = run(capsys, "extract", f"{site.url}/2024/03/story-2")
        assert (code, err) == (0, "")
        assert paragraphs(2)[0] in out
        assert {agent for _, agent in site.agents[before:]} == {USER_AGENT}
        assert "/robots.txt" in [path for path, _ in site.agents[before:]]
    finally:
        site.close()


@pytest.mark.e2e
def test_sites_new_obeys_robots_txt_and_reports_http_errors_writing_nothing(capsys, tmp_path):
    site = news_site()
    try:
        site.page("/robots.txt", "User-agent: *\nDisallow: /\n", **{"Content-Type": "text/plain"})
        draft = tmp_path / "draft.yaml"
        code, out, err = run(capsys, "sites", "new", f"{site.url}/", "-o", str(draft))
        assert (code, out) == (1, "")
        assert one_line(err) == (
            f"newscrawl: cannot fetch {site.url}/: forbidden by the site's robots.txt"
        )
        assert not draft.exists()
        assert site.fetched() == ["/robots.txt"]

        site.page("/robots.txt", "User-agent: *\n", **{"Content-Type": "text/plain"})
        site.page("/", "<html><body>gone</body></html>", status=404)
        code, out, err = run(capsys, "sites", "new", f"{site.url}/", "-o", str(draft))
        assert (code, out) == (1, "")
        assert one_line(err) == f"newscrawl: cannot fetch {site.url}/: HTTP 404"
        site.page("/", "<html><body>busy</body></html>", status=503)
        code, out, err = run(capsys, "sites", "new", f"{site.url}/", "-o", str(draft))
        assert (code, out) == (1, "")
        assert one_line(err) == f"newscrawl: cannot fetch {site.url}/: HTTP 503 (after 2 retries)"
        assert site.count("/") == 1 + 3  # the 404 once; the 503 asked three times
        assert not draft.exists()
    finally:
        site.close()


@pytest.mark.e2e
def test_sites_new_honours_set_settings(capsys, tmp_path):
    site = news_site()
    try:
        site.page("/robots.txt", "User-agent: *\nDisallow: /\n", **{"Content-Type": "text/plain"})
        draft = tmp_path / "draft.yaml"
        code, _, err = run(
            capsys,
            "sites",
            "new",
            f"{site.url}/",
            "-o",
            str(draft),
            "--set",
            "USER_AGENT=gazette-research/2.0 (+mailto:desk@gazette.example)",
            "--set",
            "ROBOTSTXT_OBEY=False",
        )
        assert code == 0, err
        assert yaml.safe_load(draft.read_text())["article"]["body"] == "div.story"
        assert {agent for _, agent in site.agents} == {
            "gazette-research/2.0 (+mailto:desk@gazette.example)"
        }
        assert site.count("/2024/03/story-0") == 1

        code, out, err = run(
            capsys, "extract", f"{site.url}/2024/03/story-0", "--set", "DOWNLOAD_TIMEOUT=soon"
        )
        assert (code, out) == (1, "")
        assert one_line(err).endswith("ValueError: could not convert string to float: 'soon'")
    finally:
        site.close()


# --------------------------------------------------------------------------- sites list


def test_sites_list_is_a_table_whose_columns_never_run_together(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "sites"
    folder.mkdir()
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    (folder / "hidden-panarmenian.yaml").write_text(
        "name: hidden-panarmenian\nbase_url: http://www.panarmenian.example/eng/\n"
    )
    (folder / "wide.yaml").write_text("name: wide\nbase_url: http://新闻.example/\n")
    write_site(folder, "idle", articles={"every": "1h", "enabled": False})
    code, out, _ = run(capsys, "sites", "list")
    assert code == 0
    header, rule, *lines = out.splitlines()
    assert header.split() == ["site", "base", "URL", "spiders", "daemon", "definition"]
    assert set(rule) == {"-", " "}
    rows = {line.split()[0]: line for line in lines}
    assert set(rows) == {"demo", "panarmenian", "hidden-panarmenian", "wide", "idle"}
    assert "hidden-panarmenian  http://www.panarmenian.example/eng/  " in out
    # Each column starts at the same display column on every line, wide
    # characters (two columns each) included.
    for name, line in rows.items():
        folder_of = BUNDLED_SITES_DIR if name in ("demo", "panarmenian") else folder
        for column, value in (("base URL", "http"), ("definition", f"{folder_of}/{name}.")):
            assert wcswidth(line[: line.index(value)]) == header.index(column), (name, out)
    assert "  when named (--site)  " in rows["demo"]
    assert "  scheduled  " in rows["hidden-panarmenian"]
    assert "  no enabled schedule  " in rows["idle"]
    assert rows["demo"].endswith(str(BUNDLED_SITES_DIR / "demo.yaml"))


# --------------------------------------------------------------------------- status, schedule, db


def test_status_and_db_current_never_create_a_database(capsys, tmp_path):
    missing = tmp_path / "missing.db"
    for command in (["status"], ["status", "--json"], ["db", "current"]):
        code, out, err = run(capsys, *command, "--database", f"sqlite:///{missing}")
        assert (code, out) == (NOT_FOUND_EXIT, ""), command
        assert one_line(err).startswith(f"newscrawl: no archive at {missing}")
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


def test_status_of_an_unknown_site_lists_the_known_ones(capsys, tmp_path, sites):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert run(capsys, "db", "upgrade", "--database", url)[0] == 0
    code, _, err = run(capsys, "status", "--site", "nosuch", "--database", url)
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == "newscrawl: unknown site 'nosuch'; known sites: demo, panarmenian"


def test_daemon_usage_mistakes(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("NEWSCRAWL_MAX_CRAWLS", raising=False)
    for argv, message in (
        (["--max-crawls", "0"], "--max-crawls must be at least 1, got 0"),
        (["--grace", "-1"], "--grace and --kill-after cannot be negative"),
        (["--log-file", str(tmp_path / "no" / "d.log")], "cannot write the log file"),
    ):
        code, _, err = run(capsys, "daemon", *argv)
        assert code == CONFIG_ERROR_EXIT, argv
        assert message in one_line(err)
    monkeypatch.setenv("NEWSCRAWL_MAX_CRAWLS", "many")
    code, _, err = run(capsys, "daemon")
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == "newscrawl: NEWSCRAWL_MAX_CRAWLS must be a whole number, got 'many'"
    code, _, err = run(capsys, "worker", "--max-crawls", "0")
    assert code == CONFIG_ERROR_EXIT and "--max-crawls must be at least 1" in one_line(err)
    monkeypatch.delenv("NEWSCRAWL_MAX_CRAWLS")
    code, _, err = run(capsys, "daemon", "--crawl-hosts", "-1")
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == "newscrawl: --crawl-hosts must be 0 or more, got -1"
    monkeypatch.setenv("NEWSCRAWL_CRAWL_HOSTS", "two")
    code, _, err = run(capsys, "daemon")
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == "newscrawl: NEWSCRAWL_CRAWL_HOSTS must be a whole number, got 'two'"
    code, _, err = run(capsys, "worker", "--crawl-hosts", "-2")
    assert code == CONFIG_ERROR_EXIT and "--crawl-hosts must be 0 or more" in one_line(err)
    monkeypatch.delenv("NEWSCRAWL_CRAWL_HOSTS")
    # The crawl hosts' limits are read with the other options: one line, not a traceback.
    for name, value, message in (
        ("NEWSCRAWL_HOST_BEAT_TIMEOUT", "soon", "must be a number, got 'soon'"),
        ("NEWSCRAWL_HOST_CRAWLS", "2.5", "must be a whole number, got '2.5'"),
        ("NEWSCRAWL_HOST_RSS_GROWTH_MB", "0", "must be more than 0, got 0"),
    ):
        monkeypatch.setenv(name, value)
        code, _, err = run(capsys, "daemon", "--crawl-hosts", "1")
        assert code == CONFIG_ERROR_EXIT
        assert one_line(err) == f"newscrawl: {name} {message}"
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSCRAWL_HOST_CRAWLS", "0")
    code, _, err = run(capsys, "worker")
    assert code == CONFIG_ERROR_EXIT
    assert one_line(err) == "newscrawl: NEWSCRAWL_HOST_CRAWLS must be at least 1, got 0"


def store_job(url: str, job_id: str, when: float) -> None:
    """A job in APScheduler's job store, as a daemon started with ``--site`` keeps it."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from sqlalchemy import insert

    from crawler.storage.database import get_engine

    store = SQLAlchemyJobStore(engine=get_engine(url))
    store.start(BackgroundScheduler(), "default")
    with get_engine(url).begin() as conn:
        conn.execute(insert(store.jobs_t).values(id=job_id, next_run_time=when, job_state=b""))


def test_status_and_schedule_show_the_same_jobs(capsys, tmp_path, sites):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    assert run(capsys, "db", "upgrade", "--database", url)[0] == 0

    # No site of the user's own: both say so, with the same reason.
    code, out, _ = run(capsys, "schedule", "--database", url)
    reason = "no site definitions in NEWSCRAWL_SITES_DIR"
    assert code == 0 and out.startswith(f"No jobs: {reason} ({sites}), and the bundled")
    code, out, _ = run(capsys, "status", "--database", url)
    assert out.splitlines()[1] == out_line(capsys, url, "schedule")
    assert json.loads(run(capsys, "status", "--json", "--database", url)[1])["sites"] == []

    write_site(sites, "weekly", articles={"cron": "0 6 * * 1"})
    write_site(sites, "idle", articles={"every": "1h", "enabled": False})
    store_job(url, "demo:articles", 4102444800.0)  # a daemon was started with --site demo
    schedule = json.loads(run(capsys, "schedule", "--json", "--database", url)[1])
    status = json.loads(run(capsys, "status", "--json", "--database", url)[1])
    scheduled = [(j["site"], j["spider"], j["next_run"]) for j in schedule]
    assert scheduled == [
        ("demo", "articles", "2100-01-01T00:00:00Z"),
        ("demo", "top_stories", None),
        ("weekly", "articles", scheduled[2][2]),
    ]
    assert ISO_Z.match(scheduled[2][2])
    assert [(e["site"], e["spider"], e["next_run"]) for e in status["sites"] if e["schedule"]] == (
        scheduled
    )
    sources = {(e["site"], e["spider"]): e["next_run_source"] for e in status["sites"]}
    assert sources == {
        ("demo", "articles"): "job store",
        ("demo", "top_stories"): "at daemon start",
        ("idle", "articles"): "disabled",
        ("weekly", "articles"): "computed",
    }
    assert status["no_jobs"] is None and status["daemon"]["state"] == "none"

    code, out, _ = run(capsys, "schedule", "--database", url)
    assert "2100-01-01 00:00 UTC" in out and ":00:00 UTC" not in out
    code, out, _ = run(capsys, "status", "--database", url)
    assert out.splitlines()[0] == "daemon    not running; no daemon has run on this database"
    assert "  next run  2100-01-01 00:00 UTC" in out
    assert HUMAN_TIME.search(out.split("weekly/articles")[1])


def out_line(capsys, url: str, command: str) -> str:
    return run(capsys, command, "--database", url)[1].splitlines()[0]


# --------------------------------------------------------------------------- the daemon


def wait_for_line(path: Path, text: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120  # a hang guard, not a measure
    while text not in (path.read_text() if path.exists() else ""):
        assert proc.poll() is None, path.read_text() if path.exists() else ""
        assert time.monotonic() < deadline, f"no {text!r} in {path}"
        time.sleep(0.1)


def start_daemon(tmp_path: Path, url: str, env: dict[str, str], name: str = "daemon"):
    """``newscrawl daemon`` in a child process, once it has started: its log
    in ``NAME.log``, its standard error in ``NAME.err``."""
    log = tmp_path / f"{name}.log"
    err = open(tmp_path / f"{name}.err", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "daemon", "--database", url, "--log-file", log],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
    )  # fmt: skip
    err.close()
    wait_for_line(log, "newscrawl daemon started", proc)
    return proc, log


@pytest.mark.e2e
def test_a_daemon_without_jobs_warns_loudly_and_status_says_it_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSCRAWL_SITES_DIR",)}
    proc, log = start_daemon(tmp_path, url, env)
    try:
        warning = (
            "no jobs: NEWSCRAWL_SITES_DIR is not set, and the bundled examples (demo, "
            "panarmenian) are scheduled only when named (newscrawl daemon --site NAME); "
            "the daemon runs idle"
        )
        assert f"WARNING newscrawl.daemon: {warning}" in log.read_text()
        err = (tmp_path / "daemon.err").read_text()
        assert one_line(err).startswith(f"newscrawl: warning: {warning}")
        status = newscrawl("status", "--database", url, env=env).stdout.decode()
        assert status.splitlines()[0].startswith(f"daemon    running: pid {proc.pid} on ")
        assert "No jobs: NEWSCRAWL_SITES_DIR is not set" in status
        second = newscrawl("daemon", "--database", url, "--log-file", tmp_path / "2.log", env=env)
        assert second.returncode == 3
        line = one_line(second.stderr.decode())
        assert line.startswith("newscrawl: another newscrawl daemon is running on ")
        assert f"(pid {proc.pid} on " in line and HUMAN_TIME.search(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    report = json.loads(newscrawl("status", "--json", "--database", url, env=env).stdout)
    daemon = report["daemon"]
    assert (daemon["state"], daemon["running"], daemon["pid"]) == ("stopped", False, proc.pid)
    assert ISO_Z.match(daemon["started_at"]) and ISO_Z.match(daemon["stopped_at"])
    text = newscrawl("status", "--database", url, env=env).stdout.decode().splitlines()[0]
    assert re.fullmatch(
        rf"daemon    not running; it last ran from {HUMAN_TIME.pattern} to "
        rf"{HUMAN_TIME.pattern} \(pid {proc.pid} on .+\)",
        text,
    )
    # The next daemon takes the released lease.
    again, _ = start_daemon(tmp_path, url, env, "again")
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=90) == 0


@pytest.mark.e2e
def test_the_daemon_refuses_an_unknown_site_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    proc = newscrawl("daemon", "--database", url, "--site", "nosuch", "--log-file",
                     str(tmp_path / "d.log"))  # fmt: skip
    assert proc.returncode == CONFIG_ERROR_EXIT
    assert one_line(proc.stderr.decode()).startswith("newscrawl: unknown site 'nosuch'")
    assert not (tmp_path / "archive.db").exists()


@pytest.mark.parametrize("command", [["crawl", "demo"], ["daemon"], ["worker"]])
def test_a_setting_without_a_value_is_bad_usage(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--set", "DOWNLOAD_DELAY"])
    assert exit_.value.code == CONFIG_ERROR_EXIT
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(
        "error: argument --set: expected NAME=VALUE, got 'DOWNLOAD_DELAY'"
    )
