"""What every crawl process does before its first request, kept cheap
(docs/performance.md, "A crawl that finds nothing new"): the schema check of
a database already at the newest migration imports no Alembic, and an older
database is still upgraded; Scrapy's remote control is not loaded; a crawl
the daemon starts reads its own site's definition, not every one."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys

import pytest

from crawler.scheduling.runner import PROJECT_ROOT, crawl_env
from crawler.sites.definitions import SITE_FILE_ENV, SITES_DIR_ENV, SiteConfigError, get_site
from crawler.storage.database import (
    MIGRATIONS_DIR,
    current_revision,
    ensure_schema,
    head_revision,
    newest_migration,
    upgrade,
)


def python_prints(code: str, **env: str) -> str:
    """What ``code`` prints, run in a new interpreter (a fresh sys.modules)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_every_migration_file_is_named_by_its_revision():
    # newest_migration() reads the head from the file names: each file must
    # start with its own revision id, and the newest file must be the head.
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        revision = re.search(r'^revision = "(\w+)"', path.read_text(), re.MULTILINE)
        assert revision is not None, path
        assert path.name.startswith(f"{revision.group(1)}_"), path
    assert newest_migration() == head_revision()


def test_a_database_at_the_newest_migration_is_checked_without_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'news.db'}"
    ensure_schema(url)
    check = (
        "import sys; from crawler.storage.database import ensure_schema; "
        f"ensure_schema({url!r}); print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    out = python_prints(check)
    assert out.strip() == "[]"


def test_an_older_database_is_still_upgraded(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    assert current_revision(url) == "0007"
    ensure_schema(url)
    assert current_revision(url) == head_revision()


def test_an_empty_database_gets_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    ensure_schema(url)
    assert current_revision(url) == head_revision()


def test_scrapy_remote_control_is_not_loaded_by_a_crawl():
    # Its module imports aiohttp. Scrapy imports every extension it lists,
    # even one disabled or set to None: out of the list, it is never imported
    # when a crawl builds its extensions.
    out = python_prints(
        "import sys; from scrapy.utils.reactor import install_reactor; "
        "install_reactor('twisted.internet.asyncioreactor.AsyncioSelectorReactor'); "
        "from scrapy import Spider; from scrapy.crawler import Crawler; "
        "from scrapy.extension import ExtensionManager; "
        "from scrapy.utils.project import get_project_settings; "
        "c = Crawler(Spider, get_project_settings()); c._apply_settings(); "
        "print(sorted(ExtensionManager.from_crawler(c).middlewares, key=str)); "
        "print('scrapy.extensions.remote_control' in sys.modules)",
        SCRAPY_SETTINGS_MODULE="settings.scrapy_settings",
    )
    assert "RunHistory" in out
    assert out.split()[-1] == "False"


GOOD = "name: {name}\nbase_url: https://{name}.example/\nlisting:\n  start_urls: [/]\n"


def test_a_crawl_told_its_site_file_reads_that_file_alone(tmp_path, monkeypatch):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "gazette.yaml").write_text(GOOD.format(name="gazette"))
    (folder / "broken.yaml").write_text("name: broken\nbase_url: [not, a, url]\n")
    monkeypatch.setenv(SITES_DIR_ENV, str(folder))
    monkeypatch.delenv(SITE_FILE_ENV, raising=False)
    # Every definition read: the broken one stops it.
    with pytest.raises(SiteConfigError, match="broken.yaml"):
        get_site("gazette")
    monkeypatch.setenv(SITE_FILE_ENV, str(folder / "gazette.yaml"))
    site = get_site("gazette")
    assert site.name == "gazette"
    assert site.source_file == str(folder / "gazette.yaml")


def test_a_site_file_of_another_site_is_not_trusted(tmp_path, monkeypatch):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "gazette.yaml").write_text(GOOD.format(name="gazette"))
    (folder / "herald.yaml").write_text(GOOD.format(name="herald"))
    monkeypatch.setenv(SITES_DIR_ENV, str(folder))
    monkeypatch.setenv(SITE_FILE_ENV, str(folder / "herald.yaml"))
    assert get_site("gazette").source_file == str(folder / "gazette.yaml")
    monkeypatch.setenv(SITE_FILE_ENV, str(folder / "gone.yaml"))
    assert get_site("herald").source_file == str(folder / "herald.yaml")
    with pytest.raises(SiteConfigError, match="unknown site 'tribune'"):
        get_site("tribune")


def test_the_crawl_environment_carries_only_the_site_file_given(monkeypatch):
    monkeypatch.setenv(SITE_FILE_ENV, "/elsewhere/old.yaml")
    assert SITE_FILE_ENV not in crawl_env("sqlite:///x.db")
    assert crawl_env("sqlite:///x.db", "/sites/gazette.yaml")[SITE_FILE_ENV] == (
        "/sites/gazette.yaml"
    )


def test_newscrawl_crawl_itself_does_not_load_scrapy():
    # It starts the crawl process and waits for it: Scrapy is the child's.
    out = python_prints(
        "import sys, crawler.cli.main, crawler.scheduling.runner; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted'}))"
    )
    assert out.strip() == "[]"


def test_the_item_exceptions_are_scrapy_drop_items_by_their_module_names():
    from scrapy.exceptions import DropItem

    from crawler import exceptions
    from crawler.exceptions import OutsideDateRange, RejectItem

    assert issubclass(RejectItem, DropItem) and issubclass(OutsideDateRange, DropItem)
    assert exceptions.RejectItem is RejectItem
    assert pickle.loads(pickle.dumps(RejectItem)) is RejectItem
    rejected = RejectItem("no body", "validate")
    assert (rejected.reason, rejected.stage, str(rejected)) == ("no body", "validate", "no body")
    with pytest.raises(AttributeError):
        exceptions.NoSuchError  # noqa: B018


def test_scrapy_tls_module_is_imported_with_the_settings():
    # Its inspect.stack() calls cost the more, the deeper the stack and the
    # more modules are loaded: the settings module imports it first.
    out = python_prints(
        "import sys; import settings.scrapy_settings; "
        "print('scrapy.core.downloader.contextfactory' in sys.modules, "
        "any(m.startswith('crawler.') for m in sys.modules))"
    )
    assert out.split() == ["True", "False"]


def test_newscrawl_crawl_tells_its_crawl_process_the_site_file(tmp_path, monkeypatch):
    from crawler.cli.main import main
    from crawler.scheduling import runner

    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "gazette.yaml").write_text(GOOD.format(name="gazette"))
    monkeypatch.setenv(SITES_DIR_ENV, str(folder))
    started = []

    def start_crawl(site, spider, *args, site_file=None, **kwargs):
        # The crawl process, as started, without crawling: what it was told.
        started.append((site, spider, site_file))
        return subprocess.Popen([sys.executable, "-c", "pass"])

    monkeypatch.setattr(runner, "start_crawl", start_crawl)
    database = f"sqlite:///{tmp_path / 'news.db'}"
    main(["crawl", "gazette", "--spider", "articles", "--database", database])
    assert started == [("gazette", "articles", str(folder / "gazette.yaml"))]


def test_a_worker_tells_its_crawl_process_the_site_file(tmp_path, monkeypatch):
    from crawler.scheduling import worker

    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "gazette.yaml").write_text(GOOD.format(name="gazette"))
    monkeypatch.setenv(SITES_DIR_ENV, str(folder))
    started = []
    real_popen = subprocess.Popen

    def popen(command, env):
        # The crawl process, as started, without crawling: what it was told.
        started.append(env.get(SITE_FILE_ENV))
        return real_popen([sys.executable, "-c", "pass"])

    monkeypatch.setattr(worker.subprocess, "Popen", popen)
    crawler_worker = worker.Worker("redis://127.0.0.1:1/0", f"sqlite:///{tmp_path / 'n.db'}")
    assert ("gazette", "articles") in crawler_worker.targets()
    crawler_worker.launch("gazette", "articles")
    crawler_worker.children[("gazette", "articles")].wait()
    assert started == [str(folder / "gazette.yaml")]
