"""``newscrawl export -o PATH`` on what PATH can be: a regular file (replaced
only when the export is complete), a symbolic link (its file written, the link
kept), a character device or a FIFO (written in place, never replaced), and a
path whose folder is missing or is a file, or that we may not write (refused
in one line with exit status 2, before querying)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.archive import CrawledArchive

from crawler.cli.main import main
from crawler.scheduling.runner import PROJECT_ROOT


@pytest.fixture
def archive(crawled_archive) -> CrawledArchive:
    return crawled_archive


def newscrawl_process(archive: CrawledArchive, *args: str) -> subprocess.CompletedProcess:
    """``newscrawl ARGS --database URL`` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args, "--database", archive.url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def exported(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device like /dev/full (minor 7) or /dev/null (minor 3): a
    node of its own under tmp_path when we may create one (as root), so a
    fault replaces that node, not the system's; else the one in /dev."""
    if os.geteuid() == 0:
        node = tmp_path / name
        try:
            os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
            return node
        except OSError:
            pass
    return Path("/dev") / name


def test_a_full_device_stays_a_device_and_the_export_fails_in_one_line(archive, tmp_path):
    full = device(tmp_path, "full", 7)
    proc = newscrawl_process(archive, "export", "-o", str(full))
    assert stat.S_ISCHR(os.stat(full).st_mode)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"newscrawl: cannot write {full}: {os.strerror(errno.ENOSPC)}"
    assert proc.stdout == ""
    assert not [p for p in full.parent.iterdir() if p.name.endswith(".partial")]


def test_a_null_device_takes_the_export_and_stays_a_device(archive, tmp_path):
    null = device(tmp_path, "null", 3)
    proc = newscrawl_process(archive, "export", "--format", "csv", "-o", str(null))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert f"articles to {null}" in proc.stderr


def test_a_fifo_gets_the_export(archive, tmp_path):
    fifo = tmp_path / "articles.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as f:
            received.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = newscrawl_process(archive, "export", "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    rows = exported(received[0].decode())
    assert rows and len(rows) == len(exported(newscrawl_process(archive, "export").stdout))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.fifo"]


def test_a_symlink_stays_a_link_and_its_file_gets_the_export(archive, tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "articles.jsonl"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    proc = newscrawl_process(archive, "export", "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and link.resolve() == real
    assert exported(real.read_text())
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.jsonl", "real"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["articles.jsonl"]


@pytest.mark.parametrize("under", ["a-file.txt/out.jsonl", "missing/out.jsonl"])
def test_a_path_without_a_folder_is_refused_in_one_line(archive, tmp_path, under):
    (tmp_path / "a-file.txt").write_text("not a folder\n")
    target = tmp_path / under
    proc = newscrawl_process(archive, "export", "-o", str(target))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"newscrawl: cannot write {target}: ") and "folder" in line
    assert (tmp_path / "a-file.txt").read_text() == "not a folder\n"
    assert not (tmp_path / "missing").exists()


def test_a_path_without_a_folder_is_refused_before_the_database_is_opened(tmp_path, capsys):
    (tmp_path / "a-file.txt").write_text("")
    database = tmp_path / "none.db"
    code = main(
        ["export", "-o", str(tmp_path / "a-file.txt" / "x"), "--database", f"sqlite:///{database}"]
    )
    assert code == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not database.exists()


def unprivileged(command: list[str]) -> list[str]:
    """``command`` run as a process that may write only where the permissions
    let it: root writes anywhere, so as root it runs without that capability
    (CAP_DAC_OVERRIDE, dropped with util-linux's setpriv)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root may write anywhere, and setpriv is not there to drop that")
    return [setpriv, "--bounding-set", "-dac_override", "--", *command]


@pytest.mark.parametrize(
    "case, reason",
    [
        ("read-only folder", "no permission to write in the folder {folder}"),
        ("read-only file", "no permission to write {target}"),
    ],
)
def test_a_path_we_may_not_write_is_refused_in_one_line(tmp_path, case, reason):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "out.csv"
    target.write_text("the previous export\n")
    database = tmp_path / "archive.db"
    locked = folder if case == "read-only folder" else target
    locked.chmod(0o555 if locked == folder else 0o444)
    command = [sys.executable, "-m", "crawler.cli", "export", "-o", str(target)]
    try:
        proc = subprocess.run(
            unprivileged([*command, "--database", f"sqlite:///{database}"]),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    expected = reason.format(folder=folder, target=target)
    assert proc.stderr == f"newscrawl: cannot write {target}: {expected}\n"
    assert not database.exists()  # refused before the database is opened
    assert target.read_text() == "the previous export\n"
    assert sorted(p.name for p in folder.iterdir()) == ["out.csv"]


def test_a_file_that_cannot_be_opened_is_refused_as_a_bad_path(
    archive, tmp_path, capsys, monkeypatch
):
    """Permissions can refuse more than they say beforehand (a network file
    system, a special one): the refusal to open is the same usage error."""
    import crawler.cli.export

    def refuse(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(crawler.cli.export, "open", refuse, raising=False)
    target = tmp_path / "out.jsonl"
    code = main(["export", "-o", str(target), "--database", archive.url])
    assert code == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"newscrawl: cannot write {target}: {os.strerror(errno.EACCES)}\n")
    assert list(tmp_path.iterdir()) == []


def test_a_regular_file_is_replaced_only_when_the_export_is_complete(
    archive, tmp_path, capsys, monkeypatch
):
    target = tmp_path / "articles.jsonl"
    target.write_text("the previous export\n")
    target.chmod(0o604)

    import crawler.cli.export

    real_write = crawler.cli.export.write_jsonl

    def write_then_fail(rows, out):  # type: ignore[no-untyped-def]
        out.write('{"partial": true}\n')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(crawler.cli.export, "write_jsonl", write_then_fail)
    code = main(["export", "-o", str(target), "--database", archive.url])
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"newscrawl: cannot write {target}: {os.strerror(errno.ENOSPC)}"
    )
    assert target.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl"]

    monkeypatch.setattr(crawler.cli.export, "write_jsonl", real_write)
    code = main(["export", "-o", str(target), "--database", archive.url])
    assert code == 0
    rows = exported(target.read_text())
    assert rows and "id" in rows[0]
    assert stat.S_IMODE(target.stat().st_mode) == 0o604  # the permissions kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.jsonl"]

    new = tmp_path / "new.csv"
    code = main(["export", "--format", "csv", "-o", str(new), "--database", archive.url])
    assert code == 0 and new.read_text().startswith("id,")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
