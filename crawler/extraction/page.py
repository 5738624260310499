"""The page: one parsed HTML page, its URL, and the structured data on it
(JSON-LD), which rules and generic fallbacks both read."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from parsel import Selector

ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
    }
)


class Page:
    """One parsed HTML page and the structured data found on it."""

    def __init__(self, html: str | bytes, url: str) -> None:
        if isinstance(html, bytes):
            html = html.decode("utf-8", errors="replace")
        self.url = url
        self.text = html
        self.selector = Selector(text=html or "<html></html>", base_url=url)

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        """Every JSON-LD object on the page, ``@graph`` and lists flattened."""
        found: list[dict[str, Any]] = []

        def collect(node: Any) -> None:
            if isinstance(node, list):
                for n in node:
                    collect(n)
            elif isinstance(node, dict):
                if "@graph" in node:
                    collect(node["@graph"])
                found.append(node)

        for raw in self.selector.xpath('//script[@type="application/ld+json"]/text()').getall():
            try:
                collect(json.loads(raw))
            except ValueError:
                continue  # a broken block is skipped; the rest of the page still counts
        return found

    @cached_property
    def jsonld_article(self) -> list[dict[str, Any]]:
        """JSON-LD objects, article types first."""
        return sorted(self.jsonld, key=lambda o: not is_article_object(o))


def is_article_object(obj: dict[str, Any]) -> bool:
    types = obj.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(t in ARTICLE_TYPES for t in types if isinstance(t, str))


def jsonld_values(page: Page, path: str, articles_only: bool = False) -> list[str]:
    """Values at a dotted path in the page's JSON-LD, entities decoded."""
    objects = page.jsonld_article
    if articles_only:
        objects = [o for o in objects if is_article_object(o)]
    # JSON-LD is raw script text: entities in it were never decoded.
    return [html.unescape(v) for v in _jsonld_values(objects, path)]


def _jsonld_values(objects: list[dict[str, Any]], path: str) -> list[str]:
    for obj in objects:
        nodes: list[Any] = [obj]
        for key in path.split("."):
            nxt: list[Any] = []
            for node in nodes:
                items = node if isinstance(node, list) else [node]
                for item in items:
                    if isinstance(item, dict) and key in item:
                        nxt.append(item[key])
            nodes = nxt
        values = list(_flatten_scalars(nodes))
        if values:
            return values
    return []


def _flatten_scalars(nodes: Iterable[Any]) -> Iterator[str]:
    for node in nodes:
        if isinstance(node, list):
            yield from _flatten_scalars(node)
        elif isinstance(node, dict):
            # A person, organisation or thing named inline: take its name.
            if "name" in node:
                yield from _flatten_scalars([node["name"]])
        elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
            yield str(node)
