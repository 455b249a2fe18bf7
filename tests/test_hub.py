"""The per-process hub: pushes in seq order, once, and those that wait together sent together."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from boards import events, presence, services
from boards.models import BoardEvent
from boards.presence import RedisRegister


@pytest.mark.django_db(transaction=True)
def test_it_fills_a_gap_from_the_database_and_drops_the_late_push(board, participant):
    phase = board.phases.first()
    first = services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text="first")
    services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text="second")
    n1, n2 = BoardEvent.objects.filter(scenario=board).order_by("-seq")[:2][::-1]
    push = {"type": events.PUSH_TYPE, "scenario": board.pk}

    async def run():
        hub = events.Hub()
        hub.last_seq[board.pk] = n1.seq - 1
        # the push for n2 arrives before the push for n1
        ordered = await hub._in_order({**push, "seq": n2.seq, "html": n2.html})
        assert [m["seq"] for m in ordered] == [n1.seq, n2.seq]
        assert f'id="note-{first.pk}"' in ordered[0]["html"]
        assert await hub._in_order({**push, "seq": n1.seq, "html": n1.html}) == []

    async_to_sync(run)()


# Pushes that wait together go out together --------------------------------------------------------


class Socket:
    """What the hub hands a board socket, recorded."""

    def __init__(self) -> None:
        self.frames: list[events.Frame] = []
        self.arrived = asyncio.Event()
        self.closed: int | None = None

    async def close(self, code: int) -> None:
        self.closed = code
        self.arrived.set()

    async def deliver(self, frame: events.Frame) -> None:
        self.frames.append(frame)
        self.arrived.set()

    async def wait_closed(self) -> int:
        while self.closed is None:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), timeout=5)
        return self.closed

    async def wait_for(self, count: int) -> list[events.Frame]:
        while len(self.frames) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), timeout=5)
        return self.frames


def push(seq: int, board: int = 7) -> dict:
    return {"type": events.PUSH_TYPE, "scenario": board, "seq": seq, "html": f'<p id="p{seq}">{seq}</p>'}


def test_it_sends_the_pushes_waiting_for_a_board_as_one_message_in_order():
    async def run():
        hub, socket = events.Hub(), Socket()
        await hub.join(7, socket)
        try:
            for seq in (1, 2, 3):  # offered before the hub gets a turn: they wait together
                hub.offer(push(seq))
            [frame] = await socket.wait_for(1)
            assert (frame.first, frame.last) == (1, 3)
            assert frame.html == '<p id="p1">1</p><p id="p2">2</p><p id="p3">3</p>'
            hub.offer(push(4))  # alone: a message of its own
            frames = await socket.wait_for(2)
            assert (frames[1].first, frames[1].last, frames[1].html) == (4, 4, '<p id="p4">4</p>')
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


def test_it_keeps_a_push_without_seq_between_the_board_pushes_around_it():
    presence = {"type": events.PUSH_TYPE, "scenario": 7, "seq": 0, "html": '<ul id="presence"></ul>'}
    out = events.frames([push(1), push(2), presence, push(3), push(1, board=8)])
    assert [(board, f.first, f.last) for board, f in out] == [(7, 1, 2), (7, 0, 0), (7, 3, 3), (8, 1, 1)]
    assert out[1][1].html == '<ul id="presence"></ul>'


def test_it_splits_a_long_run_of_pushes_into_messages_of_at_most_a_hundred():
    out = events.frames([push(seq) for seq in range(1, 251)])
    assert [(f.first, f.last) for _, f in out] == [(1, 100), (101, 200), (201, 250)]


def test_it_gives_a_socket_that_caught_up_midway_only_the_pushes_after_its_catch_up():
    frame = events.Frame.of([(5, "<i>5</i>"), (6, "<i>6</i>"), (7, "<i>7</i>")])
    assert frame.after(4) == "<i>5</i><i>6</i><i>7</i>"
    assert frame.after(6) == "<i>7</i>"


def test_it_does_not_hold_pushes_for_boards_it_has_no_sockets_on():
    async def run():
        hub, socket = events.Hub(), Socket()
        await hub.join(7, socket)
        try:
            hub.offer(push(1, board=8))
            hub.offer(push(1))
            [frame] = await socket.wait_for(1)
            assert frame.first == 1 and 8 not in hub.last_seq
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


def test_it_closes_a_boards_sockets_for_a_restart_when_it_cannot_fill_a_gap():
    """Filling a gap reads the database; here the database is not reachable (the test has no
    database access): the board's pages are told to reconnect and catch up, and the hub goes on
    serving other boards."""

    async def run():
        hub, stranded, other = events.Hub(), Socket(), Socket()
        await hub.join(7, stranded)
        await hub.join(8, other)
        try:
            hub.last_seq[7] = 1
            hub.offer(push(3))  # 2 is missing: read from the database, which fails
            assert await stranded.wait_closed() == events.Hub.CLOSE_RESTART and stranded.frames == []
            assert 7 not in hub.sockets and 7 not in hub.last_seq
            hub.offer(push(1, board=8))
            [frame] = await other.wait_for(1)
            assert frame.first == 1
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


def test_it_restarts_a_board_without_waiting_for_a_client_that_reads_nothing():
    """A socket whose close never completes (its client reads nothing) holds up only itself: the
    board's other sockets are closed, and other boards get their pushes."""

    class Stalled(Socket):
        async def close(self, code: int) -> None:
            self.closed = code
            await asyncio.Event().wait()  # the close frame is never read

    async def run():
        hub, stalled, stranded, other = events.Hub(), Stalled(), Socket(), Socket()
        for socket in (stalled, stranded):
            await hub.join(7, socket)
        await hub.join(8, other)
        try:
            hub.last_seq[7] = 1
            hub.offer(push(3))  # 2 is missing: read from the database, which fails
            assert await stranded.wait_closed() == events.Hub.CLOSE_RESTART
            hub.offer(push(1, board=8))
            [frame] = await other.wait_for(1)
            assert frame.first == 1 and stalled.closed == events.Hub.CLOSE_RESTART
            assert len(hub.closing) == 1  # the stalled close, still waiting
        finally:
            hub.sender.cancel()
            for task in hub.closing:
                task.cancel()

    async_to_sync(run)()


# Sweeps: a push the channel layer lost is sent from the database -----------------------------------


def add_notes(board, participant, *texts: str) -> list[int]:
    """Commit notes on the board; their pushes reach no hub of the test (none is registered)."""
    phase = board.phases.first()
    for text in texts:
        services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text=text)
    return list(BoardEvent.objects.filter(scenario=board).order_by("seq").values_list("seq", flat=True))


@pytest.mark.django_db(transaction=True)
def test_it_sends_the_pushes_that_never_came_at_the_second_sweep_after_their_commit(board, participant):
    start = board.last_seq
    *_, first, second = add_notes(board, participant, "waited for the advisor", "no one offered water")

    async def run():
        hub, socket = events.Hub(), Socket()
        await hub.join(board.pk, socket)
        hub.caught_up(board.pk, start)  # the socket's catch-up ended before the two commits
        try:
            seen = await hub.sweep({})
            assert seen == {board.pk: second} and hub.inbox == []  # they may be on their way
            assert await hub.sweep(seen) == seen
            [frame] = await socket.wait_for(1)
            assert (frame.first, frame.last) == (first, second)
            assert "waited for the advisor" in frame.html and "no one offered water" in frame.html
            assert hub.last_seq[board.pk] == second
            await hub.sweep(seen)  # nothing is missing any more
            assert hub.inbox == [] and len(socket.frames) == 1
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_push_that_comes_between_two_sweeps_to_come_once(board, participant):
    start = board.last_seq
    [*_, seq] = add_notes(board, participant, "the parcel came without a card")
    event = BoardEvent.objects.get(scenario=board, seq=seq)

    async def run():
        hub, socket = events.Hub(), Socket()
        await hub.join(board.pk, socket)
        hub.caught_up(board.pk, start)
        try:
            seen = await hub.sweep({})
            hub.offer({"type": events.PUSH_TYPE, "scenario": board.pk, "seq": seq, "html": event.html})
            [frame] = await socket.wait_for(1)
            await hub.sweep(seen)
            assert hub.inbox == [] and frame.first == frame.last == seq and len(socket.frames) == 1
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_restarts_a_board_whose_missed_pushes_are_too_many_to_send(board, participant, settings):
    settings.BOARD_REPLAY_LIMIT = 1
    start = board.last_seq
    add_notes(board, participant, "first", "second")

    async def run():
        hub, socket = events.Hub(), Socket()
        await hub.join(board.pk, socket)
        hub.caught_up(board.pk, start)
        try:
            await hub.sweep(await hub.sweep({}))
            assert await socket.wait_closed() == events.Hub.CLOSE_RESTART and socket.frames == []
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


def test_it_takes_the_lowest_socket_catch_up_for_where_a_board_stands():
    async def run():
        hub, socket = events.Hub(), Socket()
        hub.caught_up(7, 4)  # no socket on the board here: nothing to remember
        assert hub.last_seq == {}
        await hub.join(7, socket)
        try:
            hub.caught_up(7, 4)
            assert hub.last_seq == {7: 4}
            hub.offer(push(5))
            await socket.wait_for(1)
            hub.caught_up(7, 6)  # a later catch-up: the hub still counts from 5
            assert hub.last_seq == {7: 5}
            hub.caught_up(7, 3)  # an earlier one: 4 and 5 may be missing there, and would be sent
            assert hub.last_seq == {7: 3}
        finally:
            hub.sender.cancel()

    async_to_sync(run)()


def stop(hub: events.Hub) -> None:
    """Cancel what the hub runs on the test's event loop."""
    for task in (hub.sender, hub.listener, hub.push_listener, hub.sweeper):
        if task is not None:
            task.cancel()


# Joining through two layers (scale-out), with a layer of the test's own ----------------------------


class TurnTakingLayer(BaseChannelLayer):
    """A shared layer for the test: making a channel and joining a group each wait a turn of the
    event loop, as a round trip to Redis would; joining fails while `down` is set."""

    extensions = ("groups",)
    down = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.made = 0
        self.groups: dict[str, set[str]] = {}
        self.queues: dict[str, asyncio.Queue] = {}

    async def new_channel(self, prefix: str = "specific.") -> str:
        await asyncio.sleep(0)
        self.made += 1
        name = f"{prefix}{self.made}"
        self.queues[name] = asyncio.Queue()
        return name

    async def receive(self, channel: str) -> dict:
        message = await self.queues[channel].get()
        if isinstance(message, Exception):
            raise message
        return message

    async def group_add(self, group: str, channel: str) -> None:
        await asyncio.sleep(0)
        if self.down:
            raise ConnectionError("Redis is down")
        self.groups.setdefault(group, set()).add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.groups.get(group, set()).discard(channel)


def two_layers(settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "tests.test_hub.TurnTakingLayer"},
        events.BOARD_LAYER: {"BACKEND": "tests.test_hub.TurnTakingLayer"},
    }


def test_it_starts_one_listener_a_layer_for_sockets_that_join_together(settings):
    two_layers(settings)

    async def run():
        default, pushes = get_channel_layer(), get_channel_layer(events.BOARD_LAYER)
        hub, one, two = events.Hub(), Socket(), Socket()
        try:
            await asyncio.gather(hub.join(7, one), hub.join(7, two))
            assert (default.made, pushes.made) == (1, 1)
            assert default.groups == {"board.7": {hub.channel}} and pushes.groups == {"board.7": {hub.push_channel}}
            assert hub.sockets == {7: {one, two}}
            await hub.leave(7, one)
            await hub.leave(7, two)  # the last on the board: out of its groups on both layers
            assert default.groups == {"board.7": set()} and pushes.groups == {"board.7": set()}
        finally:
            stop(hub)

    async_to_sync(run)()


def test_it_lets_the_next_socket_join_a_board_whose_groups_it_could_not_join(settings):
    two_layers(settings)

    async def run():
        pushes = get_channel_layer(events.BOARD_LAYER)
        hub, first, second = events.Hub(), Socket(), Socket()
        try:
            pushes.down = True
            with pytest.raises(ConnectionError):
                await hub.join(7, first)
            assert 7 not in hub.sockets
            pushes.down = False
            await hub.join(7, second)
            assert hub.sockets == {7: {second}} and pushes.groups == {"board.7": {hub.push_channel}}
        finally:
            stop(hub)

    async_to_sync(run)()


def test_it_takes_the_board_layer_channel_out_of_the_groups_when_the_default_layer_fails(settings):
    two_layers(settings)

    async def run():
        default, pushes = get_channel_layer(), get_channel_layer(events.BOARD_LAYER)
        hub, socket = events.Hub(), Socket()
        await hub.join(7, socket)
        try:
            default.queues[hub.channel].put_nowait(ConnectionError("Redis is down"))  # its read fails
            assert await socket.wait_closed() == events.Hub.CLOSE_RESTART
            if hub.closing:  # the close and the leaving, unless done already
                await asyncio.wait(hub.closing)
            assert hub.sockets == {} and pushes.groups == {"board.7": set()}
        finally:
            stop(hub)

    async_to_sync(run)()


# Joining a board's group while the last socket leaves it (scale-out) -------------------------------

REDIS_URL = os.environ.get("JOURNEYMAP_TEST_REDIS_URL", "")


def scale_out_layers() -> dict:
    """The channel layers as scale-out sets them up, on a prefix of the test's own."""
    prefix = f"jm-test-{uuid.uuid4().hex}"
    return {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix}},
        "board": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix}},
    }


class SlowToLeave(RedisPubSubChannelLayer):
    """The real Redis layer, whose group_discard waits until the test lets it go on."""

    leaving: asyncio.Event
    go_on: asyncio.Event

    async def group_discard(self, group: str, channel: str) -> None:
        self.leaving.set()
        await self.go_on.wait()
        await self._get_layer().group_discard(group, channel)


@pytest.mark.skipif(not REDIS_URL, reason="set JOURNEYMAP_TEST_REDIS_URL to run the Redis layer tests")
def test_it_stays_in_a_boards_group_when_a_socket_joins_while_the_last_one_leaves(settings):
    """A page reloaded on a process that had only that socket on the board: the new socket joins
    while the old one's leave is still taking the process out of the board's group. The process
    stays in the group, so pushes committed by other processes still reach it."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "tests.test_hub.SlowToLeave",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"jm-test-{uuid.uuid4().hex}"},
    }}

    async def run():
        layer = get_channel_layer()
        layer.leaving, layer.go_on = asyncio.Event(), asyncio.Event()
        hub, old, new = events.Hub(), Socket(), Socket()
        await hub.join(7, old)
        try:
            leaving = asyncio.ensure_future(hub.leave(7, old))
            await layer.leaving.wait()
            await hub.join(7, new)  # its group_add is done before the leave's group_discard
            layer.go_on.set()
            await leaving
            await layer.group_send(events.group_name(7), {**push(1), "origin": "another process"})
            [frame] = await new.wait_for(1)
            assert frame.first == 1 and old.frames == []
        finally:
            stop(hub)
            await layer.flush()

    async_to_sync(run)()


class ReadsBeforeAJoin(RedisRegister):
    """The real Redis register, whose next read of the people present, once made, waits until the
    test lets it go on: someone joins on another process meanwhile."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.hold_next = False
        self.holding, self.go_on = asyncio.Event(), asyncio.Event()

    async def people(self, scenario_id: int) -> list[presence.Person]:
        people = await super().people(scenario_id)
        if self.hold_next:
            self.hold_next = False
            self.holding.set()
            await self.go_on.wait()
        return people


@pytest.mark.skipif(not REDIS_URL, reason="set JOURNEYMAP_TEST_REDIS_URL to run the Redis layer tests")
def test_it_shows_everyone_present_on_every_process_when_people_join_on_two_at_once(settings, monkeypatch):
    """Two processes, one person joining on each at the same moment: the list of people present
    that process B read before A's person came must not be the last one B's sockets get."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"jm-test-{uuid.uuid4().hex}"},
    }}
    settings.PRESENCE_WINDOW_SECONDS = 0.2
    register = ReadsBeforeAJoin(REDIS_URL)
    monkeypatch.setattr(presence, "register", register)
    board = 10_000_000 + uuid.uuid4().int % 1_000_000
    ana = presence.Person(1, "Ana Laurent", "participant", "boutique")
    ben = presence.Person(2, "Ben Okafor", "participant", "clienteling")

    async def came(process: str, hub: events.Hub, channel: str, person: presence.Person) -> None:
        """What a consumer of `process` does when a person connects: register, then tell the hubs."""
        await register.join(board, channel, person)
        hub.presence_changed(board)
        message = {"type": events.PRESENCE_TYPE, "scenario": board, "origin": process}
        await get_channel_layer().group_send(events.group_name(board), message)

    async def run():
        layer = get_channel_layer()
        hub_a, hub_b, on_a, on_b = events.Hub(), events.Hub(), Socket(), Socket()
        await hub_a.join(board, on_a)
        await hub_b.join(board, on_b)
        try:
            register.hold_next = True
            await came("b", hub_b, "b-ana", ana)
            await register.holding.wait()  # B has read: Ana alone
            await came("a", hub_a, "a-ben", ben)
            [from_a] = await on_a.wait_for(1)
            assert "Ana Laurent" in from_a.html and "Ben Okafor" in from_a.html
            register.go_on.set()
            alone, both = await on_b.wait_for(2)
            assert "Ben Okafor" not in alone.html
            assert "Ana Laurent" in both.html and "Ben Okafor" in both.html
        finally:
            for hub in (hub_a, hub_b):
                stop(hub)
            await register._client().delete(register._key(board))
            await layer.flush()

    async_to_sync(run)()


@pytest.mark.skipif(not REDIS_URL, reason="set JOURNEYMAP_TEST_REDIS_URL to run the Redis layer tests")
@pytest.mark.django_db(transaction=True)
def test_it_sends_a_push_that_redis_did_not_bring_from_the_database(board, participant, settings):
    """Over Redis pub/sub a process that is not connected when a push is published never gets it.
    Here the push is published by this process, whose hub skips its own pushes, as if another
    process had published it while this one's connection was down: the hub's own sweeps send it."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"jm-test-{uuid.uuid4().hex}"},
    }}
    settings.HUB_SWEEP_SECONDS = 0.05
    start = board.last_seq

    async def run():
        layer = get_channel_layer()
        hub, socket = events.Hub(), Socket()
        await hub.join(board.pk, socket)
        hub.caught_up(board.pk, start)
        try:
            [*_, seq] = await database_sync_to_async(add_notes)(board, participant, "she left without a word")
            [frame] = await socket.wait_for(1)
            assert frame.first == frame.last == seq and "she left without a word" in frame.html
        finally:
            stop(hub)
            await layer.flush()

    async_to_sync(run)()


@pytest.mark.skipif(not REDIS_URL, reason="set JOURNEYMAP_TEST_REDIS_URL to run the Redis layer tests")
def test_it_takes_board_pushes_from_the_board_layer_and_the_rest_from_the_default_one(settings):
    """As scale-out is set up: board pushes over Redis pub/sub (the `board` layer), everything else
    over channels-redis's core layer, whose failure tells the hub that Redis went away."""
    settings.CHANNEL_LAYERS = scale_out_layers()
    board = 10_000_000 + uuid.uuid4().int % 1_000_000

    async def run():
        default, pushes = get_channel_layer(), get_channel_layer(events.BOARD_LAYER)
        hub, socket = events.Hub(), Socket()
        await hub.join(board, socket)
        try:
            assert hub.channel and hub.push_channel and hub.sweeper is not None
            await pushes.group_send(events.group_name(board), {**push(1, board=board), "origin": "another process"})
            [frame] = await socket.wait_for(1)
            assert frame.first == 1
            # The core layer's group has the hub too (who came or went); pushes sent there still count.
            await default.group_send(events.group_name(board), {**push(2, board=board), "origin": "another process"})
            frames = await socket.wait_for(2)
            assert frames[1].first == 2
        finally:
            stop(hub)
            await default.flush()
            await pushes.flush()

    async_to_sync(run)()


@pytest.mark.skipif(not REDIS_URL, reason="set JOURNEYMAP_TEST_REDIS_URL to run the Redis layer tests")
def test_it_publishes_a_board_push_from_the_committing_thread_for_the_board_layers_readers(settings):
    """A board push is published to Redis from the request's own thread, not through the event
    loop; every process reads it with channels-redis's pub/sub layer, so it must arrive there as
    that layer's own group_send would have sent it."""
    settings.CHANNEL_LAYERS = scale_out_layers()
    board = 10_000_000 + uuid.uuid4().int % 1_000_000

    async def run():
        pushes = get_channel_layer(events.BOARD_LAYER)
        assert events._publisher(pushes) is not None
        reader = await pushes.new_channel()
        await pushes.group_add(events.group_name(board), reader)
        try:
            await asyncio.to_thread(events.broadcast, board, 7, "<p>a client left without a word</p>")
            message = await asyncio.wait_for(pushes.receive(reader), 5)
            assert message == {
                "type": events.PUSH_TYPE, "scenario": board, "seq": 7,
                "html": "<p>a client left without a word</p>", "origin": events.ORIGIN,
            }
        finally:
            await pushes.flush()
            await get_channel_layer().flush()

    async_to_sync(run)()
