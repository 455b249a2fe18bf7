"""Following up: a closed workshop's facilitator plans the next session, which starts with the same
boards (no notes) and with the open actions to review first."""

from __future__ import annotations

import datetime
import re

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from boards import services as board_services
from tests.conftest import client_for
from workshops import render as workshops_render
from workshops import services
from workshops.models import ActionStatus, Workshop, WorkshopStatus


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def close(workshop: Workshop, facilitator) -> Workshop:
    return services.update_workshop(
        actor=facilitator,
        workshop=workshop,
        title=workshop.title,
        date=workshop.date,
        status=WorkshopStatus.CLOSED,
        follows_up=workshop.follows_up,
    )


def add_friction(board, member, text: str):
    phase = board.phases.get(name="Purchase")
    return board_services.add_note(
        actor=member, scenario=board, phase=phase, kind="friction", text=text
    )


@pytest.fixture
def decided(board, facilitator, participant, manager):
    """The workshop's actions: two still open, one done, one dropped."""

    def make(title: str, owner, status: str | None = None):
        action = services.create_action(
            actor=facilitator,
            scenario=board,
            title=title,
            owner=owner,
            notes=[add_friction(board, participant, f"Friction behind “{title}”")],
            due_date=days(10),
        )
        if status:
            action = services.update_action_status(
                actor=manager, action=action, status=status, version=1
            )
        return action

    return {
        "training": make("Movement training for every associate", participant),
        "pilot": make("White-glove delivery pilot", manager, ActionStatus.IN_PROGRESS),
        "engraving": make("Engraving offered at the till", participant, ActionStatus.DONE),
        "dropped": make("A lounge for every boutique", manager, ActionStatus.DROPPED),
    }


def still_open(html: str) -> str:
    """The list of actions still open, without the line of those closed since."""
    return html.split('id="closed-since"', 1)[0]


def closed_since(html: str) -> str:
    return html.split('id="closed-since"', 1)[1].split("</p>", 1)[0] if 'id="closed-since"' in html else ""


def plan(client, workshop, title="Follow-up: first visit to delivery", date="2026-12-18"):
    return client.post(f"/workshops/{workshop.pk}/plan-next/", {"title": title, "date": date})


def test_it_offers_to_plan_the_next_session_on_a_closed_workshops_summary(
    as_facilitator, workshop, facilitator
):
    assert (
        'id="plan-next-form"'
        not in as_facilitator.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    )
    close(workshop, facilitator)
    html = as_facilitator.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    assert 'id="plan-next-form"' in html and 'value="Follow-up: First visit to delivery"' in html


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_hides_the_plan_form_from_non_facilitators(request, workshop, facilitator, who):
    close(workshop, facilitator)
    html = (
        client_for(request.getfixturevalue(who))
        .get(f"/workshops/{workshop.pk}/summary/")
        .content.decode()
    )
    assert 'id="plan-next-form"' not in html


def test_it_plans_the_next_session_and_carries_the_open_actions(
    as_facilitator, workshop, board, facilitator, decided
):
    close(workshop, facilitator)
    r = plan(as_facilitator, workshop)
    new = Workshop.objects.exclude(pk=workshop.pk).get()
    assert r.status_code == 302 and r["Location"] == f"/workshops/{new.pk}/"
    assert (new.title, new.date, new.follows_up, new.status) == (
        "Follow-up: first visit to delivery",
        datetime.date(2026, 12, 18),
        workshop,
        WorkshopStatus.PLANNED,
    )
    copy = new.scenarios.get()
    assert copy.title == board.title and copy.phases.count() == board.phases.count()
    assert not copy.notes.exists()

    html = as_facilitator.get(f"/workshops/{new.pk}/summary/").content.decode()
    review = html[
        html.index('id="review-first"') : html.index("</section>", html.index('id="review-first"'))
    ]
    assert "Review first: open actions from First visit to delivery" in review
    assert (
        "Movement training for every associate" in review and "White-glove delivery pilot" in review
    )
    assert (
        "Engraving offered at the till" not in still_open(review)
        and "A lounge for every boutique" not in still_open(review)
    )
    # What was closed since that session is said too, apart.
    assert "✓ Engraving offered at the till" in closed_since(review)
    assert "– A lounge for every boutique" in closed_since(review)
    assert html.index('id="review-first"') < html.index(
        f'id="summary-scenario-{copy.pk}"'
    )  # at the top


def test_it_says_when_every_action_of_the_previous_workshop_is_closed(
    as_manager, workshop, facilitator, manager, decided
):
    for key in ("training", "pilot"):
        action = decided[key]
        services.update_action_status(
            actor=manager, action=action, status=ActionStatus.DONE, version=action.version
        )
    close(workshop, facilitator)
    new = services.plan_next_workshop(
        actor=facilitator, workshop=workshop, title="Next", date=days(30)
    )
    html = as_manager.get(f"/workshops/{new.pk}/summary/").content.decode()
    assert "Every action from First visit to delivery is done or dropped." in html


def test_it_keeps_carrying_an_action_until_it_is_closed(as_manager, workshop, facilitator, decided):
    close(workshop, facilitator)
    second = services.plan_next_workshop(
        actor=facilitator,
        workshop=workshop,
        title="Second session",
        date=datetime.date(2026, 12, 18),
    )
    close(second, facilitator)
    third = services.plan_next_workshop(
        actor=facilitator, workshop=second, title="Third session", date=datetime.date(2027, 1, 22)
    )
    html = as_manager.get(f"/workshops/{third.pk}/summary/").content.decode()
    assert "Review first: open actions from Second session" in html
    assert (
        "Movement training for every associate" in html and "from First visit to delivery" in html
    )


def test_it_reviews_the_actions_of_a_workshop_followed_up_by_hand(workshop, team, decided):
    later = Workshop.objects.create(
        team=team, title="Planned by hand", date=datetime.date(2027, 2, 1), follows_up=workshop
    )
    html = render_to_string("workshops/summary.html#review-first", workshops_render.review_first(later))
    assert "Review first: open actions from First visit to delivery" in html
    assert "Movement training for every associate" in html and "Engraving offered" not in still_open(html)
    assert (
        render_to_string(
            "workshops/summary.html#review-first", workshops_render.review_first(workshop)
        ).strip()
        == ""
    )


def test_it_points_to_the_next_session_once_it_is_planned(as_facilitator, workshop, facilitator):
    close(workshop, facilitator)
    plan(as_facilitator, workshop)
    new = Workshop.objects.exclude(pk=workshop.pk).get()
    html = as_facilitator.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    assert 'id="plan-next-form"' not in html
    assert f'<a href="/workshops/{new.pk}/">Follow-up: first visit to delivery</a> follows this workshop up (planned' in html
    assert "Open it to prepare its boards." in html
    page = as_facilitator.get(f"/workshops/{workshop.pk}/").content.decode()
    assert "Plan next session" not in page and "planned)" in page
    # A second plan is refused, and says why.
    r = plan(as_facilitator, workshop, title="Another follow-up")
    assert r.status_code == 422 and "is already planned as its next session" in r.content.decode()
    # Once the follow-up is closed too, the chain goes on from there.
    close(new, facilitator)
    html = as_facilitator.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    assert 'id="plan-next-form"' not in html
    assert f'Plan the session after it from <a href="/workshops/{new.pk}/summary/#plan-next">its summary</a>' in html
    assert 'id="plan-next-form"' in as_facilitator.get(f"/workshops/{new.pk}/summary/").content.decode()


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_shows_the_next_session_but_no_planning_to_others(request, workshop, facilitator, as_facilitator, who):
    close(workshop, facilitator)
    plan(as_facilitator, workshop)
    client = client_for(request.getfixturevalue(who))
    html = client.get(f"/workshops/{workshop.pk}/summary/").content.decode()
    assert 'id="summary-followed-by"' in html and 'id="next-session"' not in html


def test_it_refuses_to_plan_after_a_workshop_that_is_not_closed(as_facilitator, workshop):
    r = plan(as_facilitator, workshop)
    assert r.status_code == 422
    assert "is planned: close it before planning its next session." in r.content.decode()
    assert Workshop.objects.count() == 1


def test_it_explains_a_date_before_the_closed_workshop(as_facilitator, workshop, facilitator):
    close(workshop, facilitator)
    r = plan(as_facilitator, workshop, date="2026-11-01")
    assert r.status_code == 422
    assert "Pick a date after “First visit to delivery” (20 Nov 2026)." in r.content.decode()
    r = plan(as_facilitator, workshop, title="", date="")
    assert r.status_code == 422 and "This field is required." in r.content.decode()
    assert Workshop.objects.count() == 1


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_lets_only_facilitators_plan_the_next_session(request, workshop, facilitator, who):
    close(workshop, facilitator)
    r = plan(client_for(request.getfixturevalue(who)), workshop)
    assert r.status_code == 403 and "Only a facilitator can do this." in r.content.decode()
    assert Workshop.objects.count() == 1


def test_it_hides_planning_from_other_teams(as_outsider, workshop, facilitator):
    close(workshop, facilitator)
    assert plan(as_outsider, workshop).status_code == 404
    assert Workshop.objects.count() == 1


def test_it_asks_anonymous_visitors_to_sign_in_to_plan(workshop, facilitator):
    close(workshop, facilitator)
    r = plan(Client(), workshop)
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert Workshop.objects.count() == 1


# The follow-up's boards list the actions to review first ------------------------------------------


def review_box(html: str) -> str:
    start = html.index('id="review-board"')
    return html[start : html.index("</details>", start)]


@pytest.mark.parametrize("who", ["participant", "manager", "facilitator"])
def test_it_lists_the_actions_to_review_first_on_the_follow_ups_board(
    request, workshop, board, facilitator, decided, who
):
    close(workshop, facilitator)
    new = services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Next", date=days(30))
    copy = new.scenarios.get()
    html = client_for(request.getfixturevalue(who)).get(f"/boards/{copy.pk}/").content.decode()
    box = review_box(html)
    assert "Review first: open actions from First visit to delivery" in box
    assert "Movement training for every associate" in box and "White-glove delivery pilot" in box
    assert "Engraving offered at the till" not in still_open(box) and "A lounge for every boutique" not in still_open(box)
    assert "Engraving offered at the till" in closed_since(box)
    assert f'href="/actions/{decided["training"].pk}/"' in box  # shown to those who may update it
    # The first session's own board has nothing to review.
    assert 'id="review-board"' not in client_for(facilitator).get(f"/boards/{board.pk}/").content.decode()


def test_it_brings_the_review_up_to_date_on_the_follow_ups_board(workshop, facilitator, manager, decided):
    close(workshop, facilitator)
    new = services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Next", date=days(30))
    copy = new.scenarios.get()
    seq = copy.events.order_by("-seq").values_list("seq", flat=True).first() or 0
    training, pilot = decided["training"], decided["pilot"]
    services.update_action_status(actor=manager, action=training, status=ActionStatus.DONE, version=training.version)
    services.replan_action(actor=manager, action=pilot, title="White-glove delivery in two boutiques",
                           owner=pilot.owner, due_date=pilot.due_date, version=pilot.version)
    pushed = list(copy.events.filter(seq__gt=seq).order_by("seq").values_list("kind", "html"))
    assert [kind for kind, _ in pushed] == ["review.changed", "review.changed"]
    done, replanned = pushed[0][1], pushed[1][1]
    assert 'id="review-first" class="insight-body" hx-swap-oob="true"' in done
    assert "Movement training" not in still_open(done) and "White-glove delivery pilot" in still_open(done)
    assert "✓ Movement training for every associate" in closed_since(done)  # the room sees it got done
    assert "White-glove delivery in two boutiques" in replanned
    assert 'id="closed-loop"' in replanned  # its before-and-after table names the actions too


def test_it_shows_a_guest_the_review_but_no_way_into_earlier_actions(workshop, facilitator, decided):
    from tests.test_guest_access import join

    close(workshop, facilitator)
    new = services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Next", date=days(30))
    services.update_workshop(actor=facilitator, workshop=new, title=new.title, date=new.date,
                             status=WorkshopStatus.LIVE, follows_up=workshop)
    phone, guest = join(facilitator, new)
    html = phone.get(f"/boards/{new.scenarios.get().pk}/").content.decode()
    assert "Movement training for every associate" in review_box(html)  # as the room sees it
    assert re.search(r'<body class="[^"]*\bis-guest\b', html)  # its links go nowhere for them (CSS)
    assert phone.get(f"/actions/{decided['training'].pk}/").status_code == 404
