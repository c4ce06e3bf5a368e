"""The rate limit's buckets stay bounded however many addresses come."""

from __future__ import annotations

from episodes.station import limits
from episodes.station.limits import TokenBuckets


def test_buckets_stay_bounded_and_a_busy_key_keeps_its_count(monkeypatch) -> None:
    monkeypatch.setattr(limits, "_MAX_BUCKETS", 100)
    now = [0.0]
    buckets = TokenBuckets(per_minute=1, burst=2, clock=lambda: now[0])
    assert buckets.take("busy") == 0.0 and buckets.take("busy") == 0.0
    for n in range(1000):  # each address once: every bucket below full
        now[0] += 0.001
        buckets.take(f"addr:{n}")
        if n % 10 == 0:
            buckets.take("busy")
        assert len(buckets._buckets) <= 101
    assert buckets.take("busy") > 0  # still empty: kept, as it was used lately
