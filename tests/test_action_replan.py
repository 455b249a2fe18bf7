"""Changing an action's plan: a new owner, a new due date or a new title, decided in the review
meeting by a manager or a facilitator, kept in the action's history, shown on the board at once."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from boards import history
from boards import services as board_services
from boards.models import BoardEvent
from boards.services import Conflict
from tests.conftest import client_for
from workshops import services
from workshops.models import Action, ActionUpdate

pytestmark = pytest.mark.django_db


def due(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def action(board, facilitator, participant) -> Action:
    """Sam's action from a friction in Purchase, due in a fortnight."""
    note = board_services.add_note(actor=participant, scenario=board, phase=board.phases.get(name="Purchase"),
                                   kind="friction", text="Nobody could say which movement the watch has")
    return services.create_action(actor=facilitator, scenario=board, notes=[note], owner=participant,
                                  title="Movement training for every associate", due_date=due(14))


def replan(actor, action, **changes):
    fields = {"title": action.title, "owner": action.owner, "due_date": action.due_date, "version": action.version}
    return services.replan_action(actor=actor, action=action, **{**fields, **changes})


@pytest.mark.parametrize("who", ["manager", "facilitator"])
def test_it_hands_an_action_to_someone_else_with_a_new_due_date(request, who, action, other_participant, board):
    actor = request.getfixturevalue(who)
    before = action.due_date
    changed = replan(actor, action, owner=other_participant, due_date=due(30), comment="Léa runs the trainings now")
    action.refresh_from_db()
    assert (action.owner_id, action.due_date, action.version) == (other_participant.pk, due(30), 2)
    assert changed.pk == action.pk
    update = ActionUpdate.objects.filter(action=action).last()
    assert update.author_id == actor.pk and update.from_status == update.to_status == action.status
    assert update.is_replan
    assert update.comment == (
        f"Owner: Sam → Lea. Due date: {before.day} {before:%b %Y} → {due(30).day} {due(30):%b %Y}.\n"
        "Léa runs the trainings now"
    )
    event = BoardEvent.objects.filter(scenario=board).order_by("-seq").first()
    assert event.kind == "action.replanned"
    assert f"{action.title} · Lea · due {due(30).day} {due(30):%b}" in event.html  # the chip beside its note
    assert history.replay(board).timeline[-1].text.startswith("changed the owner, due date or title")


def test_it_renames_an_action_and_says_what_it_was_called(manager, action):
    old = action.title
    replan(manager, action, title="Movement masterclass for every associate")
    assert Action.objects.get(pk=action.pk).title == "Movement masterclass for every associate"
    assert ActionUpdate.objects.filter(action=action).last().comment == f"Renamed from “{old}”."


@pytest.mark.parametrize("who", ["participant", "other_participant", "outsider"])
def test_it_refuses_anyone_but_managers_and_facilitators(request, who, action):
    """The owner (participant) moves their action on, but does not move its due date."""
    with pytest.raises(PermissionDenied):
        replan(request.getfixturevalue(who), action, due_date=due(60))
    assert Action.objects.get(pk=action.pk).due_date == action.due_date


def test_it_refuses_a_due_date_in_the_past_and_nothing_changed(manager, action):
    with pytest.raises(ValidationError) as caught:
        replan(manager, action, due_date=timezone.localdate() - datetime.timedelta(days=1))
    assert caught.value.message_dict == {"due_date": ["Pick a due date from today on."]}
    with pytest.raises(ValidationError) as caught:
        replan(manager, action)
    assert "Nothing changed" in caught.value.messages[0]
    assert ActionUpdate.objects.filter(action=action).count() == 1


def test_it_keeps_an_overdue_date_when_only_the_owner_changes(manager, action, other_participant):
    Action.objects.filter(pk=action.pk).update(due_date=timezone.localdate() - datetime.timedelta(days=3))
    action.refresh_from_db()
    replan(manager, action, owner=other_participant)
    assert Action.objects.get(pk=action.pk).owner_id == other_participant.pk


def test_it_refuses_an_owner_from_another_team(manager, action, outsider):
    with pytest.raises(ValidationError) as caught:
        replan(manager, action, owner=outsider)
    assert "owner" in caught.value.message_dict


def test_it_refuses_a_stale_plan(manager, facilitator, action, other_participant):
    replan(facilitator, action, due_date=due(21))
    with pytest.raises(Conflict):
        replan(manager, action, owner=other_participant)  # read at version 1
    assert Action.objects.get(pk=action.pk).owner_id == action.owner_id


# The page --------------------------------------------------------------------------------------


def test_it_offers_the_form_to_managers_only(manager, participant, action):
    url = reverse("action-detail", args=[action.pk])
    assert 'id="action-replan-form"' in client_for(manager).get(url).content.decode()
    assert 'id="action-replan-form"' not in client_for(participant).get(url).content.decode()


def test_it_saves_a_new_plan_from_the_page(manager, other_participant, action):
    response = client_for(manager).post(
        reverse("action-replan", args=[action.pk]),
        {"title": action.title, "owner": other_participant.pk, "due_date": due(40).isoformat(), "version": 1,
         "comment": "Back from holiday on the 10th"},
        follow=True,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Saved: Lea owns" in page
    day = due(40)
    assert f"due {day.day} {day:%b %Y}." in page  # as dates are written everywhere: 5 Dec 2026, not 05 Dec
    assert "Owner: Sam → Lea." in page and "Back from holiday on the 10th" in page
    assert "new plan" in page
    assert Action.objects.get(pk=action.pk).owner_id == other_participant.pk


def test_it_shows_a_refused_plan_on_the_page(manager, action):
    response = client_for(manager).post(
        reverse("action-replan", args=[action.pk]),
        {"title": action.title, "owner": action.owner_id, "due_date": "2020-01-01", "version": 1},
    )
    assert response.status_code == 422
    assert "Pick a due date from today on." in response.content.decode()
    assert 'id="action-replan" open' in response.content.decode()


def test_it_tells_a_stale_page_what_happened(manager, facilitator, action):
    replan(facilitator, action, due_date=due(21))
    response = client_for(manager).post(
        reverse("action-replan", args=[action.pk]),
        {"title": action.title, "owner": action.owner_id, "due_date": due(50).isoformat(), "version": 1},
    )
    assert response.status_code == 409
    assert "Someone else updated this action in the meantime." in response.content.decode()
    assert Action.objects.get(pk=action.pk).due_date == due(21)


@pytest.mark.parametrize("who", ["participant", "outsider"])
def test_it_refuses_the_page_post_to_others(request, who, action):
    response = client_for(request.getfixturevalue(who)).post(
        reverse("action-replan", args=[action.pk]),
        {"title": "Mine now", "owner": action.owner_id, "due_date": due(50).isoformat(), "version": 1},
    )
    assert response.status_code == (404 if who == "outsider" else 403)
    assert Action.objects.get(pk=action.pk).title == action.title


def test_it_offers_no_past_day_in_the_picker_but_the_actions_own(manager, action):
    url = reverse("action-detail", args=[action.pk])
    assert f'min="{timezone.localdate().isoformat()}"' in client_for(manager).get(url).content.decode()
    overdue = timezone.localdate() - datetime.timedelta(days=3)
    Action.objects.filter(pk=action.pk).update(due_date=overdue)
    assert f'min="{overdue.isoformat()}"' in client_for(manager).get(url).content.decode()


@pytest.mark.parametrize("name", ["action-replan", "action-status"])
def test_it_sends_a_reload_of_a_refused_form_to_the_actions_page(name, manager, outsider, action):
    """A refused form shows on its post's address; reloading it (a GET) opens the action."""
    url = reverse(name, args=[action.pk])
    response = client_for(manager).get(url)
    assert response.status_code == 302 and response["Location"] == reverse("action-detail", args=[action.pk])
    assert client_for(outsider).get(url).status_code == 404
