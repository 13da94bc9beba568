"""Many SSE clients in one process: ``python -m bench.watchers URL TOKENS N OUT``.

Opens ``N`` streams of ``GET /api/jobs/events`` (client ``i`` uses token ``i mod len(TOKENS)``,
so every user has several tabs open), prints ``connected OK FAILED`` once each stream answered,
then records every message until SIGINT or SIGTERM, and writes ``OUT`` as JSON:
``{"received": [...], "latency_ms": [...], "failed": n, "dropped": n}``, one entry per message,
latency = arrival - ``job.updatedAt``.

Plain asyncio streams rather than an HTTP client library: a thousand idle streams then cost this
process little, so what is measured is the server. Events are single chunks of uvicorn's chunked
encoding, so reading lines and keeping ``data:`` lines is enough.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import sys
import time
from array import array
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 30.0


def raise_fd_limit(wanted: int) -> None:
    """Up to the hard limit: each stream is a socket, here and in the server."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Watchers:
    def __init__(self, base_url: str, tokens: list[str]) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.tokens = tokens
        self.received = array("d")
        self.latency_ms = array("d")
        self.failed = 0
        self.dropped = 0  # streams that ended before we stopped

    async def watch(self, index: int, ready: asyncio.Event, answered: list[int]) -> None:
        token = self.tokens[index % len(self.tokens)]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=1 << 20), CONNECT_TIMEOUT_S
            )
            request = (
                f"GET /api/jobs/events HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            )
            writer.write(request.encode())
            status = await asyncio.wait_for(reader.readline(), CONNECT_TIMEOUT_S)
            if b" 200 " not in status:
                raise ConnectionError(status.decode(errors="replace").strip())
            while (await reader.readline()).strip():
                pass  # headers
        except (OSError, ConnectionError, TimeoutError):
            self.failed += 1
            answered[0] += 1
            if answered[0] >= answered[1]:
                ready.set()
            return
        answered[0] += 1
        if answered[0] >= answered[1]:
            ready.set()
        try:
            while True:
                line = await reader.readline()
                if not line:
                    self.dropped += 1
                    return
                if not line.startswith(b"data:"):
                    continue
                now = time.time()
                message = json.loads(line[5:])
                changed = datetime.fromisoformat(message["job"]["updatedAt"]).timestamp()
                self.received.append(now)
                self.latency_ms.append((now - changed) * 1000)
        finally:
            writer.close()


async def main(argv: list[str]) -> int:
    base_url, tokens_path, count_text, out_path = argv[:4]
    count = int(count_text)
    raise_fd_limit(count + 256)
    watchers = Watchers(base_url, json.loads(Path(tokens_path).read_text()))
    ready = asyncio.Event()
    answered = [0, count]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks = []
    for index in range(count):
        tasks.append(asyncio.create_task(watchers.watch(index, ready, answered)))
        if index % 50 == 49:
            await asyncio.sleep(0.01)  # a burst of 1,000 SYNs at once overflows the backlog
    await asyncio.wait_for(ready.wait(), CONNECT_TIMEOUT_S * 2)
    print(f"connected {count - watchers.failed} {watchers.failed}", flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    Path(out_path).write_text(
        json.dumps(
            {
                "received": watchers.received.tolist(),
                "latency_ms": watchers.latency_ms.tolist(),
                "failed": watchers.failed,
                "dropped": watchers.dropped,
            }
        )
    )
    return 0


if __name__ == "__main__":
    try:
        import uvloop

        sys.exit(uvloop.run(main(sys.argv[1:])))
    except ImportError:
        sys.exit(asyncio.run(main(sys.argv[1:])))
