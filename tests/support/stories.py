"""Stories for the incremental, discovery and distributed tests: text unique
to a seed, and an article page with its date and canonical link."""

from __future__ import annotations

import random

WORDS = (
    "council harbour budget vote river school library road market hospital tram bridge "
    "station festival museum park housing water energy police court mayor report plan "
    "district residents project funding minister agreement talks border region season"
).split()


def story(seed: int, words: int = 120) -> list[str]:
    """Three paragraphs of text unique to ``seed``."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(words // 3)).capitalize() + "." for _ in range(3)
    ]


def article_html(
    title: str, paragraphs: list[str], published: str | None, canonical: str = ""
) -> str:
    time_tag = f'<time datetime="{published}">{published}</time>' if published else ""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title>{link}</head><body><h1>{title}</h1>"
        f'{time_tag}<div class="story">{body}</div></body></html>'
    )
