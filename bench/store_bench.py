"""The store alone against plain ``sqlite3`` (the same rows, schema and
full-text index), alternating rounds: ``make bench-store``, or
``python bench/store_bench.py --articles 5000 --rounds 5``. The same figures
as the store part of ``make bench-crawl``, without the crawls."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from crawl_bench import RESULTS, postgres_available, store_lines, store_results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000, help="rows (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds alternating (default 5)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="newscrawl-store-bench-"))
    results: dict[str, Any] = {}
    try:
        store_results(results, workdir, args.articles, args.rounds, postgres_available())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "store.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(store_lines(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
