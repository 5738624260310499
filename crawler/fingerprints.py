"""Content fingerprints: equal for texts that differ only in whitespace or markup."""

from __future__ import annotations

import hashlib
import re

from crawler.text import normalize_text


def content_fingerprint(body: str) -> str:
    """SHA-256 (hex) of the body, NFC-normalised, whitespace collapsed."""
    return hashlib.sha256(normalize_text(body).encode("utf-8")).hexdigest()


# Near duplicates: 64-bit SimHash over word 3-shingles. Two bodies whose
# SimHashes differ in at most NEAR_DUPLICATE_BITS bits are the same story
# (a wire copy with a different intro line, a corrected typo). Bodies shorter
# than SIMHASH_MIN_WORDS words get no SimHash: too few shingles to be reliable.
SIMHASH_BITS = 64
NEAR_DUPLICATE_BITS = 3
SIMHASH_MIN_WORDS = 40
SIMHASH_BANDS = NEAR_DUPLICATE_BITS + 1  # pigeonhole: one band of 16 bits is equal
_WORD = re.compile(r"\w+", re.UNICODE)


def simhash(body: str) -> int | None:
    """Signed 64-bit SimHash of the body's word 3-shingles (fits a BIGINT)."""
    words = _WORD.findall(normalize_text(body).casefold())
    if len(words) < SIMHASH_MIN_WORDS:
        return None
    weights = [0] * SIMHASH_BITS
    for i in range(len(words) - 2):
        shingle = " ".join(words[i : i + 3]).encode("utf-8")
        h = int.from_bytes(hashlib.blake2b(shingle, digest_size=8).digest(), "big")
        for bit in range(SIMHASH_BITS):
            weights[bit] += 1 if h >> bit & 1 else -1
    value = sum(1 << bit for bit in range(SIMHASH_BITS) if weights[bit] > 0)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def simhash_bands(value: int) -> list[tuple[int, int]]:
    """(band number, 16-bit band value) pairs used to find near-duplicate candidates."""
    unsigned = value & ((1 << 64) - 1)
    width = SIMHASH_BITS // SIMHASH_BANDS
    return [(i, unsigned >> (i * width) & ((1 << width) - 1)) for i in range(SIMHASH_BANDS)]
