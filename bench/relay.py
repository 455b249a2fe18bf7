"""The bare baseline: a websocket relay with no Django, no database, no channel layer.

    python -m bench.relay --ws-port 9001 --http-port 9002

Clients connect to ws://127.0.0.1:<ws-port>/ws/rooms/<room>/. A writer POSTs a body to
http://127.0.0.1:<http-port>/rooms/<room>/; the relay gives it the room's next seq, puts the same
`<span id="board-seq" ...>` marker in front as the app does, and sends it to every client of the
room with the `websockets` library's broadcast, then answers 204. `GET /rooms/<room>/` answers the
room's last seq. It prints "ready" once both ports listen.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

ROOM_PATH = re.compile(r"^/ws/rooms/([\w-]+)/")
POST_PATH = re.compile(r"^/rooms/([\w-]+)/$")
MARKER = '<span id="board-seq" data-seq="{}" hidden hx-swap-oob="true"></span>'

rooms: dict[str, set[ServerConnection]] = defaultdict(set)
seqs: dict[str, int] = defaultdict(int)


async def on_socket(ws: ServerConnection) -> None:
    match = ROOM_PATH.match(ws.request.path if ws.request else "")
    if not match:
        await ws.close(4404)
        return
    room = rooms[match.group(1)]
    room.add(ws)
    try:
        async for _ in ws:  # heartbeats: nothing to do
            pass
    finally:
        room.discard(ws)


def publish(room: str, body: bytes) -> int:
    seqs[room] += 1
    broadcast(rooms[room], MARKER.format(seqs[room]) + body.decode("utf-8"))
    return seqs[room]


async def on_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                request_line = await reader.readuntil(b"\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                line = await reader.readuntil(b"\r\n")
                if line == b"\r\n":
                    break
                k, _, v = line.decode("latin-1").partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = await reader.readexactly(length) if length else b""
            match = POST_PATH.match(path)
            if match and method == "POST":
                publish(match.group(1), body)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif match and method == "GET":
                text = str(seqs[match.group(1)]).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(ws_port: int, http_port: int, compression: bool = True) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    http = await asyncio.start_server(on_http, "127.0.0.1", http_port)
    # Compression as the websockets library serves it by default, and as uvicorn serves the app:
    # granted when the client asks (browsers do), so each connection compresses what it sends.
    async with serve(on_socket, "127.0.0.1", ws_port, compression="deflate" if compression else None,
                     max_size=16 * 1024 * 1024,
                     ping_interval=None):
        print("ready", flush=True)
        await stop
    http.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--no-compression", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.ws_port, args.http_port, compression=not args.no_compression))
