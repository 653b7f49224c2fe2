"""The injectable clock and client-side ids."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lms_billing.clock import SystemClock, TestClock, ensure_aware
from lms_billing.errors import ValidationError
from lms_billing.ids import new_id, uuid7


def test_test_clock_advances_only_when_told() -> None:
    clock = TestClock(datetime(2026, 1, 31, 12, tzinfo=UTC))
    assert clock.now() == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert clock.advance(days=1) == datetime(2026, 2, 1, 12, tzinfo=UTC)
    assert clock.advance(timedelta(hours=1), minutes=30) == datetime(2026, 2, 1, 13, 30, tzinfo=UTC)
    assert clock.now() == datetime(2026, 2, 1, 13, 30, tzinfo=UTC)


def test_test_clock_never_goes_backwards() -> None:
    clock = TestClock(datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(ValidationError):
        clock.advance(days=-1)
    with pytest.raises(ValidationError):
        clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    assert clock.set(datetime(2026, 4, 1, tzinfo=UTC)) == datetime(2026, 4, 1, tzinfo=UTC)


def test_naive_datetimes_are_rejected_and_offsets_normalized() -> None:
    with pytest.raises(ValidationError):
        TestClock(datetime(2026, 1, 1))
    plus_two = timezone(timedelta(hours=2))
    aware = ensure_aware(datetime(2026, 1, 1, 2, tzinfo=plus_two))
    assert aware == datetime(2026, 1, 1, tzinfo=UTC)


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert all(u.version == 7 for u in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_is_a_plain_uuid() -> None:
    import uuid

    value = uuid7()
    assert value == uuid.UUID(value.hex) and hash(value) == hash(uuid.UUID(value.hex))
    assert value.variant == uuid.RFC_4122 and value.is_safe is uuid.SafeUUID.unknown


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_its_own_random_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Random bits come from a block read once per many ids; a child must not replay it.
    # A frozen clock keeps parent and child on the same path (same millisecond: counter).
    from types import SimpleNamespace

    from lms_billing import ids

    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: 1_800_000_000_000_000_000))
    for state in ("_last_ms", "_counter"):  # restored afterwards: later ids use real time
        monkeypatch.setattr(ids, state, getattr(ids, state))
    ids._drop_pool()  # a fresh block: neither process runs out of it below
    uuid7()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, b"".join(uuid7().bytes[8:] for _ in range(50)))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 1000)
    os.close(read)
    os.close(write)
    assert len(child) == 400
    assert child != b"".join(uuid7().bytes[8:] for _ in range(50))


def test_new_id_has_prefix() -> None:
    value = new_id("prod")
    assert value.startswith("prod_")
    assert len(value) == len("prod_") + 32
    # The text after the prefix is a version 7 UUID's hex, so ids sort by creation time.
    hexes = [new_id("in").split("_", 1)[1] for _ in range(500)]
    assert all(uuid.UUID(h).version == 7 and uuid.UUID(h).hex == h for h in hexes)
    assert hexes == sorted(hexes)


def test_ids_never_look_like_card_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    from lms_billing import ids
    from lms_billing.domain.card_data import contains_card_number

    # A draw whose hex is one long digit run (Luhn-valid 16-digit PANs inside) is skipped.
    draws = iter(
        [
            uuid.UUID("41111111-1111-7111-8111-111111111111").int,
            uuid.UUID("0192f0c3-a7b7-7c2e-9d4e-5f6a7b8c9d0e").int,
        ]
    )
    monkeypatch.setattr(ids, "_uuid7_int", lambda: next(draws))
    assert ids.new_id("pm") == "pm_0192f0c3a7b77c2e9d4e5f6a7b8c9d0e"
    monkeypatch.undo()
    assert not any(contains_card_number(ids.new_id("pm")) for _ in range(20_000))
