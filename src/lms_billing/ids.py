"""Client-side identifiers.

Ids are generated in Python (UUIDv7: time-ordered, so B-tree inserts stay local) so that bulk
inserts need no ``RETURNING`` round trip. Each object type gets a readable prefix, as Stripe's
``cus_``/``in_`` ids do: ``new_id("prod")`` -> ``prod_0192f...``.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Random bits are drawn from the OS in blocks (one os.urandom call per 512 ids, not two per
# id: a billing run creates several ids per invoice). A forked child must not replay its
# parent's block, so the block is dropped after a fork.
_POOL_SIZE = 4096
_pool = b""
_pool_at = 0


def _drop_pool() -> None:
    global _pool, _pool_at
    _pool, _pool_at = b"", 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_pool)


def _random_bits(nbytes: int) -> int:
    """``nbytes`` random bytes from the OS (via the block) as an int; call under ``_lock``."""
    global _pool, _pool_at
    if _pool_at + nbytes > len(_pool):
        _pool, _pool_at = os.urandom(_POOL_SIZE), 0
    start = _pool_at
    _pool_at = start + nbytes
    return int.from_bytes(_pool[start:_pool_at], "big")


_UNKNOWN = uuid.SafeUUID.unknown


def _uuid(value: int) -> uuid.UUID:
    # uuid.UUID(int=value) re-checks the range and rebuilds the version bits that are already
    # set; this is the same object (``int`` and ``is_safe`` slots) without those steps.
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN)
    return made


def uuid7() -> uuid.UUID:
    """A RFC 9562 version 7 UUID, monotonic within this process."""
    return _uuid(_uuid7_int())


def _uuid7_int() -> int:
    """:func:`uuid7` as its 128-bit integer (ids are formatted from it without a UUID)."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same (or earlier) millisecond: bump the 12-bit counter to keep ordering.
            _counter += 1
            if _counter > 0xFFF:
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = _random_bits(2) & 0x3FF
        rand_b = _random_bits(8) & ((1 << 62) - 1)
        value = (now_ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= _counter << 64
        value |= 0b10 << 62
        value |= rand_b
    return value


# 13+ consecutive decimal digits could pass for a card number (and be refused by the card-data
# guard, which is right to be strict); about 1 in 500 random hex ids has such a run.
_DIGIT_RUN = re.compile(r"[0-9]{13,}")


def new_id(prefix: str) -> str:
    """A prefixed, time-ordered id such as ``prod_01936f0c3a7b7c2e9d...``.

    Never contains a run of 13 or more digits: such a draw is replaced by the next UUID (still
    time-ordered), so our own ids never look like card numbers.
    """
    value = f"{_uuid7_int():032x}"  # the same text as uuid7().hex, without the UUID object
    while _DIGIT_RUN.search(value):
        value = f"{_uuid7_int():032x}"
    return f"{prefix}_{value}"


__all__ = ["new_id", "uuid7"]
