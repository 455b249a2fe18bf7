"""A board's history: its event log replayed into the board as it was at any change, and a timeline
of who did what and when that keeps private notes private until revealed and never names a voter
or a rater."""

from __future__ import annotations

import datetime
import json

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import history, services
from boards.models import BoardEvent, MicroInteraction, Note, Phase, Scenario
from tests.conftest import client_for
from workshops import services as workshop_services


def step(board: Scenario, action: str) -> MicroInteraction:
    return MicroInteraction.objects.select_related("phase").get(phase__scenario=board, action=action)


def seq_of(board: Scenario) -> int:
    return Scenario.objects.get(pk=board.pk).last_seq


def notes_now(**where) -> list[tuple]:
    return [(n.pk, n.kind, n.text) for n in Note.objects.filter(**where).order_by("order", "pk")]


def state_now(board: Scenario) -> list[tuple]:
    """The board as the database has it, in the shape `state_then` gives a replay."""
    return [
        (
            p.pk, p.name, p.goal,
            [
                (m.pk, m.action, m.channel, m.emotion, m.moment_of_truth, notes_now(micro_interaction=m),
                 [(x.name, x.value_with_unit) for x in m.metrics.order_by("pk")], [q.text for q in m.quotes.order_by("pk")])
                for m in p.interactions.order_by("order")
            ],
            notes_now(phase=p, micro_interaction=None),
        )
        for p in Phase.objects.filter(scenario=board).order_by("order")
    ]


def state_then(past: history.Past) -> list[tuple]:
    return [
        (
            p.pk, p.name, p.goal,
            [
                (m.pk, m.action, m.channel, m.emotion, m.moment_of_truth, [(n.pk, n.kind, n.text) for n in m.note_list],
                 [(x.name, x.value_with_unit) for x in m.metric_list], [q.text for q in m.quote_list])
                for m in p.interaction_list
            ],
            [(n.pk, n.kind, n.text) for n in p.note_list],
        )
        for p in past.phases
    ]


@pytest.fixture
def busy(board, facilitator, participant, other_participant):
    """A board after a session's worth of changes of every kind."""
    awareness = board.phases.get(name="Awareness")
    chat = step(board, "Asks for a model's details on live chat")
    window = step(board, "Walks past the boutique window")
    services.update_phase(actor=facilitator, phase=awareness, name="Discovery", goal="Be seen", version=1)
    repair = services.add_phase(actor=facilitator, scenario=board, name="Repair", goal="Get it back fast")
    services.move_phase(actor=facilitator, phase=repair, position=1)
    drop = services.add_micro_interaction(actor=facilitator, phase=repair, action="Drops the watch off", channel="boutique",
                                          emotion=-1, moment_of_truth="negative")
    services.add_micro_interaction(actor=facilitator, phase=repair, action="Gets a call", channel="phone")
    services.move_micro_interaction(actor=facilitator, interaction=drop, position=1)
    services.rate_micro_interaction(actor=facilitator, interaction=chat, emotion=-2, moment_of_truth="negative")
    services.update_micro_interaction(actor=facilitator, interaction=window, action="Stops at the window",
                                      channel="boutique", emotion=1, moment_of_truth="positive", version=window.version)
    a = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="friction",
                          text="Nobody on chat")
    b = services.add_note(actor=other_participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea",
                          text="A bot for the basics")
    c = services.add_note(actor=participant, scenario=board, phase=awareness, kind="question", text="Which channel?")
    services.edit_note(actor=participant, note=a, text="Nobody on chat at 10 pm", kind="friction", version=1)
    services.move_note(actor=facilitator, note=b, phase=awareness, micro_interaction=None, position=0)
    services.delete_note(actor=participant, note=c)
    metric = services.add_metric(actor=facilitator, interaction=chat, name="CSAT", value="3.1", unit="/5")
    services.add_metric(actor=facilitator, interaction=chat, name="Typo", value=1)
    services.remove_metric(actor=facilitator, metric=MicroInteraction.objects.get(pk=chat.pk).metrics.get(name="Typo"))
    services.add_quote(actor=facilitator, interaction=chat, text="I almost went elsewhere")
    return {"chat": chat, "friction": a, "idea": b, "metric": metric, "repair": repair}


def test_it_replays_the_log_into_the_board_as_it_is_now(board, busy):
    assert state_then(history.replay(board)) == state_now(board)


def test_it_replays_deleted_phases_and_steps_into_the_board_as_it_is_now(board, busy, facilitator, participant):
    repair = busy["repair"]
    quote = services.add_micro_interaction(actor=facilitator, phase=repair, action="Waits for a quote", channel="email")
    services.add_note(actor=participant, scenario=board, phase=repair, micro_interaction=quote, kind="friction",
                      text="Three weeks for an estimate")
    services.delete_micro_interaction(actor=facilitator, interaction=quote)  # its note stays, on the phase
    services.delete_phase(actor=facilitator, phase=board.phases.get(name="Loyalty & Advocacy"))  # from the template
    assert state_then(history.replay(board)) == state_now(board)


def test_it_replays_an_imported_board(board, busy, facilitator, workshop):
    from boards import exports

    imported = services.import_scenario(actor=facilitator, workshop=workshop, data=exports.scenario_document(board))
    services.add_note(actor=facilitator, scenario=imported, phase=imported.phases.first(), kind="idea", text="After")
    assert state_then(history.replay(imported)) == state_now(imported)


def test_it_replays_a_blank_board_and_a_follow_up(board, facilitator, workshop):
    blank = services.create_scenario(actor=facilitator, workshop=workshop, title="Blank")
    phase = services.add_phase(actor=facilitator, scenario=blank, name="Only")
    services.add_micro_interaction(actor=facilitator, phase=phase, action="Step", channel="app", emotion=2)
    assert state_then(history.replay(blank)) == state_now(blank)
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title, date=workshop.date,
                                      status="closed", follows_up=None)
    new = workshop_services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Next",
                                               date=workshop.date + datetime.timedelta(days=9))
    for scenario in new.scenarios.all():
        assert state_then(history.replay(scenario)) == state_now(scenario)


def test_it_shows_the_board_as_it_was_at_an_earlier_change(board, facilitator, participant):
    chat = step(board, "Asks for a model's details on live chat")
    awareness = board.phases.get(name="Awareness")
    start = seq_of(board)
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="friction", text="Slow")
    services.rate_micro_interaction(actor=facilitator, interaction=chat, emotion=-2, moment_of_truth="negative")
    services.update_phase(actor=facilitator, phase=awareness, name="Discovery", goal="", version=1)
    then = history.replay(board, upto=start)
    assert then.seq == start and then.last_seq == start + 3
    past_chat = next(m for p in then.phases for m in p.interaction_list if m.pk == chat.pk)
    assert (past_chat.emotion, past_chat.moment_of_truth, past_chat.note_list) == (None, "none", [])
    assert then.phases[0].name == "Awareness" and then.curve.empty
    middle = history.replay(board, upto=start + 2)
    past_chat = next(m for p in middle.phases for m in p.interaction_list if m.pk == chat.pk)
    assert past_chat.emotion == -2 and [n.text for n in past_chat.note_list] == ["Slow"]
    assert middle.phases[0].name == "Awareness" and [p.value for p in middle.curve.plotted] == [-2.0]
    assert history.replay(board).phases[0].name == "Discovery"


def test_it_clamps_a_change_out_of_range(board):
    last = seq_of(board)
    assert history.replay(board, upto=10_000).seq == last
    assert history.replay(board, upto=0).phases == []


def test_it_keeps_private_notes_private_until_the_reveal(board, facilitator, participant):
    chat = step(board, "Asks for a model's details on live chat")
    services.start_private_round(actor=facilitator, scenario=board)
    kept = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea",
                             text="Kept secret idea")
    services.edit_note(actor=participant, note=kept, text="Kept secret idea, edited", kind="idea", version=1)
    gone = services.add_note(actor=participant, scenario=board, phase=chat.phase, kind="friction", text="Withdrawn thought")
    services.delete_note(actor=participant, note=gone)
    before_reveal = seq_of(board)

    def timeline_text(past: history.Past) -> str:
        return " ".join(f"{e.who} {e.text}" for e in past.timeline)

    now = history.replay(board)
    text = timeline_text(now)
    assert "Sam added a private note" in text and "edited a private note" in text and "deleted a private note" in text
    assert "secret" not in text and "Withdrawn" not in text
    hidden = next(n for p in now.phases for m in p.interaction_list for n in m.note_list)
    assert hidden.hidden
    html = BeautifulSoup(_history_page(client_for(facilitator), board), "html.parser")
    assert "secret" not in html.get_text() and "Withdrawn" not in html.get_text()
    assert "Private note" in html.select_one("#history-board").get_text()

    services.reveal_private_notes(actor=facilitator, scenario=board)
    after = history.replay(board)
    text = timeline_text(after)
    assert "Sam added an idea on “Asks for a model's details on live chat”: “Kept secret idea”" in text
    assert "Sam edited a note: “Kept secret idea, edited”" in text
    assert "Withdrawn" not in text  # deleted before the reveal: never shown
    revealed = next(n for p in after.phases for m in p.interaction_list for n in m.note_list)
    assert not revealed.hidden and revealed.text == "Kept secret idea, edited"
    # The board at a change before the reveal still shows it as private.
    earlier = history.replay(board, upto=before_reveal)
    assert next(n for p in earlier.phases for m in p.interaction_list for n in m.note_list).hidden


def test_it_never_names_who_voted_or_rated(board, facilitator, participant):
    chat = step(board, "Asks for a model's details on live chat")
    note = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat,
                             kind="friction", text="Slow")
    services.open_voting_round(actor=facilitator, scenario=board)
    services.cast_vote(actor=participant, note=note)
    services.withdraw_vote(actor=participant, note=note)
    services.set_emotion_rating(actor=facilitator, scenario=board, open=True)
    services.rate_emotion(actor=participant, interaction=chat, value=-1)
    entries = {e.kind: e for e in history.replay(board).timeline}
    for kind in ("voting.dot_added", "voting.dot_removed", "emotion.rated"):
        assert entries[kind].who == "" and "Sam" not in entries[kind].text
    assert entries["voting.dot_added"].text == "A dot was placed"
    assert entries["emotion.rated"].text.startswith("Someone rated how the customer feels at")
    assert entries["note.added"].who == "Sam"


def test_it_shows_dots_only_once_the_vote_was_revealed(board, facilitator, participant):
    chat = step(board, "Asks for a model's details on live chat")
    note = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat,
                             kind="friction", text="Slow")
    services.open_voting_round(actor=facilitator, scenario=board)
    services.cast_vote(actor=participant, note=note)
    services.cast_vote(actor=participant, note=note)
    closed = seq_of(board) + 1
    services.close_voting_round(actor=facilitator, scenario=board)
    services.reveal_votes(actor=facilitator, scenario=board)

    def dots(upto):
        past = history.replay(board, upto=upto)
        return next(n for p in past.phases for m in p.interaction_list for n in m.note_list).vote_total

    assert dots(closed) is None and dots(None) == 2


def test_it_replays_the_teams_ratings_into_the_curve(board, facilitator, participant, other_participant):
    chat = step(board, "Asks for a model's details on live chat")
    services.set_emotion_rating(actor=facilitator, scenario=board, open=True)
    services.rate_emotion(actor=participant, interaction=chat, value=-2)
    services.rate_emotion(actor=other_participant, interaction=chat, value=1)
    both = seq_of(board)
    services.rate_emotion(actor=other_participant, interaction=chat, value=-1)
    services.rate_emotion(actor=participant, interaction=chat, value=None)
    point = history.replay(board, upto=both).curve.plotted[0]
    assert (point.ratings, point.disagree) == ([-2, 1], True)
    assert history.replay(board).curve.plotted[0].ratings == [-1]
    assert history.replay(board).curve.raters is None  # the log doesn't say how many people


def test_it_shows_actions_from_the_log(board, facilitator, participant):
    chat = step(board, "Asks for a model's details on live chat")
    note = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat,
                             kind="friction", text="Slow")
    action = workshop_services.create_action(actor=facilitator, scenario=board, notes=[note], title="Faster chat",
                                             owner=participant, due_date=timezone.localdate() + datetime.timedelta(days=5))
    workshop_services.update_action_status(actor=participant, action=action, status="in_progress", version=1)
    past = history.replay(board)
    assert [(a.title, a.get_status_display()) for a in past.actions] == [("Faster chat", "In progress")]
    assert [a.title for a in past.phases[1].interaction_list[1].note_list[0].action_list] == ["Faster chat"]


def test_it_cuts_the_log_into_sessions_by_day(board, participant):
    chat = step(board, "Asks for a model's details on live chat")
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text="1")
    first_day_end = seq_of(board)
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text="2")
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text="3")
    later = timezone.now() + datetime.timedelta(days=7)
    BoardEvent.objects.filter(scenario=board, seq__gt=first_day_end).update(created=later)
    sessions = history.replay(board).sessions
    assert [(s.first_seq, s.last_seq, s.count) for s in sessions] == [(1, first_day_end, first_day_end), (first_day_end + 1, first_day_end + 2, 2)]
    assert sessions[1].day == timezone.localtime(later).date()


# The page --------------------------------------------------------------------------------------------


def _history_page(client: Client, board: Scenario, **query) -> str:
    r = client.get(f"/boards/{board.pk}/history/", query)
    assert r.status_code == 200
    return r.content.decode()


@pytest.mark.parametrize("who", ["facilitator", "participant", "manager"])
def test_it_shows_every_member_the_history(request, board, busy, who):
    soup = BeautifulSoup(_history_page(client_for(request.getfixturevalue(who)), board), "html.parser")
    last = seq_of(board)
    assert f"after change #{last} of {last}" in soup.select_one("#history-at").get_text()
    entries = soup.select(".timeline-entry")
    assert len(entries) == last and entries[0]["id"] == f"event-{last}"
    assert "Fiona added a customer quote" in entries[0].get_text(" ", strip=True)
    assert soup.select_one(".journey") is not None and soup.select_one(".curve-svg") is not None


def test_it_shows_the_board_at_the_change_asked_for(board, busy, as_participant):
    soup = BeautifulSoup(_history_page(as_participant, board, seq=3), "html.parser")
    assert "after change #3 of" in soup.select_one("#history-at").get_text()
    assert soup.select_one(".timeline-entry.is-current")["id"] == "event-3"
    assert soup.select_one('a[rel="prev"]')["href"] == "?seq=2" and soup.select_one('a[rel="next"]')["href"] == "?seq=4"


@pytest.mark.parametrize("seq", ["abc", "-4", "100000"])
def test_it_shows_the_latest_board_for_a_change_that_makes_no_sense_and_says_so(board, busy, as_participant, seq):
    soup = BeautifulSoup(_history_page(as_participant, board, seq=seq), "html.parser")
    last = seq_of(board)
    assert f"after change #{last}" in soup.select_one("#history-at").get_text()
    notice = soup.select_one(".flash-warning").get_text(" ", strip=True)
    assert notice == f"There is no change “{seq}” on this board: its changes go from #1 to #{last}. Here it is now."


@pytest.mark.parametrize("seq", ["", "0", "3"])
def test_it_says_nothing_of_a_change_that_exists(board, busy, as_participant, seq):
    soup = BeautifulSoup(_history_page(as_participant, board, seq=seq), "html.parser")
    assert soup.select_one(".flash-warning") is None


def test_it_pages_a_long_timeline(board, participant, as_manager):
    chat = step(board, "Asks for a model's details on live chat")
    for i in range(105):
        services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text=f"n{i}")
    first = BeautifulSoup(_history_page(as_manager, board), "html.parser")
    assert len(first.select(".timeline-entry")) == 100 and first.select_one(".pager") is not None
    second = BeautifulSoup(_history_page(as_manager, board, page=2), "html.parser")
    assert len(second.select(".timeline-entry")) == seq_of(board) - 100
    assert second.select(".timeline-entry")[-1]["id"] == "event-1"


def test_it_replays_in_a_constant_number_of_queries(board, participant, as_manager):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _history_page(as_manager, board, seq=2)
        return len(ctx.captured_queries)

    chat = step(board, "Asks for a model's details on live chat")
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text="x")
    few = count()
    for i in range(30):
        services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text=f"n{i}")
    assert count() == few


def test_it_hides_the_history_from_other_teams(board, as_outsider):
    assert as_outsider.get(f"/boards/{board.pk}/history/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in_for_the_history(board):
    r = Client().get(f"/boards/{board.pk}/history/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_it_escapes_what_people_typed_in_the_timeline(board, participant, as_facilitator):
    chat = step(board, "Asks for a model's details on live chat")
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea",
                      text='<img src=x onerror="alert(1)">')
    html = _history_page(as_facilitator, board)
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_it_reads_payloads_it_does_not_know_without_failing(board, facilitator):
    scenario = Scenario.objects.get(pk=board.pk)
    BoardEvent.objects.create(scenario=board, seq=scenario.last_seq + 1, kind="future.kind", payload={"x": 1},
                              actor=facilitator)
    BoardEvent.objects.create(scenario=board, seq=scenario.last_seq + 2, kind="note.moved", payload=json.loads("[]"),
                              actor=facilitator)
    entries = history.replay(board).timeline
    assert entries[-2].text == "future.kind" and entries[-1].text.startswith("moved a note")


def test_it_says_what_a_rename_changed_and_where_the_focus_went(board, busy, facilitator):
    services.focus_phase(actor=facilitator, scenario=board, phase=busy["repair"])
    texts = [e.text for e in history.replay(board).timeline]
    assert "renamed the phase “Awareness” to “Discovery”" in texts
    assert "renamed the step “Walks past the boutique window” to “Stops at the window”" in texts
    assert texts[-1] == "set the focus on Repair"
