"""Board fragments, rendered from the `{% partialdef %}`s of templates/boards/board.html.

The page and the pushes use the same partials, so a push is exactly what a reload would show.
Queries are constant in the size of the board: no ORM calls in loops.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.template.loader import render_to_string

from boards.models import Channel, MicroInteraction, MomentOfTruth, Note, NoteKind, Phase, Scenario

PAGE = "boards/board.html"


def notes_queryset():
    return Note.objects.select_related("author__user").order_by("order", "pk")


def board_context(scenario: Scenario) -> dict[str, Any]:
    """Phases with their micro-interactions and notes, in three queries."""
    phases = list(Phase.objects.filter(scenario=scenario).order_by("order"))
    interactions = list(
        MicroInteraction.objects.filter(phase__scenario=scenario).order_by("phase_id", "order")
    )
    notes = list(notes_queryset().filter(scenario=scenario))
    by_mi: dict[int, list[Note]] = defaultdict(list)
    by_phase: dict[int, list[Note]] = defaultdict(list)
    for note in notes:
        if note.micro_interaction_id:
            by_mi[note.micro_interaction_id].append(note)
        else:
            by_phase[note.phase_id].append(note)
    mis_by_phase: dict[int, list[MicroInteraction]] = defaultdict(list)
    for mi in interactions:
        mi.note_list = by_mi[mi.pk]
        mis_by_phase[mi.phase_id].append(mi)
    for phase in phases:
        phase.interaction_list = mis_by_phase[phase.pk]
        phase.note_list = by_phase[phase.pk]
    return {
        "scenario": scenario,
        "phases": phases,
        "note_count": len(notes),
        "channels": Channel.choices,
        "kinds": NoteKind.choices,
        "moments": MomentOfTruth.choices,
    }


def _render(partial: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PAGE}#{partial}", {"oob": True, **context})


def board(scenario: Scenario) -> str:
    return _render("board", board_context(scenario))


def phase_column(phase: Phase) -> str:
    """A whole phase: its header, micro-interactions and notes."""
    interactions = list(phase.interactions.order_by("order"))
    notes = list(notes_queryset().filter(phase=phase))
    by_mi: dict[int, list[Note]] = defaultdict(list)
    phase.note_list = []
    for note in notes:
        if note.micro_interaction_id:
            by_mi[note.micro_interaction_id].append(note)
        else:
            phase.note_list.append(note)
    for mi in interactions:
        mi.note_list = by_mi[mi.pk]
    phase.interaction_list = interactions
    return _render("phase", {"phase": phase, "scenario": phase.scenario})


def scenario_header(scenario: Scenario) -> str:
    return _render("scenario-header", {"scenario": scenario})


def phase_header(phase: Phase) -> str:
    return _render("phase-header", {"phase": phase})


def interaction_header(mi: MicroInteraction) -> str:
    return _render("interaction-header", {"mi": mi})


def note(note: Note) -> str:
    return _render("note", {"note": note})


def note_list(*, phase_id: int, micro_interaction_id: int | None) -> str:
    """The notes of one container, in order."""
    qs = notes_queryset()
    if micro_interaction_id:
        qs = qs.filter(micro_interaction_id=micro_interaction_id)
        ckind, cpk = "mi", micro_interaction_id
    else:
        qs = qs.filter(phase_id=phase_id, micro_interaction__isnull=True)
        ckind, cpk = "phase", phase_id
    return _render("note-list", {"notes": list(qs), "ckind": ckind, "cpk": cpk})
