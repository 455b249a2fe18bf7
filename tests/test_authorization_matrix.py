"""Every URL and the websocket, tried by every kind of caller.

Callers: a facilitator, a participant (who wrote the note and owns the action), a manager, a guest
(joined by invitation, seated in one workshop), a revoked guest, a member of another team, and an
anonymous visitor. Each gets exactly what it should; other teams' objects answer 404; a guest gets
404 outside their workshop. A URL added to the project without a row here fails the test.
"""

from __future__ import annotations

import datetime

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from boards import services as board_services
from tests.conftest import client_for
from tests.ws import communicator
from workshops import invitations
from workshops import services as workshop_services
from workshops.models import Workshop

# The facilitator goes last: their removals would leave the others nothing to be refused.
CALLERS = ["participant", "manager", "guest", "revoked", "outsider", "anonymous", "facilitator"]

# What each kind of URL answers: allowed callers get `ok` (a status, or a set of them); members
# who may not get 403; other teams 404; anonymous visitors go to sign in.
OK = {200, 204, 302, 422}
LOGIN = "login"

MEMBERS = {"facilitator", "participant", "manager"}
SEATED = MEMBERS | {"guest"}


def expect(allowed: set[str], *, guest_outside: bool = False, others: int = 403):
    """allowed: who gets through. guest_outside: the object is outside the guest's workshop."""
    table = {}
    for caller in CALLERS:
        if caller == "anonymous":
            table[caller] = LOGIN
        elif caller == "outsider":
            table[caller] = 404
        elif caller in ("guest", "revoked") and guest_outside:
            table[caller] = 404
        elif caller == "revoked":
            table[caller] = 403
        elif caller in allowed:
            table[caller] = OK
        else:
            table[caller] = others
    return table


SIGNED_IN = {c: OK for c in CALLERS if c != "anonymous"} | {"anonymous": LOGIN, "revoked": 403}
MEMBERS_ONLY = SIGNED_IN | {"guest": 403}  # a guest is seated in one workshop; they start no team
FACILITATOR = expect({"facilitator"})
TEAM_FACILITATOR = expect({"facilitator"}, guest_outside=True)
TEAM_READ = expect(MEMBERS, guest_outside=True)
WORKSHOP_READ = expect(SEATED)
ANY_SEAT = expect(SEATED)
AUTHOR_OR_FACILITATOR = expect({"facilitator", "participant"})
ACTION_UPDATE = expect({"facilitator", "participant", "manager"})
for caller in ("facilitator", "participant", "manager"):
    ACTION_UPDATE[caller] = OK | {409}  # through, but the earlier caller's update bumped the version

ACTION_REPLAN = expect({"facilitator", "manager"})
for caller in ("facilitator", "manager"):
    ACTION_REPLAN[caller] = OK | {409}
IN_A_MONTH = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()

# name -> (method, kwargs builder, data, expectations)
MATRIX = {
    "home": ("get", {}, None, SIGNED_IN),
    "team-new": ("get", {}, None, MEMBERS_ONLY),
    "my-actions": ("get", {}, None, SIGNED_IN | {"revoked": OK}),  # only ever their own
    "team-detail": ("get", {"pk": "team"}, None, TEAM_READ),
    "persona-list": ("get", {"pk": "team"}, None, TEAM_READ),
    "team-actions": ("get", {"team_id": "team"}, None, TEAM_READ),
    "team-actions-csv": ("get", {"team_id": "team"}, None, TEAM_READ),
    "team-edit": ("post", {"pk": "team"}, {"name": "Renamed"}, TEAM_FACILITATOR),
    "member-add": ("post", {"pk": "team"}, {}, TEAM_FACILITATOR),
    "member-edit": ("get", {"pk": "team", "member_pk": "manager"}, None, TEAM_FACILITATOR),
    "workshop-new": ("get", {"pk": "team"}, None, TEAM_FACILITATOR),
    "persona-new": ("get", {"pk": "team"}, None, TEAM_FACILITATOR),
    "persona-edit": ("get", {"pk": "persona"}, None, TEAM_FACILITATOR),
    "workshop-detail": ("get", {"pk": "workshop"}, None, WORKSHOP_READ),
    "workshop-summary": ("get", {"pk": "workshop"}, None, WORKSHOP_READ),
    "workshop-edit": ("post", {"pk": "workshop"}, {}, FACILITATOR),
    "workshop-status": ("post", {"pk": "workshop"}, {"status": "live"}, FACILITATOR),
    # A closed workshop of the team, outside the guest's seat (the guests' workshop stays open).
    "workshop-plan-next": ("post", {"pk": "closed_workshop"}, {}, TEAM_FACILITATOR),
    "scenario-new": ("post", {"pk": "workshop"}, {}, FACILITATOR),
    "scenario-edit": ("get", {"pk": "board"}, None, FACILITATOR),
    "invitation-list": ("get", {"pk": "workshop"}, None, FACILITATOR),
    "invitation-show": ("get", {"pk": "invitation"}, None, FACILITATOR),
    "invitation-rotate": ("post", {"pk": "invitation"}, {}, FACILITATOR),
    "invitation-revoke": ("post", {"pk": "invitation"}, {}, FACILITATOR),
    "guest-revoke": ("post", {"pk": "workshop", "member_pk": "other_guest"}, {}, FACILITATOR),
    "action-detail": ("get", {"pk": "action"}, None, WORKSHOP_READ),
    "action-replan": ("post", {"pk": "action"}, {"title": "Fix it now", "owner": "{manager}", "due_date": IN_A_MONTH,
                                                 "version": 1}, ACTION_REPLAN),
    "action-status": ("post", {"pk": "action"}, {"status": "in_progress", "version": 1}, ACTION_UPDATE),
    "board": ("get", {"pk": "board"}, None, WORKSHOP_READ),
    "capture-interactions": ("get", {"pk": "board"}, "?phase={phase}", WORKSHOP_READ),
    "note-create": ("post", {"pk": "board"}, {"phase": "{phase}", "kind": "idea", "text": "x"}, ANY_SEAT),
    "note-add": ("get", {"pk": "board"}, "?phase={phase}", ANY_SEAT),
    "note-vote": ("post", {"pk": "friction"}, {"op": "add"}, ANY_SEAT),
    "note-edit": ("get", {"pk": "note"}, None, AUTHOR_OR_FACILITATOR),
    "note-move": ("get", {"pk": "note"}, None, AUTHOR_OR_FACILITATOR),
    "note-delete": ("get", {"pk": "note"}, None, AUTHOR_OR_FACILITATOR),
    "note-reorder": ("post", {"pk": "note"}, {"phase": "{phase}", "position": 0}, AUTHOR_OR_FACILITATOR),
    "phase-add": ("get", {"pk": "board"}, None, FACILITATOR),
    "phase-edit": ("get", {"pk": "phase"}, None, FACILITATOR),
    "phase-move": ("post", {"pk": "phase"}, {"position": 1}, FACILITATOR),
    "phase-delete": ("get", {"pk": "phase"}, None, FACILITATOR),
    "interaction-add": ("get", {"pk": "phase"}, None, FACILITATOR),
    "interaction-edit": ("get", {"pk": "interaction"}, None, FACILITATOR),
    "interaction-move": ("post", {"pk": "interaction"}, {"position": 1}, FACILITATOR),
    "interaction-delete": ("get", {"pk": "interaction"}, None, FACILITATOR),
    "session-stage": ("post", {"pk": "board"}, {"stage": "discuss"}, FACILITATOR),
    "session-focus": ("post", {"pk": "board"}, {"phase": ""}, FACILITATOR),
    "session-lock": ("post", {"pk": "board"}, {"locked": "0"}, FACILITATOR),
    "session-private": ("post", {"pk": "board"}, {"private": "1"}, FACILITATOR),
    "session-timer": ("post", {"pk": "board"}, {"op": "start", "minutes": 5}, FACILITATOR),
    "voting-open": ("get", {"pk": "board"}, None, FACILITATOR),
    "voting-close": ("post", {"pk": "board"}, {}, FACILITATOR),
    "voting-reveal": ("post", {"pk": "board"}, {}, FACILITATOR),
    "action-create": ("get", {"pk": "board"}, None, FACILITATOR),
    "session-rating": ("post", {"pk": "board"}, {"rating": "1"}, FACILITATOR),
    "emotion-rate": ("post", {"pk": "interaction"}, {"value": "1"}, ANY_SEAT),
    "evidence": ("get", {"pk": "interaction"}, None, FACILITATOR),
    "metric-add": ("get", {"pk": "interaction"}, None, FACILITATOR),
    "quote-add": ("get", {"pk": "interaction"}, None, FACILITATOR),
    "metric-remove": ("post", {"pk": "metric"}, {}, FACILITATOR),
    "quote-remove": ("post", {"pk": "quote"}, {}, FACILITATOR),
    "board-history": ("get", {"pk": "board"}, None, WORKSHOP_READ),
    "board-poster": ("get", {"pk": "board"}, None, WORKSHOP_READ),
    "board-export-csv": ("get", {"pk": "board"}, None, WORKSHOP_READ),
    "board-export-json": ("get", {"pk": "board"}, None, WORKSHOP_READ),
    "workshop-summary-md": ("get", {"pk": "workshop"}, None, WORKSHOP_READ),
    "scenario-import": ("get", {"pk": "workshop"}, None, FACILITATOR),
}
# The PDF of the poster is the poster page (above) printed by WeasyPrint: its access is the same
# helper's, and tests/test_exports_board.py checks it; printing it once per caller here is slow.
PRINTED = {"board-poster-pdf"}
# URLs whose callers are not a team's members: sign-in and password pages, joining by link,
# calendar feeds (their signed token is the credential), websocket addresses (HTTP answers 400).
NOT_IN_MATRIX = {
    "login", "logout", "password_change", "password_change_done", "password_reset", "password_reset_done",
    "password_reset_confirm", "password_reset_complete", "join-link", "join", "calendar-feed",
    "calendar-reset", "board-ws", "me-ws",
}


def url_names() -> set[str]:
    names = set()

    def walk(patterns):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                if getattr(p, "app_name", None) != "admin":
                    walk(p.url_patterns)
            elif p.name:
                names.add(p.name)

    walk(get_resolver().url_patterns)
    return names


def test_it_covers_every_url():
    assert url_names() - set(MATRIX) - NOT_IN_MATRIX - PRINTED == set()


@pytest.fixture
def world(team, facilitator, participant, manager, outsider, workshop, board, persona):
    phase = board.phases.order_by("order").first()
    note = board_services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text="A note")
    friction = board_services.add_note(actor=participant, scenario=board, phase=phase, kind="friction", text="F")
    board_services.open_voting_round(actor=facilitator, scenario=board)
    action = workshop_services.create_action(
        actor=facilitator, scenario=board, notes=[friction], title="Fix it", owner=participant,
        due_date=timezone.localdate() + datetime.timedelta(days=7))
    invitation, token = workshop_services.create_invitation(actor=facilitator, workshop=workshop)

    def join(name):
        return workshop_services.join_workshop(
            invitation=invitation, token_hash=invitations.hash_token(token), display_name=name,
            business_function="boutique")

    guest, other_guest, revoked = join("Guest"), join("Other guest"), join("Revoked guest")
    interaction = phase.interactions.first()
    metric = board_services.add_metric(actor=facilitator, interaction=interaction, name="NPS", value="42")
    quote = board_services.add_quote(actor=facilitator, interaction=interaction, text="Lovely boutique")
    workshop_services.revoke_guest(actor=facilitator, membership=revoked)
    closed_workshop = Workshop.objects.create(team=team, title="Autumn launch", date=workshop.date, status="closed")
    return {
        "team": team.pk, "workshop": workshop.pk, "closed_workshop": closed_workshop.pk, "board": board.pk, "phase": phase.pk, "persona": persona.pk,
        "interaction": interaction.pk, "metric": metric.pk, "quote": quote.pk, "note": note.pk, "friction": friction.pk,
        "action": action.pk, "invitation": invitation.pk, "manager": manager.pk, "other_guest": other_guest.pk,
        "members": {"facilitator": facilitator, "participant": participant, "manager": manager, "guest": guest,
                    "revoked": revoked, "outsider": outsider},
    }


def client_of(world, caller: str) -> Client:
    return Client() if caller == "anonymous" else client_for(world["members"][caller])


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_it_answers_each_caller_as_it_should(world, name):
    method, kwargs, data, table = MATRIX[name]
    url = reverse(name, kwargs={k: world[v] for k, v in kwargs.items()})
    query = ""
    if isinstance(data, str):
        query, data = data.format(**world), None
    elif data:
        data = {k: (v.format(**world) if isinstance(v, str) else v) for k, v in data.items()}
    for caller in CALLERS:
        client = client_of(world, caller)
        response = getattr(client, method)(url + query, data or {}, HTTP_HX_REQUEST="true")
        expected = table[caller]
        if expected == LOGIN:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"], (name, caller)
        elif isinstance(expected, set):
            assert response.status_code in expected, (name, caller, response.status_code)
        else:
            assert response.status_code == expected, (name, caller, response.status_code)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("caller", CALLERS)
def test_it_lets_only_seated_people_on_the_websocket(world, caller):
    member = None if caller == "anonymous" else world["members"][caller]
    comm = communicator(world["board"], member, since=0)

    async def run():
        connected, _ = await comm.connect()
        assert connected
        first = await comm.receive_output(timeout=3)
        if caller in SEATED:
            assert first["type"] == "websocket.send"
        else:
            assert first == {"type": "websocket.close", "code": 4403}
        await comm.disconnect()

    async_to_sync(run)()
