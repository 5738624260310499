"""Extraction quality: token-level precision, recall and F1 of an extracted
body against a hand-checked one (bag of words, as in the trafilatura and
CLEANEVAL evaluations)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def token_score(extracted: str | None, expected: str) -> Score:
    got = Counter(_TOKEN.findall((extracted or "").casefold()))
    want = Counter(_TOKEN.findall(expected.casefold()))
    common = sum((got & want).values())
    precision = common / sum(got.values()) if got else 0.0
    recall = common / sum(want.values()) if want else 0.0
    return Score(precision, recall)
