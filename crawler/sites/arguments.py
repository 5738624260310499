"""The words a yes/no argument takes: spider arguments (``-a refetch=yes``,
``-a worker=1``) and the checks of the commands that start crawls.

Here, at the bottom of the imports (``crawler.sites`` may be imported by
every package and imports none of them), because the spiders
(crawler/spiders/base.py) and the command line (crawler/cli/commands/crawl.py,
which checks ``-a worker=`` before any spider is loaded) both read them, and
the spiders may not import the command line.
"""

from __future__ import annotations

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")
