"""Value buckets of the order-statistic index kept beside a board's rows (`leaderboard_buckets`).

A board's place is the number of rows ahead plus one. Counting those rows costs as much as the
place is deep; the index keeps instead, per board, how many rows hold a value in each bucket,
so a place is the sum of the counts of the buckets above the user's, plus the rows ahead inside
the user's own bucket (`storage.leaderboards.bucket_ahead`).

Buckets come from an order-preserving map of a float64 to a signed int64 (`value_key`): the
IEEE 754 bits read as an integer, negatives flipped so that a lower value always has a lower
key. Two levels: `COARSE` = the sign and the exponent (one bucket per power of two, at most
4096), `FINE` = those and the top `FINE_BITS` bits of the mantissa (at most 1024 fine buckets in a
coarse one, each about 0.1 % of its values wide). So a place sums at most a few dozen coarse
counts and up to 1023 fine ones, then counts the rows of one fine bucket.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable

COARSE = 0  # the `level` of a coarse bucket row
FINE = 1
FINE_BITS = 10
_COARSE_SHIFT = 52  # key >> 52: sign and exponent
_FINE_SHIFT = _COARSE_SHIFT - FINE_BITS
_MAGNITUDE = 0x7FFF_FFFF_FFFF_FFFF
_DOUBLE = struct.Struct(">d")
_BITS = struct.Struct(">q")


def value_key(value: float) -> int:
    """A signed 64-bit key ordered as the values are: a < b exactly when key(a) < key(b).
    -0.0 is keyed as 0.0 (they are equal values); NaN has no place and is refused."""
    if math.isnan(value):
        raise ValueError("a leaderboard value cannot be NaN")
    bits: int = _BITS.unpack(_DOUBLE.pack(value + 0.0))[0]  # + 0.0 turns -0.0 into 0.0
    return bits if bits >= 0 else ~(bits & _MAGNITUDE)


def key_value(key: int) -> float:
    """The float whose `value_key` is `key` (NaN for keys beyond the infinities)."""
    bits = key if key >= 0 else (~key) | ~_MAGNITUDE
    (value,) = _DOUBLE.unpack(_BITS.pack(bits))
    return float(value)


def coarse(value: float) -> int:
    return value_key(value) >> _COARSE_SHIFT


def fine(value: float) -> int:
    return value_key(value) >> _FINE_SHIFT


def coarse_of_fine(fine_bucket: int) -> int:
    return fine_bucket >> FINE_BITS


def fine_end(coarse_bucket: int) -> int:
    """The first fine bucket after those of `coarse_bucket` (exclusive bound)."""
    return (coarse_bucket + 1) << FINE_BITS


def fine_lower(fine_bucket: int) -> float:
    """The least value of `fine_bucket` (inclusive bound; -inf at the bottom)."""
    lower = key_value(fine_bucket << _FINE_SHIFT)
    return -math.inf if math.isnan(lower) else lower


def fine_upper(fine_bucket: int) -> float:
    """The least value above every value of `fine_bucket` (exclusive bound; +inf at the top)."""
    upper = key_value((fine_bucket + 1) << _FINE_SHIFT)
    return math.inf if math.isnan(upper) else upper


def buckets_of(value: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """The (level, bucket) pairs a row holding `value` is counted in."""
    key = value_key(value)
    return (COARSE, key >> _COARSE_SHIFT), (FINE, key >> _FINE_SHIFT)


def count(values: Iterable[float]) -> Counter[tuple[int, int]]:
    """Rows per (level, bucket) for a board holding `values` (to rebuild its index)."""
    counts: Counter[tuple[int, int]] = Counter()
    for value in values:
        for pair in buckets_of(value):
            counts[pair] += 1
    return counts
