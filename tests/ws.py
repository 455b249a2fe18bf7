"""Websocket test helpers: connect to the real ASGI application as a signed-in member."""

from __future__ import annotations

import re

from channels.testing import WebsocketCommunicator
from django.test import Client

from journeymap.asgi import application

SEQ = re.compile(r'^<span id="board-seq" data-seq="(\d+)"( data-reset)?')


def session_cookie(member) -> bytes:
    client = Client()
    client.force_login(member.user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(scenario_id: int, member=None, since: int | None = None, origin: bytes = b"http://localhost"):
    path = f"/ws/boards/{scenario_id}/" + (f"?since={since}" if since is not None else "")
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if member is not None:
        headers.append((b"cookie", session_cookie(member)))
    return WebsocketCommunicator(application, path, headers=headers)


def seq_of(message: str) -> int | None:
    m = SEQ.match(message)
    return int(m.group(1)) if m else None


def is_reset(message: str) -> bool:
    m = SEQ.match(message)
    return bool(m and m.group(2))


async def receive_board_messages(comm, count: int, timeout: float = 3) -> list[str]:
    """The next `count` board pushes (those with a seq), skipping presence pushes."""
    got: list[str] = []
    while len(got) < count:
        message = await comm.receive_from(timeout=timeout)
        if seq_of(message) is not None:
            got.append(message)
    return got
