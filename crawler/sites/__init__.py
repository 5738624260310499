"""Site definitions: what a news site is to newscrawl.

Holds the typed models of ``settings/sites/*.yaml`` and their loading and
validation (``definitions``), URL identity (``urls``: one URL per story),
the revisit policy (``revisit``) and the time-bounded regular expressions
of definitions (``patterns``).

May import: ``crawler.exceptions``, ``crawler.items`` and libraries. Every
other package may import this one.
"""
