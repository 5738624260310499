"""The headline of a page read without rules: the first of its headlines
(JSON-LD, og:title, twitter:title, <h1>, <title>), with a site name appended
after a separator removed, and a headline cut short giving way to the full one."""

from __future__ import annotations

import pytest

from crawler.extraction.titles import choose_headline


@pytest.mark.parametrize(
    ("candidates", "names", "expected"),
    [
        # The site's name after a separator, in any script's punctuation.
        (
            ["Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung"],
            ["Börsen-Zeitung"],
            "Steigende US-Zinsen setzen Dax zu",
        ),
        (
            ["南海トラフ、一時調査 巨大地震、基準達せず：中日新聞Web"],
            ["中日新聞Web"],
            "南海トラフ、一時調査 巨大地震、基準達せず",
        ),
        (
            ["Nam, SA Green hydrogen pipeline flagged - The Namibian"],
            ["namibian.com.na", "namibian"],
            "Nam, SA Green hydrogen pipeline flagged",
        ),
        # Anything after a separator, when what precedes it is another headline of the page.
        (
            [
                "Ukrainische Gegenoffensive: Ziele | DW | 28.04.2023",
                "Ukrainische Gegenoffensive: Ziele",
            ],
            [],
            "Ukrainische Gegenoffensive: Ziele",
        ),
        # A kicker before a colon is the editor's and stays; so does a dash inside a headline.
        (
            ["Olympische Spiele: Deutscher Aggressor beeindruckt"],
            ["n-tv.de"],
            "Olympische Spiele: Deutscher Aggressor beeindruckt",
        ),
        (
            ["Rückschlag im Titelkampf - Liverpool verliert bei Everton"],
            ["sportschau"],
            "Rückschlag im Titelkampf - Liverpool verliert bei Everton",
        ),
        # Cut short, with or without an ellipsis: the full headline wins.
        (
            ["Yerevan opens a new tram", "Yerevan opens a new tram depot after two years"],
            [],
            "Yerevan opens a new tram depot after two years",
        ),
        (
            ["Council approves the budget…", "Council approves the budget for 2025"],
            [],
            "Council approves the budget for 2025",
        ),
        # A longer candidate that is a different headline does not.
        (
            ["Chelsea win at Cobham", "Chelsea win at Cobham: What We Learned"],
            [],
            "Chelsea win at Cobham",
        ),
        (["", "  "], [], None),
    ],
)
def test_choose_headline(candidates, names, expected):
    assert choose_headline(candidates, names) == expected
