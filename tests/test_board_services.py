"""boards.services, the one write path for boards.

Each function: what it writes, the event it appends (the next seq, and a push carrying the right
fragment), who may call it, what it refuses, how it handles a concurrent edit and a retried
request, and that its push reaches the channel layer only once the transaction has committed.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.html import escape

from boards import events, services
from boards.journey_templates import DEFAULT_TEMPLATE
from boards.models import (
    BoardEvent,
    MicroInteraction,
    MomentOfTruth,
    Note,
    NoteKind,
    Phase,
    Scenario,
)
from tests.conftest import make_member
from workshops.models import Persona, Role

pytestmark = pytest.mark.django_db


# Helpers ---------------------------------------------------------------------------------------


def last_event(board: Scenario) -> BoardEvent:
    return BoardEvent.objects.filter(scenario=board).order_by("-seq").first()


def event_count(board: Scenario) -> int:
    return BoardEvent.objects.filter(scenario=board).count()


def assert_event(
    board: Scenario, *, seq: int, kind: str, actor, fragments: list[str]
) -> BoardEvent:
    """The newest event has this seq and kind, and its push starts with the seq marker and
    carries each fragment as an out-of-band swap of the element with that id."""
    event = last_event(board)
    assert (event.seq, event.kind, event.actor_id) == (seq, kind, actor.pk)
    assert Scenario.objects.get(pk=board.pk).last_seq == seq
    assert event.html.startswith(f'<span id="board-seq" data-seq="{seq}"')
    for fragment_id in fragments:
        assert re.search(rf'<\w+ id="{fragment_id}"[^>]*hx-swap-oob="true"', event.html), (
            f"no out-of-band fragment with id={fragment_id!r} in the push"
        )
    return event


def board_state(board: Scenario) -> tuple:
    """Everything on a board, to prove that a refused write changed nothing."""
    return (
        Scenario.objects.filter(pk=board.pk)
        .values_list("title", "description", "persona_id", "last_seq")
        .get(),
        list(
            Phase.objects.filter(scenario=board)
            .order_by("pk")
            .values_list("pk", "order", "name", "goal", "version")
        ),
        list(
            MicroInteraction.objects.filter(phase__scenario=board)
            .order_by("pk")
            .values_list(
                "pk",
                "phase_id",
                "order",
                "action",
                "channel",
                "emotion",
                "moment_of_truth",
                "version",
            )
        ),
        list(
            Note.objects.filter(scenario=board)
            .order_by("pk")
            .values_list(
                "pk",
                "phase_id",
                "micro_interaction_id",
                "order",
                "kind",
                "text",
                "author_id",
                "version",
            )
        ),
        event_count(board),
    )


def note_order(*, phase: Phase | None = None, mi: MicroInteraction | None = None) -> list[int]:
    """The pks of a container's notes, in order, after checking the orders run 0..n-1."""
    if mi is not None:
        rows = list(
            Note.objects.filter(micro_interaction=mi).order_by("order").values_list("pk", "order")
        )
    else:
        rows = list(
            Note.objects.filter(phase=phase, micro_interaction__isnull=True)
            .order_by("order")
            .values_list("pk", "order")
        )
    assert [order for _, order in rows] == list(range(len(rows)))
    return [pk for pk, _ in rows]


def phase_order(board: Scenario) -> list[int]:
    rows = list(Phase.objects.filter(scenario=board).order_by("order").values_list("pk", "order"))
    assert [order for _, order in rows] == list(range(len(rows)))
    return [pk for pk, _ in rows]


def interaction_order(phase: Phase) -> list[int]:
    rows = list(
        MicroInteraction.objects.filter(phase=phase).order_by("order").values_list("pk", "order")
    )
    assert [order for _, order in rows] == list(range(len(rows)))
    return [pk for pk, _ in rows]


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


# Fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def consideration(phases) -> Phase:
    return phases[1]


@pytest.fixture
def mi(awareness) -> MicroInteraction:
    return awareness.interactions.order_by("order")[0]


@pytest.fixture
def other_mi(awareness) -> MicroInteraction:
    return awareness.interactions.order_by("order")[1]


@pytest.fixture
def live_chat(consideration) -> MicroInteraction:
    return consideration.interactions.get(action="Asks for a model's details on live chat")


def add(member, board, phase, mi=None, text="A note", kind=NoteKind.OBSERVATION) -> Note:
    return services.add_note(
        actor=member, scenario=board, phase=phase, micro_interaction=mi, kind=kind, text=text
    )


@pytest.fixture
def sams_note(participant, board, awareness, mi) -> Note:
    return add(participant, board, awareness, mi, "No one on live chat at 10 pm", NoteKind.FRICTION)


@pytest.fixture
def other_board(workshop, facilitator) -> Scenario:
    return services.create_scenario(
        actor=facilitator,
        workshop=workshop,
        title="A patron's anniversary gift",
        template_key=DEFAULT_TEMPLATE,
    )


@pytest.fixture
def b(board, awareness, consideration, mi, other_mi, sams_note) -> SimpleNamespace:
    """The board and a few things on it, for the tables of operations below."""
    return SimpleNamespace(
        board=board,
        phase=awareness,
        consideration=consideration,
        mi=mi,
        other_mi=other_mi,
        note=sams_note,
    )


# Scenarios -------------------------------------------------------------------------------------


def test_it_creates_a_blank_board_with_its_first_event(facilitator, workshop, persona):
    board = services.create_scenario(
        actor=facilitator, workshop=workshop, title="  Camille's   first watch ", persona=persona
    )
    assert board.title == "Camille's first watch"
    assert board.persona == persona and board.template_key == ""
    assert not board.phases.exists()
    event = assert_event(board, seq=1, kind="scenario.created", actor=facilitator, fragments=[])
    assert event.payload == {"template": ""}


def test_it_creates_a_board_from_a_template(board, facilitator):
    assert board.template_key == DEFAULT_TEMPLATE
    assert board.phases.count() == 5
    assert MicroInteraction.objects.filter(phase__scenario=board).count() == 17
    assert_event(board, seq=1, kind="scenario.created", actor=facilitator, fragments=[])


@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])
def test_it_lets_only_the_teams_facilitators_create_a_board(request, workshop, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.create_scenario(
            actor=actor, workshop=workshop, title="Sneaky", template_key=DEFAULT_TEMPLATE
        )
    assert not Scenario.objects.exists()
    assert not Phase.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 161}, "title"),
        ({"title": "Ok", "description": "x" * 2001}, "description"),
        ({"title": "Ok", "template_key": "cruise-ship"}, "template"),
    ],
)
def test_it_refuses_an_invalid_board(facilitator, workshop, fields, error_field):
    with pytest.raises(ValidationError) as caught:
        services.create_scenario(actor=facilitator, workshop=workshop, **fields)
    assert error_field in caught.value.message_dict
    assert not Scenario.objects.exists()


def test_it_refuses_another_teams_persona(facilitator, workshop, other_team, board):
    theirs = Persona.objects.create(team=other_team, name="Henri", segment="VIC")
    with pytest.raises(ValidationError) as caught:
        services.create_scenario(actor=facilitator, workshop=workshop, title="Ok", persona=theirs)
    assert "persona" in caught.value.message_dict
    before = board_state(board)
    with pytest.raises(ValidationError):
        services.update_scenario(
            actor=facilitator, scenario=board, title="Ok", description="", persona=theirs
        )
    assert board_state(board) == before


def test_it_updates_a_board(facilitator, board):
    updated = services.update_scenario(
        actor=facilitator,
        scenario=board,
        title="Camille, told to wait",
        description="Line one\nLine two",
        persona=None,
    )
    assert (updated.title, updated.description, updated.persona) == (
        "Camille, told to wait",
        "Line one\nLine two",
        None,
    )
    assert fresh(board).title == "Camille, told to wait"
    event = assert_event(
        board, seq=2, kind="scenario.updated", actor=facilitator, fragments=["scenario-head"]
    )
    assert "Camille, told to wait" in event.html


def test_it_refuses_an_empty_board_title(facilitator, board):
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        services.update_scenario(
            actor=facilitator, scenario=board, title=" ", description="", persona=None
        )
    assert "title" in caught.value.message_dict
    assert board_state(board) == before


def test_it_refuses_a_null_character_with_a_clear_error(facilitator, participant, board):
    """Forms refuse it already; an import or a command calls the services directly, and
    PostgreSQL would fail on it."""
    before = board_state(board)
    phase = board.phases.first()
    with pytest.raises(ValidationError) as caught:
        services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text="Gift\x00wrap")
    assert caught.value.message_dict == {"text": ["Null characters are not allowed."]}
    with pytest.raises(ValidationError):
        services.update_scenario(actor=facilitator, scenario=board, title="A\x00", description="", persona=None)
    assert board_state(board) == before


# Facilitator-only operations -------------------------------------------------------------------

FACILITATOR_ONLY: dict[str, Callable[[Any, SimpleNamespace], Any]] = {
    "update_scenario": lambda actor, b: services.update_scenario(
        actor=actor, scenario=b.board, title="Renamed", description="", persona=None
    ),
    "add_phase": lambda actor, b: services.add_phase(actor=actor, scenario=b.board, name="Repair"),
    "update_phase": lambda actor, b: services.update_phase(
        actor=actor, phase=b.phase, name="Discovery", goal="", version=b.phase.version
    ),
    "move_phase": lambda actor, b: services.move_phase(actor=actor, phase=b.phase, position=3),
    "add_micro_interaction": lambda actor, b: services.add_micro_interaction(
        actor=actor, phase=b.phase, action="Reads a magazine review", channel="other"
    ),
    "update_micro_interaction": lambda actor, b: services.update_micro_interaction(
        actor=actor,
        interaction=b.mi,
        action="Sees a reel",
        channel="social",
        emotion=1,
        moment_of_truth="none",
        version=b.mi.version,
    ),
    "rate_micro_interaction": lambda actor, b: services.rate_micro_interaction(
        actor=actor, interaction=b.mi, emotion=-2, moment_of_truth="negative"
    ),
    "move_micro_interaction": lambda actor, b: services.move_micro_interaction(
        actor=actor, interaction=b.mi, position=2
    ),
}


@pytest.mark.parametrize("operation", FACILITATOR_ONLY)
@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])
def test_it_lets_only_a_facilitator_change_the_board_itself(request, b, operation, who):
    actor = request.getfixturevalue(who)
    before = board_state(b.board)
    with pytest.raises(PermissionDenied):
        FACILITATOR_ONLY[operation](actor, b)
    assert board_state(b.board) == before


@pytest.mark.parametrize("operation", FACILITATOR_ONLY)
def test_it_refuses_a_facilitator_of_another_team(b, other_team, operation):
    stranger = make_member(other_team, "olga", Role.FACILITATOR)
    before = board_state(b.board)
    with pytest.raises(PermissionDenied):
        FACILITATOR_ONLY[operation](stranger, b)
    assert board_state(b.board) == before


# Phases ----------------------------------------------------------------------------------------


def test_it_adds_a_phase_at_the_end(facilitator, board, phases):
    phase = services.add_phase(
        actor=facilitator, scenario=board, name=" Repair ", goal="Get it back like new"
    )
    assert (phase.name, phase.goal, phase.order) == ("Repair", "Get it back like new", 5)
    assert phase_order(board) == [p.pk for p in phases] + [phase.pk]
    event = assert_event(board, seq=2, kind="phase.added", actor=facilitator, fragments=["board"])
    assert f'id="phase-{phase.pk}"' in event.html
    assert event.payload == {"phase": phase.pk, "name": "Repair"}


@pytest.mark.parametrize(("position", "index"), [(0, 0), (2, 2), (-4, 0), (99, 5), (None, 5)])
def test_it_adds_a_phase_where_asked(facilitator, board, phases, position, index):
    phase = services.add_phase(
        actor=facilitator, scenario=board, name="Pre-owned", position=position
    )
    expected = [p.pk for p in phases]
    expected.insert(index, phase.pk)
    assert phase_order(board) == expected
    assert fresh(phase).order == index


@pytest.mark.parametrize(
    ("name", "goal", "error_field"),
    [("", "", "name"), ("   ", "", "name"), ("x" * 81, "", "name"), ("Ok", "x" * 241, "goal")],
)
def test_it_refuses_an_invalid_phase(facilitator, board, awareness, name, goal, error_field):
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        services.add_phase(actor=facilitator, scenario=board, name=name, goal=goal)
    assert error_field in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.update_phase(
            actor=facilitator, phase=awareness, name=name, goal=goal, version=awareness.version
        )
    assert board_state(board) == before


def test_it_renames_a_phase(facilitator, board, awareness):
    phase = services.update_phase(
        actor=facilitator, phase=awareness, name="Discovery", goal="Notice the maison", version=1
    )
    assert (phase.name, phase.goal, phase.version) == ("Discovery", "Notice the maison", 2)
    assert fresh(awareness).name == "Discovery"
    event = assert_event(
        board,
        seq=2,
        kind="phase.updated",
        actor=facilitator,
        fragments=[f"phase-head-{awareness.pk}"],
    )
    assert "Discovery" in event.html


def test_it_refuses_a_stale_phase_rename_with_the_current_phase(facilitator, board, awareness):
    services.update_phase(actor=facilitator, phase=awareness, name="Discovery", goal="", version=1)
    before = board_state(board)
    with pytest.raises(services.Conflict) as caught:
        services.update_phase(
            actor=facilitator, phase=awareness, name="Inspiration", goal="", version=1
        )
    assert isinstance(caught.value.current, Phase)
    assert (caught.value.current.pk, caught.value.current.name, caught.value.current.version) == (
        awareness.pk,
        "Discovery",
        2,
    )
    assert caught.value.message == "Fiona changed this phase while you were typing."
    assert board_state(board) == before


def test_it_moves_a_phase(facilitator, board, phases):
    a, b, c, d, e = (p.pk for p in phases)
    moved = services.move_phase(actor=facilitator, phase=phases[4], position=1)
    assert moved.order == 1
    assert phase_order(board) == [a, e, b, c, d]
    event = assert_event(board, seq=2, kind="phase.moved", actor=facilitator, fragments=["board"])
    assert event.payload == {"phase": e, "position": 1}
    services.move_phase(actor=facilitator, phase=phases[0], position=99)
    assert phase_order(board) == [e, b, c, d, a]
    services.move_phase(actor=facilitator, phase=phases[0], position=-1)
    assert phase_order(board) == [a, e, b, c, d]


# Micro-interactions ----------------------------------------------------------------------------


def test_it_adds_a_micro_interaction_at_the_end_of_its_phase(facilitator, board, consideration):
    before = interaction_order(consideration)
    mi = services.add_micro_interaction(
        actor=facilitator,
        phase=consideration,
        action="Waits at the door while staff serve a VIC",
        channel="boutique",
        emotion=-2,
        moment_of_truth="negative",
    )
    assert (mi.order, mi.emotion, mi.moment_of_truth) == (len(before), -2, "negative")
    assert interaction_order(consideration) == before + [mi.pk]
    event = assert_event(
        board,
        seq=2,
        kind="interaction.added",
        actor=facilitator,
        fragments=[f"phase-{consideration.pk}"],
    )
    assert f'id="mi-{mi.pk}"' in event.html


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"action": "  "}, "action"),
        ({"action": "x" * 201}, "action"),
        ({"channel": "carrier-pigeon"}, "channel"),
        ({"emotion": 3}, "emotion"),
        ({"emotion": -3}, "emotion"),
        ({"moment_of_truth": "maybe"}, "moment_of_truth"),
    ],
)
def test_it_refuses_an_invalid_micro_interaction(
    facilitator, board, awareness, mi, fields, error_field
):
    values = {
        "action": "Reads a review",
        "channel": "website",
        "emotion": None,
        "moment_of_truth": "none",
        **fields,
    }
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        services.add_micro_interaction(actor=facilitator, phase=awareness, **values)
    assert error_field in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.update_micro_interaction(
            actor=facilitator, interaction=mi, version=mi.version, **values
        )
    assert board_state(board) == before


def test_it_updates_a_micro_interaction(facilitator, board, mi):
    updated = services.update_micro_interaction(
        actor=facilitator,
        interaction=mi,
        action="Sees the campaign film on Instagram",
        channel="social",
        emotion=2,
        moment_of_truth="positive",
        version=1,
    )
    assert (updated.action, updated.emotion, updated.moment_of_truth, updated.version) == (
        "Sees the campaign film on Instagram",
        2,
        "positive",
        2,
    )
    event = assert_event(
        board, seq=2, kind="interaction.updated", actor=facilitator, fragments=[f"mi-head-{mi.pk}"]
    )
    assert "Sees the campaign film on Instagram" in event.html


def test_it_refuses_a_stale_micro_interaction_update_with_the_current_one(facilitator, board, mi):
    services.rate_micro_interaction(
        actor=facilitator, interaction=mi, emotion=-1, moment_of_truth="none"
    )
    before = board_state(board)
    with pytest.raises(services.Conflict) as caught:
        services.update_micro_interaction(
            actor=facilitator,
            interaction=mi,
            action="Changed",
            channel="social",
            emotion=1,
            moment_of_truth="none",
            version=1,
        )
    current = caught.value.current
    assert isinstance(current, MicroInteraction)
    assert (current.pk, current.emotion, current.version) == (mi.pk, -1, 2)
    assert caught.value.message == "Fiona changed this micro-interaction while you were typing."
    assert board_state(board) == before


def test_it_rates_a_micro_interaction_without_a_version(facilitator, board, live_chat):
    rated = services.rate_micro_interaction(
        actor=facilitator, interaction=live_chat, emotion=-2, moment_of_truth=MomentOfTruth.NEGATIVE
    )
    assert (rated.emotion, rated.moment_of_truth, rated.version) == (-2, "negative", 2)
    event = assert_event(
        board,
        seq=2,
        kind="interaction.rated",
        actor=facilitator,
        fragments=[f"mi-head-{live_chat.pk}"],
    )
    assert event.payload == {
        "interaction": live_chat.pk,
        "emotion": -2,
        "moment_of_truth": "negative",
    }
    assert "Very negative" in event.html
    # A second rating from the same stale object is an absolute set, not a conflict.
    again = services.rate_micro_interaction(
        actor=facilitator, interaction=live_chat, emotion=None, moment_of_truth="none"
    )
    assert (again.emotion, again.moment_of_truth, again.version) == (None, "none", 3)
    assert "Not rated" in last_event(board).html


@pytest.mark.parametrize(("emotion", "moment"), [(3, "none"), (-3, "none"), (0, "huge")])
def test_it_refuses_an_invalid_rating(facilitator, board, mi, emotion, moment):
    before = board_state(board)
    with pytest.raises(ValidationError):
        services.rate_micro_interaction(
            actor=facilitator, interaction=mi, emotion=emotion, moment_of_truth=moment
        )
    assert board_state(board) == before


def test_it_moves_a_micro_interaction_within_its_phase(facilitator, board, consideration):
    first, second, third, fourth = interaction_order(consideration)
    moved = services.move_micro_interaction(
        actor=facilitator, interaction=MicroInteraction.objects.get(pk=fourth), position=0
    )
    assert moved.order == 0
    assert interaction_order(consideration) == [fourth, first, second, third]
    assert_event(
        board,
        seq=2,
        kind="interaction.moved",
        actor=facilitator,
        fragments=[f"phase-{consideration.pk}"],
    )
    services.move_micro_interaction(actor=facilitator, interaction=fresh(moved), position=99)
    assert interaction_order(consideration) == [first, second, third, fourth]


# Notes: adding ---------------------------------------------------------------------------------


def test_it_adds_notes_in_order_on_a_micro_interaction(
    participant, other_participant, board, awareness, mi
):
    first = add(
        participant, board, awareness, mi, "  The post of the   new collection\tcaught her eye "
    )
    assert first.text == "The post of the new collection caught her eye"
    assert (first.author, first.order, first.scenario_id, first.phase_id) == (
        participant,
        0,
        board.pk,
        awareness.pk,
    )
    event = assert_event(
        board, seq=2, kind="note.added", actor=participant, fragments=[f"notes-mi-{mi.pk}"]
    )
    assert f'id="note-{first.pk}"' in event.html
    assert event.payload == {
        "note": first.pk,
        "kind": "observation",
        "text": first.text,
        "phase": awareness.pk,
        "interaction": mi.pk,
        "hidden": False,
    }
    second = add(other_participant, board, awareness, mi, "She saved it", NoteKind.DELIGHT)
    assert second.order == 1
    assert note_order(mi=mi) == [first.pk, second.pk]
    pushed = assert_event(
        board, seq=3, kind="note.added", actor=other_participant, fragments=[f"notes-mi-{mi.pk}"]
    )
    assert f'id="note-{first.pk}"' in pushed.html and f'id="note-{second.pk}"' in pushed.html


def test_it_adds_a_note_on_a_whole_phase(manager, board, awareness, mi):
    add(manager, board, awareness, mi, "On the interaction")
    note = add(
        manager, board, awareness, None, "How did she first hear about us?", NoteKind.QUESTION
    )
    assert note.micro_interaction is None and note.order == 0
    event = assert_event(
        board, seq=3, kind="note.added", actor=manager, fragments=[f"notes-phase-{awareness.pk}"]
    )
    assert f'id="note-{note.pk}"' in event.html
    assert f"notes-mi-{mi.pk}" not in event.html


def test_it_keeps_multiline_notes_as_written(participant, board, awareness):
    note = add(participant, board, awareness, None, "  Two things:\n- the door\n- the wait  ")
    assert note.text == "Two things:\n- the door\n- the wait"


def test_it_refuses_a_note_from_another_team(outsider, board, awareness, mi):
    before = board_state(board)
    with pytest.raises(PermissionDenied):
        add(outsider, board, awareness, mi, "Not my maison")
    assert board_state(board) == before


@pytest.mark.parametrize(
    ("text", "kind", "error_field"),
    [
        ("", "friction", "text"),
        (" \n\t ", "friction", "text"),
        ("x" * 501, "friction", "text"),
        ("A rant", "rant", "kind"),
        ("A rant", "", "kind"),
    ],
)
def test_it_refuses_an_invalid_note(participant, board, awareness, mi, text, kind, error_field):
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        add(participant, board, awareness, mi, text, kind)
    assert error_field in caught.value.message_dict
    assert board_state(board) == before


def test_it_accepts_a_note_of_exactly_the_longest_length(participant, board, awareness):
    assert len(add(participant, board, awareness, None, "x" * services.NOTE_MAX_LENGTH).text) == 500


def test_it_refuses_a_note_on_another_boards_phase(participant, board, other_board):
    theirs = other_board.phases.order_by("order").first()
    before, theirs_before = board_state(board), board_state(other_board)
    with pytest.raises(ValidationError) as caught:
        add(participant, board, theirs, None, "Wrong board")
    assert "phase" in caught.value.message_dict
    assert (board_state(board), board_state(other_board)) == (before, theirs_before)


def test_it_refuses_a_note_on_an_interaction_of_another_phase(
    participant, board, awareness, live_chat
):
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        add(participant, board, awareness, live_chat, "Wrong phase")
    assert "micro_interaction" in caught.value.message_dict
    assert board_state(board) == before


# Notes: editing --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["participant", "facilitator"])
def test_it_lets_the_author_or_a_facilitator_edit_a_note(request, board, sams_note, who):
    actor = request.getfixturevalue(who)
    edited = services.edit_note(
        actor=actor,
        note=sams_note,
        text="Nobody answered the live chat at 10 pm",
        kind=NoteKind.FRICTION,
        version=1,
    )
    assert (edited.text, edited.version, edited.author_id) == (
        "Nobody answered the live chat at 10 pm",
        2,
        sams_note.author_id,
    )
    assert fresh(sams_note).text == edited.text
    event = assert_event(
        board, seq=3, kind="note.edited", actor=actor, fragments=[f"note-{sams_note.pk}"]
    )
    assert "Nobody answered the live chat at 10 pm" in event.html
    assert event.payload["version"] == 2


def test_it_changes_a_notes_kind(participant, board, sams_note):
    edited = services.edit_note(
        actor=participant, note=sams_note, text=sams_note.text, kind=NoteKind.IDEA, version=1
    )
    assert edited.kind == "idea"
    assert "kind-idea" in last_event(board).html


def test_it_refuses_a_stale_edit_with_the_current_note(participant, facilitator, board, sams_note):
    services.edit_note(
        actor=facilitator, note=sams_note, text="Fiona's wording", kind="friction", version=1
    )
    before = board_state(board)
    with pytest.raises(services.Conflict) as caught:
        services.edit_note(
            actor=participant, note=sams_note, text="Sam's wording", kind="friction", version=1
        )
    current = caught.value.current
    assert isinstance(current, Note)
    assert (current.pk, current.text, current.version) == (sams_note.pk, "Fiona's wording", 2)
    assert caught.value.message
    assert board_state(board) == before


def test_it_edits_the_note_the_request_read_while_the_board_is_still_at_that_seq(participant, board, sams_note):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workshops import access

    note, member = access.get_note(participant.user, sams_note.pk)
    with CaptureQueriesContext(connection) as ctx:
        edited = services.edit_note(actor=member, note=note, text="Nobody at the door", kind="friction", version=1)
    assert not [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT") and 'FROM "boards_note"' in q["sql"]]
    assert (edited.text, edited.version) == ("Nobody at the door", 2) and fresh(sams_note).text == "Nobody at the door"
    assert (note.text, note.version) == (sams_note.text, 1)  # the request's copy stays as it was read
    assert "Nobody at the door" in last_event(board).html and escape(participant.name) in last_event(board).html


def test_it_reads_the_note_again_when_the_board_moved_on_after_the_request_read_it(participant, facilitator, board, sams_note):
    from workshops import access

    note, member = access.get_note(participant.user, sams_note.pk)
    services.edit_note(actor=facilitator, note=sams_note, text="Fiona's wording", kind="friction", version=1)
    with pytest.raises(services.Conflict) as caught:  # not a silent overwrite of Fiona's edit
        services.edit_note(actor=member, note=note, text="Sam's wording", kind="friction", version=1)
    assert (caught.value.current.text, caught.value.current.version) == ("Fiona's wording", 2)
    assert fresh(sams_note).text == "Fiona's wording"


@pytest.mark.parametrize(
    ("text", "kind"), [("", "friction"), ("x" * 501, "friction"), ("Fine", "rant")]
)
def test_it_refuses_an_invalid_edit(participant, board, sams_note, text, kind):
    before = board_state(board)
    with pytest.raises(ValidationError):
        services.edit_note(actor=participant, note=sams_note, text=text, kind=kind, version=1)
    assert board_state(board) == before


def test_it_says_so_when_the_note_is_gone(participant, board, awareness, sams_note):
    services.delete_note(actor=participant, note=sams_note)
    with pytest.raises(ValidationError) as caught:
        services.edit_note(
            actor=participant, note=sams_note, text="Too late", kind="friction", version=1
        )
    assert caught.value.code == "gone"
    with pytest.raises(ValidationError) as caught:
        services.move_note(actor=participant, note=sams_note, phase=awareness)
    assert caught.value.code == "gone"


NOTE_OPERATIONS: dict[str, Callable[[Any, SimpleNamespace], Any]] = {
    "edit_note": lambda actor, b: services.edit_note(
        actor=actor, note=b.note, text="Rewritten", kind="idea", version=b.note.version
    ),
    "move_note": lambda actor, b: services.move_note(
        actor=actor, note=b.note, phase=b.consideration
    ),
    "delete_note": lambda actor, b: services.delete_note(actor=actor, note=b.note),
}


@pytest.mark.parametrize("operation", NOTE_OPERATIONS)
@pytest.mark.parametrize("who", ["other_participant", "manager", "outsider"])
def test_it_keeps_others_from_changing_someones_note(request, b, operation, who):
    actor = request.getfixturevalue(who)
    before = board_state(b.board)
    with pytest.raises(PermissionDenied):
        NOTE_OPERATIONS[operation](actor, b)
    assert board_state(b.board) == before


@pytest.mark.parametrize("operation", NOTE_OPERATIONS)
@pytest.mark.parametrize("who", ["participant", "facilitator"])
def test_it_lets_the_author_and_facilitators_change_a_note(request, b, operation, who):
    actor = request.getfixturevalue(who)
    NOTE_OPERATIONS[operation](actor, b)
    assert (
        last_event(b.board).kind
        == {"edit_note": "note.edited", "move_note": "note.moved", "delete_note": "note.deleted"}[
            operation
        ]
    )
    assert last_event(b.board).actor_id == actor.pk


@pytest.mark.parametrize("operation", NOTE_OPERATIONS)
def test_it_leaves_a_former_members_note_to_the_facilitators(
    b, participant, facilitator, operation
):
    Note.objects.filter(pk=b.note.pk).update(author=None)
    b.note = fresh(b.note)
    with pytest.raises(PermissionDenied):
        NOTE_OPERATIONS[operation](participant, b)
    NOTE_OPERATIONS[operation](facilitator, b)


def test_it_knows_who_can_edit_a_note(
    sams_note, participant, other_participant, facilitator, manager
):
    assert services.can_edit_note(participant, sams_note)
    assert services.can_edit_note(facilitator, sams_note)
    assert not services.can_edit_note(other_participant, sams_note)
    assert not services.can_edit_note(manager, sams_note)


# Notes: moving and deleting --------------------------------------------------------------------


@pytest.fixture
def three_on_each(participant, board, awareness, mi, other_mi) -> tuple[list[Note], list[Note]]:
    left = [add(participant, board, awareness, mi, f"On the post {i}") for i in range(3)]
    right = [add(participant, board, awareness, other_mi, f"From a friend {i}") for i in range(3)]
    return left, right


@pytest.mark.parametrize(
    ("position", "index"), [(0, 0), (1, 1), (3, 3), (None, 3), (-2, 0), (42, 3)]
)
def test_it_moves_a_note_to_another_interaction_and_renumbers_both(
    participant, board, awareness, mi, other_mi, three_on_each, position, index
):
    left, right = three_on_each
    seq = fresh(board).last_seq
    moved = services.move_note(
        actor=participant,
        note=left[1],
        phase=awareness,
        micro_interaction=other_mi,
        position=position,
    )
    assert (moved.micro_interaction_id, moved.phase_id, moved.order, moved.version) == (
        other_mi.pk,
        awareness.pk,
        index,
        2,
    )
    assert note_order(mi=mi) == [left[0].pk, left[2].pk]
    expected = [n.pk for n in right]
    expected.insert(index, left[1].pk)
    assert note_order(mi=other_mi) == expected
    event = assert_event(
        board,
        seq=seq + 1,
        kind="note.moved",
        actor=participant,
        fragments=[f"notes-mi-{other_mi.pk}", f"notes-mi-{mi.pk}"],
    )
    assert event.payload == {
        "note": left[1].pk,
        "from": [awareness.pk, mi.pk],
        "to": [awareness.pk, other_mi.pk],
        "position": index,
    }


def test_it_moves_a_note_between_a_phase_and_an_interaction_of_another_phase(
    facilitator, board, awareness, consideration, live_chat, three_on_each, mi
):
    left, _ = three_on_each
    to_phase = services.move_note(actor=facilitator, note=left[0], phase=consideration)
    assert (to_phase.phase_id, to_phase.micro_interaction_id, to_phase.order) == (
        consideration.pk,
        None,
        0,
    )
    assert note_order(phase=consideration) == [left[0].pk]
    assert note_order(mi=mi) == [left[1].pk, left[2].pk]
    assert_event(
        board,
        seq=fresh(board).last_seq,
        kind="note.moved",
        actor=facilitator,
        fragments=[f"notes-phase-{consideration.pk}", f"notes-mi-{mi.pk}"],
    )
    to_mi = services.move_note(
        actor=facilitator, note=to_phase, phase=consideration, micro_interaction=live_chat
    )
    assert (to_mi.phase_id, to_mi.micro_interaction_id, to_mi.order) == (
        consideration.pk,
        live_chat.pk,
        0,
    )
    assert note_order(phase=consideration) == []
    assert_event(
        board,
        seq=fresh(board).last_seq,
        kind="note.moved",
        actor=facilitator,
        fragments=[f"notes-mi-{live_chat.pk}", f"notes-phase-{consideration.pk}"],
    )


@pytest.mark.parametrize(
    ("position", "expected"), [(0, [2, 0, 1]), (1, [0, 2, 1]), (2, [0, 1, 2]), (None, [0, 1, 2])]
)
def test_it_reorders_a_note_within_its_list(
    participant, board, awareness, mi, three_on_each, position, expected
):
    left, _ = three_on_each
    moved = services.move_note(
        actor=participant, note=left[2], phase=awareness, micro_interaction=mi, position=position
    )
    assert note_order(mi=mi) == [left[i].pk for i in expected]
    assert moved.order == expected.index(2)
    event = last_event(board)
    assert event.kind == "note.moved"
    # One list changed, so one fragment.
    assert event.html.count('id="notes-') == 1
    assert_event(
        board, seq=event.seq, kind="note.moved", actor=participant, fragments=[f"notes-mi-{mi.pk}"]
    )


def test_it_refuses_to_move_a_note_to_another_board(participant, board, other_board, sams_note):
    theirs = other_board.phases.order_by("order").first()
    before, theirs_before = board_state(board), board_state(other_board)
    with pytest.raises(ValidationError):
        services.move_note(actor=participant, note=sams_note, phase=theirs)
    with pytest.raises(ValidationError):
        services.move_note(
            actor=participant,
            note=sams_note,
            phase=theirs,
            micro_interaction=theirs.interactions.first(),
        )
    assert (board_state(board), board_state(other_board)) == (before, theirs_before)


def test_it_refuses_to_move_a_note_to_an_interaction_of_another_phase(
    participant, board, awareness, live_chat, sams_note
):
    before = board_state(board)
    with pytest.raises(ValidationError):
        services.move_note(
            actor=participant, note=sams_note, phase=awareness, micro_interaction=live_chat
        )
    assert board_state(board) == before


@pytest.mark.parametrize("index", [0, 1, 2])
def test_it_deletes_a_note_and_renumbers_the_rest(participant, board, mi, three_on_each, index):
    left, right = three_on_each
    seq = fresh(board).last_seq
    assert services.delete_note(actor=participant, note=left[index]) is None
    assert not Note.objects.filter(pk=left[index].pk).exists()
    assert note_order(mi=mi) == [n.pk for i, n in enumerate(left) if i != index]
    event = assert_event(
        board, seq=seq + 1, kind="note.deleted", actor=participant, fragments=[f"notes-mi-{mi.pk}"]
    )
    assert f'id="note-{left[index].pk}"' not in event.html
    assert event.payload == {"note": left[index].pk, "text": left[index].text}


def test_it_deletes_a_note_on_a_whole_phase(facilitator, participant, board, awareness):
    notes = [add(participant, board, awareness, None, f"On the phase {i}") for i in range(2)]
    services.delete_note(actor=facilitator, note=notes[0])
    assert note_order(phase=awareness) == [notes[1].pk]
    assert_event(
        board,
        seq=fresh(board).last_seq,
        kind="note.deleted",
        actor=facilitator,
        fragments=[f"notes-phase-{awareness.pk}"],
    )


def test_it_deletes_a_deleted_note_without_fuss(participant, board, sams_note):
    services.delete_note(actor=participant, note=sams_note)
    before = board_state(board)
    services.delete_note(actor=participant, note=sams_note)
    assert board_state(board) == before


# Retried requests ------------------------------------------------------------------------------

RETRYABLE: dict[str, Callable[[Any, SimpleNamespace, uuid.UUID], Any]] = {
    "add_phase": lambda actor, b, rid: services.add_phase(
        actor=actor, scenario=b.board, name="Repair", position=0, request_id=rid
    ),
    "update_phase": lambda actor, b, rid: services.update_phase(
        actor=actor, phase=b.phase, name="Discovery", goal="", version=1, request_id=rid
    ),
    "move_phase": lambda actor, b, rid: services.move_phase(
        actor=actor, phase=b.phase, position=2, request_id=rid
    ),
    "add_micro_interaction": lambda actor, b, rid: services.add_micro_interaction(
        actor=actor,
        phase=b.phase,
        action="Reads a magazine review",
        channel="other",
        request_id=rid,
    ),
    "update_micro_interaction": lambda actor, b, rid: services.update_micro_interaction(
        actor=actor,
        interaction=b.mi,
        action="Sees a reel",
        channel="social",
        emotion=1,
        moment_of_truth="none",
        version=1,
        request_id=rid,
    ),
    "rate_micro_interaction": lambda actor, b, rid: services.rate_micro_interaction(
        actor=actor, interaction=b.mi, emotion=-2, moment_of_truth="negative", request_id=rid
    ),
    "move_micro_interaction": lambda actor, b, rid: services.move_micro_interaction(
        actor=actor, interaction=b.mi, position=2, request_id=rid
    ),
    "add_note": lambda actor, b, rid: services.add_note(
        actor=actor,
        scenario=b.board,
        phase=b.phase,
        micro_interaction=b.mi,
        kind="idea",
        text="A host at the door",
        request_id=rid,
    ),
    "edit_note": lambda actor, b, rid: services.edit_note(
        actor=actor, note=b.note, text="Rewritten", kind="idea", version=1, request_id=rid
    ),
    "move_note": lambda actor, b, rid: services.move_note(
        actor=actor, note=b.note, phase=b.phase, micro_interaction=b.other_mi, request_id=rid
    ),
    "delete_note": lambda actor, b, rid: services.delete_note(
        actor=actor, note=b.note, request_id=rid
    ),
}


@pytest.mark.parametrize("operation", RETRYABLE)
def test_it_applies_a_retried_request_once(b, facilitator, operation):
    request_id = uuid.uuid4()
    first = RETRYABLE[operation](facilitator, b, request_id)
    after_first = board_state(b.board)
    event = last_event(b.board)
    assert event.request_id == request_id
    again = RETRYABLE[operation](facilitator, b, request_id)
    assert board_state(b.board) == after_first
    assert BoardEvent.objects.filter(scenario=b.board, request_id=request_id).count() == 1
    if first is not None:
        assert (type(again), again.pk) == (type(first), first.pk)


def test_it_returns_the_note_a_retried_add_created(participant, board, awareness, mi):
    request_id = uuid.uuid4()
    first = add_with(participant, board, awareness, mi, request_id)
    second = add_with(participant, board, awareness, mi, request_id)
    assert second.pk == first.pk
    assert Note.objects.filter(scenario=board).count() == 1
    assert event_count(board) == 2
    third = add_with(participant, board, awareness, mi, uuid.uuid4())
    assert third.pk != first.pk and third.order == 1


def add_with(member, board, phase, mi, request_id) -> Note:
    return services.add_note(
        actor=member,
        scenario=board,
        phase=phase,
        micro_interaction=mi,
        kind="friction",
        text="Told to wait",
        request_id=request_id,
    )


def test_it_does_not_replay_another_boards_request(participant, board, other_board, awareness):
    request_id = uuid.uuid4()
    add_with(participant, board, awareness, None, request_id)
    theirs = other_board.phases.order_by("order").first()
    note = add_with(participant, other_board, theirs, None, request_id)
    assert note.scenario_id == other_board.pk


def test_it_still_checks_permission_on_a_retried_request(
    participant, other_participant, board, awareness, mi
):
    request_id = uuid.uuid4()
    note = add_with(participant, board, awareness, mi, request_id)
    with pytest.raises(PermissionDenied):
        services.edit_note(
            actor=other_participant,
            note=note,
            text="Mine now",
            kind="idea",
            version=1,
            request_id=request_id,
        )


# Text cleaning ---------------------------------------------------------------------------------


def test_it_cleans_text():
    assert services.clean_text("  a   b \t c ", field="text", max_length=10) == "a b c"
    assert services.clean_text(" a  b\n c ", field="text", max_length=10) == "a  b\n c"
    assert services.clean_text("", field="text", max_length=10, required=False) == ""
    assert services.clean_text(None, field="text", max_length=10, required=False) == ""
    with pytest.raises(ValidationError) as caught:
        services.clean_text("   ", field="title", max_length=10)
    assert caught.value.message_dict == {"title": ["This can't be empty."]}
    with pytest.raises(ValidationError) as caught:
        services.clean_text("x" * 11, field="title", max_length=10)
    assert "10" in caught.value.message_dict["title"][0]


# Broadcast after commit ------------------------------------------------------------------------


class Listener:
    """A socket on a real hub, on an event loop of its own as a server's: it records what the
    hub hands it, one push at a time (a busy board's pushes may come in one frame)."""

    MARK = "test-marker"

    def __init__(self, board: Scenario):
        self.board_id = board.pk
        self.received: queue.Queue = queue.Queue()
        self.parts: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.hub = self._run(self._join())

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=5)

    async def _join(self) -> events.Hub:
        hub = events.hub()
        await hub.join(self.board_id, self)
        return hub

    async def deliver(self, frame: events.Frame) -> None:
        self.received.put(frame)

    def mark(self) -> None:
        """Put a marker through the hub: whatever comes after it was offered after this moment."""
        self.loop.call_soon_threadsafe(self.hub.offer, {"scenario": self.board_id, "seq": 0, "html": self.MARK})

    def receive(self) -> dict:
        if not self.parts:
            frame = self.received.get(timeout=5)
            pairs = frame.parts or ((frame.first, frame.html),)
            self.parts = [{"seq": seq, "html": html} for seq, html in pairs]
        return self.parts.pop(0)

    async def _leave(self) -> None:
        await self.hub.leave(self.board_id, self)
        self.hub.sender.cancel()

    def close(self) -> None:
        self._run(self._leave())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def listener(board):
    listening = Listener(board)
    yield listening
    listening.close()


def test_it_broadcasts_the_push_after_the_commit(
    participant, board, awareness, mi, listener, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = add(
            participant,
            board,
            awareness,
            mi,
            "No live chat for the new collection",
            NoteKind.FRICTION,
        )
        listener.mark()
    assert len(callbacks) == 1
    assert listener.receive() == {"seq": 0, "html": Listener.MARK}, "the push went out before the commit"
    push = listener.receive()
    event = last_event(board)
    assert push == {"seq": event.seq, "html": event.html}
    assert event.seq == 2
    assert f'id="notes-mi-{mi.pk}"' in push["html"] and f'id="note-{note.pk}"' in push["html"]


class Boom(Exception):
    pass


def fail_after_writing(participant, board, awareness, mi):
    with transaction.atomic():
        add(participant, board, awareness, mi, "Rolled back")
        raise Boom


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (fail_after_writing, Boom),
        (
            lambda participant, board, awareness, mi: add(participant, board, awareness, mi, ""),
            ValidationError,
        ),
        (
            lambda participant, board, awareness, mi: services.rate_micro_interaction(
                actor=participant, interaction=mi, emotion=1, moment_of_truth="none"
            ),
            PermissionDenied,
        ),
    ],
    ids=["rolled-back", "invalid", "refused"],
)
def test_it_broadcasts_nothing_when_the_write_does_not_commit(
    participant, board, awareness, mi, listener, django_capture_on_commit_callbacks, failure, error
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(error):
            failure(participant, board, awareness, mi)
        assert callbacks == []
        kept = add(participant, board, awareness, mi, "Kept")
    assert not Note.objects.filter(text="Rolled back").exists()
    push = listener.receive()
    # The first push is the kept note's: nothing was sent for the failed write,
    # and the failed write did not use up a seq.
    assert push["seq"] == 2
    assert f'id="note-{kept.pk}"' in push["html"]
    assert "Rolled back" not in push["html"]
    assert list(
        BoardEvent.objects.filter(scenario=board).values_list("seq", flat=True).order_by("seq")
    ) == [1, 2]


def test_it_broadcasts_each_write_in_order(
    facilitator, participant, board, awareness, mi, listener, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        note = add(participant, board, awareness, mi, "First")
    with django_capture_on_commit_callbacks(execute=True):
        services.rate_micro_interaction(
            actor=facilitator, interaction=mi, emotion=2, moment_of_truth="positive"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.edit_note(
            actor=facilitator, note=note, text="First, edited", kind="delight", version=1
        )
    pushes = [listener.receive() for _ in range(3)]
    assert [p["seq"] for p in pushes] == [2, 3, 4]
    assert f'id="notes-mi-{mi.pk}"' in pushes[0]["html"]
    assert f'id="mi-head-{mi.pk}"' in pushes[1]["html"]
    assert f'id="note-{note.pk}"' in pushes[2]["html"]


# Escaping --------------------------------------------------------------------------------------


def test_it_escapes_what_people_type_in_the_push(participant, board, awareness, mi):
    add(participant, board, awareness, mi, '<script>alert("VIC")</script> & <b>bold</b>')
    html = last_event(board).html
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html


# Line breaks and retries ------------------------------------------------------------------------


def test_it_counts_a_submitted_line_break_as_one_character(participant, board, awareness):
    # A browser's maxlength counts a line break as one character but submits it as CRLF.
    typed = "x" * 249 + "\n" + "x" * 250
    assert len(typed) == services.NOTE_MAX_LENGTH
    note = add(participant, board, awareness, None, typed.replace("\n", "\r\n"))
    assert note.text == typed


def test_it_answers_a_retried_add_whose_note_was_deleted_since(
    participant, facilitator, board, awareness
):
    request_id = uuid.uuid4()
    note = add_with(participant, board, awareness, None, request_id)
    services.delete_note(actor=facilitator, note=note)
    with pytest.raises(ValidationError) as caught:
        add_with(participant, board, awareness, None, request_id)
    assert caught.value.code == "gone"
    assert not Note.objects.filter(scenario=board).exists()
