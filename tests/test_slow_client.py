"""A client that reads nothing (a phone asleep, a connection dead but not yet noticed) never holds
up the board for the others: its socket queues what it has not taken, in order, and a client too
far behind is told to reconnect and catch up."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync

from boards import consumers, events


class Client:
    """The server side of one websocket: `send` waits while the client is not reading."""

    def __init__(self, reading: bool = True) -> None:
        self.reading = asyncio.Event()
        if reading:
            self.reading.set()
        self.sent: list[dict] = []

    async def send(self, message: dict) -> None:
        await self.reading.wait()
        self.sent.append(message)


def board_socket(client: Client) -> consumers.BoardConsumer:
    socket = consumers.BoardConsumer()
    socket.ready, socket.last_sent, socket.pending = True, 0, []
    socket.base_send = client.send
    return socket


def frame(seq: int) -> events.Frame:
    return events.Frame.of([(seq, f"<i>{seq}</i>")])


async def settle(predicate) -> None:
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0)  # a turn of the event loop, not a wait for time
    raise AssertionError("never settled")


def test_it_does_not_hold_up_the_others_while_one_client_reads_nothing():
    async def run():
        asleep, awake = Client(reading=False), Client()
        hub = events.Hub()
        sockets = [board_socket(asleep), board_socket(awake)]
        for s in sockets:
            await hub.join(7, s)
        try:
            for seq in (1, 2, 3):
                await asyncio.wait_for(hub._deliver(7, frame(seq)), timeout=5)
            assert [m["text"] for m in awake.sent] == ["<i>1</i>", "<i>2</i>", "<i>3</i>"]
            assert asleep.sent == []
            asleep.reading.set()  # the phone wakes up: it gets everything, in order
            await settle(lambda: len(asleep.sent) == 3)
            assert [m["text"] for m in asleep.sent] == ["<i>1</i>", "<i>2</i>", "<i>3</i>"]
            assert sockets[0].behind is None
            await asyncio.wait_for(hub._deliver(7, frame(4)), timeout=5)  # directly again
            assert asleep.sent[-1]["text"] == "<i>4</i>"
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


def test_it_closes_a_client_too_far_behind_once_it_reads_again(monkeypatch):
    monkeypatch.setattr(consumers, "MAX_BEHIND", 3)

    async def run():
        asleep = Client(reading=False)
        socket = board_socket(asleep)
        for seq in range(1, 7):
            await socket.deliver(frame(seq))
        asleep.reading.set()
        await settle(lambda: socket.behind is None)
        # The send that was waiting, then nothing of what queued behind it: the page must reconnect
        # and catch up by seq (1013: htmx reconnects by itself), which it does from the database.
        assert [m["text"] for m in asleep.sent if m["type"] == "websocket.send"] == ["<i>1</i>"]
        assert asleep.sent[-1] == {"type": "websocket.close", "code": consumers.CLOSE_TRY_AGAIN}
        await socket.deliver(frame(7))  # nothing more on a socket that is closing
        assert asleep.sent[-1]["type"] == "websocket.close"

    async_to_sync(run)()
