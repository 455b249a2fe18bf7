"""The board page and the htmx posts that change it."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.utils import timezone
from django.utils.html import escape

from boards import services
from boards.models import BoardEvent, MicroInteraction, Note, NoteKind, Phase
from tests.conftest import client_for

HX = {"HTTP_HX_REQUEST": "true"}


def first_phase(board) -> Phase:
    return board.phases.order_by("order").first()


def first_interaction(board) -> MicroInteraction:
    return first_phase(board).interactions.order_by("order").first()


@pytest.fixture
def note(board, participant):
    phase = first_phase(board)
    return services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=first_interaction(board),
                             kind="friction", text="No live chat for the new collection")


# The page ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["facilitator", "participant", "manager"])
def test_it_shows_the_board_to_every_member(request, board, who):
    r = client_for(request.getfixturevalue(who)).get(f"/boards/{board.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    for name in ["Awareness", "Consideration", "Purchase", "Service", "Loyalty &amp; Advocacy"]:
        assert name in html
    assert f'data-seq="{board.last_seq}"' in html
    assert f'ws-connect="/ws/boards/{board.pk}/"' in html


def test_it_hides_the_board_from_other_teams(as_outsider, board):
    assert as_outsider.get(f"/boards/{board.pk}/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, board):
    r = client.get(f"/boards/{board.pk}/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_it_renders_a_big_board_in_a_constant_number_of_queries(as_facilitator, board, participant, facilitator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_facilitator.get(f"/boards/{board.pk}/").status_code == 200
        return len(ctx.captured_queries)

    phase, mi = first_phase(board), first_interaction(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, kind="friction", text="one")
    services.open_voting_round(actor=facilitator, scenario=board)
    services.cast_vote(actor=participant, note=note)
    services.reveal_votes(actor=facilitator, scenario=board)
    small = queries()
    for i in range(40):
        services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi, kind="friction", text=f"f {i}")
    assert queries() == small


def test_it_escapes_note_text(as_facilitator, board, participant):
    services.add_note(actor=participant, scenario=board, phase=first_phase(board), kind="idea",
                      text='<img src=x onerror="alert(1)">')
    html = as_facilitator.get(f"/boards/{board.pk}/").content.decode()
    assert "<img src=x" not in html and "&lt;img src=x" in html


# Capture (phone) --------------------------------------------------------------------------------


def test_it_adds_a_note_from_the_capture_form(as_participant, board, participant):
    mi = first_interaction(board)
    r = as_participant.post(f"/boards/{board.pk}/notes/", {
        "phase": mi.phase_id, "interaction": mi.pk, "kind": "friction", "text": "Client told to wait in line",
        "request_id": str(uuid.uuid4()),
    }, **HX)
    assert r.status_code == 200
    assert "Sent" in r.content.decode()
    note = Note.objects.get(text="Client told to wait in line")
    assert note.author == participant and note.micro_interaction == mi and note.kind == "friction"
    # the form keeps the phase, micro-interaction and kind for the next note, with an empty text
    assert f'<option value="{mi.pk}" selected' in r.content.decode()


@pytest.mark.parametrize("who", ["facilitator", "participant"])
def test_it_shows_no_template_comment_on_the_board(request, board, who):
    page = client_for(request.getfixturevalue(who)).get(f"/boards/{board.pk}/").content.decode()
    assert "{#" not in page and "#}" not in page and "{% comment" not in page


def test_it_lets_staff_flag_a_moment_of_truth(as_participant, board, participant):
    page = as_participant.get(f"/boards/{board.pk}/").content.decode()
    assert '<input type="radio" name="kind" value="moment"' in page and "Moment of truth</label>" in page
    mi = first_interaction(board)
    r = as_participant.post(f"/boards/{board.pk}/notes/", {
        "phase": mi.phase_id, "interaction": mi.pk, "kind": "moment", "text": "She left without a word",
        "request_id": str(uuid.uuid4()),
    }, **HX)
    assert r.status_code == 200
    note = Note.objects.get(text="She left without a word")
    assert note.kind == NoteKind.MOMENT and note.author == participant
    page = as_participant.get(f"/boards/{board.pk}/").content.decode()
    assert f'id="note-{note.pk}" class="note kind-moment"' in page


def test_it_names_the_step_in_the_add_a_note_dialog_and_starts_in_the_text(as_participant, board):
    mi = first_interaction(board)
    dialog = as_participant.get(f"/boards/{board.pk}/notes/new/?interaction={mi.pk}", **HX).content.decode()
    assert f"Add a note to {escape(mi.phase.name)} · {escape(mi.action)}" in dialog
    assert re.search(r'<textarea name="text"[^>]*autofocus', dialog)
    phase = first_phase(board)
    dialog = as_participant.get(f"/boards/{board.pk}/notes/new/?phase={phase.pk}", **HX).content.decode()
    assert f"Add a note to {escape(phase.name)} (the whole phase)" in dialog
    # A refused note keeps saying where it was going.
    r = as_participant.post(f"/boards/{board.pk}/notes/new/", {"phase": phase.pk, "kind": "idea", "text": " "}, **HX)
    assert r.status_code == 422 and f"Add a note to {escape(phase.name)}" in r.content.decode()


def test_it_applies_a_retried_post_once(as_participant, board):
    phase = first_phase(board)
    data = {"phase": phase.pk, "kind": "idea", "text": "White-glove delivery", "request_id": str(uuid.uuid4())}
    before = BoardEvent.objects.filter(scenario=board).count()
    for _ in range(3):
        assert as_participant.post(f"/boards/{board.pk}/notes/", data, **HX).status_code == 200
    assert Note.objects.filter(text="White-glove delivery").count() == 1
    assert BoardEvent.objects.filter(scenario=board).count() == before + 1


def test_it_explains_an_empty_note(as_participant, board):
    r = as_participant.post(f"/boards/{board.pk}/notes/", {"phase": first_phase(board).pk, "kind": "idea", "text": "  "}, **HX)
    assert r.status_code == 422
    assert "required" in r.content.decode() or "empty" in r.content.decode()
    assert not Note.objects.exists()


def test_it_refuses_a_note_on_another_boards_phase(as_participant, board, facilitator, workshop):
    other = services.create_scenario(actor=facilitator, workshop=workshop, title="Other", template_key="luxury-retail")
    r = as_participant.post(f"/boards/{board.pk}/notes/", {"phase": first_phase(other).pk, "kind": "idea", "text": "x"}, **HX)
    assert r.status_code == 422
    assert "no longer on this board" in r.content.decode()
    assert not Note.objects.exists()


def test_it_refuses_notes_from_other_teams(as_outsider, board):
    r = as_outsider.post(f"/boards/{board.pk}/notes/", {"phase": first_phase(board).pk, "kind": "idea", "text": "x"}, **HX)
    assert r.status_code == 404
    assert not Note.objects.exists()


def test_it_works_without_javascript(as_participant, board):
    r = as_participant.post(f"/boards/{board.pk}/notes/", {"phase": first_phase(board).pk, "kind": "idea", "text": "plain form"})
    assert r.status_code == 302 and r["Location"] == f"/boards/{board.pk}/"
    assert Note.objects.filter(text="plain form").exists()


def test_it_lists_a_phases_interactions_for_the_capture_form(as_participant, board):
    phase = board.phases.order_by("order")[1]
    r = as_participant.get(f"/boards/{board.pk}/capture/interactions/?phase={phase.pk}")
    assert r.status_code == 200
    for mi in phase.interactions.all():
        assert escape(mi.action) in r.content.decode()


# Editing notes ----------------------------------------------------------------------------------


def test_it_lets_the_author_edit_their_note(as_participant, note):
    r = as_participant.post(f"/notes/{note.pk}/edit/", {"text": "No live chat at all", "kind": "friction", "version": note.version}, **HX)
    assert r.status_code == 204 and "dialog:close" in r["HX-Trigger"]
    note.refresh_from_db()
    assert note.text == "No live chat at all" and note.version == 2


def test_it_lets_the_facilitator_edit_anyones_note(as_facilitator, note):
    r = as_facilitator.post(f"/notes/{note.pk}/edit/", {"text": "Edited", "kind": "idea", "version": note.version}, **HX)
    assert r.status_code == 204


def test_it_edits_a_note_in_a_fixed_number_of_queries(as_facilitator, note, facilitator, board):
    import datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workshops.services import create_action

    def edit(text: str) -> list[str]:
        current = Note.objects.get(pk=note.pk)
        data = {"text": text, "kind": "friction", "version": current.version, "request_id": str(uuid.uuid4())}
        with CaptureQueriesContext(connection) as ctx:
            assert as_facilitator.post(f"/notes/{note.pk}/edit/", data, **HX).status_code == 204
        return [q["sql"] for q in ctx.captured_queries]

    edit("warm-up")  # the session's first request reads it from the database
    # The user; the note with its board, author and the user's seat (one statement); then, on
    # SQLite, the usual edit at once: begin, the board's seq moved only if the board and the note
    # are as read, the note, the event, commit. (An edit at the note's version is no retry: no
    # event is looked for.) PostgreSQL writes at once only outside a transaction (its statement
    # is one), so inside this test's it takes the board's lock: savepoint, the board (still at
    # the seq the note was read at: the note is not read again), the note, the board's seq with
    # the event in one statement, release.
    at_once = 7
    locked = 7 if connection.vendor == "postgresql" else 8
    assert len(edit("No live chat for the new collection, again")) == at_once
    # While a round is open the note shows whether it takes dots: it takes the lock, and the
    # round is read too.
    services.open_voting_round(actor=facilitator, scenario=board)
    statements = edit("No live chat for the new collection, still")
    assert len(statements) == locked + 1 and sum('FROM "boards_votinground"' in sql for sql in statements) == 1
    services.close_voting_round(actor=facilitator, scenario=board)
    assert len(edit("No live chat for the new collection, after the vote")) == at_once
    # A note made into an action shows it: its links and its actions are read too.
    create_action(actor=facilitator, scenario=board, notes=[note], title="Staff the chat", owner=facilitator,
                  due_date=timezone.localdate() + datetime.timedelta(days=30))
    statements = edit("No live chat for the new collection, and an action")
    assert len(statements) == locked + 2 and sum('FROM "workshops_action' in sql for sql in statements) == 2


def test_it_pushes_an_edited_note_with_its_actions(as_facilitator, note, facilitator, participant, board):
    import datetime

    from workshops.services import create_action

    due = timezone.localdate() + datetime.timedelta(days=30)
    create_action(actor=facilitator, scenario=board, notes=[note], title="Staff the chat", owner=participant,
                  due_date=due)
    r = as_facilitator.post(f"/notes/{note.pk}/edit/", {"text": "Chat closes at six", "kind": "friction",
                                                         "version": note.version}, **HX)
    assert r.status_code == 204
    pushed = BoardEvent.objects.filter(scenario=board).latest("seq")
    assert pushed.kind == "note.edited" and "Chat closes at six" in pushed.html
    assert "Staff the chat" in pushed.html and escape(participant.name) in pushed.html and f"due {due.day} {due:%b}" in pushed.html


def test_it_takes_a_retried_edit_once_and_tells_a_reused_request_id_apart(as_facilitator, note, board):
    request_id = str(uuid.uuid4())
    data = {"text": "Chat closes at six", "kind": "friction", "version": note.version, "request_id": request_id}
    assert as_facilitator.post(f"/notes/{note.pk}/edit/", data, **HX).status_code == 204
    assert as_facilitator.post(f"/notes/{note.pk}/edit/", data, **HX).status_code == 204  # the retry
    assert BoardEvent.objects.filter(scenario=board, kind="note.edited").count() == 1
    other = {**data, "text": "Chat closes at seven", "version": note.version + 1}
    r = as_facilitator.post(f"/notes/{note.pk}/edit/", other, **HX)
    assert r.status_code == 422 and "This request was made already" in r.content.decode()
    assert Note.objects.get(pk=note.pk).text == "Chat closes at six"


@pytest.mark.parametrize("who", ["other_participant", "manager"])
def test_it_refuses_edits_of_others_notes(request, note, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(f"/notes/{note.pk}/edit/", **HX).status_code == 403
    r = client.post(f"/notes/{note.pk}/edit/", {"text": "hijack", "kind": "idea", "version": note.version}, **HX)
    assert r.status_code == 403
    note.refresh_from_db()
    assert note.text != "hijack"


def test_it_hides_notes_from_other_teams(as_outsider, note):
    assert as_outsider.get(f"/notes/{note.pk}/edit/").status_code == 404
    assert as_outsider.post(f"/notes/{note.pk}/delete/").status_code == 404


def test_it_shows_a_conflict_instead_of_overwriting(as_participant, as_facilitator, note):
    stale = note.version
    assert as_facilitator.post(f"/notes/{note.pk}/edit/", {"text": "Facilitator's words", "kind": "friction", "version": stale}, **HX).status_code == 204
    r = as_participant.post(f"/notes/{note.pk}/edit/", {"text": "My words", "kind": "friction", "version": stale}, **HX)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Fiona edited this note while you were typing" in html and "Facilitator&#x27;s words" in html
    assert 'name="version" value="2"' in html  # saving again now knowingly replaces it
    note.refresh_from_db()
    assert note.text == "Facilitator's words"


def test_it_keeps_the_kind_someone_else_gave_a_note_when_you_only_retyped_it(as_participant, as_facilitator, note):
    opened = as_participant.get(f"/notes/{note.pk}/edit/", **HX).content.decode()
    assert 'name="kind_was" value="friction"' in opened
    stale = note.version
    # Fiona makes it an idea while the participant fixes its wording.
    assert as_facilitator.post(f"/notes/{note.pk}/edit/", {"text": note.text, "kind": "idea", "version": stale}, **HX).status_code == 204
    r = as_participant.post(f"/notes/{note.pk}/edit/", {"text": "No live chat for the new line", "kind": "friction",
                                                        "kind_was": "friction", "version": stale}, **HX)
    assert r.status_code == 409
    html = r.content.decode()
    assert "It now reads (Idea):" in html
    assert re.search(r'value="idea"[^>]*checked|checked[^>]*value="idea"|<option value="idea" selected', html)
    assert "No live chat for the new line" in html  # their words kept
    # A kind they changed themselves stays theirs.
    r = as_participant.post(f"/notes/{note.pk}/edit/", {"text": "No live chat", "kind": "question",
                                                        "kind_was": "friction", "version": stale}, **HX)
    assert re.search(r'<option value="question" selected', r.content.decode())


def test_it_moves_a_note_with_the_move_to_dialog(as_participant, note, board):
    target = board.phases.order_by("order")[2]
    form = as_participant.get(f"/notes/{note.pk}/move/", **HX)
    assert form.status_code == 200 and target.name in form.content.decode()
    r = as_participant.post(f"/notes/{note.pk}/move/", {"target": f"phase:{target.pk}", "position": ""}, **HX)
    assert r.status_code == 204
    note.refresh_from_db()
    assert note.phase == target and note.micro_interaction is None


def test_it_rejects_a_move_target_on_another_board(as_participant, note, facilitator, workshop):
    other = services.create_scenario(actor=facilitator, workshop=workshop, title="Other", template_key="luxury-retail")
    r = as_participant.post(f"/notes/{note.pk}/move/", {"target": f"phase:{first_phase(other).pk}"}, **HX)
    assert r.status_code == 422


def test_it_reorders_a_note_by_drag_and_drop(as_participant, note, board, participant):
    mi = first_interaction(board)
    second = services.add_note(actor=participant, scenario=board, phase=mi.phase, micro_interaction=mi, kind="idea", text="second")
    r = as_participant.post(f"/notes/{second.pk}/reorder/", {"phase": mi.phase_id, "interaction": mi.pk, "position": 0})
    assert r.status_code == 204
    assert list(Note.objects.filter(micro_interaction=mi).order_by("order").values_list("text", flat=True)) == [
        "second", "No live chat for the new collection"]


def test_it_refuses_dragging_others_notes(note, board, other_participant):
    r = client_for(other_participant).post(f"/notes/{note.pk}/reorder/", {"phase": first_phase(board).pk, "position": 0})
    assert r.status_code == 403


def test_it_deletes_a_note_after_confirmation(as_participant, note):
    assert "Delete this note?" in as_participant.get(f"/notes/{note.pk}/delete/", **HX).content.decode()
    assert as_participant.post(f"/notes/{note.pk}/delete/", **HX).status_code == 204
    assert not Note.objects.filter(pk=note.pk).exists()


def test_it_refuses_deleting_others_notes(note, other_participant):
    assert client_for(other_participant).post(f"/notes/{note.pk}/delete/", **HX).status_code == 403
    assert Note.objects.filter(pk=note.pk).exists()


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("action", ["edit", "move"])
def test_it_tells_whoever_saves_a_note_deleted_meanwhile(settings, as_facilitator, participant, note, action, debug):
    """The facilitator's dialog was open when the author deleted the note: saving it says so in
    the dialog, under DEBUG too (where Django would answer with its technical 404 page)."""
    settings.DEBUG = debug
    services.delete_note(actor=participant, note=note)
    r = as_facilitator.post(f"/notes/{note.pk}/{action}/", {"text": "Too late", "kind": "friction", "version": 1}, **HX)
    assert r.status_code == 404
    assert r["X-Error-Fragment"] == "1"  # the page swaps it into the dialog (static/js/app.js)
    page = r.content.decode()
    assert "someone may have deleted it. Nothing was changed." in page.replace("&#x27;", "'")
    assert "<html" not in page and "URLconf" not in page
    assert ">Too late</textarea>" in page  # what they typed comes back to them


def test_it_sends_back_typed_text_escaped_and_only_to_its_sender(as_facilitator):
    r = as_facilitator.post("/notes/999999/edit/", {"text": "<script>alert(1)</script>"}, **HX)
    page = r.content.decode()
    assert r.status_code == 404 and "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "textarea" not in as_facilitator.get("/notes/999999/edit/", **HX).content.decode()


def test_it_answers_a_page_that_does_not_exist_with_a_whole_page(as_facilitator):
    r = as_facilitator.get("/notes/999999/edit/")
    assert r.status_code == 404
    assert "X-Error-Fragment" not in r
    assert "<html" in r.content.decode()


# Phases and micro-interactions ------------------------------------------------------------------


def test_it_lets_the_facilitator_add_rename_and_move_phases(as_facilitator, board):
    r = as_facilitator.post(f"/boards/{board.pk}/phases/new/", {"name": "Repair", "goal": "Get the watch serviced"}, **HX)
    assert r.status_code == 204
    phase = Phase.objects.get(scenario=board, name="Repair")
    assert phase.order == 5
    # The dialog closes, and the page brings the new phase into sight.
    assert json.loads(r["HX-Trigger"]) == {"dialog:close": {}, "board:reveal": {"id": f"phase-{phase.pk}"}}
    r = as_facilitator.post(f"/phases/{phase.pk}/edit/", {"name": "Repair & care", "goal": "", "version": phase.version}, **HX)
    assert r.status_code == 204
    assert as_facilitator.post(f"/phases/{phase.pk}/move/", {"position": 0}, **HX).status_code == 204
    assert list(board.phases.order_by("order").values_list("name", flat=True))[:2] == ["Repair & care", "Awareness"]


def test_it_explains_a_nameless_phase(as_facilitator, board):
    r = as_facilitator.post(f"/boards/{board.pk}/phases/new/", {"name": "", "goal": ""}, **HX)
    assert r.status_code == 422 and "required" in r.content.decode()


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_keeps_phase_and_interaction_controls_for_facilitators(request, board, who):
    client = client_for(request.getfixturevalue(who))
    phase, mi = first_phase(board), first_interaction(board)
    assert client.get(f"/boards/{board.pk}/phases/new/", **HX).status_code == 403
    assert client.post(f"/boards/{board.pk}/phases/new/", {"name": "Hack"}, **HX).status_code == 403
    assert client.post(f"/phases/{phase.pk}/edit/", {"name": "Hack", "version": 1}, **HX).status_code == 403
    assert client.post(f"/phases/{phase.pk}/move/", {"position": 3}, **HX).status_code == 403
    assert client.post(f"/phases/{phase.pk}/interactions/new/", {"action": "Hack", "channel": "website", "moment_of_truth": "none"}, **HX).status_code == 403
    assert client.post(f"/interactions/{mi.pk}/edit/", {"action": "Hack", "channel": "website", "moment_of_truth": "none", "version": 1}, **HX).status_code == 403
    assert client.post(f"/interactions/{mi.pk}/move/", {"position": 2}, **HX).status_code == 403
    assert not Phase.objects.filter(name="Hack").exists() and not MicroInteraction.objects.filter(action="Hack").exists()


def test_it_hides_structure_controls_from_other_teams(as_outsider, board):
    phase, mi = first_phase(board), first_interaction(board)
    assert as_outsider.post(f"/phases/{phase.pk}/move/", {"position": 3}).status_code == 404
    assert as_outsider.post(f"/interactions/{mi.pk}/edit/", {"action": "x"}).status_code == 404


def test_it_asks_for_the_channel_of_a_new_micro_interaction(as_facilitator, board):
    phase = first_phase(board)
    form = as_facilitator.get(f"/phases/{phase.pk}/interactions/new/", **HX).content.decode()
    assert '<option value="" selected>Pick a channel…</option>' in form
    r = as_facilitator.post(f"/phases/{phase.pk}/interactions/new/", {
        "action": "Reads a Google review", "channel": "", "moment_of_truth": "none"}, **HX)
    assert r.status_code == 422 and "Pick the channel where the customer does this." in r.content.decode()
    assert not MicroInteraction.objects.filter(action="Reads a Google review").exists()


def test_it_lets_the_facilitator_add_and_rate_a_micro_interaction(as_facilitator, board):
    phase = first_phase(board)
    r = as_facilitator.post(f"/phases/{phase.pk}/interactions/new/", {
        "action": "Sees a friend's watch", "channel": "other", "emotion": "1", "moment_of_truth": "none"}, **HX)
    assert r.status_code == 204
    mi = MicroInteraction.objects.get(action="Sees a friend's watch")
    assert mi.emotion == 1 and mi.order == 3
    r = as_facilitator.post(f"/interactions/{mi.pk}/edit/", {
        "action": mi.action, "channel": "other", "emotion": "-2", "moment_of_truth": "negative", "version": mi.version}, **HX)
    assert r.status_code == 204
    mi.refresh_from_db()
    assert mi.emotion == -2 and mi.moment_of_truth == "negative"
    assert as_facilitator.post(f"/interactions/{mi.pk}/move/", {"position": 0}, **HX).status_code == 204
    mi.refresh_from_db()
    assert mi.order == 0


def test_it_rejects_an_emotion_out_of_range(as_facilitator, board):
    mi = first_interaction(board)
    r = as_facilitator.post(f"/interactions/{mi.pk}/edit/", {
        "action": mi.action, "channel": mi.channel, "emotion": "5", "moment_of_truth": "none", "version": mi.version}, **HX)
    assert r.status_code == 422
    assert "Select a valid choice" in r.content.decode()
