"""Settings: the Scrapy settings module and the bundled site definitions (sites/)."""
