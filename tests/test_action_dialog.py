"""The facilitator's "Make it an action…" dialog: an empty title that asks what will be done, the
friction shown as context, a notice when it already has actions, and a confirmation in the toast
once the action is made."""

from __future__ import annotations

import datetime
import uuid

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateformat import format as date_format

from boards import services
from boards.journey_templates import DEFAULT_TEMPLATE
from boards.models import BoardEvent
from tests.conftest import client_for, make_member
from workshops import services as workshop_services
from workshops.models import Action, Role, Workshop

HX = {"HTTP_HX_REQUEST": "true"}
WAITED = "Waited twenty minutes for an advisor"


def due(days: int = 14) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def day_month(day: datetime.date) -> str:
    return date_format(day, "j M")


@pytest.fixture
def friction(board, participant):
    mi = board.phases.order_by("order")[2].interactions.first()
    return services.add_note(actor=participant, scenario=board, phase=mi.phase, micro_interaction=mi,
                             kind="friction", text=WAITED)


@pytest.fixture
def other_friction(board, participant):
    phase = board.phases.order_by("order")[0]
    return services.add_note(actor=participant, scenario=board, phase=phase, kind="friction",
                             text="The boutique's number rang out on a Saturday")


def dialog(client, board, note=None) -> BeautifulSoup:
    query = f"?note={note.pk}" if note is not None else ""
    r = client.get(f"/boards/{board.pk}/actions/new/{query}", **HX)
    assert r.status_code == 200
    return BeautifulSoup(r.content, "html.parser")


def make_action(board, facilitator, owner, notes, title, days=14):
    return workshop_services.create_action(actor=facilitator, scenario=board, notes=notes, title=title,
                                           owner=owner, due_date=due(days))


def post(client, board, note, **data):
    body = {"title": "Greet every client within two minutes", "due_date": due().isoformat(), "notes": [note.pk]}
    body.update(data)
    return client.post(f"/boards/{board.pk}/actions/new/?note={note.pk}", body, **HX)


# Opening the dialog --------------------------------------------------------------------------------


def test_it_leaves_the_title_to_say_what_will_be_done(as_facilitator, board, friction, other_friction):
    page = dialog(as_facilitator, board, friction)
    title = page.find("textarea", attrs={"name": "title"})
    assert title.get_text().strip() == ""  # not the friction's text
    assert title["placeholder"] == "What will be done, e.g. Call back every client within the hour"
    # The friction is shown as context, and it is the first note, ticked.
    assert page.select_one(".quote-friction").get_text() == WAITED
    picks = page.select(".note-pick")
    assert [p.get_text(strip=True) for p in picks] == [WAITED, "The boutique's number rang out on a Saturday"]
    assert picks[0].input.has_attr("checked") and not picks[1].input.has_attr("checked")
    assert page.find("form")["hx-post"] == f"/boards/{board.pk}/actions/new/?note={friction.pk}"
    assert not page.select(".already-acted")


def test_it_says_when_the_friction_already_has_an_action(as_facilitator, board, facilitator, participant, friction):
    make_action(board, facilitator, participant, [friction], "Greet every client within two minutes", days=10)
    page = dialog(as_facilitator, board, friction)
    notice = page.select_one(".already-acted")
    assert notice["role"] == "status"
    assert notice.p.get_text(" ", strip=True) == (
        f"This friction already has an action: “Greet every client within two minutes” — Sam, due {day_month(due(10))}"
    )
    assert "1 action already" in page.select_one(".note-pick").get_text()
    assert page.find("textarea", attrs={"name": "title"}).get_text().strip() == ""


def test_it_lists_every_action_a_friction_already_has(as_facilitator, board, facilitator, participant, manager, friction):
    make_action(board, facilitator, participant, [friction], "Greet every client within two minutes")
    done = make_action(board, facilitator, manager, [friction], "A second advisor on Saturdays", days=20)
    workshop_services.update_action_status(actor=manager, action=done, status="done", version=done.version)
    notice = dialog(as_facilitator, board, friction).select_one(".already-acted")
    assert notice.p.get_text(" ", strip=True) == "This friction already has 2 actions:"
    assert [li.get_text(" ", strip=True) for li in notice.select("li")] == [
        f"“Greet every client within two minutes” — Sam, due {day_month(due())}",
        "“A second advisor on Saturdays” — Marc, done",
    ]


def test_it_marks_the_other_notes_that_already_have_actions(as_facilitator, board, facilitator, participant, friction, other_friction):
    make_action(board, facilitator, participant, [other_friction], "Forward Saturday calls to a mobile")
    page = dialog(as_facilitator, board, friction)
    assert not page.select(".already-acted")  # the picked friction has none
    picks = {p.input["value"]: p.get_text(" ", strip=True) for p in page.select(".note-pick")}
    assert picks[str(friction.pk)] == WAITED
    assert picks[str(other_friction.pk)].endswith("· 1 action already")


def test_it_ignores_a_note_from_another_board(as_facilitator, board, friction, outsider, other_team):
    theirs = services.create_scenario(
        actor=outsider, workshop=Workshop.objects.create(team=other_team, title="Theirs", date=due()),
        title="Their board", persona=None, template_key=DEFAULT_TEMPLATE,
    )
    foreign = services.add_note(actor=outsider, scenario=theirs, phase=theirs.phases.first(), kind="friction",
                                text="Their secret friction")
    page = dialog(as_facilitator, board, foreign)
    assert "Their secret friction" not in str(page)
    assert not page.select(".quote-friction") and not page.select("input[checked]")


def test_it_reads_the_notes_actions_in_a_constant_number_of_queries(as_facilitator, board, facilitator, participant, manager, friction, other_friction):
    make_action(board, facilitator, participant, [other_friction], "Forward Saturday calls to a mobile")
    dialog(as_facilitator, board, friction)  # the session is read and cached once
    with CaptureQueriesContext(connection) as few:
        dialog(as_facilitator, board, friction)
    phase = board.phases.order_by("order")[1]
    owners = [participant, manager, facilitator, make_member(board.workshop.team, "nora", Role.PARTICIPANT)]
    for i in range(8):
        note = services.add_note(actor=participant, scenario=board, phase=phase, kind="friction", text=f"Friction {i}")
        make_action(board, facilitator, owners[i % 4], [note], f"Fix {i}")
        make_action(board, facilitator, owners[(i + 1) % 4], [note, friction], f"Also fix {i}")
    with CaptureQueriesContext(connection) as many:
        page = dialog(as_facilitator, board, friction)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert len(page.select(".note-pick")) == 10
    assert page.select_one(".already-acted").p.get_text(" ", strip=True) == "This friction already has 8 actions:"
    assert len(page.select(".note-pick-acted")) == 10


# Making the action ---------------------------------------------------------------------------------


def test_it_confirms_the_action_in_the_toast_and_closes_the_dialog(as_facilitator, board, participant, friction):
    r = post(as_facilitator, board, friction, owner=participant.pk)
    assert r.status_code == 200
    assert r.content.decode() == f"Action created: “Greet every client within two minutes” for Sam, due {day_month(due())}."
    assert (r["HX-Retarget"], r["HX-Reswap"]) == ("#toast", "innerHTML")
    assert r["HX-Trigger-After-Swap"] == '{"dialog:close": {}}'
    action = Action.objects.get()
    assert (action.title, action.owner, list(action.notes.all())) == ("Greet every client within two minutes", participant, [friction])


def test_it_keeps_a_title_on_one_line(as_facilitator, board, participant, friction):
    r = post(as_facilitator, board, friction, owner=participant.pk, title="  Call back every client\r\nwithin  the hour\n")
    assert r.status_code == 200
    assert Action.objects.get().title == "Call back every client within the hour"
    assert "“Call back every client within the hour”" in r.content.decode()


def test_it_escapes_the_title_in_the_toast(as_facilitator, board, participant, friction):
    r = post(as_facilitator, board, friction, owner=participant.pk, title="<img src=x onerror=alert(1)>")
    assert r.status_code == 200
    assert "<img" not in r.content.decode() and "&lt;img src=x" in r.content.decode()


def test_it_takes_a_retried_post_once_and_answers_it_the_same_way(as_facilitator, board, participant, friction):
    request_id = str(uuid.uuid4())
    first = post(as_facilitator, board, friction, owner=participant.pk, request_id=request_id)
    again = post(as_facilitator, board, friction, owner=participant.pk, request_id=request_id)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert {h: first[h] for h in ("HX-Retarget", "HX-Reswap", "HX-Trigger-After-Swap")} == {
        h: again[h] for h in ("HX-Retarget", "HX-Reswap", "HX-Trigger-After-Swap")
    }
    assert Action.objects.count() == 1
    assert BoardEvent.objects.filter(scenario=board, kind="action.created").count() == 1


def test_it_makes_a_second_action_for_the_same_friction_on_purpose(as_facilitator, board, facilitator, participant, manager, friction):
    make_action(board, facilitator, participant, [friction], "Greet every client within two minutes")
    r = post(as_facilitator, board, friction, owner=manager.pk, title="A second advisor on Saturdays")
    assert r.status_code == 200 and r.content.decode().startswith("Action created: “A second advisor on Saturdays” for Marc")
    assert sorted(friction.actions.values_list("title", flat=True)) == [
        "A second advisor on Saturdays", "Greet every client within two minutes"]


def test_it_keeps_the_friction_and_the_notice_when_a_post_is_refused(as_facilitator, board, facilitator, participant, friction):
    make_action(board, facilitator, participant, [friction], "Greet every client within two minutes")
    r = post(as_facilitator, board, friction, owner="", title="Call back every client within the hour")
    assert r.status_code == 422
    page = BeautifulSoup(r.content, "html.parser")
    assert page.select_one(".quote-friction").get_text() == WAITED
    assert page.select_one(".already-acted").p.get_text(" ", strip=True).startswith("This friction already has an action")
    assert page.find("textarea", attrs={"name": "title"}).get_text().strip() == "Call back every client within the hour"
    assert page.select_one(".note-pick input")["value"] == str(friction.pk)
    assert page.select_one(".note-pick input").has_attr("checked")
    assert Action.objects.count() == 1


# Who may -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_lets_only_facilitators_make_an_action_from_the_dialog(request, board, participant, friction, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(f"/boards/{board.pk}/actions/new/?note={friction.pk}", **HX).status_code == 403
    r = post(client, board, friction, owner=participant.pk)
    assert r.status_code == 403 and "Action created" not in r.content.decode()
    assert not Action.objects.exists()


def test_it_hides_the_dialog_from_other_teams(as_outsider, board, participant, friction):
    assert as_outsider.get(f"/boards/{board.pk}/actions/new/?note={friction.pk}", **HX).status_code == 404
    assert post(as_outsider, board, friction, owner=participant.pk).status_code == 404
    assert not Action.objects.exists()


# The vote results' button --------------------------------------------------------------------------


def test_it_offers_another_action_for_a_top_friction_that_has_one(as_facilitator, board, facilitator, participant, friction, other_friction):
    services.open_voting_round(actor=facilitator, scenario=board, budget=3, cap_per_note=2)
    services.cast_vote(actor=participant, note=friction)
    services.cast_vote(actor=participant, note=other_friction)
    services.close_voting_round(actor=facilitator, scenario=board)
    services.reveal_votes(actor=facilitator, scenario=board)

    def buttons() -> dict[str, str]:
        page = BeautifulSoup(as_facilitator.get(f"/boards/{board.pk}/").content, "html.parser")
        return {row.select_one(".ranking-text").get_text(): row.button.get_text() for row in page.select("#results tbody tr")}

    assert buttons() == {WAITED: "Make it an action…", other_friction.text: "Make it an action…"}
    make_action(board, facilitator, participant, [friction], "Greet every client within two minutes")
    assert buttons() == {WAITED: "Add another action…", other_friction.text: "Make it an action…"}
    # ... and live: the results pushed with the new action say so too.
    pushed = BeautifulSoup(BoardEvent.objects.filter(scenario=board, kind="action.created").get().html, "html.parser")
    assert [b.get_text() for b in pushed.select("#results tbody button")] == ["Add another action…", "Make it an action…"]
