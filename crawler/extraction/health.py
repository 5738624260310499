"""Extraction health: how often each field was found, and when that drops.

A site redesign rarely breaks a crawl outright; it quietly empties a field.
Every run stores the fill rate of each field over the articles it extracted,
and a field whose rate falls to less than half of its median over the site's
recent runs gets a warning naming the site and field.
"""

from __future__ import annotations

import re
from statistics import median
from typing import Any

HEALTH_FIELDS = ("title", "body", "published_at", "author", "section")
MIN_ARTICLES = 5  # fewer articles than this make a rate too noisy to judge
MIN_BASELINE = 0.5  # a field usually missing is not a broken selector
DROP_FACTOR = 0.5
# The field a warning names, in either of its forms (see health_warnings).
_WARNED_FIELD = re.compile(r": (?:field (\w+) found|the (\w+) rules matched) in ")


def fill_rates(
    extracted: int, filled: dict[str, int], by_rule: dict[str, int] | None = None
) -> dict[str, Any]:
    """``{"articles": N, "title": 1.0, ..., "by_rule": {"author": 1.0, ...}}`` for one run.

    The top-level rates count a field however it was filled; ``by_rule``
    counts only the site's own rules, for the fields that have rules. A
    selector broken by a redesign shows there even when a fallback fills in.
    """
    rates: dict[str, Any] = {"articles": extracted}
    for field in HEALTH_FIELDS:
        rates[field] = round(filled.get(field, 0) / extracted, 4) if extracted else None
    if by_rule is not None:
        rates["by_rule"] = {
            field: round(count / extracted, 4) if extracted else None
            for field, count in by_rule.items()
        }
    return rates


def health_warnings(site: str, current: dict[str, Any], history: list[dict[str, Any]]) -> list[str]:
    """Warnings for fields far below the site's recent runs (``history``)."""
    if (current.get("articles") or 0) < MIN_ARTICLES:
        return []
    usable = [h for h in history if h and (h.get("articles") or 0) >= MIN_ARTICLES]
    if len(usable) < 2:
        return []
    warnings = []
    for field in HEALTH_FIELDS:
        for scope in ("field", "rules"):
            past = [r for r in (_rate(h, scope, field) for h in usable) if r is not None]
            rate = _rate(current, scope, field)
            if not past or rate is None:
                continue
            baseline = median(past)
            if baseline >= MIN_BASELINE and rate < baseline * DROP_FACTOR:
                what = f"field {field} found" if scope == "field" else f"the {field} rules matched"
                warnings.append(
                    f"site {site}: {what} in {rate:.0%} of {current['articles']} articles, "
                    f"down from {baseline:.0%} in recent runs (a selector may be broken)"
                )
    return warnings


def _rate(rates: dict[str, Any], scope: str, field: str) -> float | None:
    """A field's fill rate, overall (``field``) or by the site's own rules (``rules``)."""
    if scope == "field":
        return rates.get(field)
    return (rates.get("by_rule") or {}).get(field)


def warning_field(warning: str) -> str | None:
    """The field a warning of :func:`health_warnings` names (as stored in
    ``crawl_runs.health_warnings``), or None for another text."""
    match = _WARNED_FIELD.search(warning)
    if match is None:
        return None
    field = match.group(1) or match.group(2)
    return field if field in HEALTH_FIELDS else None
