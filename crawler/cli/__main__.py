"""``python -m crawler.cli``: the ``newscrawl`` command."""

import sys

from crawler.cli.main import main

sys.exit(main())
