"""A board's history, rebuilt from its event log (BoardEvent: seq, kind, payload, actor, created).

`replay(scenario, upto=N)` starts from what the board was created with (a journey template, an
imported document, or nothing) and applies the payload of every event up to seq N, so the board can
be shown as it was at the end of a session or after any change. The same pass writes the timeline:
who did what, and when.

What the log does not say is left as the people who were there saw it:
- votes carry no actor, so the timeline says "a dot" and never whose;
- emotion ratings carry no actor either, and show only pooled, as on the board;
- a note written in a private round shows as "a private note" until the round was revealed (in
  the rebuilt board: until the seq shown; in the timeline: until now). A note deleted before the
  reveal never shows its text.

The rows a journey template created have no event of their own: they are the board's phases and
micro-interactions that no event added, with those a deletion event describes (their names come
from the template). A field an older event does not carry (the channel of a micro-interaction added
before the log recorded it, a phase's goal) is shown as it is now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from boards import insights
from boards.journey_templates import TEMPLATES
from boards.models import (
    EMOTION_LABELS,
    BoardEvent,
    Channel,
    MicroInteraction,
    MomentOfTruth,
    NoteKind,
    Phase,
    Scenario,
    Vote,
    VotingStatus,
    format_decimal,
)

ANONYMOUS_KINDS = ("voting.dot_added", "voting.dot_removed", "emotion.rated")


# The board as it was ---------------------------------------------------------------------------


@dataclass
class Person:
    name: str


@dataclass
class PastNote:
    pk: int
    phase_id: int
    mi_id: int | None
    kind: str
    text: str
    hidden: bool
    author: Person | None
    vote_total: int | None = None
    action_list: list[Any] = field(default_factory=list)

    def get_kind_display(self) -> str:
        return NoteKind(self.kind).label if self.kind in NoteKind.values else self.kind


@dataclass
class PastMetric:
    pk: int
    name: str
    value: Decimal
    unit: str
    source: str
    date: date | None

    @property
    def value_with_unit(self) -> str:
        from boards.models import TouchpointMetric

        return TouchpointMetric(value=self.value, unit=self.unit).value_with_unit


@dataclass
class PastQuote:
    pk: int
    text: str
    source: str
    date: date | None


@dataclass
class PastStep:
    pk: int
    phase_id: int
    action: str
    channel: str
    emotion: int | None
    moment_of_truth: str
    note_list: list[PastNote] = field(default_factory=list)
    metric_list: list[PastMetric] = field(default_factory=list)
    quote_list: list[PastQuote] = field(default_factory=list)

    def get_channel_display(self) -> str:
        return Channel(self.channel).label if self.channel in Channel.values else self.channel

    @property
    def emotion_label(self) -> str:
        return EMOTION_LABELS.get(self.emotion, "Not rated") if self.emotion is not None else "Not rated"


@dataclass
class PastPhase:
    pk: int
    name: str
    goal: str
    interaction_list: list[PastStep] = field(default_factory=list)
    note_list: list[PastNote] = field(default_factory=list)


@dataclass
class PastAction:
    pk: int
    title: str
    status: str

    def get_status_display(self) -> str:
        from workshops.models import ActionStatus

        return ActionStatus(self.status).label if self.status in ActionStatus.values else self.status


@dataclass
class Entry:
    """One line of the timeline."""

    seq: int
    created: datetime
    kind: str
    who: str  # empty for anonymous events
    text: str


@dataclass
class Session:
    """The events of one day: a workshop session, from its first change to its last."""

    day: date
    first_seq: int
    last_seq: int
    count: int


@dataclass
class Past:
    """The board at one seq, and the timeline of the whole log."""

    scenario: Scenario
    seq: int
    last_seq: int
    at: datetime | None
    title: str
    stage: str
    phases: list[PastPhase]
    curve: insights.Curve
    actions: list[PastAction]
    voting_status: str
    timeline: list[Entry]
    sessions: list[Session]

    @property
    def note_count(self) -> int:
        return sum(len(p.note_list) + sum(len(m.note_list) for m in p.interaction_list) for p in self.phases)


class _Board:
    """The state being rebuilt, event by event."""

    def __init__(self, scenario: Scenario, phases: list[Phase], steps: list[MicroInteraction], names: dict[int, str]):
        self.scenario = scenario
        self.title = scenario.title
        self.stage = "capture"
        self.names = names
        self.now_phases = {p.pk: p for p in phases}
        self.now_steps = {m.pk: m for m in steps}
        self.phases: list[PastPhase] = []
        self.phase_by_id: dict[int, PastPhase] = {}
        self.steps: dict[int, PastStep] = {}
        self.notes: dict[int, PastNote] = {}
        self.ratings: dict[int, tuple[int, int]] = {}  # rating id -> (step, value)
        self.actions: dict[int, PastAction] = {}
        self.action_notes: dict[int, list[int]] = {}
        self.rounds: dict[int, str] = {}

    # Building blocks ---------------------------------------------------------------------------

    def add_phase(self, pk: int, name: str, goal: str | None, position: int | None = None) -> PastPhase:
        now = self.now_phases.get(pk)
        phase = PastPhase(pk=pk, name=name, goal=goal if goal is not None else (now.goal if now else ""))
        if pk in self.phase_by_id:
            self.phases.remove(self.phase_by_id[pk])
        at = len(self.phases) if position is None else max(0, min(position, len(self.phases)))
        self.phases.insert(at, phase)
        self.phase_by_id[pk] = phase
        return phase

    def add_step(self, pk: int, phase_id: int, action: str, data: dict[str, Any]) -> None:
        phase = self.phase_by_id.get(phase_id)
        if phase is None:
            return
        now = self.now_steps.get(pk)

        def field_of(key: str, default: Any) -> Any:
            if key in data:
                return data[key]
            return getattr(now, key) if now is not None else default

        step = PastStep(
            pk=pk,
            phase_id=phase_id,
            action=action,
            channel=field_of("channel", Channel.OTHER),
            emotion=field_of("emotion", None),
            moment_of_truth=field_of("moment_of_truth", MomentOfTruth.NONE),
        )
        phase.interaction_list.append(step)
        self.steps[pk] = step

    def container(self, phase_id: int, mi_id: int | None) -> list[PastNote] | None:
        if mi_id:
            step = self.steps.get(mi_id)
            return step.note_list if step else None
        phase = self.phase_by_id.get(phase_id)
        return phase.note_list if phase else None

    def add_note(self, pk: int, phase_id: int, mi_id: int | None, kind: str, text: str, hidden: bool, author_id: int | None) -> None:
        notes = self.container(phase_id, mi_id)
        if notes is None:
            return
        author = Person(self.names[author_id]) if author_id in self.names else None
        note = PastNote(pk=pk, phase_id=phase_id, mi_id=mi_id, kind=kind, text=text, hidden=hidden, author=author)
        notes.append(note)
        self.notes[pk] = note

    def move(self, items: list, item: Any, position: Any) -> None:
        if item in items:
            items.remove(item)
        at = position if isinstance(position, int) else len(items)
        items.insert(max(0, min(at, len(items))), item)

    # The start of the log ----------------------------------------------------------------------

    def from_template(self, key: str, added_phases: set[int], added_steps: set[int]) -> None:
        """A board made from a journey template: its first phases and steps have no event of their
        own. They are the board's rows that no event added, in the order they were created."""
        template = TEMPLATES.get(key)
        phases = sorted((p for p in self.now_phases.values() if p.pk not in added_phases), key=lambda p: p.pk)
        t_phases = list(template.phases) if template else []
        for i, phase in enumerate(phases):
            t_phase = t_phases[i] if i < len(t_phases) and len(t_phases) == len(phases) else None
            self.add_phase(phase.pk, t_phase.name if t_phase else phase.name, t_phase.goal if t_phase else phase.goal)
            steps = sorted(
                (m for m in self.now_steps.values() if m.phase_id == phase.pk and m.pk not in added_steps),
                key=lambda m: m.pk,
            )
            t_steps = list(t_phase.interactions) if t_phase and len(t_phase.interactions) == len(steps) else []
            for j, step in enumerate(steps):
                t_step = t_steps[j] if t_steps else None
                self.add_step(
                    step.pk,
                    phase.pk,
                    t_step.action if t_step else step.action,
                    {"channel": t_step.channel, "emotion": None, "moment_of_truth": MomentOfTruth.NONE} if t_step else {},
                )

    def from_import(self, payload: dict[str, Any], actor_id: int | None) -> None:
        self.title = payload.get("title", self.title)
        for p in payload.get("phases", []):
            self.add_phase(p["phase"], p["name"], p.get("goal", ""))
            for m in p.get("interactions", []):
                self.add_step(m["interaction"], p["phase"], m["action"], m)
        for n in payload.get("notes", []):
            self.add_note(n["note"], n["phase"], n.get("interaction"), n["kind"], n["text"], False, actor_id)
        for m in payload.get("metrics", []):
            self.add_metric(m)
        for q in payload.get("quotes", []):
            self.add_quote(q)

    def add_metric(self, m: dict[str, Any]) -> None:
        step = self.steps.get(m.get("interaction"))
        if step is not None:
            step.metric_list.append(
                PastMetric(pk=m["metric"], name=m["name"], value=Decimal(m["value"]), unit=m.get("unit", ""),
                           source=m.get("source", ""), date=_date(m.get("date")))
            )

    def add_quote(self, q: dict[str, Any]) -> None:
        step = self.steps.get(q.get("interaction"))
        if step is not None:
            step.quote_list.append(
                PastQuote(pk=q["quote"], text=q["text"], source=q.get("source", ""), date=_date(q.get("date")))
            )

    # One event ---------------------------------------------------------------------------------

    def apply(self, kind: str, p: dict[str, Any], actor_id: int | None) -> None:
        handler = getattr(self, "on_" + kind.replace(".", "_"), None)
        if handler is not None:
            handler(p, actor_id)

    def on_scenario_updated(self, p, actor_id):
        self.title = p.get("title", self.title)

    def on_scenario_imported(self, p, actor_id):
        self.from_import(p, actor_id)

    def on_phase_added(self, p, actor_id):
        self.add_phase(p["phase"], p.get("name", ""), p.get("goal"), p.get("position"))

    def on_phase_updated(self, p, actor_id):
        phase = self.phase_by_id.get(p.get("phase"))
        if phase is not None:
            phase.name = p.get("name", phase.name)
            now = self.now_phases.get(phase.pk)
            phase.goal = p.get("goal", now.goal if now else phase.goal)

    def on_phase_moved(self, p, actor_id):
        phase = self.phase_by_id.get(p.get("phase"))
        if phase is not None:
            self.move(self.phases, phase, p.get("position"))

    def on_interaction_added(self, p, actor_id):
        self.add_step(p["interaction"], p.get("phase"), p.get("action", ""), p)

    def on_interaction_updated(self, p, actor_id):
        step = self.steps.get(p.get("interaction"))
        if step is not None:
            for key in ("action", "channel", "emotion", "moment_of_truth"):
                if key in p:
                    setattr(step, key, p[key])

    on_interaction_rated = on_interaction_updated

    def on_phase_deleted(self, p, actor_id):
        phase = self.phase_by_id.pop(p.get("phase"), None)
        if phase is not None:
            self.phases.remove(phase)
            for step in phase.interaction_list:
                self.drop_step(step)

    def drop_step(self, step: PastStep) -> None:
        self.steps.pop(step.pk, None)
        self.ratings = {r: (mi, v) for r, (mi, v) in self.ratings.items() if mi != step.pk}

    def on_interaction_deleted(self, p, actor_id):
        step = self.steps.get(p.get("interaction"))
        phase = step and self.phase_by_id.get(step.phase_id)
        if phase is None:
            return
        phase.interaction_list.remove(step)
        self.drop_step(step)
        for note in step.note_list:  # its notes went to the bottom of the phase's own notes
            note.mi_id = None
            phase.note_list.append(note)

    def on_interaction_moved(self, p, actor_id):
        step = self.steps.get(p.get("interaction"))
        phase = step and self.phase_by_id.get(step.phase_id)
        if phase is not None:
            self.move(phase.interaction_list, step, p.get("position"))

    def on_note_added(self, p, actor_id):
        self.add_note(p["note"], p.get("phase"), p.get("interaction"), p.get("kind", "observation"),
                      p.get("text", ""), bool(p.get("hidden")), actor_id)

    def on_note_edited(self, p, actor_id):
        note = self.notes.get(p.get("note"))
        if note is not None:
            note.text, note.kind = p.get("text", note.text), p.get("kind", note.kind)

    def on_note_moved(self, p, actor_id):
        note = self.notes.get(p.get("note"))
        target = p.get("to") or [None, None]
        notes = self.container(target[0], target[1]) if len(target) == 2 else None
        if note is None or notes is None:
            return
        old = self.container(note.phase_id, note.mi_id)
        if old is not None and note in old:
            old.remove(note)
        note.phase_id, note.mi_id = target
        self.move(notes, note, p.get("position"))

    def on_note_deleted(self, p, actor_id):
        note = self.notes.pop(p.get("note"), None)
        if note is not None:
            notes = self.container(note.phase_id, note.mi_id)
            if notes is not None and note in notes:
                notes.remove(note)

    def on_session_reveal_notes(self, p, actor_id):
        for note in self.notes.values():
            note.hidden = False

    def on_session_stage(self, p, actor_id):
        self.stage = p.get("stage", self.stage)

    def on_voting_opened(self, p, actor_id):
        self.rounds[p.get("round")] = VotingStatus.OPEN
        self.stage = "vote"

    def on_voting_closed(self, p, actor_id):
        self.rounds[p.get("round")] = VotingStatus.CLOSED

    def on_voting_revealed(self, p, actor_id):
        self.rounds[p.get("round")] = VotingStatus.REVEALED

    def on_emotion_rated(self, p, actor_id):
        rating = p.get("rating")
        if p.get("value") is None:
            self.ratings.pop(rating, None)
        else:
            self.ratings[rating] = (p.get("interaction"), p["value"])

    def on_evidence_metric_added(self, p, actor_id):
        self.add_metric(p)

    def on_evidence_quote_added(self, p, actor_id):
        self.add_quote(p)

    def on_evidence_metric_removed(self, p, actor_id):
        step = self.steps.get(p.get("interaction"))
        if step is not None:
            step.metric_list = [m for m in step.metric_list if m.pk != p.get("metric")]

    def on_evidence_quote_removed(self, p, actor_id):
        step = self.steps.get(p.get("interaction"))
        if step is not None:
            step.quote_list = [q for q in step.quote_list if q.pk != p.get("quote")]

    def on_action_created(self, p, actor_id):
        self.actions[p["action"]] = PastAction(pk=p["action"], title=p.get("title", ""), status="open")
        self.action_notes[p["action"]] = list(p.get("notes", []))

    def on_action_replanned(self, p, actor_id):
        action = self.actions.get(p.get("action"))
        if action is not None:
            action.title = p.get("title", action.title)

    def on_action_updated(self, p, actor_id):
        action = self.actions.get(p.get("action"))
        if action is not None:
            action.status = p.get("status", action.status)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


# The timeline ----------------------------------------------------------------------------------


def _quoted(text: Any, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def _describe(board: _Board, kind: str, p: dict[str, Any], revealed: set[int]) -> str:
    """What one event did, in the board's words. `revealed`: notes whose text may be shown."""
    step = board.steps.get(p.get("interaction"))
    phase = board.phase_by_id.get(p.get("phase"))
    step_name = _quoted(step.action, 60) if step else "a micro-interaction"
    note_text = _quoted(p.get("text", "")) if p.get("note") in revealed else "a private note"

    def note_where() -> str:
        target = board.steps.get(p.get("interaction")) if p.get("interaction") else None
        if target is not None:
            return f" on {_quoted(target.action, 60)}"
        return f" in {phase.name}" if phase else ""

    kind_label = NoteKind(p["kind"]).label.lower() if p.get("kind") in NoteKind.values else "note"
    a_kind = ("an " if kind_label[0] in "aeiou" else "a ") + kind_label
    texts = {
        "scenario.created": lambda: "created the board" + (f" from the {TEMPLATES[p['template']].name.lower()}" if p.get("template") in TEMPLATES else ""),
        "scenario.imported": lambda: f"imported the board ({len(p.get('phases', []))} phases, {len(p.get('notes', []))} notes)",
        "scenario.updated": lambda: f"renamed the board {_quoted(p.get('title', ''))}",
        "phase.added": lambda: f"added the phase {_quoted(p.get('name', ''))}",
        "phase.updated": lambda: (f"renamed the phase {_quoted(phase.name)} to {_quoted(p.get('name', ''))}"
                                  if phase and phase.name != p.get("name", phase.name)
                                  else f"edited the phase {_quoted(p.get('name', ''))}"),
        "phase.moved": lambda: f"moved the phase {_quoted(phase.name) if phase else ''} to position {p.get('position', 0) + 1}",
        "interaction.added": lambda: f"added the step {_quoted(p.get('action', ''), 60)}" + (f" to {phase.name}" if phase else ""),
        "interaction.updated": lambda: (f"renamed the step {step_name} to {_quoted(p['action'], 60)}"
                                        if step and p.get("action", step.action) != step.action
                                        else f"edited the step {step_name}"),
        "interaction.rated": lambda: f"rated {step_name}: {_emotion(p.get('emotion'))}"
        + (f", {MomentOfTruth(p['moment_of_truth']).label.lower()}" if p.get("moment_of_truth") not in (None, "none") else ""),
        "interaction.moved": lambda: f"moved the step {step_name}",
        "phase.deleted": lambda: f"deleted the phase {_quoted(p.get('name', ''))}",
        "interaction.deleted": lambda: f"deleted the step {_quoted(p.get('action', ''), 60)}"
        + (f" from {phase.name}" if phase else "")
        + (f" (its {len(p['notes'])} note{'s' if len(p['notes']) != 1 else ''} moved to the whole phase)" if p.get("notes") else ""),
        "note.added": lambda: f"added {a_kind}{note_where()}: {note_text}" if p.get("note") in revealed else f"added a private note{note_where()}",
        "note.edited": lambda: f"edited a note: {note_text}" if p.get("note") in revealed else "edited a private note",
        "note.moved": lambda: "moved a note" + (f" ({note_text})" if p.get("note") in revealed else ""),
        "note.deleted": lambda: f"deleted the note {note_text}" if p.get("note") in revealed else "deleted a private note",
        "session.stage": lambda: f"moved the session to {str(p.get('stage', '')).capitalize()}",
        "session.focus": lambda: (f"set the focus on {phase.name if phase else 'a phase'}" if p.get("phase")
                                  else "cleared the focus"),
        "session.lock": lambda: "locked the board" if p.get("locked") else "unlocked the board",
        "session.private": lambda: "started a private writing round",
        "session.reveal_notes": lambda: f"revealed the private notes ({p.get('revealed', 0)})",
        "session.timer": lambda: f"timer: {p.get('op', '')}",
        "session.rating": lambda: "opened emotion rating for everyone" if p.get("open") else "closed emotion rating",
        "voting.opened": lambda: f"opened dot voting ({p.get('budget', '?')} dots each)",
        "voting.closed": lambda: "closed the vote",
        "voting.revealed": lambda: "revealed the votes",
        "voting.dot_added": lambda: "A dot was placed",
        "voting.dot_removed": lambda: "A dot was taken back",
        "emotion.rated": lambda: f"Someone rated how the customer feels at {step_name}",
        "evidence.metric_added": lambda: f"added the metric {p.get('name', '')} {_value(p)} to {step_name}",
        "evidence.metric_removed": lambda: f"removed a metric from {step_name}",
        "evidence.quote_added": lambda: f"added a customer quote to {step_name}: {_quoted(p.get('text', ''))}",
        "evidence.quote_removed": lambda: f"removed a customer quote from {step_name}",
        "action.created": lambda: f"made the action {_quoted(p.get('title', ''))}",
        "action.updated": lambda: f"moved an action to {str(p.get('status', '')).replace('_', ' ')}",
        "action.replanned": lambda: f"changed the owner, due date or title of the action {_quoted(p.get('title', ''))}",
    }
    text = texts.get(kind)
    try:
        return text() if text is not None else kind
    except (TypeError, ValueError, KeyError, AttributeError):  # a payload older or odder than this code
        return kind


def _emotion(value: Any) -> str:
    return f"{EMOTION_LABELS[value].lower()} ({insights.signed(value)})" if value in EMOTION_LABELS else "not rated"


def _value(p: dict[str, Any]) -> str:
    try:
        number = format_decimal(Decimal(str(p.get("value", ""))))
    except (ArithmeticError, ValueError, TypeError):
        return ""
    return f"{number}{p.get('unit', '')}"


# Replay ----------------------------------------------------------------------------------------


def replay(scenario: Scenario, upto: int | None = None) -> Past:
    """The board at seq `upto` (the latest by default) and the whole timeline, in a constant
    number of queries whatever the length of the log."""
    from workshops.models import Membership

    rows = list(
        BoardEvent.objects.filter(scenario=scenario)
        .order_by("seq")
        .values_list("seq", "kind", "payload", "actor_id", "created")
    )
    last_seq = rows[-1][0] if rows else 0
    upto = last_seq if upto is None else max(0, min(upto, last_seq))
    phases, steps = _rows_ever(scenario, rows)
    names = {
        m.pk: m.name
        for m in Membership.objects.filter(team_id=scenario.workshop.team_id).select_related("user")
    }
    added_phases = {p.get("phase") for _, k, p, _, _ in rows if k == "phase.added"}
    added_steps = {p.get("interaction") for _, k, p, _, _ in rows if k == "interaction.added"}
    for _, k, p, _, _ in rows:
        if k == "scenario.imported":
            added_phases |= {x["phase"] for x in p.get("phases", [])}
            added_steps |= {m["interaction"] for x in p.get("phases", []) for m in x.get("interactions", [])}
    # Which notes may show their text in the timeline: those never hidden, or revealed by now.
    revealed = _revealed_notes(rows)

    board = _Board(scenario, phases, steps, names)
    timeline: list[Entry] = []
    at: datetime | None = None
    snapshot: _Snapshot | None = None
    started = False
    for seq, kind, payload, actor_id, created in rows:
        payload = payload if isinstance(payload, dict) else {}
        if kind == "scenario.created" and not started:
            board.from_template(payload.get("template", "") or "", added_phases, added_steps)
        started = True
        text = _describe(board, kind, payload, revealed)
        board.apply(kind, payload, actor_id)
        anonymous = kind in ANONYMOUS_KINDS or actor_id is None
        timeline.append(
            Entry(seq=seq, created=created, kind=kind, who="" if anonymous else names.get(actor_id, "A former member"), text=text)
        )
        if seq == upto:
            at = created
            snapshot = _Snapshot.take(board)
    if snapshot is None:
        snapshot = _Snapshot.take(_Board(scenario, phases, steps, names))
    return _past(scenario, upto, last_seq, at, snapshot, timeline)


def _rows_ever(scenario: Scenario, rows: list[tuple]) -> tuple[list[Phase], list[MicroInteraction]]:
    """The board's phases and micro-interactions now, with those deleted since, as their deletion
    events describe them (unsaved rows), in the order they were created."""
    phases = {p.pk: p for p in Phase.objects.filter(scenario=scenario)}
    steps = {m.pk: m for m in MicroInteraction.objects.filter(phase__scenario=scenario)}

    def step(m: dict[str, Any]) -> MicroInteraction:
        return MicroInteraction(
            pk=m["interaction"], phase_id=m.get("phase"), action=m.get("action", ""),
            channel=m.get("channel", Channel.OTHER), emotion=m.get("emotion"),
            moment_of_truth=m.get("moment_of_truth", MomentOfTruth.NONE),
        )

    for _, kind, p, _, _ in rows:
        if not isinstance(p, dict):
            continue
        if kind == "phase.deleted" and p.get("phase"):
            phases.setdefault(p["phase"], Phase(pk=p["phase"], scenario=scenario, name=p.get("name", ""), goal=p.get("goal", "")))
            for m in p.get("interactions", []):
                steps.setdefault(m["interaction"], step({**m, "phase": p["phase"]}))
        elif kind == "interaction.deleted" and p.get("interaction"):
            steps.setdefault(p["interaction"], step(p))
    return sorted(phases.values(), key=lambda p: p.pk), sorted(steps.values(), key=lambda m: m.pk)


def _revealed_notes(rows: list[tuple]) -> set[int]:
    """Notes whose text the timeline may show: written in the open, or revealed later (a note
    deleted before its round was revealed never shows)."""
    shown = {p.get("note") for _, k, p, _, _ in rows if k == "note.added" and not p.get("hidden")}
    pending: set[int] = set()
    for _, k, p, _, _ in rows:
        if k == "note.added" and p.get("hidden"):
            pending.add(p.get("note"))
        elif k == "note.deleted":
            pending.discard(p.get("note"))
        elif k == "session.reveal_notes":
            shown |= pending
            pending = set()
    return shown


@dataclass
class _Snapshot:
    """A deep copy of the rebuilt board at one seq (the replay goes on to the end for the timeline)."""

    title: str
    stage: str
    phases: list[PastPhase]
    ratings: dict[int, list[int]]
    actions: dict[int, PastAction]
    action_notes: dict[int, list[int]]
    rounds: dict[int, str]

    @classmethod
    def take(cls, board: _Board) -> _Snapshot:
        import copy

        ratings: dict[int, list[int]] = defaultdict(list)
        for step_id, value in board.ratings.values():
            ratings[step_id].append(value)
        return cls(
            title=board.title,
            stage=board.stage,
            phases=copy.deepcopy(board.phases),
            ratings=dict(ratings),
            actions=copy.deepcopy(board.actions),
            action_notes=dict(board.action_notes),
            rounds=dict(board.rounds),
        )


def _past(scenario: Scenario, upto: int, last_seq: int, at: datetime | None, snap: _Snapshot, timeline: list[Entry]) -> Past:
    notes = {n.pk: n for p in snap.phases for n in [*p.note_list, *(x for m in p.interaction_list for x in m.note_list)]}
    revealed_rounds = [r for r, status in snap.rounds.items() if status == VotingStatus.REVEALED]
    if revealed_rounds:
        latest = max(revealed_rounds)
        totals = defaultdict(int)
        for note_id, dots in Vote.objects.filter(round_id=latest).values_list("note_id", "dots"):
            totals[note_id] += dots
        for note_id, total in totals.items():
            if note_id in notes:
                notes[note_id].vote_total = total
    for action_id, note_ids in snap.action_notes.items():
        for note_id in note_ids:
            if note_id in notes:
                notes[note_id].action_list.append(snap.actions[action_id])
    curve = insights.build_curve(snap.phases, snap.ratings)
    return Past(
        scenario=scenario,
        seq=upto,
        last_seq=last_seq,
        at=at,
        title=snap.title,
        stage=snap.stage,
        phases=snap.phases,
        curve=curve,
        actions=list(snap.actions.values()),
        voting_status=snap.rounds[max(snap.rounds)] if snap.rounds else "",
        timeline=timeline,
        sessions=sessions(timeline),
    )


def sessions(timeline: list[Entry]) -> list[Session]:
    """The log cut into workshop sessions: one per day on which the board changed."""
    days: dict[date, Session] = {}
    for entry in timeline:
        day = timezone.localtime(entry.created).date()
        if day in days:
            days[day].last_seq = entry.seq
            days[day].count += 1
        else:
            days[day] = Session(day=day, first_seq=entry.seq, last_seq=entry.seq, count=1)
    return list(days.values())

