"""A loopback TCP proxy for fault tests: put it between an app and its Redis (or PostgreSQL) and
make the network misbehave. ``drop()`` resets every open connection and refuses new ones until
``restore()``; ``latency_s`` delays every chunk in both directions. It runs its own event loop in
a thread, so it serves subprocesses and the test's own loop alike. (Debian has no toxiproxy.)"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

from tests.conftest import free_port

CHUNK = 64 * 1024


def _reset(writer: asyncio.StreamWriter) -> None:
    if writer.transport.is_closing():
        return  # closed already (by its peer or the other direction's pipe)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.latency_s = 0.0
        self.dropping = False
        self.connections = 0  # accepted and forwarded, over the proxy's life
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    def url(self, scheme: str = "redis", path: str = "/0") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def drop(self) -> None:
        """Reset every connection now, and every new one until ``restore()``."""
        self.dropping = True
        self._loop.call_soon_threadsafe(self._reset_all)

    def restore(self) -> None:
        self.dropping = False

    def _reset_all(self) -> None:
        for writer in list(self._open):
            _reset(writer)
        self._open.clear()

    async def _shutdown(self) -> None:
        """Close everything inside the loop, so no transport outlives it."""
        assert self._server is not None
        self._server.close()
        self.dropping = True
        self._reset_all()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)  # the transports' connection_lost callbacks

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.dropping:
            _reset(writer)
            await asyncio.sleep(0)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _reset(writer)
            return
        self.connections += 1
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._open.discard(writer)
            self._open.discard(up_writer)
            for end in (writer, up_writer):
                end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                if self.dropping:
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.transport.abort()
