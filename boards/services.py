"""The one write path for boards. One function per operation: check, write, append an event.

Every function takes keyword arguments only, starts its own transaction, locks the board
(so writes to one board are serialised and seq has no gaps), validates, writes, and appends
exactly one BoardEvent whose push is broadcast after commit. `request_id` makes a retried
post take effect once; `version` makes a concurrent edit fail loudly instead of overwriting.
"""

from __future__ import annotations

import copy
import datetime
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from boards import events, render
from boards.journey_templates import TEMPLATES
from boards.models import (
    Channel,
    CustomerQuote,
    EmotionRating,
    MicroInteraction,
    MomentOfTruth,
    Note,
    NoteKind,
    Phase,
    Scenario,
    Stage,
    TouchpointMetric,
    Vote,
    VotingRound,
    VotingStatus,
)
from workshops.models import Membership, Persona, Workshop, WorkshopStatus

NOTE_MAX_LENGTH = 500
RENUMBER_OFFSET = 1_000_000_000
PARKED_ORDER = 2_000_000_000


class Conflict(Exception):
    """Somebody else changed the object since the client loaded it."""

    def __init__(self, current: Any, message: str = "Someone else changed this in the meantime."):
        super().__init__(message)
        self.current = current
        self.message = message


# Permission checks ---------------------------------------------------------------------------


def require_member(actor: Membership, scenario: Scenario) -> None:
    if actor.team_id != scenario.workshop.team_id:
        raise PermissionDenied("You are not a member of this workshop's team.")


def require_facilitator(actor: Membership, scenario: Scenario) -> None:
    require_member(actor, scenario)
    if not actor.is_facilitator:
        raise PermissionDenied("Only a facilitator can do this.")


def can_edit_note(actor: Membership, note: Note) -> bool:
    return actor.is_facilitator or (note.author_id is not None and note.author_id == actor.pk)


def require_unlocked(actor: Membership, scenario: Scenario) -> None:
    """Notes are the facilitator's alone on a locked board, and on a closed workshop's."""
    if actor.is_facilitator:
        return
    if scenario.workshop.status == WorkshopStatus.CLOSED:
        raise PermissionDenied("This workshop is closed: its board can be read, no longer changed.")
    if scenario.locked:
        raise PermissionDenied("The facilitator has locked the board for now.")


def require_note_editor(actor: Membership, note: Note, scenario: Scenario) -> None:
    require_member(actor, scenario)
    if not can_edit_note(actor, note):
        raise PermissionDenied("You can only change your own notes.")
    require_unlocked(actor, scenario)


# Helpers -------------------------------------------------------------------------------------


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Trim, keep line breaks as one "\n" each (browsers count them as one but send "\r\n"),
    and fold runs of spaces on one-line values. Refuse what no database should store (NUL)."""
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" not in value:
        value = " ".join(value.split())
    if required and not value:
        raise ValidationError({field: "This can't be empty."})
    if "\x00" in value:  # PostgreSQL refuses it; forms do too, an import or a command may not
        raise ValidationError({field: "Null characters are not allowed."})
    if len(value) > max_length:
        raise ValidationError({field: f"Keep it under {max_length} characters (it has {len(value)})."})
    return value


def _renumber(model: type, items: list[Any]) -> None:
    """Give `items` (a whole container, in the wanted order) orders 0..n-1 without ever
    breaking the unique (container, order) constraint: park them far away, then set them."""
    if not items:
        return
    for i, item in enumerate(items):
        item.order = RENUMBER_OFFSET + i
    model.objects.bulk_update(items, ["order"])
    for i, item in enumerate(items):
        item.order = i
    model.objects.bulk_update(items, ["order"])


def _next_order(qs) -> int:
    current = qs.aggregate(m=Max("order"))["m"]
    return 0 if current is None else current + 1


def _clamp(position: int | None, size: int) -> int:
    if position is None or position > size:
        return size
    return max(0, position)


# Scenarios -----------------------------------------------------------------------------------


@transaction.atomic
def create_scenario(
    *,
    actor: Membership,
    workshop: Workshop,
    title: str,
    description: str = "",
    persona: Persona | None = None,
    template_key: str = "",
) -> Scenario:
    """Create a scenario's board, blank or with a journey template's phases and interactions."""
    if actor.team_id != workshop.team_id or not actor.is_facilitator:
        raise PermissionDenied("Only a facilitator of this team can add a scenario.")
    if persona is not None and persona.team_id != workshop.team_id:
        raise ValidationError({"persona": "Pick one of this team's personas."})
    if template_key and template_key not in TEMPLATES:
        raise ValidationError({"template": "Unknown journey template."})
    scenario = Scenario.objects.create(
        workshop=workshop,
        persona=persona,
        title=clean_text(title, field="title", max_length=160),
        description=clean_text(description, field="description", max_length=2000, required=False),
        template_key=template_key,
    )
    if template_key:
        template = TEMPLATES[template_key]
        phases = Phase.objects.bulk_create(
            Phase(scenario=scenario, order=i, name=p.name, goal=p.goal)
            for i, p in enumerate(template.phases)
        )
        MicroInteraction.objects.bulk_create(
            MicroInteraction(phase=phase, order=j, action=mi.action, channel=mi.channel)
            for phase, p in zip(phases, template.phases, strict=True)
            for j, mi in enumerate(p.interactions)
        )
    scenario = events.lock_board(scenario)
    events.append(
        scenario=scenario,
        kind="scenario.created",
        actor_id=actor.pk,
        payload={"template": template_key},
        fragments=[],
    )
    return scenario


@transaction.atomic
def update_scenario(
    *,
    actor: Membership,
    scenario: Scenario,
    title: str,
    description: str,
    persona: Persona | None,
) -> Scenario:
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if persona is not None and persona.team_id != scenario.workshop.team_id:
        raise ValidationError({"persona": "Pick one of this team's personas."})
    scenario.title = clean_text(title, field="title", max_length=160)
    scenario.description = clean_text(description, field="description", max_length=2000, required=False)
    scenario.persona = persona
    scenario.save(update_fields=["title", "description", "persona"])
    events.append(
        scenario=scenario,
        kind="scenario.updated",
        actor_id=actor.pk,
        payload={"title": scenario.title},
        fragments=[render.scenario_header(scenario)],
    )
    return scenario


# Phases --------------------------------------------------------------------------------------


def _phase_fields(name: str, goal: str) -> tuple[str, str]:
    return (
        clean_text(name, field="name", max_length=80),
        clean_text(goal, field="goal", max_length=240, required=False),
    )


@transaction.atomic
def add_phase(
    *,
    actor: Membership,
    scenario: Scenario,
    name: str,
    goal: str = "",
    position: int | None = None,
    request_id: uuid.UUID | None = None,
) -> Phase:
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        return Phase.objects.get(pk=done.payload["phase"])
    name, goal = _phase_fields(name, goal)
    phases = list(scenario.phases.order_by("order"))
    phase = Phase.objects.create(scenario=scenario, order=_next_order(scenario.phases), name=name, goal=goal)
    position = _clamp(position, len(phases))
    if position < len(phases):
        phases.insert(position, phase)
        _renumber(Phase, phases)
    phase.interaction_list, phase.note_list = [], []
    events.append(
        scenario=scenario,
        kind="phase.added",
        actor_id=actor.pk,
        payload={"phase": phase.pk, "name": name},
        fragments=[render.board(scenario), render.session(scenario)],  # the Focus list
        request_id=request_id,
    )
    return phase


@transaction.atomic
def update_phase(
    *,
    actor: Membership,
    phase: Phase,
    name: str,
    goal: str,
    version: int,
    request_id: uuid.UUID | None = None,
) -> Phase:
    scenario = events.lock_board(phase.scenario_id)
    require_facilitator(actor, scenario)
    current = Phase.objects.get(pk=phase.pk)
    if current.version != version:
        if events.applied_event(scenario, request_id):  # a retry: see edit_note
            return current
        raise Conflict(current, f"{events.last_changed_by(scenario, what='phase', pk=current.pk)} changed this phase while you were typing.")
    current.name, current.goal = _phase_fields(name, goal)
    current.version += 1
    current.save(update_fields=["name", "goal", "version"])
    events.append(
        scenario=scenario,
        kind="phase.updated",
        actor_id=actor.pk,
        payload={"phase": current.pk, "name": current.name},
        fragments=[render.phase_header(current), render.session(scenario)],  # Focus list and flag
        request_id=request_id,
    )
    return current


@transaction.atomic
def move_phase(
    *, actor: Membership, phase: Phase, position: int, request_id: uuid.UUID | None = None
) -> Phase:
    scenario = events.lock_board(phase.scenario_id)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return Phase.objects.get(pk=phase.pk)
    phases = [p for p in scenario.phases.order_by("order") if p.pk != phase.pk]
    phase = Phase.objects.get(pk=phase.pk)
    phases.insert(_clamp(position, len(phases)), phase)
    _renumber(Phase, phases)
    events.append(
        scenario=scenario,
        kind="phase.moved",
        actor_id=actor.pk,
        payload={"phase": phase.pk, "position": phase.order},
        fragments=[render.board(scenario), render.session(scenario)],
        request_id=request_id,
    )
    return phase


def _step_payload(mi: MicroInteraction) -> dict[str, Any]:
    """What the history needs to show a deleted micro-interaction as it was."""
    return {"interaction": mi.pk, "phase": mi.phase_id, "action": mi.action, "channel": mi.channel,
            "emotion": mi.emotion, "moment_of_truth": mi.moment_of_truth}


def phase_delete_blocker(phase: Phase) -> str:
    """Why a phase cannot be deleted now, or "" if it can. Notes are never deleted along with
    a phase: they are the workshop's work."""
    count = Note.objects.filter(phase_id=phase.pk).count()
    if count:
        return (f"It holds {count} note{'s' if count != 1 else ''}: move them to another phase or "
                "delete them first. Nothing was changed.")
    if VotingRound.objects.filter(phase_id=phase.pk).exists():
        return "Dots were voted in this phase: it stays on the board as the record of that vote."
    return ""


@transaction.atomic
def delete_phase(*, actor: Membership, phase: Phase, request_id: uuid.UUID | None = None) -> None:
    """Take a phase, and its micro-interactions with their evidence and ratings, off the board.
    Refused while it holds notes (see `phase_delete_blocker`)."""
    scenario = events.lock_board(phase.scenario_id)
    require_facilitator(actor, scenario)
    current = Phase.objects.filter(pk=phase.pk, scenario=scenario).first()
    if current is None:
        return  # already gone: deleting twice is not an error
    if blocker := phase_delete_blocker(current):
        raise ValidationError(blocker)
    steps = [_step_payload(mi) for mi in current.interactions.order_by("order")]
    phase_id, position = current.pk, current.order
    if scenario.focus_phase_id == current.pk:
        scenario.focus_phase = None
        scenario.save(update_fields=["focus_phase"])
    current.delete()  # and its micro-interactions, their evidence and ratings
    _renumber(Phase, list(scenario.phases.order_by("order")))
    events.append(
        scenario=scenario,
        kind="phase.deleted",
        actor_id=actor.pk,
        payload={"phase": phase_id, "name": current.name, "goal": current.goal,
                 "position": position, "interactions": steps},
        fragments=[render.board(scenario), render.session(scenario)],
        request_id=request_id,
    )


# Micro-interactions --------------------------------------------------------------------------


def _interaction_fields(action: str, channel: str, emotion: int | None, moment_of_truth: str):
    action = clean_text(action, field="action", max_length=200)
    if channel not in Channel.values:
        raise ValidationError({"channel": "Pick a channel from the list."})
    if emotion is not None and not -2 <= emotion <= 2:
        raise ValidationError({"emotion": "Emotion goes from -2 (very negative) to +2 (very positive)."})
    if moment_of_truth not in MomentOfTruth.values:
        raise ValidationError({"moment_of_truth": "Pick none, positive or negative."})
    return action, channel, emotion, moment_of_truth


@transaction.atomic
def add_micro_interaction(
    *,
    actor: Membership,
    phase: Phase,
    action: str,
    channel: str,
    emotion: int | None = None,
    moment_of_truth: str = MomentOfTruth.NONE,
    carried: bool = False,
    request_id: uuid.UUID | None = None,
) -> MicroInteraction:
    """A new step at the end of its phase. `carried`: its emotion is the previous session's, on
    a follow-up's copy of the board, until someone rates the step again."""
    scenario = events.lock_board(phase.scenario_id)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        return MicroInteraction.objects.get(pk=done.payload["interaction"])
    action, channel, emotion, moment_of_truth = _interaction_fields(action, channel, emotion, moment_of_truth)
    mi = MicroInteraction.objects.create(
        phase=phase,
        order=_next_order(phase.interactions),
        action=action,
        channel=channel,
        emotion=emotion,
        emotion_carried=carried and emotion is not None,
        moment_of_truth=moment_of_truth,
    )
    events.append(
        scenario=scenario,
        kind="interaction.added",
        actor_id=actor.pk,
        payload={"interaction": mi.pk, "phase": phase.pk, "action": action},
        fragments=[render.phase_column(Phase.objects.get(pk=phase.pk))],
        request_id=request_id,
    )
    return mi


@transaction.atomic
def update_micro_interaction(
    *,
    actor: Membership,
    interaction: MicroInteraction,
    action: str,
    channel: str,
    emotion: int | None,
    moment_of_truth: str,
    version: int,
    request_id: uuid.UUID | None = None,
) -> MicroInteraction:
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_facilitator(actor, scenario)
    current = MicroInteraction.objects.get(pk=interaction.pk)
    if current.version != version:
        if events.applied_event(scenario, request_id):  # a retry: see edit_note
            return current
        raise Conflict(
            current, f"{events.last_changed_by(scenario, what='interaction', pk=current.pk)} changed this micro-interaction while you were typing."
        )
    current.action, current.channel, current.emotion, current.moment_of_truth = _interaction_fields(
        action, channel, emotion, moment_of_truth
    )
    current.emotion_carried = False  # saved from the dialog that shows it: rated for this session
    current.version += 1
    current.save(update_fields=["action", "channel", "emotion", "emotion_carried", "moment_of_truth", "version"])
    events.append(
        scenario=scenario,
        kind="interaction.updated",
        actor_id=actor.pk,
        payload={"interaction": current.pk, "emotion": current.emotion, "action": current.action,
                 "channel": current.channel, "moment_of_truth": current.moment_of_truth},
        fragments=[render.interaction_header(current), *render.insight_fragments(scenario)],
        request_id=request_id,
    )
    return current


@transaction.atomic
def rate_micro_interaction(
    *,
    actor: Membership,
    interaction: MicroInteraction,
    emotion: int | None,
    moment_of_truth: str,
    request_id: uuid.UUID | None = None,
) -> MicroInteraction:
    """Set the emotion and moment of truth: an absolute set, so it needs no version."""
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return MicroInteraction.objects.get(pk=interaction.pk)
    current = MicroInteraction.objects.get(pk=interaction.pk)
    _, _, current.emotion, current.moment_of_truth = _interaction_fields(
        current.action, current.channel, emotion, moment_of_truth
    )
    current.emotion_carried = False
    current.version += 1
    current.save(update_fields=["emotion", "emotion_carried", "moment_of_truth", "version"])
    events.append(
        scenario=scenario,
        kind="interaction.rated",
        actor_id=actor.pk,
        payload={"interaction": current.pk, "emotion": current.emotion, "moment_of_truth": moment_of_truth},
        fragments=[render.interaction_header(current), *render.emotion(scenario)],
        request_id=request_id,
    )
    return current


@transaction.atomic
def move_micro_interaction(
    *,
    actor: Membership,
    interaction: MicroInteraction,
    position: int,
    request_id: uuid.UUID | None = None,
) -> MicroInteraction:
    """Reorder a micro-interaction within its phase."""
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return MicroInteraction.objects.get(pk=interaction.pk)
    interaction = MicroInteraction.objects.select_related("phase").get(pk=interaction.pk)
    siblings = [m for m in interaction.phase.interactions.order_by("order") if m.pk != interaction.pk]
    siblings.insert(_clamp(position, len(siblings)), interaction)
    _renumber(MicroInteraction, siblings)
    events.append(
        scenario=scenario,
        kind="interaction.moved",
        actor_id=actor.pk,
        payload={"interaction": interaction.pk, "position": interaction.order},
        fragments=[render.phase_column(interaction.phase)],
        request_id=request_id,
    )
    return interaction


@transaction.atomic
def delete_micro_interaction(
    *, actor: Membership, interaction: MicroInteraction, request_id: uuid.UUID | None = None
) -> None:
    """Take a micro-interaction off the board. Its notes stay: they move, in their order, to the
    bottom of its phase's own notes ("On the whole phase"). Its evidence and ratings go with it."""
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_facilitator(actor, scenario)
    current = MicroInteraction.objects.select_related("phase").filter(pk=interaction.pk).first()
    if current is None:
        return  # already gone: deleting twice is not an error
    phase = current.phase
    moved = list(Note.objects.filter(micro_interaction=current).order_by("order", "pk"))
    start = _next_order(_container(phase.pk, None))
    for i, note in enumerate(moved):
        note.micro_interaction_id = None
        note.order = start + i
        note.updated = timezone.now()
    Note.objects.bulk_update(moved, ["micro_interaction", "order", "updated"])
    payload = {**_step_payload(current), "notes": [n.pk for n in moved]}
    current.delete()  # and its evidence and ratings
    _renumber(MicroInteraction, list(phase.interactions.order_by("order")))
    phase.scenario = scenario
    fragments = [render.phase_column(phase)]
    if moved:
        fragments.append(render.results(scenario))  # its notes' "where" in the ranking
    events.append(
        scenario=scenario,
        kind="interaction.deleted",
        actor_id=actor.pk,
        payload=payload,
        fragments=fragments,
        request_id=request_id,
    )


# Notes ---------------------------------------------------------------------------------------


def _check_target(scenario: Scenario, phase: Phase, micro_interaction: MicroInteraction | None) -> None:
    if phase.scenario_id != scenario.pk:
        raise ValidationError({"phase": "That phase is not on this board."})
    if micro_interaction is not None and micro_interaction.phase_id != phase.pk:
        raise ValidationError({"micro_interaction": "That micro-interaction is not in this phase."})


def _container(phase_id: int, micro_interaction_id: int | None):
    if micro_interaction_id:
        return Note.objects.filter(micro_interaction_id=micro_interaction_id)
    return Note.objects.filter(phase_id=phase_id, micro_interaction__isnull=True)


@transaction.atomic
def add_note(
    *,
    actor: Membership,
    scenario: Scenario,
    phase: Phase,
    micro_interaction: MicroInteraction | None = None,
    kind: str,
    text: str,
    request_id: uuid.UUID | None = None,
) -> Note:
    scenario = events.lock_board(scenario)
    require_member(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        note = Note.objects.filter(pk=done.payload["note"]).first()
        if note is None:
            raise ValidationError("This note was added, then deleted in the meantime.", code="gone")
        return note
    require_unlocked(actor, scenario)
    _check_target(scenario, phase, micro_interaction)
    if kind not in NoteKind.values:
        raise ValidationError({"kind": "Pick a kind of note."})
    text = clean_text(text, field="text", max_length=NOTE_MAX_LENGTH)
    mi_id = micro_interaction.pk if micro_interaction else None
    note = Note.objects.create(
        scenario=scenario,
        phase=phase,
        micro_interaction=micro_interaction,
        author=actor,
        kind=kind,
        text=text,
        order=_next_order(_container(phase.pk, mi_id)),
        hidden=scenario.private_round and not actor.is_facilitator,
    )
    events.append(
        scenario=scenario,
        kind="note.added",
        actor_id=actor.pk,
        payload={"note": note.pk, "kind": kind, "text": text, "phase": phase.pk, "interaction": mi_id, "hidden": note.hidden},
        fragments=_with_heatmap(scenario, [kind], [
            render.note_list(phase_id=phase.pk, micro_interaction_id=mi_id),
            *([render.session(scenario)] if note.hidden else []),  # how many private notes so far
        ]),
        request_id=request_id,
    )
    _refresh_private(scenario, note)
    return note


def _with_heatmap(scenario: Scenario, kinds: list[str], fragments: list[str]) -> list[str]:
    """The friction heatmap counts friction notes: push it when one comes, goes or moves."""
    if NoteKind.FRICTION in kinds:
        fragments.append(render.heatmap(scenario))
    return fragments


def _with_results(scenario: Scenario, note: Note, voting: VotingRound | None, fragments: list[str]) -> list[str]:
    """A note with dots in the revealed round stands in its ranking, which shows its text and
    place. (`voting` is the board's current round; the ranking shows only once it is revealed.)"""
    if voting is not None and voting.status == VotingStatus.REVEALED and Vote.objects.filter(round=voting, note=note).exists():
        fragments.append(render.results(scenario, voting=voting))
    return fragments


def _refresh_private(scenario: Scenario, note: Note) -> None:
    """A hidden note's text reaches only its author, through their private panel."""
    if note.hidden and note.author is not None:
        events.push_private(scenario_id=scenario.pk, member_id=note.author_id, html=render.private_panel(scenario, note.author))


def _locked_note(note: Note) -> tuple[Scenario, Note]:
    """Lock the note's board and get the note as it is now; ValidationError if it is gone.
    (A note never changes board, so the board to lock is known before reading it again.)

    Every write to a board appends an event, which moves the board's `last_seq` in the same
    transaction. So a note read (with its author) when the board was at the seq it is at now
    under the lock is current: it is copied rather than read again (`access.get_note`)."""
    scenario = events.lock_board(note.scenario if Note.scenario.is_cached(note) else note.scenario_id)
    if getattr(note, "as_of_seq", None) == scenario.last_seq:
        current = copy.copy(note)  # the caller's copy stays as it was read
        current.scenario = scenario
        return scenario, current
    try:
        current = Note.objects.select_related("author__user").get(pk=note.pk, scenario=scenario)
    except Note.DoesNotExist:
        raise ValidationError("This note has been deleted in the meantime.", code="gone") from None
    current.scenario = scenario
    return scenario, current


NOTE_EDIT_FIELDS = ("text", "kind", "version", "updated")


def edit_note(
    *,
    actor: Membership,
    note: Note,
    text: str,
    kind: str,
    version: int,
    request_id: uuid.UUID | None = None,
) -> Note:
    """Change a note's text and kind, if it is still at the version its editor started from.

    The common edit (the note read with its board, at the version sent, with nothing else on
    the board to redraw) is checked on what the request read and written at once, only if the
    note and its board are still as read (`events.append_with_update`: one statement on
    PostgreSQL). Every other edit, and that one when something changed, takes
    the board's lock and is checked on the board as it is now: a lost race, a retry, a conflict."""
    edited = _edit_note_at_once(actor=actor, note=note, text=text, kind=kind, version=version, request_id=request_id)
    if edited is not None:
        return edited
    return _edit_note_under_lock(actor=actor, note=note, text=text, kind=kind, version=version, request_id=request_id)


def _edit_note_at_once(
    *, actor: Membership, note: Note, text: str, kind: str, version: int, request_id: uuid.UUID | None
) -> Note | None:
    if not events.can_write_at_once() or not Note.scenario.is_cached(note):
        return None
    scenario = note.scenario
    if (
        note.version != version
        or kind not in NoteKind.values
        or (kind != note.kind and NoteKind.FRICTION in (kind, note.kind))  # the heatmap changes
        or note.hidden  # its author's private panel too
        or note.has_actions  # its action chips are read apart
        or scenario.voting in (VotingStatus.OPEN, VotingStatus.REVEALED)  # its dots, its ranking
    ):
        return None
    try:
        require_note_editor(actor, note, scenario)
        cleaned = clean_text(text, field="text", max_length=NOTE_MAX_LENGTH)
    except (PermissionDenied, ValidationError):
        return None  # the usual way says why, on the board as it is now
    current = copy.copy(note)
    current.text, current.kind, current.version, current.updated = cleaned, kind, note.version + 1, timezone.now()
    event = events.append_with_update(
        read=note, changed=current, update_fields=NOTE_EDIT_FIELDS, kind="note.edited", actor_id=actor.pk,
        payload=_edit_payload(current), fragments=[render.note(current, voting=None)], request_id=request_id,
    )
    return current if event is not None else None


def _edit_payload(note: Note) -> dict[str, Any]:
    return {"note": note.pk, "text": note.text, "kind": note.kind, "version": note.version}


@transaction.atomic
def _edit_note_under_lock(
    *, actor: Membership, note: Note, text: str, kind: str, version: int, request_id: uuid.UUID | None
) -> Note:
    scenario, current = _locked_note(note)
    require_note_editor(actor, current, scenario)
    if current.version != version:
        # A retried edit that took effect finds the version its first attempt moved on, so a
        # versioned edit looks for its retry only then (a first attempt with a request id used
        # already is refused by `events.append`).
        if events.applied_event(scenario, request_id):
            return current
        raise Conflict(current, f"{events.last_changed_by(scenario, what='note', pk=current.pk)} edited this note while you were typing.")
    if kind not in NoteKind.values:
        raise ValidationError({"kind": "Pick a kind of note."})
    old_kind = current.kind
    voting = render.notes_round(scenario)
    current.text = clean_text(text, field="text", max_length=NOTE_MAX_LENGTH)
    current.kind = kind
    current.version += 1
    current.updated = timezone.now()
    current.save(update_fields=NOTE_EDIT_FIELDS)
    events.append(
        scenario=scenario,
        kind="note.edited",
        actor_id=actor.pk,
        payload=_edit_payload(current),
        fragments=_with_results(
            scenario, current, voting,
            _with_heatmap(scenario, [old_kind, kind] if old_kind != kind else [], [render.note(current, voting=voting)]),
        ),
        request_id=request_id,
    )
    _refresh_private(scenario, current)
    return current


@transaction.atomic
def move_note(
    *,
    actor: Membership,
    note: Note,
    phase: Phase,
    micro_interaction: MicroInteraction | None = None,
    position: int | None = None,
    request_id: uuid.UUID | None = None,
) -> Note:
    """Move a note to another micro-interaction or phase, or reorder it where it is."""
    scenario, current = _locked_note(note)
    require_note_editor(actor, current, scenario)
    if events.applied_event(scenario, request_id):
        return current
    _check_target(scenario, phase, micro_interaction)
    old = (current.phase_id, current.micro_interaction_id)
    new_mi_id = micro_interaction.pk if micro_interaction else None
    new = (phase.pk, new_mi_id)
    # Park the note in its new container first, so neither renumbering collides with it.
    current.phase_id, current.micro_interaction_id = new
    current.order = PARKED_ORDER
    current.version += 1
    current.updated = timezone.now()
    current.save(update_fields=["phase", "micro_interaction", "order", "version", "updated"])
    if old != new:
        _renumber(Note, list(_container(*old).order_by("order", "pk")))
    siblings = list(_container(*new).exclude(pk=current.pk).order_by("order", "pk"))
    siblings.insert(_clamp(position, len(siblings)), current)
    _renumber(Note, siblings)
    fragments = [render.note_list(phase_id=phase.pk, micro_interaction_id=new_mi_id)]
    if old != new:
        fragments.append(render.note_list(phase_id=old[0], micro_interaction_id=old[1]))
    events.append(
        scenario=scenario,
        kind="note.moved",
        actor_id=actor.pk,
        payload={"note": current.pk, "from": list(old), "to": list(new), "position": current.order},
        fragments=_with_results(scenario, current, render.notes_round(scenario), _with_heatmap(scenario, [current.kind], fragments)),
        request_id=request_id,
    )
    return current


@transaction.atomic
def delete_note(*, actor: Membership, note: Note, request_id: uuid.UUID | None = None) -> None:
    try:
        scenario, current = _locked_note(note)
    except ValidationError:
        return  # already gone: deleting twice is not an error
    require_note_editor(actor, current, scenario)
    container = (current.phase_id, current.micro_interaction_id)
    text = current.text
    voters = set(Vote.objects.filter(note=current).values_list("voter_id", flat=True))
    current.delete()  # and its dots with it
    _renumber(Note, list(_container(*container).order_by("order", "pk")))
    _refresh_private(scenario, current)
    fragments = _with_heatmap(scenario, [current.kind], [render.note_list(phase_id=container[0], micro_interaction_id=container[1])])
    if voters or current.hidden:
        # How many private notes, or dots cast: the session bar says.
        fragments.append(render.session(scenario))
    if voters:
        # Its dots are gone: the results, and each voter's budget change.
        fragments.append(render.results(scenario))
        for voter in Membership.objects.filter(pk__in=voters):
            events.push_private(scenario_id=scenario.pk, member_id=voter.pk, html=render.private_panel(scenario, voter))
    events.append(
        scenario=scenario,
        kind="note.deleted",
        actor_id=actor.pk,
        payload={"note": note.pk, "text": text},
        fragments=fragments,
        request_id=request_id,
    )


# The live session (facilitators) ---------------------------------------------------------------

TIMER_MAX_MINUTES = 120
TIMER_EXTEND_SECONDS = 60


def _session_event(scenario: Scenario, actor: Membership, kind: str, payload: dict, fragments: list[str], request_id):
    events.append(
        scenario=scenario, kind=kind, actor_id=actor.pk, payload=payload, fragments=fragments, request_id=request_id
    )


@transaction.atomic
def set_stage(*, actor: Membership, scenario: Scenario, stage: str, request_id: uuid.UUID | None = None) -> Scenario:
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return scenario
    if stage not in Stage.values:
        raise ValidationError({"stage": "Pick a stage: capture, discuss, vote or actions."})
    scenario.stage = stage
    scenario.save(update_fields=["stage"])
    _session_event(scenario, actor, "session.stage", {"stage": stage}, [render.session(scenario)], request_id)
    return scenario


@transaction.atomic
def focus_phase(
    *, actor: Membership, scenario: Scenario, phase: Phase | None, request_id: uuid.UUID | None = None
) -> Scenario:
    """Point every screen at one phase (or at none). Participants can still look elsewhere."""
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return scenario
    if phase is not None and phase.scenario_id != scenario.pk:
        raise ValidationError({"phase": "That phase is not on this board."})
    scenario.focus_phase = phase
    scenario.save(update_fields=["focus_phase"])
    _session_event(
        scenario, actor, "session.focus", {"phase": phase.pk if phase else None}, [render.session(scenario)], request_id
    )
    return scenario


@transaction.atomic
def set_board_lock(
    *, actor: Membership, scenario: Scenario, locked: bool, request_id: uuid.UUID | None = None
) -> Scenario:
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return scenario
    scenario.locked = locked
    scenario.save(update_fields=["locked"])
    _session_event(scenario, actor, "session.lock", {"locked": locked}, [render.session(scenario)], request_id)
    return scenario


@transaction.atomic
def show_workshop_status(*, actor: Membership, scenario_id: int) -> None:
    """The workshop went live, was closed or opened again: its board's session bar says so, on
    every screen.
    (Called by `workshops.services.update_workshop`, which has checked the actor.)"""
    scenario = events.lock_board(scenario_id)
    status = scenario.workshop.status
    _session_event(scenario, actor, "workshop.status", {"status": status}, [render.session(scenario)], None)


@transaction.atomic
def show_review(*, actor: Membership, scenario_id: int) -> None:
    """An action of an earlier session changed: a follow-up's board lists it to review first, on
    every screen. (Called by `workshops.services`, which has checked the actor.)"""
    scenario = events.lock_board(scenario_id)
    events.append(scenario=scenario, kind="review.changed", actor_id=actor.pk, payload={},
                  fragments=[render.review(scenario), *render.emotion(scenario)])  # the closed loop names it too


@transaction.atomic
def start_private_round(*, actor: Membership, scenario: Scenario, request_id: uuid.UUID | None = None) -> Scenario:
    """From now on, participants' new notes stay hidden from everyone else until revealed."""
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return scenario
    scenario.private_round = True
    scenario.save(update_fields=["private_round"])
    _session_event(scenario, actor, "session.private", {"private": True}, [render.session(scenario)], request_id)
    return scenario


@transaction.atomic
def reveal_private_notes(*, actor: Membership, scenario: Scenario, request_id: uuid.UUID | None = None) -> int:
    """End the private round: every hidden note shows on every screen. Returns how many."""
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return 0
    hidden = Note.objects.filter(scenario=scenario, hidden=True)
    authors = set(hidden.values_list("author_id", flat=True))
    count = hidden.update(hidden=False)
    scenario.private_round = False
    scenario.save(update_fields=["private_round"])
    _session_event(
        scenario, actor, "session.reveal_notes", {"revealed": count},
        [render.session(scenario), render.board(scenario)], request_id,
    )
    for author in Membership.objects.filter(pk__in=authors - {None}):
        events.push_private(scenario_id=scenario.pk, member_id=author.pk, html=render.private_panel(scenario, author))
    return count


@transaction.atomic
def control_timer(
    *,
    actor: Membership,
    scenario: Scenario,
    op: str,
    minutes: int | None = None,
    request_id: uuid.UUID | None = None,
) -> Scenario:
    """start (minutes), pause, resume, extend (+1 minute) or end the session timer.

    The end time is kept on the server, so every screen counts down to the same moment,
    across reloads and reconnects.
    """
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return scenario
    now = timezone.now()
    state = scenario.timer_state
    if op == "start":
        if minutes is None or not 1 <= minutes <= TIMER_MAX_MINUTES:
            raise ValidationError({"minutes": f"Set the timer between 1 and {TIMER_MAX_MINUTES} minutes."})
        scenario.timer_ends_at, scenario.timer_remaining = now + timezone.timedelta(minutes=minutes), None
    elif op == "pause" and state == "running":
        left = max(0, int((scenario.timer_ends_at - now).total_seconds() + 0.999))
        scenario.timer_ends_at, scenario.timer_remaining = None, left
    elif op == "resume" and state == "paused":
        scenario.timer_ends_at = now + timezone.timedelta(seconds=scenario.timer_remaining)
        scenario.timer_remaining = None
    elif op == "extend" and state == "running":
        scenario.timer_ends_at = max(scenario.timer_ends_at, now) + timezone.timedelta(seconds=TIMER_EXTEND_SECONDS)
    elif op == "extend" and state == "paused":
        scenario.timer_remaining += TIMER_EXTEND_SECONDS
    elif op == "end" and state != "off":
        scenario.timer_ends_at, scenario.timer_remaining = None, None
    else:
        raise ValidationError({"op": f"The timer is {state}: it can't {op}."})
    scenario.save(update_fields=["timer_ends_at", "timer_remaining"])
    _session_event(
        scenario, actor, "session.timer",
        {"op": op, "ends_at": scenario.timer_ends_at.isoformat() if scenario.timer_ends_at else None,
         "remaining": scenario.timer_remaining},
        [render.session(scenario)], request_id,
    )
    return scenario


# Dot voting ------------------------------------------------------------------------------------


@transaction.atomic
def open_voting_round(
    *,
    actor: Membership,
    scenario: Scenario,
    budget: int = 3,
    cap_per_note: int = 2,
    phase: Phase | None = None,
    request_id: uuid.UUID | None = None,
) -> VotingRound:
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        return VotingRound.objects.get(pk=done.payload["round"])
    if VotingRound.objects.filter(scenario=scenario, status=VotingStatus.OPEN).exists():
        raise ValidationError("A voting round is already open on this board.")
    if not 1 <= budget <= 20:
        raise ValidationError({"budget": "Give each person between 1 and 20 dots."})
    if not 1 <= cap_per_note <= budget:
        raise ValidationError({"cap_per_note": "The cap per note goes from 1 to the budget."})
    if phase is not None and phase.scenario_id != scenario.pk:
        raise ValidationError({"phase": "That phase is not on this board."})
    voting = VotingRound.objects.create(
        scenario=scenario, budget=budget, cap_per_note=cap_per_note, phase=phase, opened_by=actor
    )
    scenario.stage, scenario.voting = Stage.VOTE, voting.status
    scenario.save(update_fields=["stage", "voting"])
    _session_event(
        scenario, actor, "voting.opened",
        {"round": voting.pk, "budget": budget, "cap": cap_per_note, "phase": phase.pk if phase else None},
        [render.whole_board(scenario)], request_id,
    )
    return voting


def _open_round(scenario: Scenario) -> VotingRound:
    voting = VotingRound.objects.filter(scenario=scenario, status=VotingStatus.OPEN).first()
    if voting is None:
        raise ValidationError("Voting is not open right now.")
    return voting


@transaction.atomic
def cast_vote(*, actor: Membership, note: Note, request_id: uuid.UUID | None = None) -> int:
    """Put one of the actor's dots on a friction note. Returns the dots they have left.

    The board's row lock serialises votes, so parallel clicks from two tabs never overspend.
    Votes are anonymous: the event records no actor, and only the voter sees their dots.
    """
    scenario, note = _locked_note(note)
    require_member(actor, scenario)
    voting = _open_round(scenario)
    if events.applied_event(scenario, request_id):
        return voting.budget - _dots_used(voting, actor)
    if note.kind != NoteKind.FRICTION or note.hidden:
        raise ValidationError("Dots go on friction notes.")
    if voting.phase_id is not None and note.phase_id != voting.phase_id:
        raise ValidationError(f"This round is about {voting.phase.name} only.")
    used = _dots_used(voting, actor)
    if used >= voting.budget:
        raise ValidationError(f"You have used all {voting.budget} of your dots. Take one back to move it.")
    vote = Vote.objects.filter(round=voting, note=note, voter=actor).first()
    if vote is not None and vote.dots >= voting.cap_per_note:
        raise ValidationError(f"At most {voting.cap_per_note} dots per note.")
    if vote is None:
        Vote.objects.create(round=voting, note=note, voter=actor, dots=1)
    else:
        vote.dots += 1
        vote.save(update_fields=["dots"])
    _vote_event(scenario, actor, voting, "voting.dot_added", request_id)
    return voting.budget - used - 1


@transaction.atomic
def withdraw_vote(*, actor: Membership, note: Note, request_id: uuid.UUID | None = None) -> int:
    """Take one of the actor's dots back from a note. Returns the dots they have left."""
    scenario, note = _locked_note(note)
    require_member(actor, scenario)
    voting = _open_round(scenario)
    if events.applied_event(scenario, request_id):
        return voting.budget - _dots_used(voting, actor)
    vote = Vote.objects.filter(round=voting, note=note, voter=actor).first()
    if vote is None:
        raise ValidationError("You have no dot on this note.")
    if vote.dots > 1:
        vote.dots -= 1
        vote.save(update_fields=["dots"])
    else:
        vote.delete()
    _vote_event(scenario, actor, voting, "voting.dot_removed", request_id)
    return voting.budget - _dots_used(voting, actor)


def _dots_used(voting: VotingRound, voter: Membership) -> int:
    return Vote.objects.filter(round=voting, voter=voter).aggregate(s=Sum("dots"))["s"] or 0


def _vote_event(scenario: Scenario, actor: Membership, voting: VotingRound, kind: str, request_id) -> None:
    # No actor and no note in the log: who voted for what stays with the voter.
    events.append(
        scenario=scenario, kind=kind, actor_id=None, payload={"round": voting.pk},
        fragments=[render.session(scenario)], request_id=request_id,
    )
    events.push_private(scenario_id=scenario.pk, member_id=actor.pk, html=render.private_panel(scenario, actor))


@transaction.atomic
def close_voting_round(*, actor: Membership, scenario: Scenario, request_id: uuid.UUID | None = None) -> VotingRound:
    """No more dots; the totals stay hidden until revealed."""
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        return VotingRound.objects.get(pk=done.payload["round"])
    voting = _open_round(scenario)
    voting.status, voting.closed = VotingStatus.CLOSED, timezone.now()
    voting.save(update_fields=["status", "closed"])
    scenario.voting = voting.status
    scenario.save(update_fields=["voting"])
    _session_event(scenario, actor, "voting.closed", {"round": voting.pk}, [render.whole_board(scenario)], request_id)
    return voting


@transaction.atomic
def reveal_votes(*, actor: Membership, scenario: Scenario, request_id: uuid.UUID | None = None) -> VotingRound:
    """Show the totals, the ranking and the breakdown by business function (closing the round first)."""
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        return VotingRound.objects.get(pk=done.payload["round"])
    voting = VotingRound.objects.filter(
        scenario=scenario, status__in=[VotingStatus.OPEN, VotingStatus.CLOSED]
    ).first()
    if voting is None:
        raise ValidationError("There is no voting round to reveal.")
    voting.status = VotingStatus.REVEALED
    voting.closed = voting.closed or timezone.now()
    voting.save(update_fields=["status", "closed"])
    scenario.voting = voting.status
    scenario.save(update_fields=["voting"])
    _session_event(scenario, actor, "voting.revealed", {"round": voting.pk}, [render.whole_board(scenario)], request_id)
    return voting


# Insights: the team's consensus on emotions ----------------------------------------------------


@transaction.atomic
def set_emotion_rating(
    *, actor: Membership, scenario: Scenario, open: bool, request_id: uuid.UUID | None = None
) -> Scenario:
    """Open (or close) consensus mode: everyone may rate how the customer feels at each step."""
    scenario = events.lock_board(scenario)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return scenario
    scenario.rating_open = open
    scenario.save(update_fields=["rating_open"])
    _session_event(scenario, actor, "session.rating", {"open": open}, [render.session(scenario)], request_id)
    return scenario


def _board_interaction(scenario: Scenario, interaction: MicroInteraction) -> MicroInteraction:
    """The micro-interaction read afresh under the board's lock, checked to be on this board."""
    mi = (
        MicroInteraction.objects.select_related("phase")
        .filter(pk=interaction.pk, phase__scenario=scenario)
        .first()
    )
    if mi is None:
        raise ValidationError("This micro-interaction is no longer on the board.")
    return mi


@transaction.atomic
def rate_emotion(
    *,
    actor: Membership,
    interaction: MicroInteraction,
    value: int | None,
    request_id: uuid.UUID | None = None,
) -> EmotionRating | None:
    """The actor's own rating of how the customer feels at a step, from −2 to +2 (None takes it
    back). The board shows only the median and the spread: the event names nobody, and the
    person sees their own rating through their private panel."""
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_member(actor, scenario)
    if events.applied_event(scenario, request_id):
        return EmotionRating.objects.filter(interaction_id=interaction.pk, member=actor).first()
    if not scenario.rating_open:
        raise ValidationError("Emotion rating is closed: the facilitator opens it.")
    mi = _board_interaction(scenario, interaction)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not -2 <= value <= 2):
        raise ValidationError({"value": "Rate from −2 (very negative) to +2 (very positive)."})
    rating = EmotionRating.objects.filter(interaction=mi, member=actor).first()
    if value is None:
        if rating is None:
            raise ValidationError("You have not rated this step.")
        rating_id = rating.pk
        rating.delete()
        rating = None
    else:
        if rating is None:
            rating = EmotionRating.objects.create(interaction=mi, member=actor, value=value)
        else:
            rating.value, rating.updated = value, timezone.now()
            rating.save(update_fields=["value", "updated"])
        rating_id = rating.pk
    events.append(
        scenario=scenario,
        kind="emotion.rated",
        actor_id=None,
        payload={"interaction": mi.pk, "rating": rating_id, "value": value},
        fragments=render.emotion(scenario),
        request_id=request_id,
    )
    events.push_private(scenario_id=scenario.pk, member_id=actor.pk, html=render.private_panel(scenario, actor))
    return rating


# Insights: the evidence behind a touchpoint ----------------------------------------------------

METRIC_NAME_MAX = 60
METRIC_UNIT_MAX = 16
SOURCE_MAX = 120
QUOTE_MAX = 1000
METRIC_PLACES = Decimal("0.0001")
METRIC_LIMIT = Decimal("9999999999.9999")


def evidence_date(value: datetime.date | None, field: str = "date") -> datetime.date | None:
    if value is not None and value > timezone.localdate():
        raise ValidationError({field: "Pick a date that has passed: evidence is what was measured or heard."})
    return value


def metric_value(value: Decimal | float | str, field: str = "value") -> Decimal:
    """A metric's number: finite, at most ten digits before the point and four after."""
    message = "Give a number, e.g. 42, 4.3 or -12.5 (at most four decimals)."
    if isinstance(value, bool):
        raise ValidationError({field: message})
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: message}) from None
    if not number.is_finite() or abs(number) > METRIC_LIMIT or number != number.quantize(METRIC_PLACES):
        raise ValidationError({field: message})
    return number.quantize(METRIC_PLACES)


def _metric_fields(name: str, value, unit: str, source: str, date) -> dict[str, Any]:
    return {
        "name": clean_text(name, field="name", max_length=METRIC_NAME_MAX),
        "value": metric_value(value),
        "unit": clean_text(unit, field="unit", max_length=METRIC_UNIT_MAX, required=False),
        "source": clean_text(source, field="source", max_length=SOURCE_MAX, required=False),
        "date": evidence_date(date),
    }


def _quote_fields(text: str, source: str, date) -> dict[str, Any]:
    return {
        "text": clean_text(text, field="text", max_length=QUOTE_MAX),
        "source": clean_text(source, field="source", max_length=SOURCE_MAX, required=False),
        "date": evidence_date(date),
    }


def _iso(date: datetime.date | None) -> str | None:
    return date.isoformat() if date else None


@transaction.atomic
def add_metric(
    *,
    actor: Membership,
    interaction: MicroInteraction,
    name: str,
    value: Decimal | float | str,
    unit: str = "",
    source: str = "",
    date: datetime.date | None = None,
    request_id: uuid.UUID | None = None,
) -> TouchpointMetric:
    """A measure on a step (NPS, CSAT, conversion, wait time…), with its source and date."""
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        metric = TouchpointMetric.objects.filter(pk=done.payload["metric"]).first()
        if metric is None:
            raise ValidationError("This metric was added, then removed in the meantime.", code="gone")
        return metric
    mi = _board_interaction(scenario, interaction)
    metric = TouchpointMetric.objects.create(
        interaction=mi, created_by=actor, **_metric_fields(name, value, unit, source, date)
    )
    events.append(
        scenario=scenario,
        kind="evidence.metric_added",
        actor_id=actor.pk,
        payload={"metric": metric.pk, "interaction": mi.pk, "name": metric.name, "value": str(metric.value),
                 "unit": metric.unit, "source": metric.source, "date": _iso(metric.date)},
        fragments=[render.evidence(mi)],
        request_id=request_id,
    )
    return metric


@transaction.atomic
def add_quote(
    *,
    actor: Membership,
    interaction: MicroInteraction,
    text: str,
    source: str = "",
    date: datetime.date | None = None,
    request_id: uuid.UUID | None = None,
) -> CustomerQuote:
    """A customer's words about a step, with where and when they were heard."""
    scenario = events.lock_board(interaction.phase.scenario_id)
    require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        quote = CustomerQuote.objects.filter(pk=done.payload["quote"]).first()
        if quote is None:
            raise ValidationError("This quote was added, then removed in the meantime.", code="gone")
        return quote
    mi = _board_interaction(scenario, interaction)
    quote = CustomerQuote.objects.create(interaction=mi, created_by=actor, **_quote_fields(text, source, date))
    events.append(
        scenario=scenario,
        kind="evidence.quote_added",
        actor_id=actor.pk,
        payload={"quote": quote.pk, "interaction": mi.pk, "text": quote.text, "source": quote.source,
                 "date": _iso(quote.date)},
        fragments=[render.evidence(mi)],
        request_id=request_id,
    )
    return quote


def _remove_evidence(
    *, actor: Membership, model: type, pk: int, kind: str, key: str, request_id: uuid.UUID | None
) -> None:
    found = model.objects.filter(pk=pk).values_list("interaction__phase__scenario_id", flat=True).first()
    if found is None:
        return  # already gone: removing twice is not an error
    scenario = events.lock_board(found)
    require_facilitator(actor, scenario)
    if events.applied_event(scenario, request_id):
        return
    item = model.objects.select_related("interaction").filter(pk=pk).first()
    if item is None:
        return
    mi = item.interaction
    item.delete()
    events.append(
        scenario=scenario,
        kind=kind,
        actor_id=actor.pk,
        payload={key: pk, "interaction": mi.pk},
        fragments=[render.evidence(mi)],
        request_id=request_id,
    )


@transaction.atomic
def remove_metric(*, actor: Membership, metric: TouchpointMetric, request_id: uuid.UUID | None = None) -> None:
    _remove_evidence(actor=actor, model=TouchpointMetric, pk=metric.pk, kind="evidence.metric_removed",
                     key="metric", request_id=request_id)


@transaction.atomic
def remove_quote(*, actor: Membership, quote: CustomerQuote, request_id: uuid.UUID | None = None) -> None:
    _remove_evidence(actor=actor, model=CustomerQuote, pk=quote.pk, kind="evidence.quote_removed",
                     key="quote", request_id=request_id)


# Sharing journeys: importing a scenario exported as JSON ------------------------------------------


@transaction.atomic
def import_scenario(*, actor: Membership, workshop: Workshop, data: Any) -> Scenario:
    """A new board from a scenario exported as JSON (boards.exports.scenario_document), from this
    instance or another: phases, steps with their emotions and moments of truth, evidence and
    notes. The document is checked strictly first; nothing is written unless all of it is valid.

    Notes come in as the importer's (people's names don't travel between teams), and the team's
    persona of the same name, if there is one, is linked.
    """
    from boards import exports

    if actor.team_id != workshop.team_id or not actor.is_facilitator:
        raise PermissionDenied("Only a facilitator of this team can import a scenario.")
    journey = exports.parse_scenario(data)
    persona = None
    if journey.persona_name:
        persona = Persona.objects.filter(team_id=workshop.team_id, name__iexact=journey.persona_name).first()
    scenario = Scenario.objects.create(
        workshop=workshop, persona=persona, title=journey.title, description=journey.description
    )
    phases = Phase.objects.bulk_create(
        Phase(scenario=scenario, order=i, name=p.name, goal=p.goal) for i, p in enumerate(journey.phases)
    )
    pairs = [(phase, j, step) for phase, p in zip(phases, journey.phases, strict=True) for j, step in enumerate(p.interactions)]
    steps = MicroInteraction.objects.bulk_create(
        MicroInteraction(phase=phase, order=j, action=step.action, channel=step.channel, emotion=step.emotion,
                         moment_of_truth=step.moment_of_truth)
        for phase, j, step in pairs
    )
    metrics = TouchpointMetric.objects.bulk_create(
        TouchpointMetric(interaction=mi, created_by=actor, name=m.name, value=m.value, unit=m.unit,
                         source=m.source, date=m.date)
        for mi, (_, _, step) in zip(steps, pairs, strict=True) for m in step.metrics
    )
    quotes = CustomerQuote.objects.bulk_create(
        CustomerQuote(interaction=mi, created_by=actor, text=q.text, source=q.source, date=q.date)
        for mi, (_, _, step) in zip(steps, pairs, strict=True) for q in step.quotes
    )
    step_of = {id(step): mi for mi, (_, _, step) in zip(steps, pairs, strict=True)}
    notes = Note.objects.bulk_create(
        [
            Note(scenario=scenario, phase=phase, micro_interaction=step_of[id(step)], author=actor, kind=n.kind,
                 text=n.text, order=k)
            for phase, p in zip(phases, journey.phases, strict=True)
            for step in p.interactions
            for k, n in enumerate(step.notes)
        ]
        + [
            Note(scenario=scenario, phase=phase, author=actor, kind=n.kind, text=n.text, order=k)
            for phase, p in zip(phases, journey.phases, strict=True)
            for k, n in enumerate(p.notes)
        ]
    )
    scenario = events.lock_board(scenario)
    # The log keeps the whole imported board, so its history can be replayed from the start.
    events.append(
        scenario=scenario,
        kind="scenario.imported",
        actor_id=actor.pk,
        payload={
            "title": scenario.title,
            "phases": [
                {"phase": phase.pk, "name": phase.name, "goal": phase.goal,
                 "interactions": [
                     {"interaction": mi.pk, "action": mi.action, "channel": mi.channel, "emotion": mi.emotion,
                      "moment_of_truth": mi.moment_of_truth}
                     for mi in steps if mi.phase_id == phase.pk
                 ]}
                for phase in phases
            ],
            "notes": [
                {"note": n.pk, "phase": n.phase_id, "interaction": n.micro_interaction_id, "kind": n.kind,
                 "text": n.text}
                for n in notes
            ],
            "metrics": [
                {"metric": m.pk, "interaction": m.interaction_id, "name": m.name, "value": str(m.value),
                 "unit": m.unit, "source": m.source, "date": _iso(m.date)}
                for m in metrics
            ],
            "quotes": [
                {"quote": q.pk, "interaction": q.interaction_id, "text": q.text, "source": q.source,
                 "date": _iso(q.date)}
                for q in quotes
            ],
        },
        fragments=[],
    )
    return scenario
