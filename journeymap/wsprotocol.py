"""uvicorn's websocket protocol, with each push framed and compressed once for every socket.

Browsers ask for `permessage-deflate` on every websocket. By default each socket keeps its own
compressor and its own history (context takeover), so the one push a board renders for everyone
is compressed again for every socket: at 200 people, 200 times. This protocol grants compression
with `server_no_context_takeover` (RFC 7692, which browsers accept): every message is compressed
on its own, so the same push makes the same frame, byte for byte, on every socket. The process
builds it once (encoded, compressed, framed: a server's frames are not masked) and writes those
bytes to each socket. A socket also keeps no compressor between messages, which halves the
server's memory per connection.

What it costs: a small push compresses less well alone than after earlier ones (a note's push,
about 0.9 KB, to about 390 bytes instead of 120-360); large pushes (a whole journey) hardly differ.

Run uvicorn with `--ws journeymap.wsprotocol:WebSocketProtocol`, as `make run` and the README do.
Without it the app works the same, with uvicorn's own per-socket compression.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import TEXT, Frame
from websockets.protocol import OPEN

# uvicorn's own settings for its compressor: a 4 KiB window, memLevel 5.
WINDOW_BITS = 12
COMPRESS_SETTINGS = {"memLevel": 5}


def deflate_once() -> ServerPerMessageDeflateFactory:
    """permessage-deflate as uvicorn grants it, but with no context kept between messages."""
    return ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        server_max_window_bits=WINDOW_BITS,
        client_max_window_bits=WINDOW_BITS,
        compress_settings=COMPRESS_SETTINGS,
    )


class _LastFrame:
    """The last text message framed, for each compression it was framed with: a board push goes
    to all the board's sockets one after the other, so every socket after the first finds its
    frame here. Used on the event loop's thread only."""

    def __init__(self) -> None:
        self.frames: dict[int, tuple[str, bytes]] = {}  # window bits (0: not compressed) -> text, frame

    def get(self, text: str, extensions: list) -> bytes | None:
        if not extensions:
            bits = 0
        elif (
            len(extensions) == 1
            and isinstance(extensions[0], PerMessageDeflate)
            and extensions[0].local_no_context_takeover
        ):
            bits = extensions[0].local_max_window_bits
        else:
            return None  # a compressor with a history of its own: nothing to share
        last = self.frames.get(bits)
        if last is not None and (last[0] is text or last[0] == text):
            return last[1]
        frame = Frame(TEXT, text.encode(), True).serialize(mask=False, extensions=extensions)
        self.frames[bits] = (text, frame)
        return frame


_last = _LastFrame()


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets protocol (its default), granting compression with no context
    takeover and sending a text message as the frame built once for every socket. Anything else
    (the handshake, closing, binary messages, a socket that must wait for its client) goes through
    uvicorn's own code. `--ws-per-message-deflate false` still turns compression off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.ws_per_message_deflate:
            self.conn.available_extensions = [deflate_once()]

    async def send(self, message: Any) -> None:
        text = message.get("text") if message["type"] == "websocket.send" else None
        if text is not None and self._open_and_idle():
            frame = _last.get(text, self.conn.extensions)
            if frame is not None:
                self.transport.write(frame)
                return
        await super().send(message)

    def _open_and_idle(self) -> bool:
        """Open, writable without waiting, and nothing of the connection's own queued to send:
        the frame may go out as it is, between whole frames."""
        conn = self.conn
        return (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
            and self.writable.is_set()
            and conn.state is OPEN
            and not conn.expect_continuation_frame
            and not conn.writes
            and not self.transport.is_closing()
        )
