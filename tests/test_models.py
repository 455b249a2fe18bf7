"""The domain model's rules, held by the database itself: breaking one raises IntegrityError."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from boards import services
from boards.models import (
    BoardEvent,
    MicroInteraction,
    Note,
    Phase,
    Scenario,
    Vote,
    VotingRound,
    VotingStatus,
)
from workshops.models import Action, ActionStatus, Membership, Workshop

pytestmark = pytest.mark.django_db


def violates(create, *args, **kwargs) -> None:
    """Assert that the database refuses the write (in a savepoint, so the test can go on)."""
    with pytest.raises(IntegrityError), transaction.atomic():
        create(*args, **kwargs)


@pytest.fixture
def phase(board) -> Phase:
    return board.phases.order_by("order").first()


@pytest.fixture
def mi(phase) -> MicroInteraction:
    return phase.interactions.order_by("order").first()


@pytest.fixture
def other_board(workshop, facilitator) -> Scenario:
    return services.create_scenario(
        actor=facilitator, workshop=workshop, title="A VIC's anniversary gift"
    )


def note(mi_or_phase, *, order: int, **fields) -> Note:
    if isinstance(mi_or_phase, MicroInteraction):
        phase, mi = mi_or_phase.phase, mi_or_phase
    else:
        phase, mi = mi_or_phase, None
    return Note.objects.create(
        scenario_id=phase.scenario_id,
        phase=phase,
        micro_interaction=mi,
        text="A note",
        order=order,
        **fields,
    )


# Micro-interactions ----------------------------------------------------------------------------


@pytest.mark.parametrize("emotion", [-2, -1, 0, 1, 2, None])
def test_it_accepts_emotions_from_minus_two_to_two(mi, emotion):
    MicroInteraction.objects.filter(pk=mi.pk).update(emotion=emotion)
    mi.refresh_from_db()
    assert mi.emotion == emotion


@pytest.mark.parametrize("emotion", [-3, 3, 100])
def test_it_refuses_emotions_out_of_range(mi, emotion):
    violates(MicroInteraction.objects.filter(pk=mi.pk).update, emotion=emotion)
    violates(
        MicroInteraction.objects.create, phase=mi.phase, order=99, action="Frowns", emotion=emotion
    )


def test_it_refuses_a_channel_outside_the_list(phase):
    violates(
        MicroInteraction.objects.create, phase=phase, order=99, action="Sends a fax", channel="fax"
    )


def test_it_refuses_a_moment_of_truth_outside_the_list(mi):
    violates(MicroInteraction.objects.filter(pk=mi.pk).update, moment_of_truth="maybe")


def test_it_keeps_interaction_orders_unique_within_a_phase(mi, board):
    violates(
        MicroInteraction.objects.create, phase=mi.phase, order=mi.order, action="Twice in one slot"
    )
    next_phase = board.phases.exclude(pk=mi.phase_id).order_by("order").first()
    # The same order in another phase is fine.
    MicroInteraction.objects.filter(phase=next_phase, order=mi.order).delete()
    MicroInteraction.objects.create(
        phase=next_phase, order=mi.order, action="Same order, other phase"
    )


# Phases ----------------------------------------------------------------------------------------


def test_it_keeps_phase_orders_unique_within_a_board(board, other_board):
    violates(Phase.objects.create, scenario=board, order=0, name="A second first phase")
    Phase.objects.create(scenario=other_board, order=0, name="Awareness")


# Notes -----------------------------------------------------------------------------------------


def test_it_keeps_note_orders_unique_on_a_micro_interaction(mi):
    note(mi, order=0)
    violates(note, mi, order=0)
    note(mi, order=1)


def test_it_keeps_note_orders_unique_on_a_whole_phase(phase):
    note(phase, order=0)
    violates(note, phase, order=0)
    note(phase, order=1)


def test_it_numbers_each_container_of_notes_on_its_own(phase, mi):
    second = phase.interactions.order_by("order")[1]
    note(phase, order=0)
    note(mi, order=0)
    note(second, order=0)
    assert Note.objects.filter(phase=phase, order=0).count() == 3


def test_it_refuses_a_note_kind_outside_the_list(phase):
    violates(note, phase, order=0, kind="rant")


# Board events ----------------------------------------------------------------------------------


def test_it_keeps_event_seqs_unique_per_board(board, other_board):
    seq = board.last_seq
    violates(BoardEvent.objects.create, scenario=board, seq=seq, kind="note.added")
    BoardEvent.objects.create(scenario=other_board, seq=seq + 100, kind="note.added")
    BoardEvent.objects.create(scenario=board, seq=seq + 100, kind="note.added")


def test_it_keeps_request_ids_unique_per_board_but_allows_many_without_one(board, other_board):
    request_id = uuid.uuid4()
    BoardEvent.objects.create(scenario=board, seq=101, kind="note.added", request_id=request_id)
    violates(
        BoardEvent.objects.create, scenario=board, seq=102, kind="note.added", request_id=request_id
    )
    BoardEvent.objects.create(
        scenario=other_board, seq=101, kind="note.added", request_id=request_id
    )
    BoardEvent.objects.create(scenario=board, seq=103, kind="note.added")
    BoardEvent.objects.create(scenario=board, seq=104, kind="note.added")


# Voting ----------------------------------------------------------------------------------------


def test_it_allows_one_open_voting_round_per_board(board, other_board, facilitator):
    VotingRound.objects.create(scenario=board, opened_by=facilitator)
    violates(VotingRound.objects.create, scenario=board, opened_by=facilitator)
    VotingRound.objects.create(scenario=board, status=VotingStatus.CLOSED)
    VotingRound.objects.create(scenario=board, status=VotingStatus.REVEALED)
    VotingRound.objects.create(scenario=other_board)
    assert VotingRound.objects.filter(scenario=board, status=VotingStatus.OPEN).count() == 1


def test_it_refuses_a_voting_round_status_outside_the_list(board):
    violates(VotingRound.objects.create, scenario=board, status="paused")


@pytest.mark.parametrize("field", ["budget", "cap_per_note"])
def test_it_refuses_a_voting_round_without_dots(board, field):
    violates(VotingRound.objects.create, scenario=board, **{field: 0})


@pytest.fixture
def round_and_note(board, mi):
    return VotingRound.objects.create(scenario=board), note(mi, order=0, kind="friction")


def test_it_refuses_a_vote_of_zero_dots(round_and_note, participant):
    voting_round, friction = round_and_note
    violates(Vote.objects.create, round=voting_round, note=friction, voter=participant, dots=0)


def test_it_keeps_one_vote_per_voter_note_and_round(round_and_note, participant, other_participant):
    voting_round, friction = round_and_note
    Vote.objects.create(round=voting_round, note=friction, voter=participant, dots=2)
    violates(Vote.objects.create, round=voting_round, note=friction, voter=participant)
    Vote.objects.create(round=voting_round, note=friction, voter=other_participant)
    voting_round.status = VotingStatus.CLOSED
    voting_round.save()
    later = VotingRound.objects.create(scenario=voting_round.scenario)
    Vote.objects.create(round=later, note=friction, voter=participant)


# Teams, workshops, actions ---------------------------------------------------------------------


def test_it_seats_a_person_once_per_team(participant, other_team):
    violates(Membership.objects.create, user=participant.user, team=participant.team)
    Membership.objects.create(user=participant.user, team=other_team)


def test_it_refuses_a_role_outside_the_list(participant):
    violates(Membership.objects.filter(pk=participant.pk).update, role="owner")


def test_it_refuses_a_business_function_outside_the_list(participant):
    violates(Membership.objects.filter(pk=participant.pk).update, business_function="astrology")


def test_it_refuses_a_workshop_status_outside_the_list(workshop):
    violates(Workshop.objects.filter(pk=workshop.pk).update, status="postponed")


@pytest.fixture
def action(workshop, board, manager, facilitator) -> Action:
    return Action.objects.create(
        workshop=workshop,
        scenario=board,
        title="White-glove delivery for every first purchase",
        owner=manager,
        created_by=facilitator,
        due_date=datetime.date(2026, 12, 15),
    )


def test_it_refuses_an_action_status_outside_the_list(action):
    violates(Action.objects.filter(pk=action.pk).update, status="blocked")


# Derived properties ----------------------------------------------------------------------------


def test_it_names_a_member_by_display_name_then_full_name_then_username(team):
    user = get_user_model().objects.create_user(
        username="sophie", first_name="Sophie", last_name="Meier"
    )
    member = Membership.objects.create(user=user, team=team, display_name="Sophie (Zurich)")
    assert member.name == "Sophie (Zurich)"
    member.display_name = ""
    assert member.name == "Sophie Meier"
    user.first_name = user.last_name = ""
    assert member.name == "sophie"


def test_it_knows_facilitators_and_managers(facilitator, participant, manager):
    assert facilitator.is_facilitator and not facilitator.is_manager
    assert manager.is_manager and not manager.is_facilitator
    assert not participant.is_facilitator and not participant.is_manager


@pytest.mark.parametrize(
    ("status", "due", "overdue"),
    [
        (ActionStatus.OPEN, datetime.date(2026, 12, 14), True),
        (ActionStatus.IN_PROGRESS, datetime.date(2026, 12, 14), True),
        (ActionStatus.OPEN, datetime.date(2026, 12, 15), False),
        (ActionStatus.OPEN, datetime.date(2026, 12, 16), False),
        (ActionStatus.DONE, datetime.date(2026, 12, 1), False),
        (ActionStatus.DROPPED, datetime.date(2026, 12, 1), False),
    ],
)
def test_it_knows_when_an_action_is_overdue(action, status, due, overdue):
    action.status, action.due_date = status, due
    assert action.is_overdue(today=datetime.date(2026, 12, 15)) is overdue
    assert action.is_closed is (status in (ActionStatus.DONE, ActionStatus.DROPPED))


def test_it_measures_overdue_against_today_by_default(action):
    action.due_date = datetime.date(2000, 1, 1)
    assert action.is_overdue()
    action.due_date = datetime.date(2999, 1, 1)
    assert not action.is_overdue()


@pytest.mark.parametrize(
    ("emotion", "label"),
    [
        (None, "Not rated"),
        (-2, "Very negative"),
        (-1, "Negative"),
        (0, "Neutral"),
        (1, "Positive"),
        (2, "Very positive"),
    ],
)
def test_it_labels_emotions(emotion, label):
    assert MicroInteraction(emotion=emotion).emotion_label == label


def test_it_names_the_list_a_note_sits_in(phase, mi):
    assert note(mi, order=0).container_id == f"notes-mi-{mi.pk}"
    assert note(phase, order=0).container_id == f"notes-phase-{phase.pk}"


def test_it_knows_a_boards_team(board, team):
    assert board.team_id == team.pk
