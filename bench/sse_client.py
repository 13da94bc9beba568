"""A real SSE client in its own process: ``python -m bench.sse_client URL TOKEN COMPLETED OUT``.

Connects to ``GET /api/jobs/events`` with a bearer token, prints ``ready`` once the stream is
open, and for every message records ``now - job.updatedAt`` (the change time, ISO-8601 UTC).
Stops after ``COMPLETED`` ``completed`` events (or the timeout) and writes
``[[job_id, event_type, latency_ms], ...]`` as JSON to ``OUT``.

A separate process, so parsing the stream costs the server's event loop nothing, as with a
browser; both processes read the same system clock.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

import httpx


def main(argv: list[str]) -> int:
    base_url, token, expected_text, out_path = argv[:4]
    timeout_s = float(argv[4]) if len(argv) > 4 else 300.0
    expected = int(expected_text)
    records: list[tuple[str, str, float]] = []
    completed = 0
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    try:
        with (
            httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout_s)) as client,
            client.stream("GET", "/api/jobs/events", headers=headers) as response,
        ):
            response.raise_for_status()
            print("ready", flush=True)
            data: str | None = None
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data = line[5:].removeprefix(" ")
                    continue
                if line or data is None:
                    if time.monotonic() > deadline:
                        break
                    continue
                # A blank line ends the message.
                received = time.time()
                message = json.loads(data)
                data = None
                job = message["job"]
                changed = datetime.fromisoformat(job["updatedAt"]).timestamp()
                records.append((job["id"], message["eventType"], (received - changed) * 1000))
                if message["eventType"] == "completed":
                    completed += 1
                    if completed >= expected:
                        break
                if time.monotonic() > deadline:
                    break
    finally:
        with open(out_path, "w") as out:
            json.dump(records, out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # told to stop early: what it received is already written
        sys.exit(0)
