"""The facilitator's controls: stage, focus, lock, private writing round, timer. Enforced on the
server, pushed to every screen."""

from __future__ import annotations

import datetime
import re
from functools import partial

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from boards import services
from boards.models import BoardEvent, Note, Scenario
from tests.conftest import client_for
from workshops import services as workshop_services

HX = {"HTTP_HX_REQUEST": "true"}


def phase_of(board, n=0):
    return board.phases.order_by("order")[n]


def last_event(board) -> BoardEvent:
    return BoardEvent.objects.filter(scenario=board).order_by("-seq").first()


# Permissions: every control, every non-facilitator ------------------------------------------------

CONTROLS = [
    ("session/stage/", {"stage": "discuss"}),
    ("session/focus/", {"phase": ""}),
    ("session/lock/", {"locked": "1"}),
    ("session/private/", {"private": "1"}),
    ("session/timer/", {"op": "start", "minutes": "5"}),
    ("voting/open/", {"budget": "3", "cap_per_note": "2"}),
    ("voting/close/", {}),
    ("voting/reveal/", {}),
    ("actions/new/", {"title": "x"}),
]


@pytest.mark.parametrize("path,data", CONTROLS)
@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_keeps_session_controls_for_facilitators(request, board, who, path, data):
    before = board.last_seq
    r = client_for(request.getfixturevalue(who)).post(f"/boards/{board.pk}/{path}", data, **HX)
    assert r.status_code == 403
    assert Scenario.objects.get(pk=board.pk).last_seq == before


@pytest.mark.parametrize("path,data", CONTROLS)
def test_it_hides_session_controls_from_other_teams(as_outsider, board, path, data):
    assert as_outsider.post(f"/boards/{board.pk}/{path}", data, **HX).status_code == 404


@pytest.mark.parametrize("path,data", CONTROLS)
def test_it_sends_anonymous_visitors_away_from_controls(client, board, path, data):
    r = client.post(f"/boards/{board.pk}/{path}", data, **HX)
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


# Stage and focus ---------------------------------------------------------------------------------


def test_it_sets_the_stage_for_everyone(as_facilitator, board):
    assert as_facilitator.post(f"/boards/{board.pk}/session/stage/", {"stage": "discuss"}, **HX).status_code == 204
    board.refresh_from_db()
    assert board.stage == "discuss"
    event = last_event(board)
    assert event.kind == "session.stage" and 'id="session"' in event.html and 'data-stage="discuss"' in event.html


def test_it_refuses_an_unknown_stage(as_facilitator, board):
    assert as_facilitator.post(f"/boards/{board.pk}/session/stage/", {"stage": "party"}, **HX).status_code == 422


def test_it_focuses_a_phase_and_clears_the_focus(as_facilitator, board):
    phase = phase_of(board, 2)
    assert as_facilitator.post(f"/boards/{board.pk}/session/focus/", {"phase": phase.pk}, **HX).status_code == 204
    assert f'data-focus="{phase.pk}"' in last_event(board).html
    assert as_facilitator.post(f"/boards/{board.pk}/session/focus/", {"phase": ""}, **HX).status_code == 204
    board.refresh_from_db()
    assert board.focus_phase is None


def test_it_opens_a_late_arrivals_note_form_on_the_focused_phase(as_participant, board, facilitator):
    def capture_phase() -> str:
        page = as_participant.get(f"/boards/{board.pk}/").content.decode()
        select = page[page.index('id="capture-phase"'):]
        return re.search(r'<option value="(\d+)" selected>', select[: select.index("</select>")]).group(1)

    assert capture_phase() == str(phase_of(board, 0).pk)  # no focus: the first phase
    service = phase_of(board, 3)
    services.focus_phase(actor=facilitator, scenario=board, phase=service)
    assert capture_phase() == str(service.pk)
    page = as_participant.get(f"/boards/{board.pk}/").content.decode()
    first_step = service.interactions.order_by("order").first()
    assert f'<option value="{first_step.pk}"' in page[page.index('id="capture-interaction"'):]


def test_it_refuses_to_focus_another_boards_phase(as_facilitator, board, facilitator, workshop):
    other = services.create_scenario(actor=facilitator, workshop=workshop, title="Other", template_key="luxury-retail")
    r = as_facilitator.post(f"/boards/{board.pk}/session/focus/", {"phase": phase_of(other).pk}, **HX)
    assert r.status_code == 422


# Lock ---------------------------------------------------------------------------------------------


def test_it_locks_the_board_for_participants_but_not_facilitators(board, facilitator, participant):
    note = services.add_note(actor=participant, scenario=board, phase=phase_of(board), kind="idea", text="before")
    services.set_board_lock(actor=facilitator, scenario=board, locked=True)
    with pytest.raises(PermissionDenied, match="locked"):
        services.add_note(actor=participant, scenario=board, phase=phase_of(board), kind="idea", text="during")
    with pytest.raises(PermissionDenied):
        services.edit_note(actor=participant, note=note, text="changed", kind="idea", version=note.version)
    with pytest.raises(PermissionDenied):
        services.delete_note(actor=participant, note=note)
    services.add_note(actor=facilitator, scenario=board, phase=phase_of(board), kind="idea", text="facilitator can")
    services.set_board_lock(actor=facilitator, scenario=board, locked=False)
    services.add_note(actor=participant, scenario=board, phase=phase_of(board), kind="idea", text="after")


def test_it_tells_a_participant_the_board_is_locked(as_participant, board, facilitator):
    services.set_board_lock(actor=facilitator, scenario=board, locked=True)
    r = as_participant.post(f"/boards/{board.pk}/notes/", {"phase": phase_of(board).pk, "kind": "idea", "text": "x"}, **HX)
    assert r.status_code == 403
    assert "locked" in r.content.decode()
    assert not Note.objects.exists()


def set_status(facilitator, workshop, status: str) -> None:
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title, date=workshop.date,
                                      status=status, follows_up=None)


def test_it_reminds_the_facilitator_on_the_board_to_go_live(as_facilitator, as_participant, board, workshop):
    assert workshop.status == "planned"
    page = as_facilitator.get(f"/boards/{board.pk}/").content.decode()
    flag = page[page.index('class="flag flag-planned fac-only"'):]
    flag = flag[: flag.index("</span>")]
    assert "The workshop is still planned" in flag
    assert f'hx-post="/workshops/{workshop.pk}/status/"' in flag and 'name="status" value="live"' in flag
    # Staff can't take it live, whatever the page shows them.
    assert as_participant.post(f"/workshops/{workshop.pk}/status/", {"status": "live"}, **HX).status_code == 403
    r = as_facilitator.post(f"/workshops/{workshop.pk}/status/", {"status": "live"}, **HX)
    assert r.status_code == 204
    workshop.refresh_from_db()
    assert workshop.status == "live"
    event = last_event(board)  # every screen's session bar drops the reminder
    assert event.kind == "workshop.status" and event.payload == {"status": "live"}
    assert 'id="session"' in event.html and "still planned" not in event.html
    assert as_facilitator.post(f"/workshops/{workshop.pk}/status/", {"status": "soon"}, **HX).status_code == 422


def test_it_keeps_a_closed_workshops_board_for_the_facilitators(board, workshop, facilitator, participant, manager):
    note = services.add_note(actor=participant, scenario=board, phase=phase_of(board), kind="idea", text="before")
    set_status(facilitator, workshop, "closed")
    event = last_event(board)  # every screen's session bar says so
    assert event.kind == "workshop.status" and event.payload == {"status": "closed"}
    assert "Workshop closed" in event.html
    board = Scenario.objects.select_related("workshop").get(pk=board.pk)  # as the next request reads them
    note = Note.objects.select_related("scenario__workshop").get(pk=note.pk)
    for who in (participant, manager):
        with pytest.raises(PermissionDenied, match="This workshop is closed"):
            services.add_note(actor=who, scenario=board, phase=phase_of(board), kind="idea", text="during")
    with pytest.raises(PermissionDenied, match="closed"):
        services.edit_note(actor=participant, note=note, text="changed", kind="idea", version=note.version)
    with pytest.raises(PermissionDenied, match="closed"):
        services.delete_note(actor=participant, note=note)
    services.add_note(actor=facilitator, scenario=board, phase=phase_of(board), kind="idea", text="tidied up")
    set_status(facilitator, workshop, "live")  # opened again
    assert "Workshop closed" not in last_event(board).html
    board = Scenario.objects.select_related("workshop").get(pk=board.pk)
    services.add_note(actor=participant, scenario=board, phase=phase_of(board), kind="idea", text="after")


def test_it_pushes_nothing_to_the_boards_when_the_status_stays(board, workshop, facilitator):
    seq = Scenario.objects.get(pk=board.pk).last_seq
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title="Renamed", date=workshop.date,
                                      status=workshop.status, follows_up=None)
    assert Scenario.objects.get(pk=board.pk).last_seq == seq


def test_it_tells_a_participant_the_workshop_is_closed(as_participant, board, workshop, facilitator):
    set_status(facilitator, workshop, "closed")
    page = as_participant.get(f"/boards/{board.pk}/").content.decode()
    assert "Workshop closed: the board can be read; only facilitators can still change it" in page
    r = as_participant.post(f"/boards/{board.pk}/notes/", {"phase": phase_of(board).pk, "kind": "idea", "text": "x"}, **HX)
    assert r.status_code == 403
    assert "This workshop is closed" in r.content.decode()
    assert not Note.objects.exists()


# Private writing round ----------------------------------------------------------------------------


def test_it_hides_participants_notes_until_revealed(board, facilitator, participant, other_participant):
    services.start_private_round(actor=facilitator, scenario=board)
    secret = "The associate never offered a glass of water"
    note = services.add_note(actor=participant, scenario=board, phase=phase_of(board), kind="friction", text=secret)
    assert note.hidden
    push = last_event(board).html
    assert secret not in push and "Private note" in push
    # others don't see it on the page; its author's page has it, in their private panel (board.js
    # shows it in place of the placeholder)
    page = client_for(other_participant).get(f"/boards/{board.pk}/").content.decode()
    assert secret not in page
    page = client_for(participant).get(f"/boards/{board.pk}/").content.decode()
    panel = page[page.index('<aside id="my-panel"'):]
    assert secret in panel[: panel.index("</aside>")] and f'id="my-note-{note.pk}"' in panel
    # the facilitator's own notes are not hidden
    shown = services.add_note(actor=facilitator, scenario=board, phase=phase_of(board), kind="idea", text="Facilitator prompt")
    assert not shown.hidden

    revealed = services.reveal_private_notes(actor=facilitator, scenario=board)
    assert revealed == 1
    board.refresh_from_db()
    assert not board.private_round
    assert secret in last_event(board).html
    assert secret in client_for(other_participant).get(f"/boards/{board.pk}/").content.decode()


def private_count(html: str) -> str:
    found = re.search(r'<span class="private-count">([^<]*)</span>', html)
    return found.group(1) if found else ""


def test_it_counts_the_private_notes_written_so_far(board, facilitator, participant, other_participant):
    services.start_private_round(actor=facilitator, scenario=board)
    assert private_count(last_event(board).html) == "no notes yet"
    add = partial(services.add_note, scenario=board, phase=phase_of(board), kind="friction")
    add(actor=participant, text="Nobody offered a glass of water")
    assert private_count(last_event(board).html) == "1 note from 1 person so far"
    add(actor=participant, text="The bracelet sizing took twenty minutes")
    last = add(actor=other_participant, text="The boutique was too loud for a first visit")
    assert private_count(last_event(board).html) == "3 notes from 2 people so far"
    assert private_count(client_for(participant).get(f"/boards/{board.pk}/").content.decode()) == (
        "3 notes from 2 people so far"
    )
    services.delete_note(actor=other_participant, note=last)
    assert private_count(last_event(board).html) == "2 notes from 1 person so far"
    # The facilitator's own notes are not private: no count, and no session push for them.
    services.add_note(actor=facilitator, scenario=board, phase=phase_of(board), kind="idea", text="A prompt")
    assert 'id="session"' not in last_event(board).html


def test_it_starts_and_reveals_a_private_round_from_the_page(as_facilitator, board):
    assert as_facilitator.post(f"/boards/{board.pk}/session/private/", {"private": "1"}, **HX).status_code == 204
    assert Scenario.objects.get(pk=board.pk).private_round
    assert as_facilitator.post(f"/boards/{board.pk}/session/private/", {"private": "0"}, **HX).status_code == 204
    assert not Scenario.objects.get(pk=board.pk).private_round


# Timer --------------------------------------------------------------------------------------------


def test_it_keeps_the_timer_on_the_server(board, facilitator):
    before = timezone.now()
    services.control_timer(actor=facilitator, scenario=board, op="start", minutes=5)
    board.refresh_from_db()
    assert board.timer_state == "running"
    assert before + datetime.timedelta(minutes=5) <= board.timer_ends_at <= timezone.now() + datetime.timedelta(minutes=5)
    ends_ms = int(board.timer_ends_at.timestamp() * 1000)
    assert f'data-ends="{ends_ms}"' in last_event(board).html

    services.control_timer(actor=facilitator, scenario=board, op="pause")
    board.refresh_from_db()
    assert board.timer_state == "paused" and 295 <= board.timer_remaining <= 300

    services.control_timer(actor=facilitator, scenario=board, op="extend")
    board.refresh_from_db()
    assert 355 <= board.timer_remaining <= 360

    services.control_timer(actor=facilitator, scenario=board, op="resume")
    board.refresh_from_db()
    assert board.timer_state == "running"
    services.control_timer(actor=facilitator, scenario=board, op="extend")
    board.refresh_from_db()
    assert board.timer_ends_at >= timezone.now() + datetime.timedelta(seconds=410)

    services.control_timer(actor=facilitator, scenario=board, op="end")
    board.refresh_from_db()
    assert board.timer_state == "off"


def test_it_explains_impossible_timer_moves(board, facilitator):
    with pytest.raises(ValidationError, match="off"):
        services.control_timer(actor=facilitator, scenario=board, op="pause")
    with pytest.raises(ValidationError):
        services.control_timer(actor=facilitator, scenario=board, op="start", minutes=0)


def test_it_shows_the_same_timer_after_a_reload(as_participant, board, facilitator):
    services.control_timer(actor=facilitator, scenario=board, op="start", minutes=3)
    board.refresh_from_db()
    ends_ms = int(board.timer_ends_at.timestamp() * 1000)
    for _ in range(2):
        page = as_participant.get(f"/boards/{board.pk}/").content.decode()
        assert f'data-ends="{ends_ms}"' in page and "data-server-now=" in page


def test_it_controls_the_timer_from_the_page(as_facilitator, board):
    assert as_facilitator.post(f"/boards/{board.pk}/session/timer/", {"op": "start", "minutes": "2"}, **HX).status_code == 204
    r = as_facilitator.post(f"/boards/{board.pk}/session/timer/", {"op": "resume"}, **HX)
    assert r.status_code == 422 and "running" in r.content.decode()
