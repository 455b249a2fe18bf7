"""The services behind reviewing actions: who may move an action on, the history it keeps,
version conflicts, calendar links that can be revoked, and planning the next session."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from boards import services as board_services
from boards.models import MicroInteraction, Note, Phase, Scenario
from workshops import feeds, services
from workshops.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    Membership,
    Workshop,
    WorkshopStatus,
)


def due(days: int = 14) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def friction(board, participant) -> Note:
    phase = board.phases.get(name="Purchase")
    return board_services.add_note(
        actor=participant,
        scenario=board,
        phase=phase,
        micro_interaction=phase.interactions.first(),
        kind="friction",
        text="Nobody could say which movement the watch has",
    )


@pytest.fixture
def action(board, facilitator, participant, friction) -> Action:
    return services.create_action(
        actor=facilitator,
        scenario=board,
        notes=[friction],
        title="Movement training for every associate",
        owner=participant,
        due_date=due(),
    )


def close(workshop: Workshop, facilitator: Membership) -> Workshop:
    return services.update_workshop(
        actor=facilitator,
        workshop=workshop,
        title=workshop.title,
        date=workshop.date,
        status=WorkshopStatus.CLOSED,
        follows_up=workshop.follows_up,
    )


# Who may update an action ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, allowed",
    [
        ("participant", True),  # the owner
        ("manager", True),
        ("facilitator", True),
        ("other_participant", False),
        ("outsider", False),
    ],
)
def test_it_lets_the_owner_managers_and_facilitators_update(request, action, who, allowed):
    member = request.getfixturevalue(who)
    assert services.can_update_action(member, action) is allowed


def test_it_records_each_step_in_the_history(action, participant, manager):
    services.update_action_status(
        actor=participant,
        action=action,
        status=ActionStatus.IN_PROGRESS,
        comment="Sessions booked with the workshop in Le Sentier",
        version=1,
    )
    done = services.update_action_status(
        actor=manager, action=action, status=ActionStatus.DONE, version=2
    )
    assert (done.status, done.version) == (ActionStatus.DONE, 3)
    steps = list(
        ActionUpdate.objects.filter(action=action).values_list(
            "author", "from_status", "to_status", "comment"
        )
    )
    assert steps[1:] == [
        (participant.pk, "open", "in_progress", "Sessions booked with the workshop in Le Sentier"),
        (manager.pk, "in_progress", "done", ""),
    ]
    assert steps[0][1:3] == ("", "open")  # created


def test_it_keeps_a_comment_without_a_status_change(action, participant):
    updated = services.update_action_status(
        actor=participant,
        action=action,
        status=ActionStatus.OPEN,
        comment="Waiting for the trainer's dates",
        version=1,
    )
    assert updated.status == ActionStatus.OPEN and updated.version == 2
    assert action.updates.last().comment == "Waiting for the trainer's dates"


def test_it_refuses_a_step_that_changes_nothing(action, participant):
    with pytest.raises(ValidationError, match="Nothing changed"):
        services.update_action_status(
            actor=participant, action=action, status=ActionStatus.OPEN, version=1
        )


def test_it_refuses_an_unknown_status(action, participant):
    with pytest.raises(ValidationError, match="status"):
        services.update_action_status(
            actor=participant, action=action, status="finished", version=1
        )


@pytest.mark.parametrize("who", ["other_participant", "outsider"])
def test_it_refuses_people_who_neither_own_nor_review_it(request, action, who):
    with pytest.raises(PermissionDenied, match="owner, a manager or a facilitator"):
        services.update_action_status(
            actor=request.getfixturevalue(who), action=action, status=ActionStatus.DONE, version=1
        )
    assert Action.objects.get(pk=action.pk).status == ActionStatus.OPEN


def test_it_refuses_a_stale_version(action, participant, manager):
    services.update_action_status(
        actor=manager, action=action, status=ActionStatus.DROPPED, version=1
    )
    with pytest.raises(board_services.Conflict) as caught:
        services.update_action_status(
            actor=participant, action=action, status=ActionStatus.DONE, version=1
        )
    assert caught.value.current.status == ActionStatus.DROPPED
    assert Action.objects.get(pk=action.pk).status == ActionStatus.DROPPED


# Calendar links ------------------------------------------------------------------------------------


def test_it_revokes_calendar_links_by_bumping_the_feed_version(participant):
    old = feeds.make_token(participant, feeds.PERSONAL)
    assert feeds.read_token(old) == (participant, feeds.PERSONAL)
    renewed = services.reset_calendar_links(actor=participant)
    assert renewed.feed_version == participant.feed_version + 1
    assert feeds.read_token(old) is None
    new = feeds.make_token(renewed, feeds.PERSONAL)
    assert new != old and feeds.read_token(new) == (renewed, feeds.PERSONAL)


def test_it_resets_only_the_actors_own_links(participant, manager):
    kept = feeds.make_token(manager, feeds.TEAM)
    services.reset_calendar_links(actor=participant)
    assert feeds.read_token(kept) == (manager, feeds.TEAM)


@pytest.mark.parametrize("token", ["", "nonsense", "12-me", "x-me.abc", "1-everyone.abc"])
def test_it_reads_no_membership_from_a_malformed_token(participant, token):
    assert feeds.read_token(token) is None


def test_it_refuses_a_token_whose_membership_was_changed(participant, manager):
    token = feeds.make_token(participant, feeds.TEAM)
    forged = f"{manager.pk}" + token[len(str(participant.pk)) :]
    assert feeds.read_token(forged) is None


# Planning the next session ---------------------------------------------------------------------------


@pytest.fixture
def rated_board(board, facilitator) -> Scenario:
    """The board, with a rated micro-interaction, a moment of truth and a custom phase goal."""
    purchase = board.phases.get(name="Purchase")
    mi = purchase.interactions.order_by("order").first()
    board_services.rate_micro_interaction(
        actor=facilitator, interaction=mi, emotion=-2, moment_of_truth="negative"
    )
    board_services.update_phase(
        actor=facilitator,
        phase=purchase,
        name="Purchase",
        goal="Leave proud of the piece",
        version=purchase.version,
    )
    return board


def test_it_plans_the_next_session_with_the_same_boards_and_no_notes(
    workshop, rated_board, facilitator, friction
):
    close(workshop, facilitator)
    new = services.plan_next_workshop(
        actor=facilitator,
        workshop=workshop,
        title="Follow-up: delivery",
        date=datetime.date(2026, 12, 18),
    )
    assert (new.title, new.date, new.status, new.follows_up) == (
        "Follow-up: delivery",
        datetime.date(2026, 12, 18),
        WorkshopStatus.PLANNED,
        workshop,
    )
    copy = new.scenarios.get()
    assert (copy.title, copy.description, copy.persona, copy.template_key) == (
        rated_board.title,
        rated_board.description,
        rated_board.persona,
        "",
    )

    def shape(scenario):
        phases = [
            (p.order, p.name, p.goal)
            for p in Phase.objects.filter(scenario=scenario).order_by("order")
        ]
        mis = [
            (m.phase.order, m.order, m.action, m.channel, m.emotion, m.moment_of_truth)
            for m in MicroInteraction.objects.filter(phase__scenario=scenario)
            .select_related("phase")
            .order_by("phase__order", "order")
        ]
        return phases, mis

    assert shape(copy) == shape(rated_board)
    assert (2, "Purchase", "Leave proud of the piece") in shape(copy)[0]
    assert any(m[4] == -2 and m[5] == "negative" for m in shape(copy)[1])
    assert not Note.objects.filter(scenario=copy).exists()
    assert (
        Note.objects.filter(scenario=rated_board).count() == 1
    )  # the closed workshop keeps its notes


@pytest.mark.parametrize("status", [WorkshopStatus.PLANNED, WorkshopStatus.LIVE])
def test_it_refuses_to_plan_after_a_workshop_that_is_not_closed(workshop, facilitator, status):
    Workshop.objects.filter(pk=workshop.pk).update(status=status)
    with pytest.raises(ValidationError, match="close it before planning its next session"):
        services.plan_next_workshop(
            actor=facilitator, workshop=workshop, title="Next", date=datetime.date(2026, 12, 1)
        )
    assert Workshop.objects.count() == 1


def test_it_refuses_a_next_session_dated_before_the_closed_one(workshop, facilitator):
    close(workshop, facilitator)
    with pytest.raises(ValidationError) as caught:
        services.plan_next_workshop(
            actor=facilitator, workshop=workshop, title="Next", date=workshop.date
        )
    assert "Pick a date after" in caught.value.message_dict["date"][0]


def test_it_refuses_to_plan_a_second_next_session_while_one_is_planned(workshop, facilitator):
    close(workshop, facilitator)
    services.plan_next_workshop(
        actor=facilitator, workshop=workshop, title="Next", date=datetime.date(2026, 12, 1)
    )
    with pytest.raises(ValidationError, match="already planned"):
        services.plan_next_workshop(
            actor=facilitator, workshop=workshop, title="Next", date=datetime.date(2026, 12, 1)
        )
    assert workshop.follow_ups.count() == 1


@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])
def test_it_lets_only_the_teams_facilitators_plan_the_next_session(
    request, workshop, facilitator, who
):
    close(workshop, facilitator)
    with pytest.raises(PermissionDenied):
        services.plan_next_workshop(
            actor=request.getfixturevalue(who),
            workshop=workshop,
            title="Next",
            date=datetime.date(2026, 12, 1),
        )
    assert Workshop.objects.count() == 1
