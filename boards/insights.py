"""What a board tells beyond its notes: the emotion curve (with the team's consensus), the friction
heatmap, the evidence on each touchpoint, and the closed loop between a workshop and its follow-up.

Everything here reads; writes go through boards.services. Queries are constant in the size of the
board, and in the number of scenarios for a workshop summary: no ORM calls in loops.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum

from boards.models import (
    EMOTION_LABELS,
    Channel,
    CustomerQuote,
    EmotionRating,
    MicroInteraction,
    MomentOfTruth,
    Note,
    NoteKind,
    Phase,
    Scenario,
    TouchpointMetric,
    Vote,
    VotingRound,
    VotingStatus,
)

# People disagree on a step when their ratings span at least this much (e.g. −1 and +1).
DISAGREE_SPREAD = 2

# The curve's drawing, in SVG user units (drawn one to one in pixels).
STEP = 76  # per micro-interaction
LEFT = 46  # the scale
RIGHT = 18
TOP = 42  # phase names above the plot
PLOT = 120  # from +2 down to −2
LABELS = 52  # step names below it, up to three short lines
LABEL_WIDTH = 12  # characters per line of a step name
LABEL_LINES = 3
MARK = 8  # size of a moment-of-truth mark
TONE_COLOURS = {"positive": "#2f9a5a", "negative": "#c8432d", "neutral": "#6b645c", "none": "#b8ad9e"}

WHOLE_PHASE = "whole"  # the heatmap's column for friction noted on a whole phase


def y_of(value: float) -> float:
    """Where an emotion sits on the curve: +2 at the top, −2 at the bottom."""
    return round(TOP + (2 - value) / 4 * PLOT, 1)


def signed(value: float | None) -> str:
    """How the board writes an emotion: +2, +0.5, 0, −1 (a true minus sign)."""
    if value is None:
        return "not rated"
    text = f"{abs(value):.1f}".rstrip("0").rstrip(".")
    if value > 0:
        return f"+{text}"
    if value < 0:
        return f"−{text}"
    return "0"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _polygon(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _star(cx: float, cy: float, r: float) -> str:
    return _polygon(
        (
            cx + (r if i % 2 == 0 else r * 0.45) * math.cos(math.radians(-90 + 36 * i)),
            cy + (r if i % 2 == 0 else r * 0.45) * math.sin(math.radians(-90 + 36 * i)),
        )
        for i in range(10)
    )


def _triangle(cx: float, cy: float, r: float) -> str:
    return _polygon(((cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)))


# The emotion curve ------------------------------------------------------------------------------


@dataclass
class CurvePoint:
    """One micro-interaction on the curve: the facilitator's emotion, or the median of everyone's
    ratings when the team rated it, with their spread. Ratings are counted, never named."""

    pk: int
    number: int
    phase: str
    action: str
    channel: str
    moment_of_truth: str
    emotion: int | None
    ratings: list[int] = field(default_factory=list)
    before: float | None = None  # the previous session's value (closed loop)
    carried: bool = False  # the facilitator's emotion is the previous session's, not rated again
    x: float = 0.0

    @property
    def value(self) -> float | None:
        if self.ratings:
            return float(statistics.median(self.ratings))
        return None if self.emotion is None else float(self.emotion)

    @property
    def low(self) -> float | None:
        return float(min(self.ratings)) if self.ratings else self.value

    @property
    def high(self) -> float | None:
        return float(max(self.ratings)) if self.ratings else self.value

    @property
    def spread(self) -> float:
        return self.high - self.low if self.ratings else 0.0

    @property
    def is_carried(self) -> bool:
        return self.carried and not self.ratings and self.emotion is not None

    @property
    def disagree(self) -> bool:
        return len(self.ratings) >= 2 and self.spread >= DISAGREE_SPREAD

    @property
    def y(self) -> float | None:
        return None if self.value is None else y_of(self.value)

    @property
    def y_low(self) -> float | None:
        return None if self.low is None else y_of(self.low)

    @property
    def y_high(self) -> float | None:
        return None if self.high is None else y_of(self.high)

    @property
    def y_before(self) -> float | None:
        return None if self.before is None else y_of(self.before)

    @property
    def bar_x(self) -> float:
        return self.x - 6

    @property
    def bar_height(self) -> float:
        return (self.y_low or 0) - (self.y_high or 0)

    @property
    def tone(self) -> str:
        value = self.value
        if value is None:
            return "none"
        return "positive" if value > 0 else "negative" if value < 0 else "neutral"

    @property
    def colour(self) -> str:
        return TONE_COLOURS[self.tone]

    @property
    def label_lines(self) -> list[str]:
        # Words are not cut in two ("craftsman / ship"): a long one runs a little wide, and one
        # too long for the column ends in an ellipsis.
        lines = textwrap.wrap(self.action, LABEL_WIDTH, break_long_words=False)
        if len(lines) > LABEL_LINES:
            lines = [*lines[: LABEL_LINES - 1], lines[LABEL_LINES - 1] + "…"]
        return [line if len(line) <= LABEL_WIDTH + 3 else line[: LABEL_WIDTH + 2] + "…" for line in lines] or [""]

    @property
    def label_y(self) -> float:
        return TOP + PLOT + 18

    @property
    def mark_colour(self) -> str:
        return TONE_COLOURS["positive" if self.moment_of_truth == MomentOfTruth.POSITIVE else "negative"]

    @property
    def mark(self) -> str:
        """The moment-of-truth mark above the point: a star (+) or a warning triangle (−)."""
        cy = (self.y if self.y is not None else y_of(0)) - 16
        if self.moment_of_truth == MomentOfTruth.POSITIVE:
            return _star(self.x, cy, MARK)
        if self.moment_of_truth == MomentOfTruth.NEGATIVE:
            return _triangle(self.x, cy, MARK * 0.85)
        return ""

    @property
    def value_text(self) -> str:
        return signed(self.value)

    @property
    def low_text(self) -> str:
        return signed(self.low)

    @property
    def high_text(self) -> str:
        return signed(self.high)

    @property
    def summary(self) -> str:
        """The point's tooltip and its line in the text version of the curve."""
        parts = [f"{self.phase} · {self.action}: {signed(self.value)}"]
        if self.ratings:
            n = len(self.ratings)
            parts.append(
                f"median of {n} rating{'s' if n != 1 else ''}, from {signed(self.low)} to {signed(self.high)}"
            )
        elif self.emotion is not None:
            parts.append(EMOTION_LABELS[self.emotion].lower())
            if self.is_carried:
                parts.append("carried over from last session, not rated again yet")
        if self.moment_of_truth != MomentOfTruth.NONE:
            parts.append(MomentOfTruth(self.moment_of_truth).label.lower())
        if self.before is not None:
            parts.append(f"was {signed(self.before)} last session")
        return "; ".join(parts)


@dataclass
class PhaseBand:
    name: str
    x: float
    width: float
    shade: int

    @property
    def label(self) -> str:
        return _shorten(self.name, max(4, int(self.width // 8)))

    @property
    def label_x(self) -> float:
        return self.x + 8


@dataclass
class Curve:
    points: list[CurvePoint]
    phases: list[PhaseBand]
    width: int
    height: int
    raters: int | None = None  # how many people rated, when known (the history doesn't know)

    @property
    def plotted(self) -> list[CurvePoint]:
        return [p for p in self.points if p.value is not None]

    @property
    def empty(self) -> bool:
        return not self.plotted

    @property
    def rated(self) -> bool:
        return any(p.ratings for p in self.points)

    @property
    def carried(self) -> bool:
        return any(p.is_carried for p in self.points)

    @property
    def disagreements(self) -> list[CurvePoint]:
        return sorted((p for p in self.points if p.disagree), key=lambda p: (-p.spread, p.number))

    @property
    def runs(self) -> list[list[CurvePoint]]:
        """Stretches of consecutive rated steps: the line breaks where a step has no rating."""
        runs: list[list[CurvePoint]] = [[]]
        for point in self.points:
            if point.value is None:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append(point)
        return [run for run in runs if run]

    @property
    def lines(self) -> list[str]:
        return [
            "M " + " L ".join(f"{p.x:.1f} {p.y:.1f}" for p in run) for run in self.runs if len(run) > 1
        ]

    @property
    def bands(self) -> list[str]:
        """The spread of the team's ratings, as a shaded band around the line."""
        bands = []
        for run in self.runs:
            if len(run) > 1 and any(p.spread for p in run):
                top = [(p.x, p.y_high) for p in run]
                bottom = [(p.x, p.y_low) for p in reversed(run)]
                bands.append(_polygon(top + bottom))
        return bands

    @property
    def whiskers(self) -> list[CurvePoint]:
        """A lone rated step (no neighbour to band with) shows its spread as a bar."""
        return [run[0] for run in self.runs if len(run) == 1 and run[0].spread]

    @property
    def looped(self) -> list[CurvePoint]:
        return [p for p in self.points if p.before is not None]

    @property
    def grid(self) -> list[dict[str, Any]]:
        return [
            {"label": signed(v), "y": y_of(v), "text_y": y_of(v) + 4, "zero": v == 0}
            for v in (2, 1, 0, -1, -2)
        ]

    @property
    def band_height(self) -> float:
        return TOP + PLOT + 8

    @property
    def size_class(self) -> str:
        """The least width (a CSS class) below which the curve scrolls rather than shrinks: three
        quarters of its own, in steps of 100 px, so its words stay legible on a phone."""
        return f"curve-min-{min(1500, max(300, round(self.width * 0.75 / 100) * 100))}"

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_bottom(self) -> float:
        return TOP + PLOT

    @property
    def scale_x(self) -> int:
        return LEFT - 8


def build_curve(
    phases: Sequence[Any],
    ratings: dict[int, list[int]] | None = None,
    before: dict[int, float] | None = None,
    raters: int | None = None,
) -> Curve:
    """Lay out the curve for phases that carry their `interaction_list` (models or snapshots)."""
    ratings = ratings or {}
    before = before or {}
    points: list[CurvePoint] = []
    bands: list[PhaseBand] = []
    slot = 0
    for i, phase in enumerate(phases):
        interactions = list(phase.interaction_list)
        slots = max(1, len(interactions))
        bands.append(PhaseBand(name=phase.name, x=LEFT + slot * STEP, width=slots * STEP, shade=i % 2))
        for j, mi in enumerate(interactions):
            points.append(
                CurvePoint(
                    pk=mi.pk,
                    number=len(points) + 1,
                    phase=phase.name,
                    action=mi.action,
                    channel=mi.get_channel_display(),
                    moment_of_truth=mi.moment_of_truth,
                    emotion=mi.emotion,
                    ratings=sorted(ratings.get(mi.pk, [])),
                    before=before.get(mi.pk),
                    carried=getattr(mi, "emotion_carried", False),
                    x=LEFT + (slot + j + 0.5) * STEP,
                )
            )
        slot += slots
    width = LEFT + max(slot, 1) * STEP + RIGHT
    return Curve(points=points, phases=bands, width=width, height=TOP + PLOT + LABELS, raters=raters)


def ratings_of(interaction_ids: Iterable[int]) -> tuple[dict[int, list[int]], dict[int, set[int]]]:
    """Everyone's ratings by micro-interaction, and who rated (as ids, to count them only)."""
    values: dict[int, list[int]] = defaultdict(list)
    raters: dict[int, set[int]] = defaultdict(set)
    rows = EmotionRating.objects.filter(interaction_id__in=list(interaction_ids)).values_list(
        "interaction_id", "member_id", "value", "interaction__phase__scenario_id"
    )
    for mi_id, member_id, value, scenario_id in rows:
        values[mi_id].append(value)
        raters[scenario_id].add(member_id)
    return values, raters


def consensus(mi: Any, ratings: dict[int, list[int]]) -> float | None:
    """A step's emotion: the median of the team's ratings, else the facilitator's."""
    values = ratings.get(mi.pk)
    if values:
        return float(statistics.median(values))
    return None if mi.emotion is None else float(mi.emotion)


def structure(scenarios: Sequence[Scenario]) -> dict[int, list[Phase]]:
    """Each scenario's phases in order, each with its `interaction_list`: two queries."""
    by_scenario: dict[int, list[Phase]] = defaultdict(list)
    phases = list(Phase.objects.filter(scenario__in=scenarios).order_by("scenario_id", "order"))
    interactions: dict[int, list[MicroInteraction]] = defaultdict(list)
    for mi in MicroInteraction.objects.filter(phase__scenario__in=scenarios).order_by("phase_id", "order"):
        interactions[mi.phase_id].append(mi)
    for phase in phases:
        phase.interaction_list = interactions[phase.pk]
        for mi in phase.interaction_list:
            mi.phase = phase
        by_scenario[phase.scenario_id].append(phase)
    return by_scenario


def emotion_context(scenario: Scenario, phases: list[Phase] | None = None) -> dict[str, Any]:
    """The board's curve and closed loop. `phases` may come with their interactions already."""
    if phases is None:
        phases = structure([scenario])[scenario.pk]
    ids = [mi.pk for phase in phases for mi in phase.interaction_list]
    ratings, raters = ratings_of(ids)
    loop = closed_loops([scenario], {scenario.pk: phases}).get(scenario.pk)
    curve = build_curve(phases, ratings, loop.before if loop else None, len(raters.get(scenario.pk, ())))
    return {"curve": curve, "loop": loop}


# The friction heatmap ---------------------------------------------------------------------------


@dataclass
class HeatCell:
    phase_id: int
    channel: str
    label: str
    steps: int = 0
    notes: int = 0
    dots: int = 0
    level: int = 0

    @property
    def query(self) -> str:
        return f"phase={self.phase_id}&channel={self.channel}"


@dataclass
class Heatmap:
    columns: list[tuple[str, str]]
    rows: list[tuple[Phase, list[HeatCell]]]
    voting: VotingRound | None
    notes: int
    dots: int

    @property
    def empty(self) -> bool:
        return not self.rows or not self.columns


def latest_revealed(scenarios: Sequence[Scenario]) -> dict[int, VotingRound]:
    found: dict[int, VotingRound] = {}
    for voting in (
        VotingRound.objects.filter(scenario__in=scenarios, status=VotingStatus.REVEALED)
        .select_related("phase")
        .order_by("-opened", "-pk")
    ):
        found.setdefault(voting.scenario_id, voting)
    return found


def moment_notes(scenarios: Sequence[Scenario]) -> dict[int, list[Note]]:
    """The notes the team wrote as moments of truth, everyone's to see, by board, in the
    journey's order."""
    found: dict[int, list[Note]] = defaultdict(list)
    for note in (
        Note.objects.filter(scenario__in=scenarios, kind=NoteKind.MOMENT, hidden=False)
        .select_related("phase", "micro_interaction")
        .order_by("phase__order", "micro_interaction__order", "order", "pk")
    ):
        found[note.scenario_id].append(note)
    return found


def dots_by_note(rounds: Iterable[VotingRound]) -> dict[int, int]:
    rounds = list(rounds)
    if not rounds:
        return {}
    return dict(
        Vote.objects.filter(round__in=rounds)
        .values_list("note")
        .annotate(total=Sum("dots"))
        .values_list("note", "total")
    )


def heatmap(scenario: Scenario) -> Heatmap:
    """Phases × channels: how many friction notes, and how many dots they got in the latest
    revealed vote. Private notes not yet revealed are left out."""
    phases = list(Phase.objects.filter(scenario=scenario).order_by("order"))
    steps = list(
        MicroInteraction.objects.filter(phase__scenario=scenario).values_list("pk", "phase_id", "channel")
    )
    notes = list(
        Note.objects.filter(scenario=scenario, kind=NoteKind.FRICTION, hidden=False).values_list(
            "pk", "phase_id", "micro_interaction_id"
        )
    )
    voting = latest_revealed([scenario]).get(scenario.pk)
    dots = dots_by_note([voting] if voting else [])
    channel_of = {pk: channel for pk, _, channel in steps}
    used = {channel for _, _, channel in steps}
    columns = [(value, label) for value, label in Channel.choices if value in used]
    if any(mi_id is None for _, _, mi_id in notes):
        columns.append((WHOLE_PHASE, "Whole phase"))
    cells = {(p.pk, c): HeatCell(phase_id=p.pk, channel=c, label=label) for p in phases for c, label in columns}
    for _, phase_id, channel in steps:
        cells[(phase_id, channel)].steps += 1
    for note_id, phase_id, mi_id in notes:
        cell = cells.get((phase_id, channel_of[mi_id] if mi_id else WHOLE_PHASE))
        if cell is not None:
            cell.notes += 1
            cell.dots += dots.get(note_id, 0)
    score = (lambda c: c.dots) if voting else (lambda c: c.notes)
    top = max((score(c) for c in cells.values()), default=0)
    for cell in cells.values():
        if top and score(cell):
            cell.level = min(4, 1 + int(3 * score(cell) / top))
    rows = [(p, [cells[(p.pk, c)] for c, _ in columns]) for p in phases]
    return Heatmap(
        columns=columns,
        rows=rows,
        voting=voting,
        notes=len(notes),
        dots=sum(c.dots for c in cells.values()),
    )


@dataclass
class BoardFilter:
    """The board narrowed to the friction of one heatmap cell, row or column."""

    phase: Phase | None
    channel: str

    @property
    def channel_label(self) -> str:
        if self.channel == WHOLE_PHASE:
            return "the whole phase"
        return Channel(self.channel).label if self.channel else ""

    @property
    def description(self) -> str:
        where = [part for part in (self.phase.name if self.phase else "", self.channel_label) if part]
        return " · ".join(where)


def board_filter(phases: Sequence[Phase], params: Any) -> BoardFilter | None:
    """Read ?phase=&channel= from a heatmap link; anything not on this board is ignored."""
    phase_id, channel = params.get("phase", ""), params.get("channel", "")
    phase = next((p for p in phases if str(p.pk) == phase_id), None)
    if channel not in Channel.values and channel != WHOLE_PHASE:
        channel = ""
    if phase is None and not channel:
        return None
    return BoardFilter(phase=phase, channel=channel)


# Evidence ---------------------------------------------------------------------------------------


def attach_evidence(interactions: Iterable[MicroInteraction]) -> None:
    """Give each micro-interaction its `metric_list` and `quote_list`: two queries."""
    interactions = list(interactions)
    ids = [mi.pk for mi in interactions]
    metrics: dict[int, list[TouchpointMetric]] = defaultdict(list)
    quotes: dict[int, list[CustomerQuote]] = defaultdict(list)
    for metric in TouchpointMetric.objects.filter(interaction_id__in=ids).order_by("pk"):
        metrics[metric.interaction_id].append(metric)
    for quote in CustomerQuote.objects.filter(interaction_id__in=ids).order_by("pk"):
        quotes[quote.interaction_id].append(quote)
    for mi in interactions:
        mi.metric_list = metrics[mi.pk]
        mi.quote_list = quotes[mi.pk]


# The closed loop --------------------------------------------------------------------------------


@dataclass
class LoopRow:
    """A micro-interaction that an action of the previous session worked on: how the customer
    felt there then, and how the team rates it now."""

    phase: str
    action: str
    actions: list[Any]
    before: float | None
    after: float | None
    rerated: bool
    interaction_id: int | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def direction(self) -> str:
        change = self.change
        if change is None or not self.rerated:
            return "unknown"
        return "better" if change > 0 else "worse" if change < 0 else "same"

    @property
    def before_text(self) -> str:
        return signed(self.before)

    @property
    def after_text(self) -> str:
        return signed(self.after)

    @property
    def change_text(self) -> str:
        return signed(self.change) if self.change else "no change"


@dataclass
class Loop:
    previous_workshop: Any
    previous_scenario: Scenario
    rows: list[LoopRow]

    @property
    def before(self) -> dict[int, float]:
        return {
            r.interaction_id: r.before for r in self.rows if r.interaction_id and r.before is not None
        }


def _key(phase_name: str, action: str) -> tuple[str, str]:
    return (" ".join(phase_name.split()).casefold(), " ".join(action.split()).casefold())



def closed_loops(
    scenarios: Sequence[Scenario], structures: dict[int, list[Phase]] | None = None
) -> dict[int, Loop]:
    """For boards of a follow-up workshop: the steps the previous session's actions touched,
    with the emotion then and now.

    A follow-up's board is a copy of the previous one (same title, same phases and steps), so each
    step is matched by its phase's name and its own words. A step counts as re-rated once someone
    rated it on the new board: the team in consensus mode, or the facilitator (the copy's emotion
    is marked as carried over until then).
    """
    from workshops.models import Action

    follow_ups = [s for s in scenarios if s.workshop.follows_up_id]
    if not follow_ups:
        return {}
    previous_scenarios = list(
        Scenario.objects.filter(workshop_id__in={s.workshop.follows_up_id for s in follow_ups})
        .select_related("workshop")
        .order_by("pk")
    )
    by_title: dict[tuple[int, str], Scenario] = {}
    for prev in previous_scenarios:
        by_title.setdefault((prev.workshop_id, prev.title.casefold()), prev)
    pairs = {
        s.pk: by_title[(s.workshop.follows_up_id, s.title.casefold())]
        for s in follow_ups
        if (s.workshop.follows_up_id, s.title.casefold()) in by_title
    }
    if not pairs:
        return {}
    structures = dict(structures or {})
    missing = [s for s in follow_ups if s.pk in pairs and s.pk not in structures]
    wanted = missing + list(pairs.values())
    structures.update(structure(wanted))
    links = (
        Action.notes.through.objects.filter(
            note__scenario__in=list(pairs.values()), note__micro_interaction__isnull=False
        )
        .select_related("action__owner__user", "note")
        .order_by("action__due_date", "action_id")
    )
    touched: dict[int, dict[int, Any]] = defaultdict(dict)
    for link in links:
        touched[link.note.micro_interaction_id][link.action_id] = link.action
    all_ids = [
        mi.pk
        for pk in list(pairs) + [p.pk for p in pairs.values()]
        for phase in structures.get(pk, [])
        for mi in phase.interaction_list
    ]
    ratings, _ = ratings_of(all_ids)
    loops: dict[int, Loop] = {}
    for scenario_pk, prev in pairs.items():
        now = {
            _key(phase.name, mi.action): mi
            for phase in structures.get(scenario_pk, [])
            for mi in phase.interaction_list
        }
        rows = []
        for phase in structures.get(prev.pk, []):
            for mi in phase.interaction_list:
                if mi.pk not in touched:
                    continue
                current = now.get(_key(phase.name, mi.action))
                rerated = current is not None and (
                    current.pk in ratings or (current.emotion is not None and not current.emotion_carried)
                )
                rows.append(
                    LoopRow(
                        phase=phase.name,
                        action=mi.action,
                        actions=list(touched[mi.pk].values()),
                        before=consensus(mi, ratings),
                        after=consensus(current, ratings) if current is not None and rerated else None,
                        rerated=rerated,
                        interaction_id=current.pk if current is not None else None,
                    )
                )
        loops[scenario_pk] = Loop(previous_workshop=prev.workshop, previous_scenario=prev, rows=rows)
    return loops


# The workshop summary ---------------------------------------------------------------------------


@dataclass
class ScenarioInsight:
    curve: Curve
    loop: Loop | None
    evidence: list[MicroInteraction]


def annotate_summary(scenarios: Sequence[Scenario]) -> None:
    """Give each scenario of a workshop summary its `insight`: the emotion curve, the evidence by
    touchpoint and the closed loop with the session it follows up, in a constant number of queries."""
    scenarios = list(scenarios)
    structures = structure(scenarios)
    interactions = [mi for phases in structures.values() for phase in phases for mi in phase.interaction_list]
    ratings, raters = ratings_of(mi.pk for mi in interactions)
    attach_evidence(interactions)
    loops = closed_loops(scenarios, structures)
    for scenario in scenarios:
        phases = structures.get(scenario.pk, [])
        loop = loops.get(scenario.pk)
        scenario.insight = ScenarioInsight(
            curve=build_curve(
                phases, ratings, loop.before if loop else None, len(raters.get(scenario.pk, ()))
            ),
            loop=loop,
            evidence=[
                mi for phase in phases for mi in phase.interaction_list if mi.metric_list or mi.quote_list
            ],
        )
