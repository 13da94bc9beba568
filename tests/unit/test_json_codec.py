"""dump_json writes what json.dumps would mean: every value reads back equal, big integers too;
load_record reads our queue records exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from saq.job import Job, Status

from app.json_codec import dump_json, load_record
from app.queues import make_queue

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


def test_a_queue_record_of_ours_reads_back_exactly_with_orjson(tmp_path: Path) -> None:
    """load_record is orjson, exact for what a queue record of one of our jobs holds; every
    queue make_queue builds reads with it."""
    queue = make_queue(f"sqlite:///{tmp_path}/queue.db", "default")
    job = Job("diagnostic.echo", kwargs={"job_id": "01a22e36-86ee-7dd8-8c66-fc39da4b0b54"})
    job.queue, job.attempts, job.status = queue, 3, Status.FAILED
    job.completed = job.started = job.queued = job.touched = 1_796_071_659_977  # ms
    job.error, job.result, job.retry_delay = "Traceback …\nJobFailed: ünïcode", {"ok": True}, 0.25
    text = queue.serialize(job)
    assert load_record(text) == json.loads(text)
    assert queue.deserialize(text) == job
    assert queue._load is load_record
    for url in ("redis://127.0.0.1:6379", "postgresql://127.0.0.1/test"):
        assert make_queue(url, "default")._load is load_record
