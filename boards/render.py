"""Board fragments, rendered from the `{% partialdef %}`s of templates/boards/board.html.

The page and the pushes use the same partials, so a push is exactly what a reload would show.
Queries are constant in the size of the board: no ORM calls in loops.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from types import EllipsisType
from typing import Any

from django.db.models import Count, Prefetch, Sum
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from boards import insights
from boards.models import (
    Channel,
    EmotionRating,
    MicroInteraction,
    MomentOfTruth,
    Note,
    NoteKind,
    Phase,
    Scenario,
    Stage,
    Vote,
    VotingRound,
    VotingStatus,
)

PAGE = "boards/board.html"
# The buttons of consensus mode: value, how it is written, what it means.
RATING_CHOICES = [(-2, "−2", "Very negative"), (-1, "−1", "Negative"), (0, "0", "Neutral"),
                  (1, "+1", "Positive"), (2, "+2", "Very positive")]
RANKING_SIZE = 10
MIN_GROUP = 2  # a business function's votes are shown apart only with at least this many voters


def notes_queryset():
    return Note.objects.select_related("author__user").order_by("order", "pk")


def board_notes(scenario: Scenario) -> list[Note]:
    """All the notes of a board, for the whole page. A board has many notes by few authors: each
    author is read once and shared by their notes (2,000 notes by 50 people make 2,100 objects
    rather than 6,000), and only what a note shows of them, their name. The notes' own dates are
    not shown on the board either."""
    from workshops.models import Membership

    authors = Membership.objects.select_related("user").only(
        "display_name", "user__first_name", "user__last_name", "user__username"
    )
    return list(
        Note.objects.filter(scenario=scenario)
        .defer("created", "updated")
        .prefetch_related(Prefetch("author", queryset=authors))
        .order_by("order", "pk")
    )


def current_round(scenario: Scenario) -> VotingRound | None:
    """The board's latest voting round, with its phase: open, closed, or revealed."""
    return VotingRound.objects.filter(scenario=scenario).select_related("phase").first()


def notes_round(scenario: Scenario) -> VotingRound | None:
    """The round the notes' fragments show, without its phase (they need its phase_id): the
    board's latest if it is open (which notes take dots) or revealed (their totals). None, without
    a query, when the board has no round or its latest is closed (`Scenario.voting`)."""
    if scenario.voting not in (VotingStatus.OPEN, VotingStatus.REVEALED):
        return None
    return VotingRound.objects.filter(scenario=scenario).first()


def annotate_notes(
    scenario: Scenario, notes: Iterable[Note], voting: VotingRound | None, *, whole_board: bool = False
) -> None:
    """Add what a note shows besides itself: can it get dots now, its revealed total, its actions.
    `whole_board`: the notes are all the board's (their actions are then read by board, not by
    a list of thousands of ids)."""
    from workshops.models import Action

    notes = list(notes)
    totals: dict[int, int] = {}
    if voting is not None and voting.status == VotingStatus.REVEALED:
        totals = dict(
            Vote.objects.filter(round=voting).values_list("note").annotate(total=Sum("dots")).values_list("note", "total")
        )
    by_note: dict[int, list[Action]] = defaultdict(list)
    if whole_board:
        for link in Action.notes.through.objects.select_related("action__owner__user").filter(note__scenario=scenario):
            by_note[link.note_id].append(link.action)
    else:
        # A few notes, most often without actions (Note.has_actions): the links of those with,
        # then their actions.
        with_actions = [n.pk for n in notes if n.has_actions]
        links = with_actions and list(
            Action.notes.through.objects.filter(note__in=with_actions).values_list("note_id", "action_id")
        )
        if links:
            actions = Action.objects.select_related("owner__user").in_bulk({a for _, a in links})
            for note_id, action_id in links:
                by_note[note_id].append(actions[action_id])
    is_open = voting is not None and voting.status == VotingStatus.OPEN
    for note in notes:
        note.votable = bool(
            is_open
            and note.kind == NoteKind.FRICTION
            and not note.hidden
            and (voting.phase_id is None or voting.phase_id == note.phase_id)
        )
        note.vote_total = totals.get(note.pk)
        note.action_list = by_note.get(note.pk, [])


# Rendered note fragments by everything they show (Note.fragment_key): a note that has not
# changed is not rendered again, on any page. Per process; emptied when it grows past the limit.
FRAGMENT_LIMIT = 50_000
_fragments: dict[tuple, str] = {}


def with_fragments(notes: list[Note]) -> list[Note]:
    """Give each annotated note `html`, its fragment as lists of notes show it."""
    for note in notes:
        key = note.fragment_key
        html = _fragments.get(key)
        if html is None:
            if len(_fragments) >= FRAGMENT_LIMIT:
                _fragments.clear()
            html = _fragments[key] = render_to_string(f"{PAGE}#note", {"note": note})
        note.html = html
    return notes


def joined(notes: Iterable[Note]) -> SafeString:
    """The fragments `with_fragments` gave these notes, one after the other, as a list of notes
    shows them: a page of 2,000 notes runs no template loop per note."""
    return mark_safe("".join(note.html for note in notes))  # each is a rendered fragment


def board_context(scenario: Scenario) -> dict[str, Any]:
    """Phases with their micro-interactions and notes, in a constant number of queries."""
    phases = list(Phase.objects.filter(scenario=scenario).order_by("order"))
    interactions = list(
        MicroInteraction.objects.filter(phase__scenario=scenario).order_by("phase_id", "order")
    )
    notes = board_notes(scenario)
    voting = current_round(scenario)
    annotate_notes(scenario, notes, voting, whole_board=True)
    with_fragments(notes)
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
        mi.notes_html = joined(mi.note_list)
        mis_by_phase[mi.phase_id].append(mi)
    for phase in phases:
        phase.interaction_list = mis_by_phase[phase.pk]
        phase.note_list = by_phase[phase.pk]
        phase.notes_html = joined(phase.note_list)
    insights.attach_evidence(interactions)
    return {
        "scenario": scenario,
        "phases": phases,
        "note_count": len(notes),
        "channels": Channel.choices,
        "kinds": NoteKind.choices,
        "moments": MomentOfTruth.choices,
        "stages": Stage.choices,
        "rating_choices": RATING_CHOICES,
        **session_context(scenario, phases=phases, voting=voting),
        **results_context(scenario, voting=voting, notes=notes),
        **actions_context(scenario),
        **review_context(scenario),
        **insights.emotion_context(scenario, phases),
        "heatmap": insights.heatmap(scenario),
    }


def session_context(scenario: Scenario, *, phases=None, voting=None) -> dict[str, Any]:
    if phases is None:
        phases = list(Phase.objects.filter(scenario=scenario).order_by("order"))
    if voting is None:
        voting = current_round(scenario)
    dots_cast = 0
    voters = 0
    if voting is not None:
        agg = Vote.objects.filter(round=voting).aggregate(d=Sum("dots"))
        dots_cast = agg["d"] or 0
        voters = Vote.objects.filter(round=voting).values("voter").distinct().count()
    private_notes = private_authors = 0
    if scenario.private_round:
        written = Note.objects.filter(scenario=scenario, hidden=True).aggregate(
            notes=Count("pk"), people=Count("author", distinct=True)
        )
        private_notes, private_authors = written["notes"], written["people"]
    return {
        "scenario": scenario,
        "private_notes": private_notes,
        "private_authors": private_authors,
        "session_phases": phases,
        "stages": Stage.choices,
        "voting": voting,
        "dots_cast": dots_cast,
        "voters": voters,
        "timer_ends_ms": int(scenario.timer_ends_at.timestamp() * 1000) if scenario.timer_ends_at else "",
    }


def results_context(scenario: Scenario, *, voting=None, notes=None) -> dict[str, Any]:
    """The reveal: a ranking of friction notes by dots, and a breakdown by business function that
    never singles anyone out (functions with fewer than MIN_GROUP voters are pooled or left out)."""
    if voting is None:
        voting = current_round(scenario)
    if voting is None or voting.status != VotingStatus.REVEALED:
        return {"results": None}
    votes = list(Vote.objects.filter(round=voting).values_list("note_id", "voter_id", "voter__business_function", "dots"))
    totals: dict[int, int] = defaultdict(int)
    voters_by_function: dict[str, set[int]] = defaultdict(set)
    for note_id, voter_id, function, dots in votes:
        totals[note_id] += dots
        voters_by_function[function].add(voter_id)
    small = {f for f, v in voters_by_function.items() if len(v) < MIN_GROUP}
    pooled_voters = set().union(*(voters_by_function[f] for f in small)) if small else set()
    pool_small = len(pooled_voters) >= MIN_GROUP
    shown = sorted(f for f in voters_by_function if f not in small)
    columns = [(f, _function_label(f)) for f in shown]
    if pool_small:
        columns.append(("__other", "Other functions"))
    per_note: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for note_id, _, function, dots in votes:
        if function in small:
            if pool_small:
                per_note[note_id]["__other"] += dots
        else:
            per_note[note_id][function] += dots
    if len(columns) == 1 and all(per_note[n].get(columns[0][0], 0) == totals[n] for n in totals):
        columns = []  # one group alone: its column would only repeat the dots
    ranked_ids = sorted(totals, key=lambda n: (-totals[n], n))[:RANKING_SIZE]
    if notes is None:
        notes_by_id = {n.pk: n for n in notes_queryset().select_related("phase", "micro_interaction").filter(pk__in=ranked_ids)}
        annotate_notes(scenario, notes_by_id.values(), voting)
    else:
        notes_by_id = {n.pk: n for n in notes}
    # Ties share a rank (1, 2, 2, 4): the same dots, the same place.
    ranks = {}
    for i, nid in enumerate(ranked_ids):
        ranks[nid] = ranks[ranked_ids[i - 1]] if i and totals[nid] == totals[ranked_ids[i - 1]] else i + 1
    ranking = [
        {
            "rank": ranks[nid],
            "note": notes_by_id[nid],
            "total": totals[nid],
            "breakdown": [per_note[nid].get(key, 0) for key, _ in columns],
        }
        for nid in ranked_ids
        if nid in notes_by_id
    ]
    phases = dict(Phase.objects.filter(scenario=scenario).values_list("pk", "name"))
    interactions = dict(MicroInteraction.objects.filter(phase__scenario=scenario).values_list("pk", "action"))
    for row in ranking:
        row["where"] = interactions.get(row["note"].micro_interaction_id) or phases.get(row["note"].phase_id, "")
    return {
        "results": {
            "round": voting,
            "ranking": ranking,
            "columns": [label for _, label in columns],
            "voters": len({v for _, v, _, _ in votes}),
            "withheld": bool(small) and not pool_small,
        }
    }


def _function_label(value: str) -> str:
    from workshops.models import BusinessFunction

    return BusinessFunction(value).label


def actions_context(scenario: Scenario) -> dict[str, Any]:
    from workshops.models import Action

    return {
        "board_actions": list(
            Action.objects.filter(scenario=scenario).select_related("owner__user").order_by("due_date", "pk")
        )
    }


def review_context(scenario: Scenario) -> dict[str, Any]:
    """On a follow-up's board, the earlier sessions' open actions, to review first."""
    from workshops import render as workshops_render

    return workshops_render.review_first(scenario.workshop)


def action_candidates(scenario: Scenario) -> list[Note]:
    """The revealed friction notes of a board, most-voted first, for turning into actions."""
    voting = current_round(scenario)
    notes = list(notes_queryset().filter(scenario=scenario, kind=NoteKind.FRICTION, hidden=False))
    totals: dict[int, int] = {}
    if voting is not None and voting.status == VotingStatus.REVEALED:
        totals = dict(Vote.objects.filter(round=voting).values_list("note").annotate(t=Sum("dots")).values_list("note", "t"))
    notes.sort(key=lambda n: (-totals.get(n.pk, 0), n.phase_id, n.order))
    return notes


def private_context(scenario: Scenario, member) -> dict[str, Any]:
    """What only this person sees: their dots and budget, and their notes of a private round."""
    voting = current_round(scenario)
    mine: dict[str, int] = {}
    if voting is not None and voting.status == VotingStatus.OPEN:
        mine = {str(n): d for n, d in Vote.objects.filter(round=voting, voter=member).values_list("note_id", "dots")}
    used = sum(mine.values())
    hidden = list(notes_queryset().filter(scenario=scenario, author=member, hidden=True))
    ratings = {
        str(mi): value
        for mi, value in EmotionRating.objects.filter(
            interaction__phase__scenario=scenario, member=member
        ).values_list("interaction_id", "value")
    }
    return {
        "my": {
            "round": voting if voting is not None and voting.status == VotingStatus.OPEN else None,
            "votes_json": json.dumps(mine),
            "dots_left": (voting.budget - used) if voting is not None else 0,
            "hidden_notes": hidden,
            "ratings_json": json.dumps(ratings),
        },
    }


def _render(partial: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PAGE}#{partial}", {"oob": True, **context})


INSIGHTS = ("emotion-curve", "heatmap", "closed-loop")


def board(scenario: Scenario) -> str:
    """The map, and what is drawn from it: the emotion curve, the heatmap, the closed loop."""
    context = board_context(scenario)
    return "".join(_render(name, context) for name in ("board", *INSIGHTS))


def whole_board(scenario: Scenario) -> str:
    """Everything that is board state: the session bar, the vote results, the map, the actions,
    and the insights drawn from the map."""
    context = board_context(scenario)
    return "".join(
        _render(name, context)
        for name in ("session", "results", "review-first", "board", "board-actions", *INSIGHTS)
    )


def emotion(scenario: Scenario) -> list[str]:
    """The emotion curve and the closed loop: pushed whenever an emotion, a moment of truth or the
    order of steps changes."""
    context = {"scenario": scenario, **insights.emotion_context(scenario)}
    return [_render("emotion-curve", context), _render("closed-loop", context)]


def heatmap(scenario: Scenario) -> str:
    """The friction heatmap: pushed with every change to notes, channels or the revealed vote."""
    return _render("heatmap", {"scenario": scenario, "heatmap": insights.heatmap(scenario)})


def insight_fragments(scenario: Scenario) -> list[str]:
    return [*emotion(scenario), heatmap(scenario)]


def evidence(mi: MicroInteraction) -> str:
    """A micro-interaction's metrics and customer quotes."""
    insights.attach_evidence([mi])
    return _render("evidence", {"mi": mi})


def session(scenario: Scenario) -> str:
    return _render("session", session_context(scenario))


def results(scenario: Scenario, *, voting: VotingRound | None = None) -> str:
    return _render("results", {"scenario": scenario, **results_context(scenario, voting=voting)})


def board_actions(scenario: Scenario) -> str:
    return _render("board-actions", {"scenario": scenario, **actions_context(scenario)})


def review(scenario: Scenario) -> str:
    return _render("review-first", {"scenario": scenario, **review_context(scenario)})


def private_panel(scenario: Scenario, member) -> str:
    return _render("my-panel", {"scenario": scenario, **private_context(scenario, member)})


def phase_column(phase: Phase) -> str:
    """A whole phase: its header, micro-interactions and notes."""
    scenario = phase.scenario
    interactions = list(phase.interactions.order_by("order"))
    notes = list(notes_queryset().filter(phase=phase))
    annotate_notes(scenario, notes, notes_round(scenario))
    with_fragments(notes)
    by_mi: dict[int, list[Note]] = defaultdict(list)
    phase.note_list = []
    for note in notes:
        if note.micro_interaction_id:
            by_mi[note.micro_interaction_id].append(note)
        else:
            phase.note_list.append(note)
    phase.notes_html = joined(phase.note_list)
    for mi in interactions:
        mi.note_list = by_mi[mi.pk]
        mi.notes_html = joined(mi.note_list)
    phase.interaction_list = interactions
    insights.attach_evidence(interactions)
    # A step added or moved changes the curve's shape, and the heatmap's columns.
    context = {"phase": phase, "scenario": scenario, "rating_choices": RATING_CHOICES}
    return _render("phase", context) + "".join(insight_fragments(scenario))


def scenario_header(scenario: Scenario) -> str:
    return _render("scenario-header", {"scenario": scenario})


def phase_header(phase: Phase) -> str:
    return _render("phase-header", {"phase": phase})


def interaction_header(mi: MicroInteraction) -> str:
    return _render("interaction-header", {"mi": mi})


def notes(scenario: Scenario, notes: Iterable[Note], *, voting: VotingRound | None | EllipsisType = ...) -> list[str]:
    """Each note on its own, e.g. after it gained an action. `voting`: the board's current round,
    when the caller has it already."""
    notes = list(notes)
    annotate_notes(scenario, notes, notes_round(scenario) if voting is ... else voting)
    return [_render("note", {"note": n}) for n in notes]


def note(note: Note, *, voting: VotingRound | None | EllipsisType = ...) -> str:
    """An edited note. (The services add the heatmap when a friction note is concerned.)"""
    return notes(note.scenario, [note], voting=voting)[0]


def note_list(*, phase_id: int, micro_interaction_id: int | None) -> str:
    """The notes of one container, in order."""
    qs = notes_queryset()
    if micro_interaction_id:
        qs = qs.filter(micro_interaction_id=micro_interaction_id)
        ckind, cpk = "mi", micro_interaction_id
    else:
        qs = qs.filter(phase_id=phase_id, micro_interaction__isnull=True)
        ckind, cpk = "phase", phase_id
    items = list(qs)
    if items:
        annotate_notes(items[0].scenario, items, notes_round(items[0].scenario))
        with_fragments(items)
    return _render("note-list", {"notes_html": joined(items), "ckind": ckind, "cpk": cpk})
