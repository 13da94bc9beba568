"""/healthz and /readyz: ready means backends answer, own workers run, the loop is not blocked."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable

import anyio
import httpx

from app.settings import Settings
from tests.conftest import LiveApp


async def wait_until_ready(client: httpx.AsyncClient) -> httpx.Response:
    with anyio.fail_after(30):
        while (response := await client.get("/readyz")).status_code != 200:
            await anyio.sleep(0.1)
    return response


def probe(base_url: str, sent: threading.Event, answers: list[httpx.Response]) -> None:
    """GET /readyz from this thread (the app's loop may be blocked meanwhile)."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        sent.set()
        answers.append(client.get("/readyz"))


async def test_a_stopped_worker_makes_the_process_unready(live: LiveApp) -> None:
    """In mode all, /readyz is 503 once one of this process's workers has stopped, and says which;
    /healthz (the process is alive) stays 200."""
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        ready = await wait_until_ready(client)
        assert ready.json()["checks"]["worker:low"] == {"alive": True, "running": 0}
        [low] = [worker for worker in live.container.workers if worker.name == "low"]
        await low.stop()
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["worker:low"]["alive"] is False
        assert body["checks"]["worker:default"]["alive"] is True
        assert (await client.get("/healthz")).status_code == 200


async def test_a_blocked_event_loop_makes_the_process_unready_until_it_recovers(
    make_settings: Callable[..., Settings], serve: Callable[[Settings], AsyncIterator[LiveApp]]
) -> None:
    """A synchronous sleep on the loop that HTTP and the workers share, longer than
    ATSPRO_READY_MAX_LOOP_LAG_MS, makes /readyz 503 (probed from another thread while the loop is
    blocked); some seconds later, with the loop free again, it is 200."""
    async for app in serve(make_settings(ready_max_loop_lag_ms=300)):
        async with httpx.AsyncClient(base_url=app.base_url) as client:
            await wait_until_ready(client)
            answers: list[httpx.Response] = []
            sent = threading.Event()
            prober = threading.Thread(target=probe, args=(app.base_url, sent, answers))
            prober.start()
            sent.wait(10)
            time.sleep(1.2)  # blocks the loop that serves the app: the point of the test
            await anyio.to_thread.run_sync(prober.join)
            [blocked] = answers
            assert blocked.status_code == 503, blocked.text
            loop = blocked.json()["checks"]["loop"]
            assert loop["ok"] is False
            assert loop["lagMs"] > 300
            assert loop["maxLagMs"] == 300
            recovered = await wait_until_ready(client)
            assert recovered.json()["checks"]["loop"]["ok"] is True
