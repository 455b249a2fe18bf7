"""Turning frictions into actions on the board: an owner and a due date, shown beside the notes and
in the owner's "My actions", live."""

from __future__ import annotations

import datetime

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from boards import services
from boards.models import BoardEvent
from tests.conftest import client_for
from workshops import services as workshop_services
from workshops.models import Action, ActionUpdate

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def friction(board, participant):
    mi = board.phases.order_by("order")[2].interactions.first()
    return services.add_note(actor=participant, scenario=board, phase=mi.phase, micro_interaction=mi,
                             kind="friction", text="The associate could not say which movement it has")


def due() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=14)


def test_it_makes_an_action_from_the_dialog(as_facilitator, board, friction, participant):
    form = as_facilitator.get(f"/boards/{board.pk}/actions/new/?note={friction.pk}", **HX).content.decode()
    assert "The associate could not say which movement it has" in form
    assert f'value="{friction.pk}"' in form and "checked" in form
    assert f'min="{timezone.localdate().isoformat()}"' in form  # the date picker offers no past day
    r = as_facilitator.post(f"/boards/{board.pk}/actions/new/", {
        "title": "Product-knowledge training for every associate", "owner": participant.pk,
        "due_date": due().isoformat(), "notes": [friction.pk],
    }, **HX)
    assert r.status_code == 200 and r["HX-Retarget"] == "#toast", r.content.decode()  # the confirmation: test_action_dialog.py
    action = Action.objects.get()
    assert (action.owner, action.workshop, action.scenario, action.status) == (participant, board.workshop, board, "open")
    assert list(action.notes.all()) == [friction]
    assert ActionUpdate.objects.filter(action=action, to_status="open").exists()
    event = BoardEvent.objects.filter(scenario=board).last()
    assert event.kind == "action.created"
    assert f'id="note-{friction.pk}"' in event.html and "→ Product-knowledge training" in event.html
    assert 'id="board-actions"' in event.html


def test_it_explains_a_missing_owner_or_a_past_date(as_facilitator, board, friction):
    r = as_facilitator.post(f"/boards/{board.pk}/actions/new/", {
        "title": "x", "owner": "", "due_date": "2001-01-01", "notes": [friction.pk]}, **HX)
    assert r.status_code == 422
    assert not Action.objects.exists()


def test_it_refuses_a_due_date_in_the_past(board, facilitator, participant, friction):
    with pytest.raises(ValidationError, match="due date"):
        workshop_services.create_action(actor=facilitator, scenario=board, notes=[friction], title="x",
                                        owner=participant, due_date=timezone.localdate() - datetime.timedelta(days=1))


def test_it_refuses_an_owner_from_another_team(board, facilitator, outsider, friction):
    with pytest.raises(ValidationError, match="owner"):
        workshop_services.create_action(actor=facilitator, scenario=board, notes=[friction], title="x",
                                        owner=outsider, due_date=due())


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_lets_only_facilitators_make_actions(request, board, friction, who):
    member = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        workshop_services.create_action(actor=member, scenario=board, notes=[friction], title="x",
                                        owner=member, due_date=due())
    assert client_for(member).get(f"/boards/{board.pk}/actions/new/", **HX).status_code == 403


def test_it_shows_the_action_beside_its_notes_on_the_board(as_participant, board, facilitator, participant, friction):
    workshop_services.create_action(actor=facilitator, scenario=board, notes=[friction],
                                    title="Strap sizes chart at every counter", owner=participant, due_date=due())
    page = as_participant.get(f"/boards/{board.pk}/").content.decode()
    note_html = page[page.index(f'id="note-{friction.pk}"'):]
    note_html = note_html[:note_html.index("</li>")]
    assert "→ Strap sizes chart at every counter" in note_html


def test_it_shows_a_done_action_as_done_beside_its_note(as_participant, board, facilitator, participant, manager, friction):
    action = workshop_services.create_action(actor=facilitator, scenario=board, notes=[friction],
                                             title="Strap sizes chart at every counter", owner=participant, due_date=due())

    def chip() -> str:
        page = as_participant.get(f"/boards/{board.pk}/").content.decode()  # its fragment kept in between
        note_html = page[page.index(f'id="note-{friction.pk}"'):]
        return note_html[:note_html.index("</li>")]

    assert "due " in chip() and "status-open" in chip()
    workshop_services.update_action_status(actor=manager, action=action, status="done", version=action.version)
    assert 'class="action-chip status-done"' in chip() and "· Done</p>" in chip()
    pushed = BoardEvent.objects.filter(scenario=board).order_by("-seq").first().html  # every screen gets it
    assert "status-done" in pushed


@pytest.mark.django_db(transaction=True)
def test_it_pushes_the_action_to_its_owners_my_actions_page(board, facilitator, participant, friction):
    from channels.testing import WebsocketCommunicator

    from journeymap.asgi import application
    from tests.ws import session_cookie

    comm = WebsocketCommunicator(application, "/ws/me/", headers=[
        (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", session_cookie(participant))])

    async def run():
        assert (await comm.connect())[0]
        first = await comm.receive_from(timeout=3)
        assert 'id="my-actions"' in first and "Nothing on your plate" in first
        await database_sync_to_async(workshop_services.create_action)(
            actor=facilitator, scenario=board, notes=[friction], title="Call the client back within the day",
            owner=participant, due_date=due())
        pushed = await comm.receive_from(timeout=3)
        assert "Call the client back within the day" in pushed
        await comm.disconnect()

    async_to_sync(run)()


def test_it_lists_my_actions(as_participant, board, facilitator, participant, friction):
    workshop_services.create_action(actor=facilitator, scenario=board, notes=[friction],
                                    title="White-glove delivery pilot", owner=participant, due_date=due())
    page = as_participant.get("/actions/mine/").content.decode()
    assert "White-glove delivery pilot" in page and 'ws-connect="/ws/me/?v=' in page


def test_it_refuses_the_personal_socket_to_anonymous_visitors(db):
    from channels.testing import WebsocketCommunicator

    from journeymap.asgi import application

    comm = WebsocketCommunicator(application, "/ws/me/", headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")])

    async def run():
        await comm.connect()
        assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}

    async_to_sync(run)()
