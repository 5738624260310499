"""Content fingerprints: equal for texts that differ only in whitespace or markup."""

from __future__ import annotations

import hashlib
import re

from crawler.text import normalize_text


def content_fingerprint(body: str) -> str:
    """SHA-256 (hex) of the body, NFC-normalised, whitespace collapsed."""
    return hashlib.sha256(normalize_text(body).encode("utf-8")).hexdigest()


# Near duplicates: a 64-bit SimHash over word 3-shingles finds candidates, the
# share of shingles two bodies have in common (Jaccard) decides. Two bodies
# are the same story when their SimHashes differ in at most
# NEAR_DUPLICATE_BITS bits and they share at least NEAR_DUPLICATE_JACCARD of
# their shingles: a wire copy with another intro line, a fixed typo. Bodies
# of fewer than SIMHASH_MIN_WORDS words get no SimHash: too few shingles to
# tell a story from a template.
SIMHASH_BITS = 64
NEAR_DUPLICATE_BITS = 6
NEAR_DUPLICATE_JACCARD = 0.8
SIMHASH_MIN_WORDS = 40
SIMHASH_BANDS = NEAR_DUPLICATE_BITS + 1  # pigeonhole: within 6 bits, one of 7 bands is equal
_BAND_WIDTH = SIMHASH_BITS // SIMHASH_BANDS
_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(body: str) -> set[str]:
    words = _WORD.findall(normalize_text(body).casefold())
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


# _BIT_OF[b] maps each byte to its bit b (0 or 1): counting ones in a
# translated byte string counts that bit across many digests in C.
_BIT_OF = [bytes(v >> b & 1 for v in range(256)) for b in range(8)]


def simhash(body: str) -> int | None:
    """Signed 64-bit SimHash of the body's word 3-shingles (fits a BIGINT).

    Each shingle's 8-byte BLAKE2b digest votes on every bit; a bit is set when
    more than half of the shingles have it. The votes are counted a byte
    column at a time with ``bytes.translate``, not bit by bit in Python.
    """
    if len(_WORD.findall(body)) < SIMHASH_MIN_WORDS:
        return None
    grams = shingles(body)
    digests = b"".join(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest() for g in grams)
    half = len(grams) / 2
    value = 0
    for i in range(8):  # byte i of a big-endian digest holds bits 63-8i .. 56-8i
        column = digests[i::8]
        for b in range(8):
            if column.translate(_BIT_OF[b]).count(1) > half:
                value |= 1 << ((7 - i) * 8 + b)
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def simhash_bands(value: int) -> list[tuple[int, int]]:
    """(band number, band value) pairs: two SimHashes within NEAR_DUPLICATE_BITS
    bits share at least one, which is how candidates are found."""
    unsigned = value & ((1 << 64) - 1)
    mask = (1 << _BAND_WIDTH) - 1
    return [(i, unsigned >> (i * _BAND_WIDTH) & mask) for i in range(SIMHASH_BANDS)]


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0
