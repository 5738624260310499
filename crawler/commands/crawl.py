"""``scrapy crawl``, with the site definitions checked before anything starts.

A bad or unknown site definition ends the command with one message naming the
file, the key and the problem, and exit status 2; nothing is crawled.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler.config import SiteConfigError, get_site, load_sites

CONFIG_ERROR_EXIT = 2


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            site = opts.spargs.get("site")
            if site:
                get_site(site)
            else:
                load_sites()
        except SiteConfigError as exc:
            print(f"newscrawl: {exc}", file=sys.stderr)
            self.exitcode = CONFIG_ERROR_EXIT
            return
        super().run(args, opts)
