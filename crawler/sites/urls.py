"""URL identity: one function decides which URL an article is stored under."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from crawler.sites.definitions import Site

# Query parameters that track a click and never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "ref_src",
        "cmpid",
        "ocid",
        "s_cid",
    }
)
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(
    url: str,
    extra_tracking_params: frozenset[str] | set[str] = frozenset(),
    trailing_slash: str = "keep",
    https_hosts: tuple[str, ...] = (),
) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking
    parameters, the remaining query parameters sorted.

    ``trailing_slash``: ``keep`` the path as it is, ``add`` a slash to paths
    whose last segment has no file extension, or ``remove`` it (never from
    ``/``). ``https_hosts``: hosts (and their subdomains) whose ``http`` URLs
    are the same pages as their ``https`` ones.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme == "http" and any(host == h or host.endswith("." + h) for h in https_hosts):
        scheme = "https"
        if parts.port == 80:
            parts = parts._replace(netloc=host)
    netloc = host
    if parts.port and parts.port != DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS
        and k.lower() not in extra_tracking_params
        and not k.lower().startswith(TRACKING_PREFIXES)
    )
    path = parts.path or "/"
    if trailing_slash == "remove" and path != "/":
        path = path.rstrip("/") or "/"
    elif trailing_slash == "add" and not path.endswith("/"):
        if "." not in path.rsplit("/", 1)[-1]:
            path += "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def site_canonical_url(url: str, site: Site) -> str:
    """:func:`canonical_url` with a site definition's ``urls`` rules."""
    rules = site.urls
    return canonical_url(
        url,
        extra_tracking_params={p.lower() for p in rules.tracking_params},
        trailing_slash=rules.trailing_slash,
        https_hosts=tuple(site.allowed_domains) if site.https else (),
    )
