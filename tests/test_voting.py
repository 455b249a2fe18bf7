"""Dot voting: budgets and caps that hold under concurrency, anonymous until revealed, a ranking and
a breakdown by business function that never singles anyone out."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from boards import render, services
from boards.models import BoardEvent, Note, Vote, VotingRound
from tests.conftest import client_for, make_member
from workshops.models import BusinessFunction, Role

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def frictions(board, participant):
    phases = list(board.phases.order_by("order"))
    return [
        services.add_note(actor=participant, scenario=board, phase=phases[i % 2], kind="friction", text=f"Friction {i}")
        for i in range(4)
    ]


@pytest.fixture
def voting(board, facilitator, frictions):
    return services.open_voting_round(actor=facilitator, scenario=board, budget=3, cap_per_note=2)


def test_it_opens_a_round_with_defaults_from_the_dialog(as_facilitator, board, frictions):
    form = as_facilitator.get(f"/boards/{board.pk}/voting/open/", **HX).content.decode()
    assert 'value="3"' in form and 'value="2"' in form
    assert "on the frictions they would fix first: other kinds of note take no dots" in form
    r = as_facilitator.post(f"/boards/{board.pk}/voting/open/", {"budget": 3, "cap_per_note": 2, "phase": ""}, **HX)
    assert r.status_code == 204
    round_ = VotingRound.objects.get(scenario=board)
    assert (round_.budget, round_.cap_per_note, round_.status, round_.phase) == (3, 2, "open", None)
    board.refresh_from_db()
    assert board.stage == "vote"
    assert "+ dot" in BoardEvent.objects.filter(scenario=board).last().html


def test_it_refuses_a_cap_above_the_budget(as_facilitator, board):
    r = as_facilitator.post(f"/boards/{board.pk}/voting/open/", {"budget": 2, "cap_per_note": 3}, **HX)
    assert r.status_code == 422 and "can&#x27;t be more" in r.content.decode()


def test_it_refuses_a_second_open_round(board, facilitator, voting):
    with pytest.raises(ValidationError, match="already open"):
        services.open_voting_round(actor=facilitator, scenario=board)


def test_it_spends_the_budget_and_respects_the_cap(voting, participant, frictions):
    a, b = frictions[0], frictions[1]
    assert services.cast_vote(actor=participant, note=a) == 2
    assert services.cast_vote(actor=participant, note=a) == 1
    with pytest.raises(ValidationError, match="At most 2 dots per note"):
        services.cast_vote(actor=participant, note=a)
    assert services.cast_vote(actor=participant, note=b) == 0
    with pytest.raises(ValidationError, match="used all 3"):
        services.cast_vote(actor=participant, note=frictions[2])
    assert services.withdraw_vote(actor=participant, note=a) == 1
    assert services.cast_vote(actor=participant, note=frictions[2]) == 0


def test_it_takes_dots_only_on_friction_notes(voting, board, participant):
    idea = services.add_note(actor=participant, scenario=board, phase=board.phases.first(), kind="idea", text="An idea")
    with pytest.raises(ValidationError, match="friction"):
        services.cast_vote(actor=participant, note=idea)


def test_it_limits_a_round_to_one_phase(board, facilitator, participant, frictions):
    phase = board.phases.order_by("order")[0]
    services.open_voting_round(actor=facilitator, scenario=board, phase=phase)
    in_phase = next(n for n in frictions if n.phase_id == phase.pk)
    elsewhere = next(n for n in frictions if n.phase_id != phase.pk)
    services.cast_vote(actor=participant, note=in_phase)
    with pytest.raises(ValidationError, match=phase.name):
        services.cast_vote(actor=participant, note=elsewhere)


def test_it_keeps_votes_anonymous_until_revealed(board, voting, participant, other_participant, facilitator, frictions):
    services.cast_vote(actor=participant, note=frictions[0])
    services.cast_vote(actor=other_participant, note=frictions[0])
    events = BoardEvent.objects.filter(scenario=board, kind="voting.dot_added")
    assert all(e.actor_id is None and set(e.payload) == {"round"} for e in events)
    page = client_for(other_participant).get(f"/boards/{board.pk}/").content.decode()
    assert "vote-total" not in page and "Top frictions" not in page
    # each person sees only their own dots
    assert f'data-votes="{{&quot;{frictions[0].pk}&quot;: 1}}"' in page
    assert "Your dots: <strong>2</strong> of 3 left" in page
    services.close_voting_round(actor=facilitator, scenario=board)
    with pytest.raises(ValidationError, match="not open"):
        services.cast_vote(actor=participant, note=frictions[1])
    assert "vote-total" not in client_for(participant).get(f"/boards/{board.pk}/").content.decode()
    services.reveal_votes(actor=facilitator, scenario=board)
    page = client_for(participant).get(f"/boards/{board.pk}/").content.decode()
    assert "Top frictions" in page and "● 2" in page


def test_it_votes_from_the_page_and_explains_refusals(as_participant, voting, frictions):
    url = f"/notes/{frictions[0].pk}/vote/"
    assert as_participant.post(url, {"op": "add"}, **HX).status_code == 200
    assert as_participant.post(url, {"op": "add"}, **HX).status_code == 200
    r = as_participant.post(url, {"op": "add"}, **HX)
    assert r.status_code == 422 and "At most 2 dots per note" in r.content.decode()
    assert as_participant.post(url, {"op": "remove"}, **HX).status_code == 200
    assert Vote.objects.get(note=frictions[0]).dots == 1


def test_it_hides_votes_from_other_teams(as_outsider, voting, frictions):
    assert as_outsider.post(f"/notes/{frictions[0].pk}/vote/", {"op": "add"}, **HX).status_code == 404
    assert not Vote.objects.exists()


def test_it_counts_a_retried_vote_once(as_participant, voting, frictions):
    data = {"op": "add", "request_id": "6a1f1d8e-1111-4222-8333-444455556666"}
    for _ in range(3):
        as_participant.post(f"/notes/{frictions[0].pk}/vote/", data, **HX)
    assert Vote.objects.get(note=frictions[0]).dots == 1


@pytest.mark.django_db(transaction=True)
def test_it_never_overspends_under_parallel_clicks(team, facilitator, participant, workshop):
    board = services.create_scenario(actor=facilitator, workshop=workshop, title="Race", template_key="luxury-retail")
    phase = board.phases.first()
    notes = [services.add_note(actor=participant, scenario=board, phase=phase, kind="friction", text=f"n{i}") for i in range(4)]
    services.open_voting_round(actor=facilitator, scenario=board, budget=3, cap_per_note=2)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def click(note):
        start.wait()
        try:
            services.cast_vote(actor=participant, note=note)
            outcomes.append("ok")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(notes[i % 4],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 3 and outcomes.count("refused") == 5
    assert sum(Vote.objects.filter(voter=participant).values_list("dots", flat=True)) == 3


def test_it_breaks_down_votes_by_function_without_exposing_anyone(board, team, facilitator, frictions):
    voters = [make_member(team, f"b{i}", Role.PARTICIPANT, BusinessFunction.BOUTIQUE) for i in range(2)]
    voters += [make_member(team, f"e{i}", Role.PARTICIPANT, BusinessFunction.ECOMMERCE) for i in range(2)]
    lone_hr = make_member(team, "hr", Role.PARTICIPANT, BusinessFunction.HR)
    services.open_voting_round(actor=facilitator, scenario=board)
    for v in voters:
        services.cast_vote(actor=v, note=frictions[0])
    services.cast_vote(actor=voters[2], note=frictions[1])
    services.cast_vote(actor=lone_hr, note=frictions[1])
    services.cast_vote(actor=lone_hr, note=frictions[1])
    services.reveal_votes(actor=facilitator, scenario=board)
    page = client_for(facilitator).get(f"/boards/{board.pk}/").content.decode()
    results = page[page.index('id="results"'):page.index('id="board"')]
    assert "Boutique &amp; retail" in results and "E-commerce" in results
    assert "HR" not in results  # one person's function is never shown apart
    assert "Dots from a function with a single voter count in the totals only" in results
    # ranking: friction 0 has 4 dots, friction 1 has 3
    assert results.index("Friction 0") < results.index("Friction 1")


def test_it_shows_no_breakdown_that_would_only_repeat_the_dots(board, team, facilitator, frictions):
    """Two voters of different functions: both pooled as "Other functions", which would be the
    Dots column again; one function with a lone voter beside it is still worth its column."""
    services.open_voting_round(actor=facilitator, scenario=board)
    for name, function in (("b0", BusinessFunction.BOUTIQUE), ("e0", BusinessFunction.ECOMMERCE)):
        services.cast_vote(actor=make_member(team, name, Role.PARTICIPANT, function), note=frictions[0])
    services.reveal_votes(actor=facilitator, scenario=board)
    results = render.results_context(board)["results"]
    assert results["columns"] == [] and results["ranking"][0]["breakdown"] == []
    page = client_for(facilitator).get(f"/boards/{board.pk}/").content.decode()
    results = page[page.index('id="results"'):page.index('id="board"')]
    assert "Other functions" not in results
    # Nor a word about columns and lone voters that the table doesn't have.
    assert "2 voters. Votes are anonymous.</p>" in results and "single voter" not in results


def test_it_lets_only_members_vote(board, voting, outsider, frictions):
    with pytest.raises(PermissionDenied):
        services.cast_vote(actor=outsider, note=frictions[0])


def test_it_shows_each_stage_of_the_round_on_a_note_edited_meanwhile(board, facilitator, participant, frictions):
    note = frictions[0]

    def edited_note_push(text: str) -> str:
        current = services.edit_note(actor=participant, note=note, text=text, kind="friction",
                                     version=Note.objects.get(pk=note.pk).version)
        board.refresh_from_db()
        push = BoardEvent.objects.filter(scenario=board).latest("seq")
        assert push.kind == "note.edited" and f'id="note-{current.pk}"' in push.html
        return push.html

    assert board.voting == "" and "+ dot" not in edited_note_push("Before the vote")
    voting = services.open_voting_round(actor=facilitator, scenario=board, budget=3, cap_per_note=2)
    assert "+ dot" in edited_note_push("During the vote") and board.voting == "open"
    services.cast_vote(actor=participant, note=note)
    services.close_voting_round(actor=facilitator, scenario=board)
    html = edited_note_push("Votes closed")
    assert board.voting == "closed" and "+ dot" not in html and "vote-total" not in html
    services.reveal_votes(actor=facilitator, scenario=board)
    html = edited_note_push("Votes revealed")
    assert board.voting == "revealed" and "● 1" in html and "+ dot" not in html
    voting.refresh_from_db()
    assert voting.status == "revealed"


def test_it_gives_tied_frictions_the_same_rank(board, voting, participant, other_participant, facilitator, frictions):
    for who, note in [(participant, 0), (participant, 0), (other_participant, 1), (other_participant, 2),
                      (participant, 3)]:
        services.cast_vote(actor=who, note=frictions[note])
    services.close_voting_round(actor=facilitator, scenario=board)
    services.reveal_votes(actor=facilitator, scenario=board)
    ranking = render.results_context(board)["results"]["ranking"]
    assert [(row["note"].pk, row["total"], row["rank"]) for row in ranking] == [
        (frictions[0].pk, 2, 1), (frictions[1].pk, 1, 2), (frictions[2].pk, 1, 2), (frictions[3].pk, 1, 2)]


def test_it_says_plainly_how_many_dots_were_cast(as_facilitator, board, facilitator, participant, voting, frictions):
    def session() -> str:
        return as_facilitator.get(f"/boards/{board.pk}/").content.decode()

    assert "Dot voting on frictions: 3 dots each, up to 2 per friction · no dots cast yet" in session()
    services.cast_vote(actor=participant, note=frictions[0])
    assert "1 dot cast by 1 person" in session()
    services.cast_vote(actor=facilitator, note=frictions[1])
    assert "2 dots cast by 2 people" in session()
    services.close_voting_round(actor=facilitator, scenario=board)
    assert "2 dots cast by 2 people; results not revealed yet" in session()


def test_it_says_when_a_closed_round_had_no_dots(as_facilitator, board, facilitator, voting):
    services.close_voting_round(actor=facilitator, scenario=board)
    page = as_facilitator.get(f"/boards/{board.pk}/").content.decode()
    assert "Voting closed · no dots were cast" in page and "cast by 0" not in page


def test_it_does_not_call_a_lone_voters_dots_anonymous(board, team, facilitator, frictions):
    services.open_voting_round(actor=facilitator, scenario=board)
    services.cast_vote(actor=make_member(team, "b0", Role.PARTICIPANT, BusinessFunction.BOUTIQUE), note=frictions[0])
    services.reveal_votes(actor=facilitator, scenario=board)
    page = client_for(facilitator).get(f"/boards/{board.pk}/").content.decode()
    results = page[page.index('id="results"'):page.index('id="board"')]
    assert "1 voter: their dots are the ranking, so this vote says what one person chose." in results
    assert "anonymous" not in results
