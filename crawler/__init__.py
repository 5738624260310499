"""newscrawl: Scrapy spiders, extraction and the command line of the news crawler."""

__version__ = "0.1.0"
