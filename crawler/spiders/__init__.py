"""The two spiders: ``articles`` (listing pages -> articles) and ``top_stories``."""
