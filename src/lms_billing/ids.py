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


def uuid7() -> uuid.UUID:
    """A RFC 9562 version 7 UUID, monotonic within this process."""
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
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (now_ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= _counter << 64
        value |= 0b10 << 62
        value |= rand_b
    return uuid.UUID(int=value)


# 13+ consecutive decimal digits could pass for a card number (and be refused by the card-data
# guard, which is right to be strict); about 1 in 500 random hex ids has such a run.
_DIGIT_RUN = re.compile(r"[0-9]{13,}")


def new_id(prefix: str) -> str:
    """A prefixed, time-ordered id such as ``prod_01936f0c3a7b7c2e9d...``.

    Never contains a run of 13 or more digits: such a draw is replaced by the next UUID (still
    time-ordered), so our own ids never look like card numbers.
    """
    value = uuid7().hex
    while _DIGIT_RUN.search(value):
        value = uuid7().hex
    return f"{prefix}_{value}"


__all__ = ["new_id", "uuid7"]
