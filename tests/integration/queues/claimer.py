"""A queue client in its own OS process, driven by the contract tests.

``claimer.py claim URL NAME``: connect, print ``ready``, wait for a line on stdin, then claim and
finish jobs until the queue stays empty for a second; print the claimed keys as one JSON list.

``claimer.py enqueue URL NAME KEY``: enqueue one job with that key and exit.
"""

from __future__ import annotations

import asyncio
import json
import sys

from saq import Status

from app.queues import make_queue


async def claim(url: str, name: str) -> None:
    queue = make_queue(url, name)
    await queue.connect()
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        claimed = []
        while (job := await queue.dequeue(timeout=1.0)) is not None:
            claimed.append(job.key)
            await job.finish(Status.COMPLETE)
        print(json.dumps(claimed), flush=True)
    finally:
        await queue.disconnect()


async def enqueue(url: str, name: str, key: str) -> None:
    queue = make_queue(url, name)
    await queue.connect()
    try:
        await queue.enqueue("noop", key=key)
    finally:
        await queue.disconnect()


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    asyncio.run(claim(*arguments) if command == "claim" else enqueue(*arguments))
