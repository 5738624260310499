"""Content fingerprints: equal for texts that differ only in whitespace or markup."""

from __future__ import annotations

import hashlib

from crawler.text import normalize_text


def content_fingerprint(body: str) -> str:
    """SHA-256 (hex) of the body, NFC-normalised, whitespace collapsed."""
    return hashlib.sha256(normalize_text(body).encode("utf-8")).hexdigest()
