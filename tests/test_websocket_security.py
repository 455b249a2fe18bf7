"""The board websocket under abuse: only this site's pages may open it, and a flood or an oversize
message closes that one socket without touching anyone else's."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from tests.ws import communicator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("origin", [
    b"https://evil.example",       # another site: cross-site websocket hijacking
    b"http://localhost:9999",      # same host, another port
    b"https://localhost",          # same host, another scheme
    b"http://localhost.evil.example",
    b"null",
])
def test_it_refuses_other_origins(board, participant, origin):
    comm = communicator(board.pk, participant, since=0, origin=origin)

    async def run():
        connected, _ = await comm.connect()
        assert not connected

    async_to_sync(run)()


def test_it_refuses_a_socket_without_origin(board, participant):
    from channels.testing import WebsocketCommunicator

    from journeymap.asgi import application
    from tests.ws import session_cookie

    comm = WebsocketCommunicator(application, f"/ws/boards/{board.pk}/", headers=[
        (b"host", b"localhost"), (b"cookie", session_cookie(participant))])

    async def run():
        connected, _ = await comm.connect()
        assert not connected

    async_to_sync(run)()


def test_it_accepts_a_configured_trusted_origin(settings, board, participant):
    settings.CSRF_TRUSTED_ORIGINS = ["https://journeymap.example.com"]
    comm = communicator(board.pk, participant, since=0, origin=b"https://journeymap.example.com")

    async def run():
        connected, _ = await comm.connect()
        assert connected
        await comm.disconnect()

    async_to_sync(run)()


def test_it_answers_the_heartbeat(board, participant):
    comm = communicator(board.pk, participant, since=board.last_seq)

    async def run():
        await comm.connect()
        await comm.receive_from(timeout=3)  # my panel
        await comm.receive_from(timeout=3)  # presence
        await comm.send_to(text_data="ping")
        assert await comm.receive_from(timeout=3) == "pong"
        await comm.disconnect()

    async_to_sync(run)()


def _drain_until_close(comm):
    async def drain():
        while True:
            message = await comm.receive_output(timeout=3)
            if message["type"] == "websocket.close":
                return message["code"]

    return drain()


def test_it_closes_a_socket_that_sends_an_oversize_message(board, participant, facilitator):
    flooder = communicator(board.pk, participant, since=board.last_seq)
    bystander = communicator(board.pk, facilitator, since=board.last_seq)

    async def run():
        await flooder.connect()
        await bystander.connect()
        await flooder.send_to(text_data="x" * 5000)
        assert await _drain_until_close(flooder) == 4429
        # the bystander's socket still works
        await bystander.send_to(text_data="ping")
        while await bystander.receive_from(timeout=3) != "pong":
            pass
        await bystander.disconnect()

    async_to_sync(run)()


def test_it_closes_a_socket_that_floods(board, participant, facilitator):
    flooder = communicator(board.pk, participant, since=board.last_seq)
    bystander = communicator(board.pk, facilitator, since=board.last_seq)

    async def run():
        await flooder.connect()
        await bystander.connect()
        for _ in range(50):
            await flooder.send_to(text_data="ping")
        assert await _drain_until_close(flooder) == 4429
        await bystander.send_to(text_data="ping")
        while await bystander.receive_from(timeout=3) != "pong":
            pass
        await bystander.disconnect()

    async_to_sync(run)()
