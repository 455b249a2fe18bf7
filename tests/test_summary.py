"""A workshop's summary: per scenario, the persona, the top frictions of the last revealed vote,
the moments of truth and the actions with their owners. Made to be printed and handed round."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import services as board_services
from tests.conftest import client_for
from workshops import services
from workshops.models import Action


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def add_friction(board, member, phase_name: str, text: str, interaction: int = 0):
    phase = board.phases.get(name=phase_name)
    mi = phase.interactions.order_by("order")[interaction]
    return board_services.add_note(
        actor=member, scenario=board, phase=phase, micro_interaction=mi, kind="friction", text=text
    )


@pytest.fixture
def mapped(board, workshop, facilitator, participant, other_participant, manager, persona):
    """A board after its session: rated, voted on (then a second round left unrevealed), with an action."""
    board_services.update_scenario(
        actor=facilitator,
        scenario=board,
        title=board.title,
        persona=persona,
        description="Camille buys her first fine watch for her thirtieth birthday.",
    )
    movement = add_friction(
        board, participant, "Purchase", "Nobody could say which movement it has"
    )
    dm = add_friction(
        board, other_participant, "Awareness", "My DM about the new collection went unanswered"
    )
    till = add_friction(board, manager, "Purchase", "A long wait at the till", interaction=2)
    purchase = board.phases.get(name="Purchase")
    try_on = purchase.interactions.get(order=0)
    board_services.rate_micro_interaction(
        actor=facilitator, interaction=try_on, emotion=2, moment_of_truth="positive"
    )
    pay = purchase.interactions.get(order=2)
    board_services.rate_micro_interaction(
        actor=facilitator, interaction=pay, emotion=-2, moment_of_truth="negative"
    )
    board_services.open_voting_round(actor=facilitator, scenario=board)
    for voter, note in [
        (participant, movement),
        (participant, movement),
        (other_participant, movement),
        (other_participant, dm),
        (manager, till),
    ]:
        board_services.cast_vote(actor=voter, note=note)
    board_services.reveal_votes(actor=facilitator, scenario=board)
    # A later round, still open: the summary keeps to the last revealed one.
    board_services.open_voting_round(actor=facilitator, scenario=board)
    board_services.cast_vote(actor=participant, note=till)
    board_services.cast_vote(actor=participant, note=till)
    action = services.create_action(
        actor=facilitator,
        scenario=board,
        notes=[movement],
        owner=participant,
        title="Movement training for every associate",
        due_date=days(21),
    )
    blank = board_services.create_scenario(
        actor=facilitator, workshop=workshop, title="Repair and servicing"
    )
    return {
        "board": board,
        "blank": blank,
        "action": action,
        "movement": movement,
        "dm": dm,
        "till": till,
    }


def section(html: str, scenario) -> str:
    start = html.index(f'id="summary-scenario-{scenario.pk}"')
    end = html.find('<section class="scenario-summary"', start)
    return html[start : end if end != -1 else len(html)]


@pytest.mark.parametrize("who", ["participant", "manager", "facilitator"])
def test_it_summarises_each_scenario_for_every_member(request, workshop, mapped, who):
    r = client_for(request.getfixturevalue(who)).get(f"/workshops/{workshop.pk}/summary/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Workshop summary" in html and "First visit to delivery" in html
    board = section(html, mapped["board"])
    assert "Camille" in board and "First-time buyer" in board and "Buy a first fine watch" in board
    assert "Camille buys her first fine watch for her thirtieth birthday." in board


def test_it_ranks_the_top_frictions_of_the_last_revealed_round(as_manager, workshop, mapped):
    board = section(
        as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode(), mapped["board"]
    )
    frictions = re.findall(
        r'<tr class="friction-row">\s*<td>(\d+)</td>\s*<td>([^<]+?) <span', board
    )
    assert frictions == [
        ("1", "Nobody could say which movement it has"),
        ("2", "My DM about the new collection went unanswered"),
        ("2", "A long wait at the till"),  # one dot each: tied, the same rank
    ]
    dots = re.findall(r'<td class="num"><strong>(\d+)</strong></td>', board)
    assert dots == [
        "3",
        "1",
        "1",
    ]  # the later, unrevealed round's two dots on the till are not counted
    assert "3 voters" in board
    assert "→ Movement training for every associate" in board


def test_it_lists_the_moments_of_truth_with_their_emotion(as_manager, workshop, mapped):
    board = section(
        as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode(), mapped["board"]
    )
    moments = board[board.index("Moments of truth") : board.index("<h3>Actions</h3>")]
    assert (
        "★ Positive" in moments
        and "Tries the piece on with an associate" in moments
        and "Very positive" in moments
    )
    assert (
        "⚠ Negative" in moments
        and "Pays and receives the piece" in moments
        and "Very negative" in moments
    )
    assert moments.count('class="moment ') == 2


def test_it_lists_the_actions_with_owners_and_due_dates(as_manager, workshop, mapped):
    board = section(
        as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode(), mapped["board"]
    )
    row = board[board.index(f'id="summary-action-{mapped["action"].pk}"') :]
    row = row[: row.index("</tr>")]
    assert (
        "Movement training for every associate" in row
        and "Sam" in row
        and "Boutique &amp; retail" in row
    )
    assert days(21).strftime("%-d %b %Y") in row and "Open" in row


def test_it_says_so_when_a_board_has_no_vote_nor_moment_nor_action(as_manager, workshop, mapped):
    blank = section(
        as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode(), mapped["blank"]
    )
    assert "No vote has been revealed on this board." in blank
    assert "No moment of truth was marked on this board." in blank
    assert "No action yet." in blank


def test_it_flags_overdue_actions(as_manager, workshop, mapped):
    Action.objects.filter(pk=mapped["action"].pk).update(due_date=days(-1))
    html = as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    row = html[html.index(f'id="summary-action-{mapped["action"].pk}"') :]
    assert row[: row.index("</tr>")].count("Overdue") == 1


def test_it_is_made_for_printing(as_manager, workshop, mapped):
    html = as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    assert '<link rel="stylesheet" href="/static/css/review.css">' in html
    assert 'class="summary-page"' in html
    assert 'class="crumbs no-print"' in html
    with open("static/css/review.css", encoding="utf-8") as f:
        css = f.read()
    print_css = css[css.index("@media print") :]
    assert "@page { size: A4" in print_css
    assert ".topbar" in print_css and "button" in print_css and ".no-print" in print_css
    assert "break-before: page" in print_css and "break-inside: avoid" in print_css


def test_it_lists_the_notes_written_as_moments_of_truth(as_manager, workshop, mapped, participant, facilitator):
    board = mapped["board"]
    phase = board.phases.get(name="Purchase")
    step = phase.interactions.order_by("order")[0]
    board_services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=step, kind="moment",
                            text="Her face lit up when the associate praised her choice")
    board_services.start_private_round(actor=facilitator, scenario=board)
    board_services.add_note(actor=participant, scenario=board, phase=phase, kind="moment", text="Still hidden")
    html = section(as_manager.get(f"/workshops/{workshop.pk}/summary/").content.decode(), board)
    moments = html[html.index("Moments of truth") : html.index("<h3>Actions</h3>")]
    flagged = moments[moments.index('class="flagged-moments"'):]
    assert "Her face lit up when the associate praised her choice" in flagged
    assert f"· Purchase · {step.action}" in flagged
    assert "Still hidden" not in html  # a private round's note stays private here too


def test_it_needs_no_more_queries_for_more_actions_and_notes(
    as_manager, workshop, mapped, facilitator, participant
):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_manager.get(f"/workshops/{workshop.pk}/summary/").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    board = mapped["board"]
    for i in range(4):
        note = add_friction(board, participant, "Awareness", f"Another friction {i}")
        board_services.add_note(actor=participant, scenario=board, phase=note.phase, micro_interaction=note.micro_interaction,
                                kind="moment", text=f"A moment of truth {i}")
        services.create_action(
            actor=facilitator,
            scenario=board,
            notes=[note, mapped["dm"]],
            owner=participant,
            title=f"Another action {i}",
            due_date=days(i + 1),
        )
    assert count() == before


def test_it_hides_the_summary_from_other_teams(as_outsider, workshop):
    assert as_outsider.get(f"/workshops/{workshop.pk}/summary/").status_code == 404


def test_it_asks_anonymous_visitors_to_sign_in(workshop):
    r = Client().get(f"/workshops/{workshop.pk}/summary/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
