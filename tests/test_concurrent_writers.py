"""Two processes storing overlapping articles into one PostgreSQL database at
once: no duplicate rows, nothing lost, no failed batch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import create_engine, text

WRITER = textwrap.dedent(
    """
    import sys
    from crawler.items import Article
    from crawler.storage.store import Store

    url, first, last, edition = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    store = Store.open(url)
    numbers = list(range(first, last))
    if edition == "b":
        numbers.reverse()  # the other writer meets the shared articles in the opposite order
    for _round in range(3):
        for i in range(0, len(numbers), 20):
            batch = [
                Article(
                    url=f"https://paper.example/a/{n}",
                    site="paper",
                    title=f"Story {n}",
                    # The shared stories get a different body from each writer: versions.
                    body=f"Story {n} as told by {edition if 100 <= n < 200 else 'both'}. " * 20,
                )
                for n in numbers[i : i + 20]
            ]
            store.save_articles(batch)
    print("ok")
    """
)


def test_two_writers_store_overlapping_articles_once(postgres_url):
    from crawler.storage.database import upgrade

    upgrade(postgres_url)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, postgres_url, str(first), str(last), edition],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first, last, edition in ((0, 200, "a"), (100, 300, "b"))
    ]
    results = [w.communicate(timeout=180) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [r[1][-2000:] for r in results]
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        urls = [r[0] for r in conn.execute(text("select url from articles"))]
        revisions = conn.execute(
            text(
                "select article_id, version, count(*) from article_revisions"
                " group by 1, 2 having count(*) > 1"
            )
        ).all()
        versions = dict(
            conn.execute(text("select url, version from articles where url like '%/a/1__'")).all()
        )
    engine.dispose()
    assert len(urls) == len(set(urls)) == 300
    assert revisions == []  # no version recorded twice
    # Every shared story changed hands at least once; unshared ones never did.
    assert all(v >= 2 for u, v in versions.items() if 100 <= int(u.rsplit("/", 1)[1]) < 200)
