"""dump_json writes what json.dumps would mean: every value reads back equal, big integers too."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.json_codec import dump_json

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: orjson refuses beyond 64 bits, the fallback takes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_every_value_reads_back_equal(value: Any) -> None:
    assert json.loads(dump_json(value)) == value


def test_integers_beyond_64_bits_stay_exact() -> None:
    big = 2**70 + 1
    assert json.loads(dump_json({"n": big}))["n"] == big


def test_keys_that_are_not_strings_are_written_as_json_does() -> None:
    assert json.loads(dump_json({1: "a"})) == {"1": "a"}


def test_nan_is_written_as_null_so_the_text_is_valid_json() -> None:
    assert json.loads(dump_json([math.nan, math.inf])) == [None, None]
