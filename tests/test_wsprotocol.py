"""The server's websocket protocol (journeymap.wsprotocol): compression with no context kept between
messages, so a push sent to every socket of a board is framed and compressed once. Real uvicorn,
real websockets clients, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn
from asgiref.sync import async_to_sync
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from journeymap import wsprotocol
from tests.live_server import WS_PROTOCOL


class Sockets:
    """An ASGI app that accepts every websocket and keeps its `send`, for the test to push with."""

    def __init__(self) -> None:
        self.sends: list = []
        self.joined = asyncio.Condition()

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        async with self.joined:
            self.sends.append(send)
            self.joined.notify_all()
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async def wait_for(self, n: int) -> None:
        async with self.joined:
            await asyncio.wait_for(self.joined.wait_for(lambda: len(self.sends) >= n), timeout=10)

    async def push(self, text: str) -> None:
        for send in self.sends:
            await send({"type": "websocket.send", "text": text})


@contextlib.asynccontextmanager
async def serving(app, **options):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, ws=WS_PROTOCOL, lifespan="off", log_level="warning", **options
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)  # as Server.serve sets it, without its signals
    await server.startup(sockets=[sock])
    try:
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.force_exit = True
        await server.shutdown(sockets=[sock])
        sock.close()


def counting_frames(monkeypatch) -> list[int]:
    """Count the frames the protocol builds (it may reuse one for many sockets)."""
    built: list[int] = []

    class Frame(wsprotocol.Frame):
        def serialize(self, **kwargs):
            built.append(len(self.data))
            return super().serialize(**kwargs)

    monkeypatch.setattr(wsprotocol, "Frame", Frame)
    monkeypatch.setattr(wsprotocol, "_last", wsprotocol._LastFrame())  # nothing framed before
    return built


PUSHES = [
    '<span id="board-seq" data-seq="1" hidden hx-swap-oob="true"></span><div id="note-1">Le client attend</div>',
    "<div id='journey'>" + "".join(f"<p>Moment {i}: l'accueil en boutique</p>" for i in range(800)) + "</div>",
    "<div id='note-2'>Café offert ✨ — un moment de vérité</div>",
]


def test_it_grants_compression_with_no_context_takeover_as_browsers_ask():
    async def run():
        app = Sockets()
        async with serving(app) as url, connect(url) as client:  # asks as Chromium does
            agreed = client.response.headers["Sec-WebSocket-Extensions"]
            assert agreed.startswith("permessage-deflate")
            assert "server_no_context_takeover" in agreed
            await app.wait_for(1)
            await app.push(PUSHES[0])
            assert await asyncio.wait_for(client.recv(), timeout=10) == PUSHES[0]

    async_to_sync(run)()


def test_it_frames_a_push_once_for_every_socket_that_shares_its_compression(monkeypatch):
    built = counting_frames(monkeypatch)

    async def run():
        app = Sockets()
        async with serving(app) as url, contextlib.AsyncExitStack() as stack:
            compressed = [await stack.enter_async_context(connect(url)) for _ in range(3)]
            plain = await stack.enter_async_context(connect(url, compression=None))
            narrow = await stack.enter_async_context(
                connect(url, extensions=[ClientPerMessageDeflateFactory(server_max_window_bits=10)])
            )
            assert "Sec-WebSocket-Extensions" not in plain.response.headers
            assert "server_max_window_bits=10" in narrow.response.headers["Sec-WebSocket-Extensions"]
            clients = [*compressed, plain, narrow]
            await app.wait_for(len(clients))
            for push in PUSHES:
                await app.push(push)
            for client in clients:
                received = [await asyncio.wait_for(client.recv(), timeout=10) for _ in PUSHES]
                assert received == PUSHES
            # One frame per push for the three that share a compression, one for the plain
            # socket, one for the narrower window: 3 per push, not 5.
            assert len(built) == 3 * len(PUSHES)

    async_to_sync(run)()


def test_it_leaves_a_socket_that_must_wait_for_its_client_to_uvicorn():
    async def run():
        app = Sockets()
        async with serving(app) as url, connect(url) as client:
            await app.wait_for(1)
            protocol = app.sends[0].__self__
            protocol.pause_writing()  # the socket's buffer is full: the client reads nothing
            sending = asyncio.ensure_future(app.push(PUSHES[2]))
            await asyncio.sleep(0)  # a turn of the event loop, not a wait for time
            assert not sending.done()  # it waits, as uvicorn's own send does
            protocol.resume_writing()
            await asyncio.wait_for(sending, timeout=10)
            assert await asyncio.wait_for(client.recv(), timeout=10) == PUSHES[2]

    async_to_sync(run)()


def test_it_sends_uncompressed_when_compression_is_turned_off():
    async def run():
        app = Sockets()
        async with serving(app, ws_per_message_deflate=False) as url, connect(url) as client:
            assert "Sec-WebSocket-Extensions" not in client.response.headers
            await app.wait_for(1)
            for push in PUSHES:
                await app.push(push)
            assert [await asyncio.wait_for(client.recv(), timeout=10) for _ in PUSHES] == PUSHES

    async_to_sync(run)()
