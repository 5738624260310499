"""Site definitions: the typed schema of ``settings/sites/*.yaml`` and its loader.

A site definition is data. It is read with a safe YAML loader, validated against
the models below, and any problem stops the program with one message naming the
file, the key and what is wrong (:class:`SiteConfigError`, exit status 2 on the
command line). ``docs/sites.md`` documents every key.
"""

from __future__ import annotations

import hashlib
import os
import string
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crawler.exceptions import SiteConfigError
from crawler.sites.durations import parse_duration

SITES_DIR_ENV = "NEWSCRAWL_SITES_DIR"
# Set by the daemon and newscrawl crawl for each crawl process they start:
# the file of the definition they resolved the site's name to, so that the
# crawl reads that one file instead of every definition (get_site).
SITE_FILE_ENV = "NEWSCRAWL_SITE_FILE"
BUNDLED_SITES_DIR = Path(__file__).resolve().parent.parent.parent / "settings" / "sites"

_XPATH_STARTS = ("/", "./", "(", "..")


# --------------------------------------------------------------------------- checks


def _check_regex(pattern: str) -> str:
    # Compiled by the engine that runs it (crawler/sites/patterns.py), so a pattern
    # that would fail during a crawl fails here, when the definition loads.
    import regex

    from crawler.sites.patterns import check_pattern

    try:
        check_pattern(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


def _check_css(expr: str) -> str:
    from parsel import Selector

    try:
        Selector(text="<html></html>").css(expr)
    except Exception as exc:  # cssselect raises several kinds
        raise ValueError(f"invalid CSS selector {expr!r}: {exc}") from None
    return expr


def _check_xpath(expr: str) -> str:
    from parsel import Selector

    try:
        Selector(text="<html></html>").xpath(expr)
    except Exception as exc:
        raise ValueError(f"invalid XPath expression {expr!r}: {exc}") from None
    return expr


def is_xpath(expr: str) -> bool:
    """A selector string is XPath when it starts like a path; otherwise it is CSS."""
    return expr.lstrip().startswith(_XPATH_STARTS)


def _check_selector(expr: str) -> str:
    if not expr.strip():
        raise ValueError("empty selector")
    return _check_xpath(expr) if is_xpath(expr) else _check_css(expr)


Regex = Annotated[str, BeforeValidator(lambda v: _check_regex(v) if isinstance(v, str) else v)]
SelectorText = Annotated[
    str, BeforeValidator(lambda v: _check_selector(v) if isinstance(v, str) else v)
]


# --------------------------------------------------------------------------- rules


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class FieldRule(_Strict):
    """Where one field's value is found on a page.

    Exactly one source: ``selector`` (CSS or XPath, told apart by its first
    character), ``css``, ``xpath``, ``jsonld`` (a dotted path into the page's
    JSON-LD article object) or ``meta`` (the name or property of a ``<meta>``).
    """

    selector: SelectorText | None = None
    css: Annotated[str, BeforeValidator(_check_css)] | None = None
    xpath: Annotated[str, BeforeValidator(_check_xpath)] | None = None
    jsonld: str | None = None
    meta: str | None = None
    attr: str | None = None
    regex: Regex | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        given = [k for k in ("selector", "css", "xpath", "jsonld", "meta") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of selector, css, xpath, jsonld, meta"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.regex is not None:
            from crawler.sites.patterns import compile_pattern

            pattern = compile_pattern(self.regex, "regex")
            if pattern.groups > 1 and "value" not in pattern.groupindex:
                raise ValueError("a regex with several groups must name one (?P<value>...)")
        return self

    @property
    def kind(self) -> Literal["css", "xpath", "jsonld", "meta"]:
        if self.selector is not None:
            return "xpath" if is_xpath(self.selector) else "css"
        for k in ("css", "xpath", "jsonld", "meta"):
            if getattr(self, k) is not None:
                return k  # type: ignore[return-value]
        raise AssertionError("validated rule without a source")

    @property
    def expression(self) -> str:
        return self.selector or self.css or self.xpath or self.jsonld or self.meta or ""


class DateRule(FieldRule):
    """A field rule for the publication date, with how to read the text it finds."""

    format: list[str] = Field(default_factory=list)
    timezone: str | None = None

    @field_validator("format", mode="before")
    @classmethod
    def _format_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return _check_timezone(v) if v is not None else v


def _rules(v: Any) -> Any:
    """Accept a string, a mapping or a list of either; always give a list."""
    if v is None:
        return []
    items = v if isinstance(v, list) else [v]
    return [{"selector": i} if isinstance(i, str) else i for i in items]


def _element_rules(rules: list[FieldRule]) -> list[FieldRule]:
    """Rules that must find elements: CSS or XPath only."""
    for i, rule in enumerate(rules):
        if rule.kind in ("jsonld", "meta"):
            raise ValueError(f"[{i}]: only selector, css or xpath can find elements here")
    return rules


Rules = Annotated[list[FieldRule], BeforeValidator(_rules)]
DateRules = Annotated[list[DateRule], BeforeValidator(_rules)]
ElementRules = Annotated[list[FieldRule], BeforeValidator(_rules), AfterValidator(_element_rules)]
RegexList = Annotated[list[Regex], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return name


UrlList = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class ListingRules(_Strict):
    start_urls: UrlList = Field(default_factory=list)
    feeds: UrlList = Field(default_factory=list)
    sitemaps: UrlList = Field(default_factory=list)
    discover: bool = False
    article_links: Rules = Field(default_factory=lambda: _rules("a::attr(href)"))
    article_url_pattern: Regex | None = None
    exclude_url_pattern: Regex | None = None
    next_page: Rules = Field(default_factory=list)
    page_url_template: str | None = None
    first_template_page: int = Field(2, ge=0)
    max_pages: int = Field(100, ge=1)
    stop_after_known_pages: int = Field(1, ge=1)
    # Without next_page rules (generic discovery): how many section pages of
    # the home page's main navigation are walked too (docs/sites.md#generic-discovery).
    max_sections: int = Field(20, ge=0)
    dates: DateRules = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_source(self) -> ListingRules:
        if not (self.start_urls or self.feeds or self.sitemaps or self.discover):
            raise ValueError("give start_urls, feeds or sitemaps, or discover: true")
        return self

    @field_validator("page_url_template")
    @classmethod
    def _has_page(cls, v: str | None) -> str | None:
        if v is None:
            return v
        braces = "write a brace that belongs to the URL as {{ or }}"
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(v) if f is not None]
        except ValueError as exc:
            raise ValueError(f"cannot read the template ({exc}); {braces}") from None
        others = sorted({f for f in fields if f != "page"})
        if others:
            names = ", ".join("{" + f + "}" for f in others)
            raise ValueError(f"the template may only use {{page}}, not {names}; {braces}")
        if "page" not in fields:
            raise ValueError("the template must contain {page}, e.g. '/news/page/{page}/'")
        try:
            v.format(page=2)  # a format spec such as {page:03d} is allowed
        except ValueError as exc:
            raise ValueError(f"cannot fill in the template ({exc})") from None
        return v


class ArticleRules(_Strict):
    title: Rules = Field(default_factory=lambda: _rules(["h1", {"meta": "og:title"}]))
    body: Rules = Field(default_factory=list)
    published: DateRules = Field(default_factory=list)
    author: Rules = Field(default_factory=list)
    section: Rules = Field(default_factory=list)
    tags: Rules = Field(default_factory=list)
    drop: ElementRules = Field(default_factory=list)
    strip: RegexList = Field(default_factory=list)
    drop_paragraphs: RegexList = Field(default_factory=list)
    truncate_at: RegexList = Field(default_factory=list)
    min_body_length: int = Field(100, ge=0)
    fallback: bool = True


class TopStoriesRules(_Strict):
    pages: Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
    entries: ElementRules
    title: Rules = Field(default_factory=list)
    link: Rules = Field(default_factory=list)
    max_entries: int | None = Field(None, ge=1)
    follow: bool = True


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _check_cron(expr: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
    return expr


class SpiderSchedule(_Strict):
    """When one spider of a site runs: every N, or on a cron expression."""

    every: Duration | None = None
    cron: Annotated[str, AfterValidator(_check_cron)] | None = None
    jitter: Duration = 0.0
    enabled: bool = True

    @model_validator(mode="after")
    def _one_trigger(self) -> SpiderSchedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of every, cron")
        if self.every is not None and self.every <= 0:
            raise ValueError("every must be more than 0 seconds")
        return self


DEFAULT_SCHEDULES = {
    "articles": {"every": "1h", "jitter": "2m"},
    "top_stories": {"every": "15m", "jitter": "30s"},
}


class ScheduleRules(_Strict):
    articles: SpiderSchedule = Field(default_factory=lambda: dict(DEFAULT_SCHEDULES["articles"]))
    top_stories: SpiderSchedule = Field(
        default_factory=lambda: dict(DEFAULT_SCHEDULES["top_stories"])
    )
    timeout: Duration = 1800.0
    # The longest wait between two tries of a failing site (docs/daemon.md#failing-sites).
    max_backoff: Duration = 6 * 3600.0

    @model_validator(mode="before")
    @classmethod
    def _default_triggers(cls, data: Any) -> Any:
        """A spider given without ``every`` or ``cron`` (``enabled: false``
        alone, or a ``jitter`` alone) keeps its default trigger and jitter."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for spider, default in DEFAULT_SCHEDULES.items():
            given = data.get(spider)
            if isinstance(given, dict) and "every" not in given and "cron" not in given:
                data[spider] = {**default, **given}
        return data


class UrlRules(_Strict):
    """How an article URL becomes its identity (see crawler/sites/urls.py)."""

    tracking_params: Annotated[
        list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)
    ] = Field(default_factory=list)
    trailing_slash: Literal["keep", "add", "remove"] = "keep"
    force_https: bool | None = None
    use_rel_canonical: bool = True


DEFAULT_REVISIT = ("1h", "6h", "1d", "3d")


class Site(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
    base_url: str
    allowed_domains: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    language: str = "en"
    listing: ListingRules | None = None
    article: ArticleRules = Field(default_factory=ArticleRules)
    top_stories: TopStoriesRules | None = None
    schedule: ScheduleRules = Field(default_factory=ScheduleRules)
    urls: UrlRules = Field(default_factory=UrlRules)
    revisit: Annotated[list[Duration], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=lambda: list(DEFAULT_REVISIT)
    )
    source_file: str = Field("", exclude=True)

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an absolute http(s) URL, got {v!r}")
        return v if parts.path else v + "/"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)

    @model_validator(mode="after")
    def _resolve(self) -> Site:
        # Relative URLs in the definition are resolved against base_url; the
        # host of base_url is allowed when allowed_domains is not given.
        def absolute(urls: list[str]) -> list[str]:
            return [urljoin(self.base_url, u) for u in urls]

        if not self.allowed_domains:
            object.__setattr__(self, "allowed_domains", [urlsplit(self.base_url).hostname or ""])
        if self.listing is None:
            # A minimal definition: the home page, and feeds and sitemaps found from it.
            listing = ListingRules(start_urls=[self.base_url], discover=True)
        else:
            listing = self.listing
        object.__setattr__(
            self,
            "listing",
            listing.model_copy(
                update={
                    "start_urls": absolute(listing.start_urls),
                    "feeds": absolute(listing.feeds),
                    "sitemaps": absolute(listing.sitemaps),
                }
            ),
        )
        if self.top_stories is not None:
            object.__setattr__(
                self,
                "top_stories",
                self.top_stories.model_copy(update={"pages": absolute(self.top_stories.pages)}),
            )
        return self

    @field_validator("revisit")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("revisit ages must increase, e.g. [1h, 6h, 1d, 3d]")
        return v

    @property
    def https(self) -> bool:
        if self.urls.force_https is not None:
            return self.urls.force_https
        return self.base_url.startswith("https://")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def spiders(self) -> list[str]:
        """The spiders this site has: ``articles`` with a ``listing``,
        ``top_stories`` with ``top_stories`` pages."""
        parts = (("articles", self.listing), ("top_stories", self.top_stories))
        return [spider for spider, part in parts if part is not None]


# The keys whose values are regular expressions (run by crawler/sites/patterns.py).
PATTERN_KEYS = frozenset(
    {
        "regex",
        "strip",
        "drop_paragraphs",
        "truncate_at",
        "article_url_pattern",
        "exclude_url_pattern",
    }
)


def site_patterns(site: Site) -> list[tuple[str, str]]:
    """Every regular expression of a site definition, with its key as a path
    (``article.title[0].regex``, ``article.strip[1]``, ``listing.article_url_pattern``)."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, BaseModel):
            for name in type(node).model_fields:
                value = getattr(node, name)
                key = f"{path}.{name}" if path else name
                if name in PATTERN_KEYS:
                    if isinstance(value, str):
                        found.append((key, value))
                    elif isinstance(value, list):
                        found.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
                else:
                    walk(value, key)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(site, "")
    return found


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def definition_hash(site: Site) -> str:
    """A short hash of everything a definition says: what ``captures.extracted_with``
    records, so that ``newscrawl reextract`` knows which captures a changed
    definition has not read yet."""
    text = site.model_dump_json()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_site_file(path: Path) -> Site:
    """Read and validate one site definition file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteConfigError(f"{path}: cannot read the file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise SiteConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SiteConfigError(f"{path}: a site definition must be a mapping of keys to values")
    data.setdefault("name", path.stem)
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {_key_path(tuple(e['loc']))}: {_describe(e)}" for e in exc.errors(include_url=False)
        ]
        raise SiteConfigError(f"{path}: invalid site definition\n" + "\n".join(lines)) from None
    return site.model_copy(update={"source_file": str(path)})


def site_dirs() -> list[Path]:
    """The bundled sites folder, then each folder of ``NEWSCRAWL_SITES_DIR``."""
    dirs = [BUNDLED_SITES_DIR]
    extra = os.environ.get(SITES_DIR_ENV, "")
    for part in extra.split(os.pathsep):
        if part.strip():
            path = Path(part.strip()).expanduser()
            if not path.is_dir():
                raise SiteConfigError(f"{SITES_DIR_ENV}: {path} is not a folder")
            dirs.append(path)
    return dirs


def load_sites() -> dict[str, Site]:
    """Every site definition, by name. A later folder's site replaces an earlier one's."""
    sites: dict[str, Site] = {}
    for folder in site_dirs():
        found: dict[str, Path] = {}
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            site = load_site_file(path)
            if site.name in found:
                raise SiteConfigError(
                    f"{path}: site name {site.name!r} is already defined in {found[site.name]}"
                )
            found[site.name] = path
            sites[site.name] = site
    return sites


def get_site(name: str) -> Site:
    """The site named ``name``. With ``NEWSCRAWL_SITE_FILE`` set (a crawl the
    daemon or newscrawl crawl started), that file alone is read when it defines the
    site: the process that set it has read and checked every definition, and
    a crawl of one site among a thousand does not read them all again."""
    hinted = os.environ.get(SITE_FILE_ENV)
    if hinted and Path(hinted).is_file():
        site = load_site_file(Path(hinted))
        if site.name == name:
            return site
    sites = load_sites()
    if name not in sites:
        known = ", ".join(sorted(sites)) or "none"
        raise SiteConfigError(f"unknown site {name!r} (known sites: {known})")
    return sites[name]
