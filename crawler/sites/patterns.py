"""The regular expressions of site definitions, run with a time bound.

A site definition's patterns (field rules' ``regex``, the cleaning rules
``strip``, ``drop_paragraphs`` and ``truncate_at``, the listing's
``article_url_pattern`` and ``exclude_url_pattern``) are written by users
and run on text from the web. Python's ``re`` cannot stop a match: a pattern
that backtracks without end on some page (``(a|aa)+$`` on a long run of
``a``) would pin a CPU and hold the crawl, deaf to SIGTERM and Ctrl-C.

They run here instead, on the ``regex`` package (Python ``re`` syntax, its
VERSION0 behaviour), each call bounded by :data:`TIMEOUT` seconds. A call
that takes longer raises :class:`PatternTimeout`, which names the pattern and
where it comes from; the crawl rejects the page with that reason and goes on.

:func:`nested_quantifiers` tells apart the patterns most likely to backtrack
that way (``newscrawl sites list`` warns about them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import regex

from crawler.exceptions import PatternTimeout

TIMEOUT = 1.0
"""Seconds one call of a user pattern (one search, sub, split or findall on
one text) may take before it is given up with :class:`PatternTimeout`."""

FLAGS = regex.VERSION0


def check_pattern(pattern: str) -> None:
    """Compile ``pattern`` as the crawl will: raises ``regex.error`` when it is invalid."""
    regex.compile(pattern, FLAGS)


class BoundedPattern:
    """One compiled user pattern: ``re.Pattern``'s search, sub, split and
    findall, each call bounded by ``timeout`` seconds."""

    __slots__ = ("pattern", "where", "timeout", "stage", "_compiled")

    def __init__(
        self, pattern: str, where: str, timeout: float = TIMEOUT, stage: str = "extract"
    ) -> None:
        self.pattern = pattern
        self.where = where
        self.timeout = timeout
        self.stage = stage
        self._compiled = regex.compile(pattern, FLAGS)

    @property
    def groups(self) -> int:
        return self._compiled.groups

    @property
    def groupindex(self) -> dict[str, int]:
        return dict(self._compiled.groupindex)

    def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, timeout=self.timeout, **kwargs)
        except TimeoutError:
            raise PatternTimeout(self.pattern, self.where, self.timeout, self.stage) from None

    def search(self, string: str) -> Any:
        return self._run(self._compiled.search, string)

    def sub(self, repl: str | Callable[[Any], str], string: str, count: int = 0) -> str:
        return self._run(self._compiled.sub, repl, string, count=count)

    def split(self, string: str, maxsplit: int = 0) -> list[Any]:
        return self._run(self._compiled.split, string, maxsplit=maxsplit)

    def findall(self, string: str) -> list[Any]:
        return self._run(self._compiled.findall, string)

    def __repr__(self) -> str:
        return f"BoundedPattern({self.pattern!r}, where={self.where!r})"


@functools.lru_cache(maxsize=1024)
def compile_pattern(
    pattern: str, where: str, timeout: float = TIMEOUT, stage: str = "extract"
) -> BoundedPattern:
    """The bounded, compiled form of a user pattern, compiled once per
    (pattern, where): ``where`` names its key in messages."""
    return BoundedPattern(pattern, where, timeout, stage)


# --------------------------------------------------------------------------- nested quantifiers

_UNBOUNDED = -1


def _quantifier(pattern: str, i: int) -> tuple[int, int, int] | None:
    """The quantifier at ``pattern[i]``: (min, max or _UNBOUNDED, its length
    with a lazy or possessive mark), or None when there is none."""
    if i >= len(pattern):
        return None
    c = pattern[i]
    if c in "*+?":
        low, high, end = (0 if c != "+" else 1), (_UNBOUNDED if c != "?" else 1), i + 1
    elif c == "{":
        close = pattern.find("}", i)
        if close < 0:
            return None
        low_text, comma, high_text = pattern[i + 1 : close].partition(",")
        low_text, high_text = low_text.strip(), high_text.strip()
        if not (low_text.isdigit() or (comma and not low_text)):
            return None  # a literal brace
        if comma and high_text and not high_text.isdigit():
            return None
        low = int(low_text or 0)
        high = (int(high_text) if high_text else _UNBOUNDED) if comma else low
        end = close + 1
    else:
        return None
    if end < len(pattern) and pattern[end] in "?+":
        end += 1
    return low, high, end - i


def _varies(low: int, high: int) -> bool:
    """A quantifier that repeats its atom a varying number of times (``*``,
    ``+``, ``{2,5}``; not ``?``, which only makes it optional)."""
    return high == _UNBOUNDED or high > max(low, 1)


def nested_quantifiers(pattern: str) -> bool:
    """Does ``pattern`` repeat a group that itself holds a quantifier that
    repeats a varying number of times, as in ``(a+)+``, ``(a*)*``,
    ``(\\w+\\s?)*`` or ``(.*,){5}``? Such patterns can take time exponential
    in the text's length on a text they do not match. A heuristic: it reads
    the pattern, it does not run it; it misses some slow patterns, such as
    alternatives that overlap (``(a|aa)+``)."""
    # One entry per open group: does its body hold a varying quantifier?
    stack: list[bool] = [False]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            q = _quantifier(pattern, i)
            if q and _varies(q[0], q[1]):
                stack[-1] = True
            if q:
                i += q[2]
            continue
        if c == "[":
            i = _skip_class(pattern, i)
            q = _quantifier(pattern, i)
            if q and _varies(q[0], q[1]):
                stack[-1] = True
            if q:
                i += q[2]
            continue
        if c == "(":
            stack.append(False)
            i += 1
            if pattern.startswith("?", i):
                i += 1  # (?:, (?P<name>, (?=...: the rest of the opener reads as literals
            continue
        if c == ")" and len(stack) > 1:
            inner = stack.pop()
            q = _quantifier(pattern, i + 1)
            if q:
                low, high, length = q
                possessive = pattern[i + length] == "+" and length > 1
                repeats = high == _UNBOUNDED or high > 1
                if inner and repeats and not possessive:
                    return True
                if _varies(low, high):
                    stack[-1] = True
                i += length
            if inner:
                stack[-1] = True
            i += 1
            continue
        q = _quantifier(pattern, i + 1)
        if q:
            if _varies(q[0], q[1]):
                stack[-1] = True
            i += q[2]
        i += 1
    return False


def _skip_class(pattern: str, i: int) -> int:
    """The index after the character class that opens at ``pattern[i]``."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a ] first in the class is a literal
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1
