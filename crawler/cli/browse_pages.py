"""What ``newscrawl browse`` makes of Datasette's pages, for a reader of news:
a Datasette plugin (:func:`reader_plugin`) and the templates beside this
module (``browse_templates/``).

- the first screen (``/`` and the database page): a search box and the way
  to the articles, top stories, corrections and crawl runs, with counts;
- the cells of the reader views (migration 0008, docs/schema.md) written for
  people: times in the one format, a title linking to the whole article,
  tags as filters, the changed words of a correction marked, a top story's
  span drawn as a bar on its day, a run's duration;
- an article's page opening with the article itself, in paragraphs;
- the style sheet all of this uses, at ``/-/newscrawl.css``;
- array facets (the tags) counted over the array column alone, quick
  enough for an archive of tens of thousands of articles.

Every page stays Datasette's (filters, facets, sorting, JSON, SQL); this
adds to it. Datasette is imported only when the plugin is made.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from crawler.sites.durations import format_duration
from crawler.sites.times import human_time

READER_PLUGIN = "newscrawl_reader"
TEMPLATES = Path(__file__).with_name("browse_templates")
STYLE_SHEET = TEMPLATES / "newscrawl.css"
STYLE_PATH = "/-/newscrawl.css"
VIEWS = ("article_list", "top_story_spans", "corrections", "crawl_history")
TIME_COLUMNS = frozenset(
    {"published_at", "first_seen_at", "last_seen_at", "changed_at", "started_at", "finished_at"}
)
DAY_SECONDS = 86400
BAR_WIDTH = 144


# --------------------------------------------------------------------------- values


def stored_time(value: Any) -> datetime | None:
    """A time as a view gives it (SQLite's UTC text, ``2021-09-24 14:00:00.000000``)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def reader_time(value: Any) -> str:
    """``2021-09-24 14:00 UTC``; what is not a time, as it is."""
    moment = stored_time(value)
    return human_time(moment) if moment is not None else str(value or "")


def tag_list(value: Any) -> list[str]:
    """The tags of a row: a JSON list (text on SQLite)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value] if value else []
    return [str(tag) for tag in value] if isinstance(value, list) else []


def paragraphs(text: str | None) -> list[str]:
    return [part for part in (text or "").split("\n\n") if part.strip()]


# --------------------------------------------------------------------------- cells


def link(href: str, text: Any, css: str = "") -> Markup:
    """An ``<a>``; a story's own address only if it is http(s)."""
    if not href.startswith(("/", "http://", "https://")):
        return Markup(escape(text))
    attribute = Markup(' class="{}"').format(css) if css else ""
    return Markup('<a href="{}"{}>{}</a>').format(href, attribute, text)


def article_link(datasette: Any, database: str, article_id: Any, text: Any) -> Markup:
    """``text`` linking to the whole article: its row in ``articles``."""
    if article_id is None:
        return Markup(escape(text))
    return link(datasette.urls.row(database, "articles", str(article_id)), text, "nc-title")


def site_link(url: Any) -> Markup | None:
    """A story's address, shown as its host: the whole address is the link."""
    if not isinstance(url, str) or not url:
        return None
    host = urlsplit(url).netloc or url
    return link(url, Markup("{} ↗").format(host), "nc-url")


def tag_links(datasette: Any, database: str, table: str, value: Any) -> Markup:
    """Each tag a link to the rows with that tag."""
    base = datasette.urls.table(database, table)
    links = [
        link(f"{base}?_facet_array=tags&tags__arraycontains={_quote(tag)}", tag, "nc-tag")
        for tag in tag_list(value)
    ]
    return Markup(" ").join(links) if links else Markup("&nbsp;")  # not "[]"


def _quote(text: str) -> str:
    return quote(text, safe="")


def words(text: str) -> list[str]:
    """Words and the white space between them, so that joining gives the text back."""
    return re.findall(r"\s+|\S+", text)


def marked_text(tokens: Iterator[tuple[str, bool]], tag: str, block: bool) -> Markup:
    """Tokens, each run of marked ones (with the spaces inside it) in one
    ``<tag>``. ``block``: in paragraphs, a blank line starting a new one."""
    out: list[Markup] = [Markup("<p>")] if block else []
    run: list[str] = []  # marked words and the spaces between them

    def close_run() -> None:
        if run:
            text = "".join(run)
            out.append(Markup("<{0}>{1}</{0}>").format(tag, text.rstrip()))
            if text != text.rstrip():
                out.append(Markup(" "))
            run.clear()

    for token, marked in tokens:
        breaks = block and token.isspace() and "\n\n" in token
        if marked and not breaks and (run or not token.isspace()):
            run.append(" " if token.isspace() else token)
            continue
        close_run()
        if token.isspace():
            out.append(Markup("</p><p>") if breaks else Markup(" "))
        else:
            out.append(escape(token))
    close_run()
    if block:
        out.append(Markup("</p>"))
    return Markup("").join(out)


def changed_words(old: str | None, new: str | None, side: str, block: bool = True) -> Markup:
    """One side of a correction: ``old`` with the words the new text lacks
    struck through (``side`` "old"), or ``new`` with the words it added
    marked ("new"); ``block`` for paragraphs, else inline."""
    text = old if side == "old" else new
    if not (text or "").strip():
        return Markup('<span class="nc-none">none</span>')
    before, after = words(old or ""), words(new or "")
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)

    def tokens() -> Iterator[tuple[str, bool]]:
        for operation, i1, i2, j1, j2 in matcher.get_opcodes():
            for token in before[i1:i2] if side == "old" else after[j1:j2]:
                yield token, operation != "equal"

    marked = marked_text(tokens(), "del" if side == "old" else "ins", block)
    element = "div" if block else "span"
    return Markup('<{0} class="nc-{1}">{2}</{0}>').format(element, side, marked)


def seconds_of_day(moment: datetime) -> float:
    return (moment - datetime.combine(moment.date(), time(), moment.tzinfo)).total_seconds()


def span_bar(first: Any, last: Any, seconds: Any) -> Markup:
    """A story's time in the top stories of one day: a bar on the day's 24
    hours (ticks every 6 hours), then its length (``2h 15m``)."""
    start, end = stored_time(first), stored_time(last)
    if start is None or end is None or seconds is None:
        return Markup("")
    left = seconds_of_day(start) / DAY_SECONDS * BAR_WIDTH
    width = max(2.0, min(float(seconds) / DAY_SECONDS * BAR_WIDTH, BAR_WIDTH - left))
    ticks = "".join(
        f'<line x1="{x}" y1="0" x2="{x}" y2="14" class="nc-tick"/>'
        for x in (BAR_WIDTH * q / 4 for q in range(1, 4))
    )
    label = f"{start:%H:%M}–{end:%H:%M} UTC"
    return Markup(
        '<span class="nc-span"><svg width="{w}" height="14" role="img" aria-label="{label}">'
        '<title>{label}</title><rect x="0" y="0" width="{w}" height="14" class="nc-day"/>'
        '{ticks}<rect x="{left:.1f}" y="2" width="{width:.1f}" height="10" class="nc-bar"/>'
        "</svg> {text}</span>"
    ).format(
        w=BAR_WIDTH,
        label=label,
        ticks=Markup(ticks),
        left=left,
        width=width,
        text=format_duration(int(seconds)),
    )


def render_article_list(datasette: Any, database: str, row: Any, column: str) -> Any:
    if column == "title":
        return article_link(datasette, database, row["id"], row["title"])
    if column == "tags":
        return tag_links(datasette, database, "article_list", row["tags"])
    if column == "excerpt":
        return Markup('<span class="nc-excerpt">{}</span>').format(row["excerpt"] or "")
    return None


def render_top_story_spans(datasette: Any, database: str, row: Any, column: str) -> Any:
    if column == "title":
        if row["article_id"] is None:
            return link(row["url"], row["title"], "nc-title")
        return article_link(datasette, database, row["article_id"], row["title"])
    if column in ("first_seen_at", "last_seen_at"):
        moment = stored_time(row[column])
        return f"{moment:%H:%M} UTC" if moment else None
    if column == "span_seconds":
        return span_bar(row["first_seen_at"], row["last_seen_at"], row["span_seconds"])
    return None


def render_corrections(datasette: Any, database: str, row: Any, column: str) -> Any:
    if column == "new_title":
        marked = changed_words(row["old_title"], row["new_title"], "new", block=False)
        return article_link(datasette, database, row["article_id"], marked)
    if column == "old_title":
        if row["old_title"] == row["new_title"]:
            return Markup('<span class="nc-none">unchanged</span>')
        return changed_words(row["old_title"], row["new_title"], "old", block=False)
    if column in ("old_paragraphs", "new_paragraphs"):
        return changed_words(row["old_paragraphs"], row["new_paragraphs"], column[:3])
    if column == "article_id":
        return article_link(datasette, database, row["article_id"], row["article_id"])
    return None


def render_crawl_history(datasette: Any, database: str, row: Any, column: str) -> Any:
    if column == "id":
        return link(datasette.urls.row(database, "crawl_runs", str(row["id"])), row["id"])
    if column == "duration_seconds":
        seconds = row["duration_seconds"]
        return format_duration(seconds) if seconds is not None else None
    if column == "status":
        return Markup('<span class="nc-status nc-{0}">{0}</span>').format(row["status"])
    if column == "health_warnings":
        warnings = tag_list(row["health_warnings"])
        return Markup("<br>").join(warnings) if warnings else None
    return None


RENDERERS = {
    "article_list": render_article_list,
    "top_story_spans": render_top_story_spans,
    "corrections": render_corrections,
    "crawl_history": render_crawl_history,
}


def render_cell(row: Any, value: Any, column: str, table: str, database: str, datasette: Any):
    """Datasette's ``render_cell`` hook for the reader views; None leaves a
    cell to Datasette."""
    renderer = RENDERERS.get(table)
    if renderer is None:
        return None
    if column == "url":
        return site_link(value)
    rendered = renderer(datasette, database, row, column)
    if rendered is None and column in TIME_COLUMNS and value:
        return reader_time(value)
    return rendered


# --------------------------------------------------------------------------- first screen


# The figures of the first screen, read from the tables (quicker than the views).
HOME_QUERIES = {
    "articles": (
        "select count(*) as articles, count(distinct site) as sites, "
        "max(published_at) as newest from articles where duplicate_of is null"
    ),
    "sites": (
        "select site, count(*) as articles from articles where duplicate_of is null "
        "group by site order by articles desc, site limit 12"
    ),
    "corrections": (
        "select count(*) as corrections, count(distinct article_id) as articles, "
        "max(captured_at) as latest from article_revisions"
    ),
    "top_stories": (
        "with latest as (select date(max(captured_at)) as day from top_stories) "
        "select latest.day as day, count(distinct t.site || ' ' || t.url) as stories, "
        "count(distinct t.site) as sites "
        "from top_stories t join latest on t.captured_at >= latest.day "
        "group by latest.day"
    ),
    "runs": "select count(*) as runs from crawl_runs",
    "latest_run": (
        "select id, site, spider, status, started_at from crawl_runs order by id desc limit 1"
    ),
}


async def archive_database(datasette: Any, database: str | None) -> str | None:
    """The database the first screen is about: ``database``, or on ``/``
    the first one served that has the reader views."""
    names = [database] if database else [n for n in datasette.databases if n != "_internal"]
    for name in names:
        db = datasette.databases.get(name)
        if db is not None and set(VIEWS) <= set(await db.view_names()):
            return name
    return None


async def home_figures(datasette: Any, name: str) -> dict[str, Any]:
    """The counts on the first screen; a query that fails or runs out of
    time leaves its figures out."""
    db = datasette.databases[name]
    figures: dict[str, Any] = {}
    for key, sql in HOME_QUERIES.items():
        try:
            rows = (await db.execute(sql)).rows
        except Exception:  # noqa: BLE001 - a time limit, a locked file: no figure
            continue
        figures[key] = (
            [dict(row) for row in rows] if key == "sites" else (dict(rows[0]) if rows else {})
        )
    return figures


def extra_template_vars(template: str, database: str | None, datasette: Any) -> Any:
    """``newscrawl_home`` for the first screen (``index.html``,
    ``database.html``): the archive's name and figures; nothing elsewhere."""
    if template not in ("index.html", "database.html"):
        return {}

    async def inner() -> dict[str, Any]:
        name = await archive_database(datasette, database)
        if name is None:
            return {"newscrawl_home": None}
        return {"newscrawl_home": {"database": name, **await home_figures(datasette, name)}}

    return inner


def paragraph_filter(text: str | None) -> list[str]:
    return paragraphs(text)


def day_of(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value or "")[:10]


# --------------------------------------------------------------------------- facets


def narrow_array_facet(array_facet: type) -> type:
    """Datasette's array facet (``{"array": "tags"}``), counting over each
    row's number and array alone. Datasette's own counts the distinct pairs
    of a value and the whole row, every column computed (an excerpt) and
    compared: 4.1 s for the tags of 50,000 articles, against 0.5 s so."""
    from datasette.utils import escape_sqlite

    class NarrowArrayFacet(array_facet):  # type: ignore[valid-type,misc]
        only: list | None = None  # the one configuration being counted

        def get_configs(self) -> list:
            return self.only or super().get_configs()

        async def facet_results(self) -> tuple[list, list]:
            results: list = []
            timed_out: list = []
            wide = self.sql
            try:
                for config in super().get_configs():
                    settings = config["config"]
                    column = settings.get("column") or settings["simple"]
                    self.only = [config]
                    self.sql = await self.narrowed(wide, escape_sqlite(column))
                    found, late = await super().facet_results()
                    results.extend(found)
                    timed_out.extend(late)
            finally:
                self.sql, self.only = wide, None
            return results, timed_out

        async def narrowed(self, wide: str, column: str) -> str:
            """``wide`` (Datasette's ``select COLUMNS from TABLE WHERE...``)
            selecting a row number and ``column`` only."""
            columns = await self.ds.get_database(self.database).table_columns(self.table)
            table = escape_sqlite(self.table)
            prefix = f"select {', '.join(escape_sqlite(c) for c in columns)} from {table} "
            row = f"select row_number() over () as newscrawl_row, {column}"
            if wide.startswith(prefix):
                return f"{row} from {table} {wide[len(prefix) :]}"
            return f"{row} from ({wide})"

    return NarrowArrayFacet


def reader_plugin() -> ModuleType:
    """The Datasette plugin, as a module (Datasette lists plugins by module name)."""
    from datasette import hookimpl
    from datasette.utils.asgi import Response

    @hookimpl
    def prepare_jinja2_environment(env: Any) -> None:
        env.filters["reader_time"] = reader_time
        env.filters["paragraphs"] = paragraph_filter
        env.filters["tag_list"] = tag_list
        env.filters["day"] = day_of

    @hookimpl
    def extra_css_urls(datasette: Any) -> list[str]:
        return [datasette.urls.path(STYLE_PATH)]

    from datasette.facets import ArrayFacet

    narrow = narrow_array_facet(ArrayFacet)

    @hookimpl(hookwrapper=True)
    def register_facet_classes() -> Iterator[None]:
        outcome = yield
        classes = outcome.get_result()
        outcome.force_result([[narrow if k is ArrayFacet else k for k in ks] for ks in classes])

    @hookimpl
    def register_routes() -> list[tuple[str, Any]]:
        def style_sheet() -> Any:
            return Response(STYLE_SHEET.read_text(encoding="utf-8"), content_type="text/css")

        return [(r"^/-/newscrawl\.css$", style_sheet)]

    plugin = ModuleType(READER_PLUGIN)
    plugin.render_cell = hookimpl(render_cell)  # type: ignore[attr-defined]
    plugin.extra_template_vars = hookimpl(extra_template_vars)  # type: ignore[attr-defined]
    plugin.prepare_jinja2_environment = prepare_jinja2_environment  # type: ignore[attr-defined]
    plugin.extra_css_urls = extra_css_urls  # type: ignore[attr-defined]
    plugin.register_routes = register_routes  # type: ignore[attr-defined]
    plugin.register_facet_classes = register_facet_classes  # type: ignore[attr-defined]
    return plugin
