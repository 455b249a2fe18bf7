"""My actions: an action someone else gives you (made for you, or handed over in a re-plan) is
marked new, and counted in the menu, until you have seen it in "My actions"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.conftest import client_for
from tests.test_actions_review import days, friction
from workshops import render as workshops_render
from workshops import services
from workshops.models import Action, ActionStatus


def give(board, facilitator, owner, title: str = "Gift-wrap at the till, not in the back") -> Action:
    return services.create_action(
        actor=facilitator, scenario=board, title=title, owner=owner,
        notes=[friction(board, owner, "Purchase", "The gift wrap took twenty minutes")], due_date=days(7),
    )


def menu_count(client) -> str | None:
    page = client.get(reverse("home")).content.decode()
    found = re.search(r'id="new-actions"[^>]*>(\d+)<', page)
    return found.group(1) if found else None


def new_badges(page: str) -> list[str]:
    return re.findall(r'id="my-action-(\d+)" class="[^"]*\bis-new\b', page)


def test_it_marks_an_action_given_to_you_as_new_until_you_have_seen_it(board, facilitator, participant):
    action = give(board, facilitator, participant)
    phone = client_for(participant)
    assert menu_count(phone) == "1"
    page = phone.get(reverse("my-actions")).content.decode()
    assert new_badges(page) == [str(action.pk)]
    item = page.split(f'id="my-action-{action.pk}"', 1)[1].split("</li>", 1)[0]
    assert "New" in item and "Given to you by Fiona" in item
    # Seen: neither the menu nor the list calls it new any more.
    assert menu_count(phone) is None
    assert new_badges(phone.get(reverse("my-actions")).content.decode()) == []


def test_it_counts_an_action_seen_once_its_owner_opens_it(board, facilitator, participant, manager):
    first, second = give(board, facilitator, participant), give(board, facilitator, participant, "Call back")
    client_for(manager).get(reverse("action-detail", args=[first.pk]))  # not the owner: still new
    assert menu_count(client_for(participant)) == "2"
    client_for(participant).get(reverse("action-detail", args=[first.pk]))
    assert menu_count(client_for(participant)) == "1"
    page = client_for(participant).get(reverse("my-actions")).content.decode()
    assert new_badges(page) == [str(second.pk)]


def test_it_counts_an_action_seen_once_its_owner_updates_it(board, facilitator, participant):
    action = give(board, facilitator, participant)
    services.update_action_status(actor=facilitator, action=action, status=ActionStatus.IN_PROGRESS,
                                  version=action.version)
    assert menu_count(client_for(participant)) == "1"  # someone else's update: still new to them
    action.refresh_from_db()
    services.update_action_status(actor=participant, action=action, status=ActionStatus.OPEN, version=action.version)
    assert menu_count(client_for(participant)) is None


def test_it_does_not_call_new_what_you_gave_yourself(board, facilitator):
    give(board, facilitator, facilitator)
    assert menu_count(client_for(facilitator)) is None


def test_it_marks_an_action_new_again_for_whoever_it_is_handed_to(
    board, facilitator, participant, other_participant, manager
):
    action = give(board, facilitator, participant)
    client_for(participant).get(reverse("my-actions"))  # seen
    action = services.replan_action(actor=manager, action=action, title=action.title, owner=other_participant,
                                    due_date=action.due_date, version=action.version)
    assert menu_count(client_for(other_participant)) == "1"
    page = client_for(other_participant).get(reverse("my-actions")).content.decode()
    assert "Given to you by Marc" in page
    # A new due date alone is no new action.
    action = services.replan_action(actor=manager, action=action, title=action.title, owner=other_participant,
                                    due_date=days(30), version=action.version)
    assert menu_count(client_for(other_participant)) is None
    assert menu_count(client_for(participant)) is None


def test_it_shows_new_in_the_push_to_an_open_my_actions_page(board, facilitator, participant):
    give(board, facilitator, participant)
    push = workshops_render.my_actions(participant.user)
    assert 'hx-swap-oob="true"' in push and "is-new" in push and "Given to you by Fiona" in push


def test_it_does_not_count_closed_actions_or_let_others_see_yours(board, facilitator, participant, manager):
    done = give(board, facilitator, participant, "Call back within the day")
    services.update_action_status(actor=participant, action=done, status=ActionStatus.DONE, version=done.version)
    give(board, facilitator, participant)
    client_for(manager).get(reverse("my-actions"))  # someone else's visit sees nothing of it
    assert menu_count(client_for(manager)) is None
    assert menu_count(client_for(participant)) == "1"


@pytest.mark.parametrize("who", ["outsider"])
def test_it_counts_nothing_for_someone_outside_the_team(request, board, facilitator, participant, who):
    give(board, facilitator, participant)
    assert menu_count(client_for(request.getfixturevalue(who))) is None
    assert menu_count(client_for(participant)) == "1"
