"""What every crawl process does before its first request, kept cheap
(docs/performance.md, "A crawl that finds nothing new"): the schema check of
a database already at the newest migration imports no Alembic, and an older
database is still upgraded."""

from __future__ import annotations

import re
import subprocess
import sys

from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.database import (
    MIGRATIONS_DIR,
    current_revision,
    ensure_schema,
    head_revision,
    newest_migration,
    upgrade,
)


def python_prints(code: str) -> str:
    """What ``code`` prints, run in a new interpreter (a fresh sys.modules)."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
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
    # Its module imports aiohttp; off and out of the extension list, a crawl
    # process never imports it.
    check = (
        "import sys; from scrapy.settings import Settings; "
        "from scrapy.utils.conf import build_component_list; "
        "s = Settings(); s.setmodule('settings.scrapy_settings', priority='project'); "
        "print(build_component_list(s.getwithbase('EXTENSIONS')))"
    )
    out = python_prints(check)
    assert "crawler.extensions.run_history.RunHistory" in out
    assert "remote_control" not in out
