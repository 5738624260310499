"""What ``newscrawl crawl`` (and ``demo``) show of a crawl: where Scrapy's log
goes, one progress line while a spider runs, and one summary line per run.

- The log: by default into a file of its own per command,
  ``$NEWSCRAWL_LOG_DIR/SITE-YYYYMMDD-HHMMSS-PID.log`` (UTC; the folder
  defaults to ``$XDG_STATE_HOME/newscrawl/logs``, that is
  ``~/.local/state/newscrawl/logs``, beside the spool), the newest
  :data:`KEEP_LOGS` of each site kept; ``--log-file PATH`` appends to PATH;
  ``-v`` (INFO), ``-vv`` (DEBUG) or ``--log-level LEVEL`` send it to stderr
  as Scrapy prints it, unless ``--log-file`` is given too.
- The progress line: on stderr, rewritten in place, only when stderr is a
  terminal and the log is not there; fed by the crawl's own reports
  (crawler/extensions/progress.py).
- The summary: one line per run, on stdout when the run finished and on
  stderr (prefixed ``newscrawl:``) when it did not, with why; then
  ``log: PATH``, on stdout when every run finished, else on stderr. A cron job
  whose crawls all finish writes nothing to stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from crawler.sites.durations import format_duration

LOG_DIR_ENV = "NEWSCRAWL_LOG_DIR"
KEEP_LOGS = 20  # per site, in the default log folder
VERBOSE_LEVELS = {1: "INFO", 2: "DEBUG"}
COUNTED = ("pages_fetched", "articles_new", "articles_updated", "articles_unchanged")


def log_dir() -> Path:
    """``$NEWSCRAWL_LOG_DIR``, else ``$XDG_STATE_HOME/newscrawl/logs``."""
    configured = os.environ.get(LOG_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "newscrawl" / "logs"


def _log_name(site: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(site)}-\d{{8}}-\d{{6}}-\d+\.log")


def new_log_file(site: str, folder: Path | None = None, now: datetime | None = None) -> Path:
    """A new log file for a crawl of ``site`` in the log folder, created;
    the oldest of the site's logs there beyond :data:`KEEP_LOGS` removed."""
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{site}-{stamp}-{os.getpid()}.log"
    path.touch()
    pattern = _log_name(site)
    # Oldest first: the names sort in time order.
    logs = sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p != path)
    for old in logs[: max(len(logs) - (KEEP_LOGS - 1), 0)]:
        old.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------- lines


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def counts_text(run: Mapping[str, Any], spider: str) -> str:
    """``66 pages, 60 new, 0 updated, 0 unchanged, 0 rejected``, and the
    top-stories snapshots of a top_stories run."""
    text = (
        f"{_plural(run.get('pages_fetched') or 0, 'page')}, "
        f"{run.get('articles_new') or 0} new, {run.get('articles_updated') or 0} updated, "
        f"{run.get('articles_unchanged') or 0} unchanged, "
        f"{run.get('items_rejected') or 0} rejected"
    )
    snapshots = run.get("top_story_snapshots") or 0
    if spider == "top_stories" or snapshots:
        text += f", {_plural(snapshots, 'top-story snapshot')}"
    return text


def progress_text(label: str, report: Mapping[str, Any]) -> str:
    """``demo/articles 5s: 72 pages (13.4/s), 60 new, 0 updated, 4 unchanged,
    0 rejected``: under 80 columns for a short site name."""
    elapsed = float(report.get("elapsed") or 0)
    pages = report.get("pages_fetched") or 0
    rate = pages / elapsed if elapsed > 0 else 0.0
    return (
        f"{label} {format_duration(int(elapsed))}: {_plural(pages, 'page')} ({rate:.1f}/s), "
        f"{report.get('articles_new') or 0} new, {report.get('articles_updated') or 0} updated, "
        f"{report.get('articles_unchanged') or 0} unchanged, "
        f"{report.get('items_rejected') or 0} rejected"
    )


def summary_line(run: Mapping[str, Any]) -> str:
    """One run in one line: ``run 12: demo/articles finished in 4s: 66 pages,
    ...``; a run that did not finish says why, last, after its counts if it
    counted anything: ``run 13: down/articles failed after 7s: no page could
    be fetched ...``."""
    took = "-"
    if run.get("finished_at") is not None and run.get("started_at") is not None:
        took = format_duration(int((run["finished_at"] - run["started_at"]).total_seconds()))
    name = f"run {run['id']}: {run['site']}/{run['spider']}"
    counts = counts_text(run, run["spider"])
    status, reason = run["status"], run.get("finish_reason") or ""
    if status == "finished":
        note = f" ({reason})" if reason and reason != "finished" else ""
        return f"{name} finished in {took}: {counts}{note}"
    # The status is said once: stopped runs' reasons begin with it.
    why = reason.removeprefix(f"{status}: ") or status
    if not any(run.get(key) for key in COUNTED):  # nothing to tell but why
        return f"{name} {status} after {took}: {why}"
    return f"{name} {status} after {took} ({counts}): {why}"


# --------------------------------------------------------------------------- terminal


class ProgressLine:
    """One line on a terminal, rewritten in place (carriage return, then
    erase to the end of the line); cut to the terminal's width so that it
    never wraps."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def width(self) -> int:
        """Columns of the terminal the line is shown on ($COLUMNS first)."""
        if os.environ.get("COLUMNS", "").isdigit():
            return int(os.environ["COLUMNS"])
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size((80, 24)).columns

    def show(self, text: str) -> None:
        width = self.width() - 1
        if len(text) > width:
            text = text[: max(width - 1, 0)] + "…"
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


@dataclass
class CrawlOutput:
    """Where one command's crawls log, and whether they show a progress line.

    ``log_file`` None: the log goes to stderr (``-v``, ``--log-level``).
    ``log_level`` None: the crawl's own (``$NEWSCRAWL_LOG_LEVEL`` or INFO).
    """

    log_file: Path | None = None
    log_level: str | None = None
    progress: ProgressLine | None = None

    @classmethod
    def choose(
        cls,
        site: str,
        verbose: int = 0,
        log_level: str | None = None,
        log_file: Path | None = None,
        stderr: TextIO | None = None,
    ) -> CrawlOutput:
        """From the options: see the module's docstring. An unwritable log
        file ends the command (exit status 1) before anything is crawled."""
        stderr = stderr or sys.stderr
        level = log_level or VERBOSE_LEVELS.get(min(verbose, 2))
        if log_file is None and level is not None:
            return cls(None, level)
        if log_file is None:
            try:
                log_file = new_log_file(site)
            except OSError as exc:
                raise SystemExit(
                    f"newscrawl: cannot write a log file in {log_dir()}: {exc}; "
                    f"set {LOG_DIR_ENV} or pass --log-file PATH"
                ) from None
        else:
            log_file = log_file.expanduser().resolve()
            try:
                with open(log_file, "a", encoding="utf-8"):
                    pass
            except OSError as exc:
                raise SystemExit(
                    f"newscrawl: cannot write the log file {log_file}: {exc}"
                ) from None
        progress = ProgressLine(stderr) if stderr.isatty() else None
        return cls(log_file, level, progress)

    def settings(self) -> dict[str, str]:
        """The Scrapy settings that send the crawl's log where it goes."""
        out = {"LOG_LEVEL": self.log_level} if self.log_level else {}
        if self.log_file is not None:
            out.update(LOG_FILE=str(self.log_file), LOG_FILE_APPEND="True")
        return out

    def on_progress(self, label: str) -> Any:
        """The runner's callback for a spider's reports; None without a line."""
        line = self.progress
        if line is None:
            return None
        return lambda report: line.show(progress_text(label, report))

    def clear(self) -> None:
        if self.progress is not None:
            self.progress.clear()
