"""Scrapy spider middlewares of newscrawl."""
