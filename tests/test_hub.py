"""The per-process hub puts pushes back in seq order when they cross between processes."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from boards import events, services
from boards.models import BoardEvent


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
