"""My actions: an action someone else gives you (made for you, or handed over in a re-plan) is
marked new, and counted in the menu, until you have seen it in "My actions"."""

from __future__ import annotations

import re
from html import unescape

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
    found = re.search(r'id="new-actions"([^>]*)>(\d+)<', page)
    assert found, "the menu always holds the count, hidden at 0, for a push to fill in"
    return None if re.search(r"\shidden\b", found.group(1)) else found.group(2)


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


def handed(page: str, action: Action) -> str | None:
    found = re.search(rf'<li id="handed-{action.pk}"[^>]*>(.*?)</li>', page, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()) if found else None


def test_it_tells_the_previous_owner_who_an_action_was_handed_to(
    board, facilitator, participant, other_participant, manager
):
    action = give(board, facilitator, participant)
    services.replan_action(actor=manager, action=action, title=action.title, owner=other_participant,
                           due_date=action.due_date, version=action.version)
    page = client_for(participant).get(reverse("my-actions")).content.decode()
    assert f'id="my-action-{action.pk}"' not in page  # no longer theirs to do...
    said = handed(page, action)  # ...and they are told so
    assert said is not None and "Handed to someone else" in page
    assert said.startswith("Gift-wrap at the till, not in the back Now with Lea")
    assert "handed over by Marc" in said and "Nothing left for you to do" in said
    # The push to their open page says it too, and nobody else's list does.
    assert f'id="handed-{action.pk}"' in workshops_render.my_actions(participant.user)
    for other in (other_participant, manager, facilitator):
        assert handed(client_for(other).get(reverse("my-actions")).content.decode(), action) is None


def test_it_forgets_a_hand_over_once_the_action_comes_back(board, facilitator, participant, other_participant):
    action = give(board, facilitator, participant)
    action = services.replan_action(actor=facilitator, action=action, title=action.title, owner=other_participant,
                                    due_date=action.due_date, version=action.version)
    services.replan_action(actor=facilitator, action=action, title=action.title, owner=participant,
                           due_date=action.due_date, version=action.version)
    page = client_for(participant).get(reverse("my-actions")).content.decode()
    assert f'id="my-action-{action.pk}"' in page and handed(page, action) is None
    said = handed(client_for(other_participant).get(reverse("my-actions")).content.decode(), action)
    assert "Now with" in said and "handed over by Fiona" in said


def test_it_says_you_handed_it_over_yourself(board, facilitator, other_participant):
    action = give(board, facilitator, facilitator)
    services.replan_action(actor=facilitator, action=action, title=action.title, owner=other_participant,
                           due_date=action.due_date, version=action.version)
    assert "handed over by you" in handed(client_for(facilitator).get(reverse("my-actions")).content.decode(), action)


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


COUNT = re.compile(r'<span class="nav-count" id="new-actions"[^>]*hx-swap-oob="true">(\d+)<')


@pytest.mark.django_db(transaction=True)
def test_it_updates_the_menu_count_live_on_the_owners_board_and_my_actions(board, facilitator, participant):
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from journeymap.asgi import application
    from tests.ws import communicator, session_cookie

    phone = client_for(participant)
    on_board, on_facilitators_board = communicator(board.pk, participant), communicator(board.pk, facilitator)
    my_actions = WebsocketCommunicator(application, "/ws/me/", headers=[
        (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", session_cookie(participant))])

    async def next_count(comm) -> str:
        while True:  # past the board's own pushes and the people present
            found = COUNT.search(await comm.receive_from(timeout=3))
            if found:
                return found.group(1)

    async def run():
        for comm in (on_board, on_facilitators_board, my_actions):
            assert (await comm.connect())[0]
        await my_actions.receive_from(timeout=3)  # the list as it is
        await database_sync_to_async(give)(board, facilitator, participant)
        assert await next_count(on_board) == "1"
        assert await next_count(my_actions) == "1"
        # Seen in "My actions" (another tab): every page of theirs drops the count.
        await database_sync_to_async(phone.get)(reverse("my-actions"))
        assert await next_count(on_board) == "0"
        # Nobody else's menu is touched.
        while not await on_facilitators_board.receive_nothing(timeout=0.2):
            assert not COUNT.search(await on_facilitators_board.receive_from())
        for comm in (on_board, on_facilitators_board, my_actions):
            await comm.disconnect()

    async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_new_badges_of_the_page_just_shown(board, facilitator, participant, other_participant):
    """The page's socket does not resend a list the page already shows (it would come without
    the badges that showing it cleared); it does send one that changed in between."""
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from journeymap.asgi import application
    from tests.ws import session_cookie

    action = give(board, facilitator, participant)
    page = client_for(participant).get(reverse("my-actions")).content.decode()
    assert new_badges(page) == [str(action.pk)]
    url = unescape(re.search(r'ws-connect="([^"]+)"', page).group(1))
    cookie = session_cookie(participant)

    def socket():
        return WebsocketCommunicator(application, url, headers=[
            (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)])

    async def run():
        current = socket()
        assert (await current.connect())[0]
        assert await current.receive_nothing(timeout=0.3)  # the page is up to date: badges stay
        await current.disconnect()
        # Something changed before the socket came up: the page gets the list as it is now.
        await database_sync_to_async(give)(board, facilitator, participant, "Call back within the day")
        stale = socket()
        assert (await stale.connect())[0]
        fresh = await stale.receive_from(timeout=3)
        assert 'id="my-actions"' in fresh and "Call back within the day" in fresh
        await stale.disconnect()

    async_to_sync(run)()
