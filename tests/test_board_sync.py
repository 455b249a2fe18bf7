"""The board websocket: authorisation, pushes in seq order, replay of what a client missed, presence."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from boards import events, services
from boards.models import Scenario
from tests.ws import communicator, is_reset, receive_board_messages, seq_of

pytestmark = pytest.mark.django_db(transaction=True)


def _last_seq(board) -> int:
    return Scenario.objects.get(pk=board.pk).last_seq


def _add_note(member, board, text):
    phase = board.phases.order_by("order").first()
    return services.add_note(actor=member, scenario=board, phase=phase, kind="friction", text=text)


@pytest.mark.parametrize("who", ["outsider", None])
def test_it_closes_the_socket_of_non_members_with_4403(request, board, who):
    member = request.getfixturevalue(who) if who else None
    comm = communicator(board.pk, member, since=_last_seq(board))

    async def run():
        connected, _ = await comm.connect()
        assert connected
        assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
        await comm.disconnect()

    async_to_sync(run)()


def test_it_refuses_a_cross_site_origin(board, participant):
    comm = communicator(board.pk, participant, since=0, origin=b"https://evil.example")

    async def run():
        connected, _ = await comm.connect()
        assert not connected

    async_to_sync(run)()


@pytest.mark.parametrize("who", ["facilitator", "participant", "manager"])
def test_it_pushes_each_change_once_with_the_next_seq(request, board, who):
    member = request.getfixturevalue(who)
    author = request.getfixturevalue("participant")
    since = _last_seq(board)
    comm = communicator(board.pk, member, since=since)

    async def run():
        connected, _ = await comm.connect()
        assert connected
        note = await database_sync_to_async(_add_note)(author, board, "Told to wait in line")
        [push] = await receive_board_messages(comm, 1)
        assert seq_of(push) == since + 1
        assert f'id="note-{note.pk}"' in push
        assert "Told to wait in line" in push
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    async_to_sync(run)()


def test_it_replays_exactly_the_missed_events_in_order(board, facilitator, participant):
    since = _last_seq(board)
    notes = [_add_note(participant, board, f"note {i}") for i in range(3)]
    comm = communicator(board.pk, facilitator, since=since)

    async def run():
        await comm.connect()
        pushes = await receive_board_messages(comm, 3)
        assert [seq_of(p) for p in pushes] == [since + 1, since + 2, since + 3]
        for note, push in zip(notes, pushes, strict=True):
            assert f'id="note-{note.pk}"' in push
        # the process's hub takes the catch-up for where the board stands: a later push that
        # never comes is sent at its sweeps (scale-out)
        assert events.hub().last_seq[board.pk] == since + 3
        # then live pushes continue from there, without duplicates
        await database_sync_to_async(_add_note)(participant, board, "live one")
        [live] = await receive_board_messages(comm, 1)
        assert seq_of(live) == since + 4
        await comm.disconnect()

    async_to_sync(run)()


def test_it_sends_nothing_to_a_client_that_is_current(board, facilitator):
    comm = communicator(board.pk, facilitator, since=_last_seq(board))

    async def run():
        await comm.connect()
        # only the person's own panel and the presence list arrive: no board event
        first = await comm.receive_from(timeout=3)
        second = await comm.receive_from(timeout=3)
        assert 'id="my-panel"' in first and 'id="presence"' in second
        assert seq_of(first) is None and seq_of(second) is None
        assert await comm.receive_nothing(timeout=0.2)
        await comm.disconnect()

    async_to_sync(run)()


@pytest.mark.parametrize("since", ["too-old", "ahead", "missing"])
def test_it_sends_a_fresh_board_when_it_cannot_replay(settings, board, facilitator, participant, since):
    settings.BOARD_REPLAY_LIMIT = 2
    start = _last_seq(board)
    for i in range(3):
        _add_note(participant, board, f"note {i}")
    last = _last_seq(board)
    value = {"too-old": start, "ahead": last + 50, "missing": None}[since]
    comm = communicator(board.pk, facilitator, since=value)

    async def run():
        await comm.connect()
        [push] = await receive_board_messages(comm, 1)
        assert is_reset(push) and seq_of(push) == last
        assert 'id="board"' in push and "note 2" in push
        await comm.disconnect()

    async_to_sync(run)()


def test_it_shows_one_presence_entry_per_person_across_tabs(board, facilitator, participant):
    since = _last_seq(board)

    async def next_presence(comm):
        while True:
            message = await comm.receive_from(timeout=3)
            if 'id="presence"' in message:
                return message

    tab1 = communicator(board.pk, participant, since=since)
    tab2 = communicator(board.pk, participant, since=since)
    fac = communicator(board.pk, facilitator, since=since)

    async def run():
        await tab1.connect()
        await next_presence(tab1)
        await tab2.connect()
        two_tabs = await next_presence(tab1)
        assert two_tabs.count('class="presence-person') == 1
        await fac.connect()
        both = await next_presence(tab1)
        assert both.count('class="presence-person') == 2
        assert "Facilitator" in both and "Boutique &amp; retail" in both
        await fac.disconnect()
        after_leave = await next_presence(tab1)
        assert after_leave.count('class="presence-person') == 1
        await tab1.disconnect()
        await tab2.disconnect()

    async_to_sync(run)()


def test_it_sends_a_crowd_joining_at_once_one_list_of_people(settings, board, team, participant):
    """The first arrival is shown at once; the others who come within the window, together."""
    from tests.conftest import make_member

    settings.PRESENCE_WINDOW_SECONDS = 2
    since = _last_seq(board)
    crowd = [make_member(team, f"advisor{i}", "participant", name=f"Advisor {i}") for i in range(6)]
    first = communicator(board.pk, participant, since=since)
    others = [communicator(board.pk, m, since=since) for m in crowd]

    async def presence_pushes(comm, until_people: int) -> list[str]:
        pushes = []
        while True:
            message = await comm.receive_from(timeout=5)
            if 'id="presence"' in message:
                pushes.append(message)
                if message.count('class="presence-person') == until_people:
                    return pushes

    async def run():
        await first.connect()
        [alone] = await presence_pushes(first, 1)
        for comm in others:
            await comm.connect()
        pushes = await presence_pushes(first, 7)
        assert len(pushes) == 1  # not one list per arrival
        assert all(f"Advisor {i}" in pushes[0] for i in range(6))
        assert await first.receive_nothing(timeout=0.5)
        for comm in [first, *others]:
            await comm.disconnect()

    async_to_sync(run)()
