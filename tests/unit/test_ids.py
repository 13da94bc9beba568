"""Job ids are RFC 9562 version 7 UUIDs: time first, so rows made together sit together."""

import itertools
import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.ids import uuid7

MS = 1_000_000
NOW_NS = st.integers(min_value=0, max_value=(2**48 - 1) * MS)


@given(NOW_NS)
def test_version_variant_and_time(now_ns: int) -> None:
    value = uuid7(now_ns=now_ns)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == now_ns // MS  # the first 48 bits are the Unix milliseconds


@given(NOW_NS, st.integers(min_value=1, max_value=10**12))
def test_later_ids_sort_after_earlier_ones(now_ns: int, later_by_ns: int) -> None:
    """Ids sort by time down to 1/4096 ms (the random bits order ids made closer together)."""
    later = min(now_ns + max(later_by_ns, MS // 4096 + 1), (2**48 - 1) * MS)
    if later - now_ns <= MS // 4096:
        return
    assert uuid7(now_ns=now_ns) < uuid7(now_ns=later)
    assert str(uuid7(now_ns=now_ns)) < str(uuid7(now_ns=later))  # as text too (SQLite)


def test_ids_made_together_are_distinct_and_in_order() -> None:
    made = [uuid7() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    # Within one 1/4096 ms step the order is random; across steps it follows time.
    assert sum(a < b for a, b in itertools.pairwise(made)) > 0.9 * len(made)
