"""The command line: ``newscrawl`` and its command groups, and the Scrapy
command that checks a site before ``scrapy crawl``.

One module per command group, each building its parsers next to its
handlers: ``crawl`` (crawl, demo, demo-site), ``query`` (articles, show,
search, top-stories, runs, export, browse, summary), ``daemon`` (daemon,
schedule, status, worker, enqueue), ``archive`` (capture, reextract, with
``reextract`` reading captures again in worker processes), ``sites``
(sites, extract), ``db``;
``main`` puts them together. Beside them: shared options (``options``),
what they print (``reporting``, ``export``, ``browse`` with its Datasette
plugin ``browse_pages`` and templates ``browse_templates``, and ``progress``,
the live line of a crawl on a terminal), onboarding a new site
(``onboarding``, with ``drafting`` for a draft's listing and its rules
checked on several articles, and ``fetching`` for its pages, fetched
through Scrapy by the ``fetch_process`` it starts), the demo site (``demo_site``) and Scrapy's
``COMMANDS_MODULE`` (``commands``).

May import every other package of ``crawler``; nothing imports this one.
"""


def main(argv: list[str] | None = None) -> int:
    """``newscrawl``. Imported on call: a crawl process imports this package
    for its Scrapy command and needs none of the command line."""
    from crawler.cli.main import main as run

    return run(argv)
