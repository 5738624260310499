"""The demo crawl into PostgreSQL, as into SQLite: same rows, same answers."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from crawler.cli.demo_site import ARTICLES, SEED_ARTICLE_ID


def test_demo_crawl_into_postgresql(sites_dir, postgres_url, monkeypatch):
    monkeypatch.setenv("NEWSCRAWL_DATABASE_URL", postgres_url)
    for _ in range(2):  # the second crawl adds nothing
        proc = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "crawl", "demo"]
            + ["--set", "AUTOTHROTTLE_ENABLED=False"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        count = conn.execute(text("select count(*) from articles")).scalar()
        seed = conn.execute(
            text("select title, published_at, tags from articles where url like :u"),
            {"u": f"%/{SEED_ARTICLE_ID}/"},
        ).one()
        ranks = (
            conn.execute(
                text(
                    "select rank from top_stories where article_id is not null"
                    " order by captured_at, rank"
                )
            )
            .scalars()
            .all()
        )
        runs = conn.execute(text("select spider, status from crawl_runs order by id")).all()
    engine.dispose()
    assert count == len(ARTICLES)
    assert seed.title.startswith("Blinken, Cavusoglu hold")
    assert seed.published_at == datetime(2021, 9, 21, 19, 40, tzinfo=UTC)  # timestamptz
    assert seed.tags == ["Karabakh", "USA", "Turkey"]  # json
    assert ranks == [1, 2, 3, 4, 1, 2, 3, 4]  # two snapshots
    assert [tuple(r) for r in runs] == [
        ("articles", "finished"),
        ("top_stories", "finished"),
    ] * 2
