"""Content fingerprints: equal for texts that differ only in whitespace or markup."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Iterable
from typing import Any

from crawler.extraction.text import normalize_text


def content_fingerprint(body: str) -> str:
    """SHA-256 (hex) of the body, NFC-normalised, whitespace collapsed."""
    return hashlib.sha256(normalize_text(body).encode("utf-8")).hexdigest()


def clean_body_fingerprint(body: str) -> str:
    """:func:`content_fingerprint` of a body as crawler/extraction/cleaning.py
    makes it: normalised paragraphs (NFC, single spaces, no zero-width
    characters) joined by blank lines. Normalising it again would only turn
    each blank line into a space (a line break composes with nothing, so the
    whole is NFC already)."""
    return hashlib.sha256(body.replace("\n\n", " ").encode("utf-8")).hexdigest()


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
_U64 = (1 << 64) - 1
_WORD = re.compile(r"\w+", re.UNICODE)
# On ASCII text a word character is a letter, a digit or ``_``: every other ASCII
# character made a space, the words are what str.split() returns, at a quarter
# of the regular expression's time.
_ASCII_NOT_WORD = bytes(
    c if chr(c).isalnum() or c == ord("_") else ord(" ") for c in range(128)
) + bytes(128)


def _words(text: str) -> list[str]:
    """The casefolded words of a text, as ``_WORD.findall`` finds them."""
    if text.isascii():
        return text.lower().encode("ascii").translate(_ASCII_NOT_WORD).decode("ascii").split()
    return _WORD.findall(text.casefold())


def shingles(body: str) -> set[str]:
    words = _words(normalize_text(body))
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


# Words are hashed once (64-bit BLAKE2b) and kept in a bounded cache: a news
# site's vocabulary repeats from article to article.
_WORD_HASHES: dict[str, int] = {}
_WORD_CACHE_LIMIT = 100_000
_WORD_CACHE_LOCK = threading.Lock()
# A shingle's hash mixes its three words' hashes: a multiply-add, then the
# SplitMix64 finaliser, so every bit depends on every word.
K1, K2 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F
M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


@functools.cache
def _numpy() -> Any:
    """NumPy, imported on the first SimHash: commands that compute none start
    without it."""
    import numpy

    return numpy


def _word_hashes(words: list[str]) -> Any:
    cache = _WORD_HASHES
    with _WORD_CACHE_LOCK:  # the store's threads share the cache
        try:  # most pages: every word hashed already
            return _numpy().fromiter(map(cache.__getitem__, words), dtype=_numpy().uint64)
        except KeyError:
            pass
        missing = set(words).difference(cache)
        if len(cache) + len(missing) > _WORD_CACHE_LIMIT:
            cache.clear()
            missing = set(words)
        for word in missing:
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            cache[word] = int.from_bytes(digest, "little")
        hashes = map(cache.__getitem__, words)
        return _numpy().fromiter(hashes, dtype=_numpy().uint64, count=len(words))


def simhash(body: str) -> int | None:
    """Signed 64-bit SimHash of the body's word 3-shingles (fits a BIGINT).

    Each distinct shingle's 64-bit hash votes on every bit; a bit is set when
    more than half of the shingles have it. Computed on arrays (NumPy), not
    shingle by shingle in Python. Stored values are of this function
    (migration 0005 recomputed those of earlier versions).
    """
    # Spacing does not change the words; ASCII text needs no other normalising.
    text = body if body.isascii() else normalize_text(body)
    words = _words(text)
    if len(words) < SIMHASH_MIN_WORDS:
        return None
    np = _numpy()
    u64 = np.uint64
    h = _word_hashes(words)
    x = h[:-2] * u64(K1) + h[1:-1] * u64(K2) + h[2:]
    x ^= x >> u64(30)
    x *= u64(M1)
    x ^= x >> u64(27)
    x *= u64(M2)
    x ^= x >> u64(31)
    x.sort()
    distinct = x[np.concatenate(([True], x[1:] != x[:-1]))]
    # One row of 64 bits per shingle, most significant first: votes per bit.
    bits = np.unpackbits(distinct.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)
    votes = np.add.reduce(bits, axis=0, dtype=np.uint32)
    value = int.from_bytes(np.packbits(votes * 2 > len(distinct)).tobytes(), "big")
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & _U64).bit_count()


# Comparisons per array operation of SimHashIndex.close_to_each (8 bytes each).
_COMPARED_AT_ONCE = 1 << 17


class SimHashIndex:
    """SimHashes of stored articles, to find the near duplicates of a new one.

    A lookup compares the new SimHash with every one held, at once: XOR and a
    bit count over an array, about 2 ns per article held (0.2 ms for 100,000).
    """

    def __init__(self) -> None:
        np = _numpy()
        self._ids = np.empty(1024, dtype=np.int64)
        self._values = np.empty(1024, dtype=np.uint64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, article_id: int, value: int) -> None:
        if self._size == len(self._ids):
            np = _numpy()
            self._ids = np.resize(self._ids, 2 * self._size)
            self._values = np.resize(self._values, 2 * self._size)
        self._ids[self._size] = article_id
        self._values[self._size] = value & _U64
        self._size += 1

    def add_new(self, rows: Iterable[tuple[int, int]], above: int) -> None:
        """Add the (id, SimHash) pairs not held yet, all with ids over ``above``."""
        held = self._ids[: self._size]
        seen = set(held[held > above].tolist())
        for article_id, value in rows:
            if article_id not in seen:
                self.add(article_id, value)
                seen.add(article_id)

    def close_to(self, value: int, below: int) -> list[int]:
        """Ids under ``below`` whose SimHash is within NEAR_DUPLICATE_BITS bits
        of ``value``, in ascending order."""
        return self.close_to_each([value], [below])[0]

    def close_to_each(self, values: list[int], below: list[int]) -> list[list[int]]:
        """``close_to`` of each value with its bound, the values compared in
        groups of at most _COMPARED_AT_ONCE comparisons, one array operation a
        group: a batch of new articles costs one lookup, not one each."""
        if not self._size or not values:
            return [[] for _ in values]
        np = _numpy()
        ids = self._ids[: self._size]
        held = self._values[: self._size]
        group = max(1, _COMPARED_AT_ONCE // self._size)
        found: list[list[int]] = [[] for _ in values]
        for start in range(0, len(values), group):
            new = np.array([v & _U64 for v in values[start : start + group]], dtype=np.uint64)
            bound = below[start : start + group]
            close = np.bitwise_count(held[None, :] ^ new[:, None]) <= NEAR_DUPLICATE_BITS
            # Most values have no close one: find the rows with any first
            # (nonzero over the whole matrix costs ten times as much).
            for row in np.flatnonzero(close.any(axis=1)).tolist():
                others = ids[close[row]].tolist()
                found[start + row] = [other for other in others if other < bound[row]]
        return [sorted(ids_found) for ids_found in found]


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0
