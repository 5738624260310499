"""Helpers shared by the test modules (fixtures stay in tests/conftest.py).

- ``support.sites``: ``ScriptedSite``, a test site on 127.0.0.1 scripted
  path by path, its page builders, and ``NewsSite``, numbered stories on it;
- ``support.stories``: story text and dated article pages;
- ``support.house_styles``: whole generated sites in four house styles
  with no feed and no sitemap, for crawls from a minimal definition;
- ``support.archive``: ``Archive`` (plain SQL over a test database) and the
  crawled archive the query and search tests read;
- ``support.processes``: ``scrapy crawl`` in a child process;
- ``support.database_proxy``: a TCP proxy to a database that a test can cut.

``tests/`` is on ``sys.path`` while the tests run (pytest puts the folder of
the root ``conftest.py`` there), so these import as ``support.<module>``.
"""
