"""A site's own navigation, found without rules: the next page of a listing
(``rel=next``, pagination markup, "Older posts"/"Next"/"Load more" in the
site's language, numbered pages) and the section pages its main navigation
links to. Pure functions over a parsed page; the ``articles`` spider follows
what they return when a site's listing has no ``next_page`` rule
(docs/sites.md#generic-discovery).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from parsel import Selector

from crawler.extraction.discovery import looks_like_article_url

# The words of a link to the next (older) listing page, by language; English
# is always understood (many themes are never translated).
NEXT_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "next",
        "next page",
        "older",
        "older posts",
        "older entries",
        "older articles",
        "older stories",
        "more",
        "more news",
        "more stories",
        "more articles",
        "load more",
        "show more",
        "see more",
        "view more",
        "earlier",
        "previous entries",
    ),
    "de": (
        "weiter",
        "nächste",
        "nächste seite",
        "vorwärts",
        "ältere beiträge",
        "ältere artikel",
        "ältere einträge",
        "mehr",
        "mehr laden",
        "mehr anzeigen",
        "weitere artikel",
        "weitere nachrichten",
    ),
    "fr": (
        "suivant",
        "suivante",
        "page suivante",
        "articles plus anciens",
        "plus anciens",
        "plus d'articles",
        "charger plus",
        "voir plus",
        "afficher plus",
    ),
    "es": (
        "siguiente",
        "página siguiente",
        "entradas anteriores",
        "más",
        "cargar más",
        "ver más",
        "más noticias",
        "anteriores",
    ),
    "it": (
        "successivo",
        "successiva",
        "pagina successiva",
        "avanti",
        "altri articoli",
        "carica altri",
        "mostra altri",
        "articoli meno recenti",
    ),
    "pt": (
        "próximo",
        "próxima",
        "próxima página",
        "seguinte",
        "mais",
        "carregar mais",
        "ver mais",
        "mais antigos",
    ),
    "nl": ("volgende", "volgende pagina", "oudere berichten", "meer laden", "meer nieuws"),
    "pl": ("następna", "następna strona", "dalej", "starsze", "starsze wpisy", "więcej"),
    "ru": ("следующая", "далее", "вперед", "вперёд", "ещё", "еще", "показать еще", "загрузить еще"),
    "uk": ("наступна", "далі", "ще", "показати ще"),
    "hy": ("հաջորդ", "հաջորդը", "ավելին"),
    "tr": ("sonraki", "sonraki sayfa", "daha fazla", "devamı"),
    "sv": ("nästa", "äldre", "äldre inlägg", "visa fler", "fler nyheter"),
    "da": ("næste", "ældre", "ældre indlæg", "vis flere"),
    "nb": ("neste", "eldre", "eldre innlegg", "vis flere"),
    "fi": ("seuraava", "vanhemmat", "näytä lisää"),
    "cs": ("další", "další strana", "starší", "načíst další"),
    "hu": ("következő", "régebbi", "tovább", "több"),
    "ro": ("următoarea", "înainte", "mai multe", "articole mai vechi"),
    "el": ("επόμενη", "περισσότερα"),
    "ar": ("التالي", "التالية", "المزيد"),
}
_ARROWS = ("»", "›", ">", ">>", "→", "⟩", "〉", "next »", "»»")
_NOT_NEXT = re.compile(r"\b(last|letzte|dernière|última|ultima|ostatnia|последняя)\b", re.I)
# Classes that mark the next page's link, on the link or its parent.
_NEXT_CLASS = re.compile(
    r"(^|[\s_])(next|nav-previous|older|pagination-next|pager-next)($|[\s_-])"
    r"|load-?more|loadmore|show-?more",
    re.IGNORECASE,
)
# Query parameters and path words that number a listing's pages.
PAGE_PARAMS = frozenset(
    "page p pg paged pagina seite strona pn pagenum page_no pageno start offset from skip".split()
)
_OFFSET_PARAMS = frozenset({"start", "offset", "from", "skip"})
_PATH_PAGE = re.compile(
    r"^(?P<base>.*?/)(?P<word>page|pages|seite|pagina|strona|sivu|side|more|p|pg|stran)"
    r"[/-](?P<n>\d{1,5})/?$",
    re.IGNORECASE,
)
# Main-navigation links that lead to the site's furniture, not to a section.
_NOT_SECTION = frozenset(
    """about about-us contact contacts imprint impressum privacy privacy-policy terms
    cookies login logout signin sign-in register account subscribe subscription newsletter
    newsletters advertise advertising careers jobs shop store search feed rss help faq
    donate support""".split()
)
_NAV_CONTAINERS = (
    "//nav | //*[@role='navigation'] | //header[not(ancestor::article or ancestor::main)]"
    " | //*[contains(concat(' ', translate(@class, 'MENUAV', 'menuav'), ' '), 'menu')"
    " or contains(translate(@id, 'MENUAV', 'menuav'), 'menu')"
    " or contains(concat(' ', translate(@class, 'NAV', 'nav'), ' '), ' nav')"
    " or contains(translate(@id, 'NAV', 'nav'), 'nav')]"
)


def _absolute(href: str | None, base_url: str) -> str | None:
    if not href or not href.strip() or href.strip().startswith(("#", "javascript:", "mailto:")):
        return None
    url = urljoin(base_url, href.strip())
    return url.split("#", 1)[0] if url.startswith(("http://", "https://")) else None


def _same_host(url: str, base_url: str) -> bool:
    return (urlsplit(url).hostname or "") == (urlsplit(base_url).hostname or "")


def next_words(language: str) -> frozenset[str]:
    words = set(NEXT_WORDS["en"])
    words.update(NEXT_WORDS.get(language.split("-")[0].lower(), ()))
    return frozenset(words)


def _link_words(text: str) -> str:
    return " ".join(re.sub(r"[«»‹›<>→←⟩〉|·…&;:\[\]()]+", " ", text).casefold().split())


def page_number(url: str) -> tuple[tuple, int] | None:
    """``(shape, number)`` for a URL that numbers a listing's page
    (``?page=3``, ``?offset=40``, ``/page/3/``, ``/more/3``); URLs of one
    listing share a shape."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for i, (name, value) in enumerate(query):
        if name.lower() in PAGE_PARAMS and value.isdigit():
            rest = tuple(sorted(query[:i] + query[i + 1 :]))
            return (parts.netloc, parts.path, rest, name.lower()), int(value)
    m = _PATH_PAGE.match(parts.path)
    if m:
        return (parts.netloc, m["base"].rstrip("/"), tuple(sorted(query)), m["word"].lower()), int(
            m["n"]
        )
    return None


def _first_page_shape(url: str, candidate: tuple) -> bool:
    """Is ``url`` (with no page number) the first page of the listing of ``candidate``'s shape?"""
    netloc, path, rest, _ = candidate
    parts = urlsplit(url)
    here = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return parts.netloc == netloc and parts.path.rstrip("/") == path.rstrip("/") and here == rest


def numbered_next(selector: Selector, url: str) -> str | None:
    """The link to the page numbered just after this one, among links of
    this listing's shape: ``?page=N``, ``?p=N``, ``?offset=N``, ``/page/N/``."""
    current = page_number(url)
    best: tuple[int, str] | None = None
    for href in selector.xpath("//a/@href").getall():
        link = _absolute(href, url)
        found = page_number(link) if link else None
        if found is None or link is None:
            continue
        shape, number = found
        if current is not None:
            if shape != current[0] or number <= current[1]:
                continue
        else:
            first = 0 if shape[3] in _OFFSET_PARAMS else 1
            if not _first_page_shape(url, shape) or number <= first:
                continue
        if best is None or number < best[0]:
            best = (number, link)
    return best[1] if best else None


def next_page(selector: Selector, url: str, language: str = "en") -> str | None:
    """The next (older) page of the listing at ``url``, by the first signal
    that finds one: ``<link rel=next>``, ``<a rel=next>``, a link marked
    ``next``/``older``/``load-more`` by its class (or its parent's), a link
    whose words say "next" in the site's language (or English), a numbered
    page just after this one. None at the last page."""
    words = next_words(language)
    candidates = [
        *selector.xpath("//link[contains(concat(' ', @rel, ' '), ' next ')]/@href").getall(),
        *selector.xpath("//a[contains(concat(' ', @rel, ' '), ' next ')]/@href").getall(),
    ]
    for link in selector.xpath("//a[@href]"):
        classes = " ".join(link.xpath("@class | ../@class").getall())
        if _NEXT_CLASS.search(classes) and not _NOT_NEXT.search(link.xpath("string(.)").get("")):
            candidates.append(link.attrib["href"])
    for link in selector.xpath("//a[@href]"):
        text = " ".join(link.xpath("string(.)").get("").split())
        if len(text) > 40 or _NOT_NEXT.search(text):
            continue
        if _link_words(text) in words or text.casefold() in _ARROWS:
            candidates.append(link.attrib["href"])
    for href in candidates:
        link = _absolute(href, url)
        if link and link != url and _same_host(link, url):
            return link
    return numbered_next(selector, url)


def section_links(selector: Selector, url: str, limit: int) -> list[str]:
    """Up to ``limit`` pages the main navigation links to, in page order:
    same-host links inside ``<nav>``, ``role=navigation``, ``<header>`` or
    an element whose class or id says menu or nav (not inside a footer),
    other than the page itself, its pagination and the site's furniture
    (about, contact, login, subscribe, privacy...)."""
    found: dict[str, None] = {}
    here = _canonical_path(url)
    for container in selector.xpath(_NAV_CONTAINERS):
        if container.xpath("ancestor-or-self::footer | ancestor-or-self::article"):
            continue
        for href in container.xpath(".//a/@href").getall():
            link = _absolute(href, url)
            if not link or not _same_host(link, url) or _canonical_path(link) == here:
                continue
            segments = [s for s in urlsplit(link).path.lower().split("/") if s]
            stem = re.sub(r"\.(s?html?|php|aspx?)$", "", segments[-1]) if segments else ""
            if (
                stem in _NOT_SECTION
                or page_number(link) is not None
                or looks_like_article_url(link)
            ):
                continue
            found.setdefault(link)
            if len(found) >= limit:
                return list(found)
    return list(found)


def _canonical_path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.lower() in ("/index.php", "/index.html", "/index.htm", "/default.aspx"):
        path = ""
    return urlunsplit(("", parts.netloc.lower(), path, urlencode(parse_qsl(parts.query)), ""))
