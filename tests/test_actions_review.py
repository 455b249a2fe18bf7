"""Reviewing actions: the team's Actions page (filters, quick status, constant queries), one
action's page (its notes, history and status form), and My actions."""

from __future__ import annotations

import datetime
import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import services as board_services
from boards.journey_templates import DEFAULT_TEMPLATE
from tests.conftest import client_for
from workshops import services
from workshops.models import Action, ActionStatus, ActionUpdate, Workshop

HX = {"HTTP_HX_REQUEST": "true"}


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def friction(board, member, phase_name: str, text: str):
    phase = board.phases.get(name=phase_name)
    return board_services.add_note(
        actor=member,
        scenario=board,
        phase=phase,
        micro_interaction=phase.interactions.first(),
        kind="friction",
        text=text,
    )


@pytest.fixture
def second_board(team, facilitator, persona):
    later = Workshop.objects.create(
        team=team, title="Clienteling after the sale", date=datetime.date(2026, 12, 4)
    )
    return board_services.create_scenario(
        actor=facilitator,
        workshop=later,
        title="After the first purchase",
        persona=persona,
        template_key=DEFAULT_TEMPLATE,
    )


@pytest.fixture
def actions(board, second_board, facilitator, participant, other_participant, manager):
    """Three actions on two boards: one open, one overdue, one done; two of them from a "Purchase" phase."""
    training = services.create_action(
        actor=facilitator,
        scenario=board,
        title="Movement training for every associate",
        owner=participant,
        notes=[friction(board, participant, "Purchase", "Nobody could say which movement it has")],
        due_date=days(14),
    )
    replies = services.create_action(
        actor=facilitator,
        scenario=board,
        title="Answer Instagram questions within the hour",
        owner=other_participant,
        notes=[
            friction(
                board,
                other_participant,
                "Awareness",
                "My DM about the new collection went unanswered",
            )
        ],
        due_date=days(3),
    )
    Action.objects.filter(pk=replies.pk).update(due_date=days(-2))
    pilot = services.create_action(
        actor=facilitator,
        scenario=second_board,
        title="White-glove delivery pilot",
        owner=manager,
        notes=[
            friction(
                second_board, participant, "Purchase", "The courier left the watch with a neighbour"
            )
        ],
        due_date=days(30),
    )
    services.update_action_status(actor=manager, action=pilot, status=ActionStatus.DONE, version=1)
    return {"training": training, "replies": replies, "pilot": pilot}


def text(response) -> str:
    return unescape(response.content.decode())


def rows(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'id="action-row-(\d+)"', html)}


def ids(*items) -> set[int]:
    return {a.pk for a in items}


# The team's Actions page -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["participant", "manager", "facilitator"])
def test_it_shows_the_teams_actions_to_every_member(request, team, actions, who):
    page = client_for(request.getfixturevalue(who)).get(f"/teams/{team.pk}/actions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert rows(html) == ids(*actions.values())
    row = html[html.index(f'id="action-row-{actions["replies"].pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Answer Instagram questions within the hour" in row
    assert "Lea" in row and "E-commerce" in row
    assert "First visit to delivery" in row and "Awareness" in row
    assert "Overdue" in row and "is-overdue" in row
    assert "1 overdue" in html


def owner_loads(html: str) -> list[str]:
    """The "who owns what" list, one line per owner, as a reader sees it."""
    block = html[html.index('id="owner-loads"'):]
    block = block[: block.index("</ul>")]
    return [" ".join(re.sub(r"<[^>]+>", " ", "<li" + li).split()) for li in block.split("<li")[1:]]


def test_it_says_who_owns_what_most_overdue_first(as_manager, team, actions, participant, facilitator, board):
    services.create_action(
        actor=facilitator, scenario=board, title="Greet every client within a minute", owner=participant,
        notes=[friction(board, participant, "Consideration", "Ignored at the door during a VIC visit")],
        due_date=days(5),
    )
    html = text(as_manager.get(f"/teams/{team.pk}/actions/"))
    assert owner_loads(html) == ["Lea 1 to do · 1 overdue", "Sam 2 to do", "Marc 1 done"]
    assert f'href="/teams/{team.pk}/actions/?owner={participant.pk}">Sam</a>' in html
    assert f'href="/teams/{team.pk}/actions/?overdue=on"><strong>1 overdue</strong>' in html
    # The summary follows the filters, and is left out once the list is one owner's.
    html = text(as_manager.get(f"/teams/{team.pk}/actions/?status=done"))
    assert owner_loads(html) == ["Marc 1 done"]
    html = text(as_manager.get(f"/teams/{team.pk}/actions/?owner={participant.pk}"))
    assert owner_loads(html) == [] and len(rows(html)) == 2
    assert re.search(r'id="owner-loads"[^>]* hidden', html)


def test_it_hides_the_actions_page_from_other_teams(as_outsider, team, actions):
    assert as_outsider.get(f"/teams/{team.pk}/actions/").status_code == 404


def test_it_asks_anonymous_visitors_to_sign_in(team):
    r = Client().get(f"/teams/{team.pk}/actions/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("owner={participant}", ["training"]),
        ("status=done", ["pilot"]),
        ("status=active", ["training", "replies"]),
        ("workshop={second_workshop}", ["pilot"]),
        ("phase=Purchase", ["training", "pilot"]),  # a phase of the same name on two boards
        ("phase=Awareness", ["replies"]),
        ("overdue=on", ["replies"]),
        ("phase=Purchase&status=active", ["training"]),
        ("owner={participant}&overdue=on", []),
    ],
)
def test_it_filters_the_actions(
    as_manager, team, participant, second_board, actions, query, expected
):
    query = query.format(participant=participant.pk, second_workshop=second_board.workshop_id)
    html = as_manager.get(f"/teams/{team.pk}/actions/?{query}").content.decode()
    assert rows(html) == ids(*(actions[k] for k in expected))
    if not expected:
        assert "No action matches these filters" in html


def test_it_keeps_the_filters_in_the_form_and_the_csv_link(as_manager, team, actions):
    html = as_manager.get(
        f"/teams/{team.pk}/actions/?status=active&phase=Purchase"
    ).content.decode()
    assert '<option value="active" selected>' in html
    assert 'hx-push-url="true"' in html and 'method="get"' in html  # works with and without htmx
    assert '<option value="Purchase" selected>' in html
    assert f'href="/teams/{team.pk}/actions.csv?status=active&amp;phase=Purchase"' in html


def test_it_offers_the_teams_own_choices_only(as_manager, team, actions, outsider):
    html = as_manager.get(f"/teams/{team.pk}/actions/").content.decode()
    assert "Lea · E-commerce" in html and "Otto" not in html
    assert (
        html.count('<option value="Purchase"') == 1
    )  # one choice for the phase name, whatever the board


def test_it_ignores_a_filter_value_it_does_not_know(as_manager, team, actions):
    html = as_manager.get(f"/teams/{team.pk}/actions/?owner=999999&status=active").content.decode()
    assert rows(html) == ids(actions["training"], actions["replies"])
    assert "Select a valid choice" in html


def test_it_answers_an_htmx_filter_with_the_results_only(as_manager, team, actions):
    r = as_manager.get(
        f"/teams/{team.pk}/actions/?status=done", HTTP_HX_TARGET="action-results", **HX
    )
    html = r.content.decode()
    assert html.lstrip().startswith('<section id="action-results"')
    assert "<html" not in html and rows(html) == ids(actions["pilot"])
    assert "HX-Target" in r["Vary"]


def test_it_needs_the_same_number_of_queries_whatever_the_number_of_actions(
    as_manager, team, board, facilitator, participant, other_participant, actions
):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_manager.get(f"/teams/{team.pk}/actions/?status=active").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i, owner in enumerate(
        [participant, other_participant, facilitator, participant, other_participant]
    ):
        services.create_action(
            actor=facilitator,
            scenario=board,
            title=f"Follow-up call {i}",
            owner=owner,
            notes=[
                friction(board, owner, "Service", f"No call after the purchase ({i})"),
                friction(board, owner, "Purchase", f"Long wait at the till ({i})"),
            ],
            due_date=days(i + 1),
        )
    after = count()
    assert Action.objects.count() == 8
    assert after == before
    assert after <= 12


# The quick status change on a row ------------------------------------------------------------------------


def row_post(client, action, status, version=None, target=None):
    return client.post(
        f"/actions/{action.pk}/status/",
        {"status": status, "version": version or action.version},
        HTTP_HX_TARGET=target or f"action-row-{action.pk}",
        **HX,
    )


def test_it_changes_a_status_from_its_row(as_manager, actions):
    training = actions["training"]
    r = row_post(as_manager, training, ActionStatus.IN_PROGRESS)
    html = r.content.decode()
    assert r.status_code == 200
    assert html.lstrip().startswith(f'<tr id="action-row-{training.pk}"')
    assert "Saved: in progress." in html and 'name="version" value="2"' in html
    assert Action.objects.get(pk=training.pk).status == ActionStatus.IN_PROGRESS


def test_it_brings_the_counts_above_the_list_up_to_date_after_a_row_change(as_manager, team, actions):
    replies = actions["replies"]  # Lea's, overdue
    r = as_manager.post(
        f"/actions/{replies.pk}/status/",
        {"status": ActionStatus.DONE, "version": replies.version, "next": f"/teams/{team.pk}/actions/"},
        HTTP_HX_TARGET=f"action-row-{replies.pk}", **HX,
    )
    html = text(r)
    assert r.status_code == 200 and "Saved: done." in html
    assert re.search(r'<p class="result-count" id="result-count" hx-swap-oob="true"><strong>3</strong> actions</p>', html)
    assert 'id="owner-loads" aria-label="Who owns what" hx-swap-oob="true"' in html
    assert owner_loads(html) == ["Sam 1 to do", "Lea 1 done", "Marc 1 done"]
    # For the filters the page shows: still-open actions only, now two.
    training = actions["training"]
    r = as_manager.post(
        f"/actions/{training.pk}/status/",
        {"status": ActionStatus.DONE, "version": training.version,
         "next": f"/teams/{team.pk}/actions/?status=active"},
        HTTP_HX_TARGET=f"action-row-{training.pk}", **HX,
    )
    html = text(r)
    # The row stays on the page until it is filtered again: so does it in the counts.
    assert "<strong>1</strong> action</p>" in html and owner_loads(html) == ["Sam 1 done"]


def test_it_answers_a_stale_row_with_409_and_the_current_status(as_manager, actions, participant):
    training = actions["training"]
    services.update_action_status(
        actor=participant, action=training, status=ActionStatus.DONE, version=1
    )
    r = row_post(as_manager, training, ActionStatus.DROPPED, version=1)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone else updated this action in the meantime" in html and "“Done”" in html
    assert 'value="done" selected' in html and 'name="version" value="2"' in html
    assert Action.objects.get(pk=training.pk).status == ActionStatus.DONE


def test_it_answers_a_row_that_changes_nothing_with_422(as_manager, actions):
    r = row_post(as_manager, actions["training"], ActionStatus.OPEN)
    assert r.status_code == 422 and "Nothing changed" in r.content.decode()


def test_it_refuses_a_row_update_from_someone_who_may_not(as_participant, actions):
    replies = actions["replies"]  # Lea's, not Sam's
    r = row_post(as_participant, replies, ActionStatus.DONE)
    assert r.status_code == 403
    assert "Only the action's owner, a manager or a facilitator can update it." in text(r)
    assert Action.objects.get(pk=replies.pk).status == ActionStatus.OPEN


def test_it_shows_the_quick_form_only_on_rows_the_person_may_update(as_participant, team, actions):
    html = as_participant.get(f"/teams/{team.pk}/actions/").content.decode()
    assert f'id="quick-status-{actions["training"].pk}"' in html
    assert f'id="quick-status-{actions["replies"].pk}"' not in html


def test_it_hides_a_row_update_from_other_teams(as_outsider, actions):
    assert row_post(as_outsider, actions["training"], ActionStatus.DONE).status_code == 404


def test_it_falls_back_to_a_plain_post_that_goes_back_to_the_list(as_manager, team, actions):
    training = actions["training"]
    back = f"/teams/{team.pk}/actions/?status=active"
    r = as_manager.post(
        f"/actions/{training.pk}/status/", {"status": "done", "version": 1, "next": back}
    )
    assert r.status_code == 302 and r["Location"] == back
    r = as_manager.post(
        f"/actions/{training.pk}/status/",
        {"status": "open", "version": 2, "next": "https://elsewhere.example/"},
    )
    assert r["Location"] == f"/actions/{training.pk}/"


# One action's page ------------------------------------------------------------------------------------------


def test_it_shows_an_actions_notes_history_and_status_form(
    as_participant, board, actions, participant, manager
):
    training = actions["training"]
    services.update_action_status(
        actor=manager,
        action=training,
        status=ActionStatus.IN_PROGRESS,
        comment="Trainer booked for the 2nd",
        version=1,
    )
    html = as_participant.get(f"/actions/{training.pk}/").content.decode()
    note = training.notes.get()
    assert "Nobody could say which movement it has" in html
    assert "Purchase › Tries the piece on with an associate" in html
    assert f'href="/boards/{board.pk}/#note-{note.pk}"' in html
    history = html[html.index('id="history"') :]
    assert "Fiona" in history and "created: Open" in history
    assert (
        "Marc" in history
        and "Open → In progress" in history
        and "Trainer booked for the 2nd" in history
    )
    assert 'id="action-status-form"' in html and 'name="version" value="2"' in html


@pytest.mark.parametrize(
    "who, form",
    [("participant", True), ("manager", True), ("facilitator", True), ("other_participant", False)],
)
def test_it_shows_the_status_form_only_to_who_may_update(request, actions, who, form):
    html = (
        client_for(request.getfixturevalue(who))
        .get(f"/actions/{actions['training'].pk}/")
        .content.decode()
    )
    assert ('id="action-status-form"' in html) is form
    assert ('id="action-readonly"' in html) is not form


def test_it_shows_overdue_on_the_actions_page(as_manager, actions):
    assert (
        'id="action-overdue"'
        in as_manager.get(f"/actions/{actions['replies'].pk}/").content.decode()
    )
    assert (
        'id="action-overdue"'
        not in as_manager.get(f"/actions/{actions['training'].pk}/").content.decode()
    )


def test_it_hides_an_action_from_other_teams(as_outsider, actions):
    assert as_outsider.get(f"/actions/{actions['training'].pk}/").status_code == 404


def test_it_asks_anonymous_visitors_to_sign_in_for_an_action(actions):
    r = Client().get(f"/actions/{actions['training'].pk}/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    r = Client().post(
        f"/actions/{actions['training'].pk}/status/", {"status": "done", "version": 1}
    )
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert Action.objects.get(pk=actions["training"].pk).status == ActionStatus.OPEN


def test_it_updates_the_status_from_the_actions_page(as_participant, actions, participant):
    training = actions["training"]
    r = as_participant.post(
        f"/actions/{training.pk}/status/",
        {"status": "in_progress", "comment": "Two boutiques done", "version": 1},
        follow=True,
    )
    assert r.redirect_chain == [(f"/actions/{training.pk}/", 302)]
    html = r.content.decode()
    assert "is now in progress" in html and "Two boutiques done" in html
    step = ActionUpdate.objects.filter(action=training).last()
    assert (step.author, step.from_status, step.to_status) == (participant, "open", "in_progress")


def test_it_refuses_the_update_with_403_and_a_clear_message(as_participant, actions):
    r = as_participant.post(
        f"/actions/{actions['replies'].pk}/status/", {"status": "done", "version": 1}
    )
    assert r.status_code == 403
    assert "Only the action's owner, a manager or a facilitator can update it." in text(r)


@pytest.mark.parametrize("who", ["manager", "outsider"])
def test_it_answers_a_manager_and_an_outsider_as_they_should(request, actions, who):
    client = client_for(request.getfixturevalue(who))
    r = client.post(f"/actions/{actions['training'].pk}/status/", {"status": "done", "version": 1})
    assert r.status_code == (302 if who == "manager" else 404)


def test_it_answers_a_conflict_with_409_and_lets_the_person_save_again(
    as_participant, actions, manager
):
    training = actions["training"]
    services.update_action_status(
        actor=manager,
        action=training,
        status=ActionStatus.DROPPED,
        comment="Covered by the brand's academy",
        version=1,
    )
    r = as_participant.post(
        f"/actions/{training.pk}/status/",
        {"status": "done", "comment": "All associates trained", "version": 1},
    )
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone else updated this action in the meantime. It is now “Dropped”" in html
    assert "Covered by the brand's academy" in text(r)  # the history says what happened
    assert "All associates trained" in html and 'name="version" value="2"' in html
    assert Action.objects.get(pk=training.pk).status == ActionStatus.DROPPED


def test_it_explains_an_invalid_update_with_422(as_participant, actions):
    r = as_participant.post(
        f"/actions/{actions['training'].pk}/status/", {"status": "open", "version": 1}
    )
    assert r.status_code == 422 and "Nothing changed" in r.content.decode()
    r = as_participant.post(
        f"/actions/{actions['training'].pk}/status/", {"status": "finished", "version": 1}
    )
    assert r.status_code == 422 and "Select a valid choice" in r.content.decode()


# My actions ------------------------------------------------------------------------------------------------


def test_it_lists_my_actions_with_a_link_to_update_each_and_overdue_shown(
    actions, other_participant
):
    html = client_for(other_participant).get("/actions/mine/").content.decode()
    item = html[html.index(f'id="my-action-{actions["replies"].pk}"') :]
    item = item[: item.index("</li>")]
    assert "is-overdue" in item and "Overdue" in item
    assert f'href="/actions/{actions["replies"].pk}/"' in item and "Update status…" in item
    assert "Movement training" not in html  # someone else's


def test_it_asks_anonymous_visitors_to_sign_in_for_my_actions(db):
    r = Client().get("/actions/mine/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_it_links_the_team_actions_from_the_home_page(as_manager, team):
    page = as_manager.get("/").content.decode()
    assert f'href="/teams/{team.pk}/actions/"' in page


def test_it_offers_as_owners_the_team_less_removed_guests_who_own_nothing(as_manager, team, facilitator, workshop, board):
    from tests.test_guest_access import join

    _, gone = join(facilitator, workshop, display_name="Tomás")
    _, owner = join(facilitator, workshop, display_name="Inès")
    note = board_services.add_note(actor=facilitator, scenario=board, phase=board.phases.first(), kind="friction",
                                   text="No seat offered while the strap was fitted")
    services.create_action(actor=facilitator, scenario=board, notes=[note], title="Offer a seat", owner=owner,
                           due_date=timezone.localdate() + datetime.timedelta(days=7))
    services.revoke_guest(actor=facilitator, membership=gone)
    services.revoke_guest(actor=facilitator, membership=owner)
    html = as_manager.get(f"/teams/{team.pk}/actions/").content.decode()
    owners = re.search(r'<select name="owner".*?</select>', html, re.DOTALL).group(0)
    assert f'value="{owner.pk}"' in owners  # removed, but the owner of an action
    assert f'value="{gone.pk}"' not in owners and f'value="{facilitator.pk}"' in owners


def test_it_tells_an_empty_list_from_filters_that_match_nothing(as_manager, team, workshop):
    html = as_manager.get(f"/teams/{team.pk}/actions/").content.decode()
    assert "No actions yet. Actions appear here when a facilitator turns frictions into actions" in html
    html = as_manager.get(f"/teams/{team.pk}/actions/?status=done").content.decode()
    assert "No action matches these filters." in html and f'href="/teams/{team.pk}/actions/">Show every action' in html


def test_it_flags_an_action_due_today_everywhere_it_shows(as_manager, team, facilitator, participant, board):
    note = board_services.add_note(actor=facilitator, scenario=board, phase=board.phases.first(), kind="friction",
                                   text="The engraving took three weeks")
    today = timezone.localdate()
    action = services.create_action(actor=facilitator, scenario=board, notes=[note], title="Quote engraving times",
                                    owner=participant, due_date=today)
    badge = '<strong class="due-today-badge'
    row = re.search(rf'id="action-row-{action.pk}".*?</tr>', as_manager.get(f"/teams/{team.pk}/actions/").content.decode(), re.DOTALL)
    assert badge in row.group(0) and "overdue-badge" not in row.group(0)
    assert badge in as_manager.get(f"/actions/{action.pk}/").content.decode()
    assert badge in client_for(participant).get("/actions/mine/").content.decode()
    services.update_action_status(actor=participant, action=action, status=ActionStatus.DONE, version=action.version)
    assert badge not in as_manager.get(f"/actions/{action.pk}/").content.decode()  # done: nothing is due
