"""What leaves a board: a scenario as JSON (and back in, strictly checked), its notes and actions as
CSV, a workshop's summary as Markdown, and the poster as PDF.

Exports read only what every member of the team sees on the board: notes still hidden in a
private round are left out, votes are totals, emotion ratings are never exported one by one.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format

from boards import insights
from boards.models import Channel, MomentOfTruth, Note, NoteKind, Scenario, format_decimal

FORMAT = "journeymap.scenario"
VERSION = 1
MAX_BYTES = 2 * 1024 * 1024
MAX_PHASES = 40
MAX_STEPS_PER_PHASE = 60
MAX_ITEMS_PER_STEP = 50  # metrics, quotes
MAX_NOTES = 5000
MAX_ERRORS = 25
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# A scenario as JSON -------------------------------------------------------------------------------


def _number(value: Decimal) -> int | float:
    """A metric's value as a JSON number: 32 rather than "32.0000"."""
    return int(value) if value == value.to_integral_value() else float(format_decimal(value))


def _notes_of(items: Sequence[Note]) -> list[dict[str, str]]:
    return [{"kind": n.kind, "text": n.text} for n in items]


def scenario_document(scenario: Scenario) -> dict[str, Any]:
    """A whole board as a document another team (or instance) can import: phases, steps with their
    emotions and moments of truth, evidence, and the notes everyone can see. No people's names."""
    phases = insights.structure([scenario]).get(scenario.pk, [])
    steps = [mi for phase in phases for mi in phase.interaction_list]
    insights.attach_evidence(steps)
    by_step: dict[int, list[Note]] = defaultdict(list)
    by_phase: dict[int, list[Note]] = defaultdict(list)
    for note in Note.objects.filter(scenario=scenario, hidden=False).order_by("order", "pk"):
        (by_step[note.micro_interaction_id] if note.micro_interaction_id else by_phase[note.phase_id]).append(note)
    persona = scenario.persona
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported": timezone.now().isoformat(timespec="seconds"),
        "scenario": {
            "title": scenario.title,
            "description": scenario.description,
            "persona": {"name": persona.name, "segment": persona.segment} if persona else None,
            "phases": [
                {
                    "name": phase.name,
                    "goal": phase.goal,
                    "interactions": [
                        {
                            "action": mi.action,
                            "channel": mi.channel,
                            "emotion": mi.emotion,
                            "moment_of_truth": mi.moment_of_truth,
                            "metrics": [
                                {"name": m.name, "value": _number(m.value), "unit": m.unit, "source": m.source,
                                 "date": m.date.isoformat() if m.date else None}
                                for m in mi.metric_list
                            ],
                            "quotes": [
                                {"text": q.text, "source": q.source, "date": q.date.isoformat() if q.date else None}
                                for q in mi.quote_list
                            ],
                            "notes": _notes_of(by_step[mi.pk]),
                        }
                        for mi in phase.interaction_list
                    ],
                    "notes": _notes_of(by_phase[phase.pk]),
                }
                for phase in phases
            ],
        },
    }


@dataclass(frozen=True)
class NoteIn:
    kind: str
    text: str


@dataclass(frozen=True)
class MetricIn:
    name: str
    value: Decimal
    unit: str
    source: str
    date: datetime.date | None


@dataclass(frozen=True)
class QuoteIn:
    text: str
    source: str
    date: datetime.date | None


@dataclass(frozen=True)
class StepIn:
    action: str
    channel: str
    emotion: int | None
    moment_of_truth: str
    metrics: list[MetricIn] = field(default_factory=list)
    quotes: list[QuoteIn] = field(default_factory=list)
    notes: list[NoteIn] = field(default_factory=list)


@dataclass(frozen=True)
class PhaseIn:
    name: str
    goal: str
    interactions: list[StepIn] = field(default_factory=list)
    notes: list[NoteIn] = field(default_factory=list)


@dataclass(frozen=True)
class JourneyIn:
    title: str
    description: str
    persona_name: str
    phases: list[PhaseIn]


class _Checker:
    """Walks a document and collects every problem with where it is, e.g.
    `scenario.phases[2].interactions[0].emotion: use a whole number from -2 to 2`."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def obj(self, value: Any, path: str, required: set[str], optional: set[str] = frozenset()) -> dict | None:
        if not isinstance(value, dict):
            self.fail(path, "must be an object ({…})")
            return None
        for key in sorted(set(value) - required - optional):
            self.fail(f"{path}.{key}", "unknown field")
        for key in sorted(required - set(value)):
            self.fail(f"{path}.{key}", "is missing")
        return value

    def array(self, value: Any, path: str, limit: int) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "must be a list ([…])")
            return []
        if len(value) > limit:
            self.fail(path, f"has {len(value)} items: at most {limit}")
            return []
        return value

    def text(self, data: dict, key: str, path: str, max_length: int, required: bool = True) -> str:
        from boards.services import clean_text

        value = data.get(key, "")
        if value is None and not required:
            value = ""
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", "must be text")
            return ""
        try:
            return clean_text(value, field=key, max_length=max_length, required=required)
        except ValidationError as exc:
            self.fail(f"{path}.{key}", " ".join(exc.messages).rstrip("."))
            return ""

    def choice(self, data: dict, key: str, path: str, choices: Sequence[str], default: str) -> str:
        value = data.get(key, default)
        if value not in choices:
            self.fail(f"{path}.{key}", f"must be one of {', '.join(choices)} (got {json.dumps(value)[:40]})")
            return default
        return value

    def emotion(self, data: dict, path: str) -> int | None:
        value = data.get("emotion")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not -2 <= value <= 2:
            self.fail(f"{path}.emotion", "use a whole number from -2 to 2, or null")
            return None
        return value

    def date(self, data: dict, path: str) -> datetime.date | None:
        from boards.services import evidence_date

        value = data.get("date")
        if value is None:
            return None
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
            return self._bad_date(path)
        try:
            parsed = datetime.date.fromisoformat(value)
        except ValueError:
            return self._bad_date(path)
        try:
            return evidence_date(parsed)
        except ValidationError:
            self.fail(f"{path}.date", "is in the future")
            return None

    def _bad_date(self, path: str) -> None:
        self.fail(f"{path}.date", "use a date as YYYY-MM-DD, or null")

    def value(self, data: dict, path: str) -> Decimal:
        from boards.services import metric_value

        value = data.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            self.fail(f"{path}.value", "must be a number")
            return Decimal(0)
        try:
            return metric_value(value)
        except ValidationError:
            self.fail(f"{path}.value", "must be a number below ten billion with at most four decimals")
            return Decimal(0)

    def notes(self, value: Any, path: str) -> list[NoteIn]:
        notes = []
        for i, item in enumerate(self.array(value, path, MAX_NOTES)):
            where = f"{path}[{i}]"
            if (data := self.obj(item, where, {"kind", "text"})) is not None:
                notes.append(
                    NoteIn(
                        kind=self.choice(data, "kind", where, NoteKind.values, NoteKind.OBSERVATION),
                        text=self.text(data, "text", where, 500),
                    )
                )
        return notes


def parse_scenario(data: Any) -> JourneyIn:
    """Check an exported scenario strictly (every field known, typed and within the limits the
    board itself keeps) and return it; or raise ValidationError listing every problem found."""
    check = _Checker()
    root = check.obj(data, "document", {"format", "version", "scenario"}, {"exported"})
    if root is None:
        raise ValidationError(check.errors)
    if root.get("format") != FORMAT:
        check.fail("document.format", f'must be "{FORMAT}": is this a Journeymap scenario?')
    if root.get("version") != VERSION or isinstance(root.get("version"), bool):
        check.fail("document.version", f"must be {VERSION}: this file comes from a version Journeymap can't read")
    if check.errors:
        raise ValidationError(check.errors)
    journey = _journey(check, root.get("scenario"))
    notes = sum(len(p.notes) + sum(len(s.notes) for s in p.interactions) for p in journey.phases)
    if notes > MAX_NOTES:
        check.fail("scenario", f"has {notes} notes: at most {MAX_NOTES}")
    if check.errors:
        shown = check.errors[:MAX_ERRORS]
        if len(check.errors) > MAX_ERRORS:
            shown.append(f"…and {len(check.errors) - MAX_ERRORS} more problems.")
        raise ValidationError(shown)
    return journey


def _journey(check: _Checker, value: Any) -> JourneyIn:
    path = "scenario"
    data = check.obj(value, path, {"title", "phases"}, {"description", "persona"}) or {}
    persona_name = ""
    persona = data.get("persona")
    if persona is not None and (p := check.obj(persona, f"{path}.persona", {"name"}, {"segment"})) is not None:
        persona_name = check.text(p, "name", f"{path}.persona", 80)
        check.text(p, "segment", f"{path}.persona", 60, required=False)
    phases = []
    for i, item in enumerate(check.array(data.get("phases"), f"{path}.phases", MAX_PHASES)):
        where = f"{path}.phases[{i}]"
        if (p := check.obj(item, where, {"name"}, {"goal", "interactions", "notes"})) is not None:
            phases.append(
                PhaseIn(
                    name=check.text(p, "name", where, 80),
                    goal=check.text(p, "goal", where, 240, required=False),
                    interactions=[
                        _step(check, s, f"{where}.interactions[{j}]")
                        for j, s in enumerate(check.array(p.get("interactions"), f"{where}.interactions", MAX_STEPS_PER_PHASE))
                    ],
                    notes=check.notes(p.get("notes"), f"{where}.notes"),
                )
            )
    return JourneyIn(
        title=check.text(data, "title", path, 160),
        description=check.text(data, "description", path, 2000, required=False),
        persona_name=persona_name,
        phases=phases,
    )


def _step(check: _Checker, value: Any, path: str) -> StepIn:
    data = check.obj(
        value, path, {"action"}, {"channel", "emotion", "moment_of_truth", "metrics", "quotes", "notes"}
    ) or {}
    metrics = []
    for k, item in enumerate(check.array(data.get("metrics"), f"{path}.metrics", MAX_ITEMS_PER_STEP)):
        where = f"{path}.metrics[{k}]"
        if (m := check.obj(item, where, {"name", "value"}, {"unit", "source", "date"})) is not None:
            metrics.append(
                MetricIn(
                    name=check.text(m, "name", where, 60),
                    value=check.value(m, where),
                    unit=check.text(m, "unit", where, 16, required=False),
                    source=check.text(m, "source", where, 120, required=False),
                    date=check.date(m, where),
                )
            )
    quotes = []
    for k, item in enumerate(check.array(data.get("quotes"), f"{path}.quotes", MAX_ITEMS_PER_STEP)):
        where = f"{path}.quotes[{k}]"
        if (q := check.obj(item, where, {"text"}, {"source", "date"})) is not None:
            quotes.append(
                QuoteIn(
                    text=check.text(q, "text", where, 1000),
                    source=check.text(q, "source", where, 120, required=False),
                    date=check.date(q, where),
                )
            )
    return StepIn(
        action=check.text(data, "action", path, 200) if data else "",
        channel=check.choice(data, "channel", path, Channel.values, Channel.BOUTIQUE),
        emotion=check.emotion(data, path),
        moment_of_truth=check.choice(data, "moment_of_truth", path, MomentOfTruth.values, MomentOfTruth.NONE),
        metrics=metrics,
        quotes=quotes,
        notes=check.notes(data.get("notes"), f"{path}.notes"),
    )


def read_json(raw: bytes | str) -> Any:
    """Bytes or text to JSON, with an error a person can act on."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise ValidationError(f"The file is {len(raw) // 1024} KB: at most {MAX_BYTES // 1024 // 1024} MB.")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("The file is not text in UTF-8: export it again from Journeymap.") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None


# Notes and actions as CSV ----------------------------------------------------------------------

CSV_HEADER = [
    "Record",
    "Phase",
    "Micro-interaction",
    "Channel",
    "Emotion",
    "Moment of truth",
    "Kind",
    "Text",
    "Author",
    "Dots (last revealed vote)",
    "Actions",
    "Owner",
    "Due date",
    "Status",
]


def notes_csv(scenario: Scenario, out: io.TextIOBase, cell: Callable[[Any], Any]) -> None:
    """One row per note (as everyone sees it: private notes not yet revealed are left out), then one
    row per action. `cell` guards a value against being read as a spreadsheet formula."""
    from workshops.models import Action

    notes = list(
        Note.objects.filter(scenario=scenario, hidden=False)
        .select_related("phase", "micro_interaction", "author__user")
        .prefetch_related(Prefetch("actions", queryset=Action.objects.select_related("owner__user").order_by("pk")))
        .order_by("phase__order", "micro_interaction__order", "order", "pk")
    )
    voting = insights.latest_revealed([scenario]).get(scenario.pk)
    dots = insights.dots_by_note([voting] if voting else [])
    actions = list(
        Action.objects.filter(scenario=scenario)
        .select_related("owner__user")
        .prefetch_related(Prefetch("notes", queryset=Note.objects.select_related("phase", "micro_interaction")))
        .order_by("due_date", "pk")
    )
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for n in notes:
        mi = n.micro_interaction
        linked = list(n.actions.all())
        writer.writerow(
            [
                cell(v)
                for v in (
                    "note",
                    n.phase.name,
                    mi.action if mi else "",
                    mi.get_channel_display() if mi else "",
                    "" if mi is None or mi.emotion is None else mi.emotion,
                    mi.get_moment_of_truth_display() if mi and mi.moment_of_truth != MomentOfTruth.NONE else "",
                    n.get_kind_display(),
                    n.text,
                    n.author.name if n.author else "",
                    dots.get(n.pk, "") if voting else "",
                    " | ".join(a.title for a in linked),
                    "", "", "",
                )
            ]
        )
    for a in actions:
        linked = list(a.notes.all())
        writer.writerow(
            [
                cell(v)
                for v in (
                    "action",
                    ", ".join(dict.fromkeys(n.phase.name for n in linked)),
                    ", ".join(dict.fromkeys(n.micro_interaction.action for n in linked if n.micro_interaction)),
                    "", "", "", "",
                    a.title,
                    "",
                    "",
                    " | ".join(n.text for n in linked),
                    a.owner.name,
                    a.due_date.isoformat(),
                    a.get_status_display(),
                )
            ]
        )


# A workshop's summary as Markdown ------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md(text: str) -> str:
    """Text as one line of Markdown that renders as itself: no markup, no HTML, no line breaks."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def workshop_markdown(workshop: Any) -> str:
    """The workshop summary as Markdown: per scenario, the emotion curve as a list, the top
    frictions of the last revealed vote, moments of truth, evidence, the closed loop and actions."""
    from workshops.models import Action

    scenarios = list(workshop.scenarios.select_related("persona").order_by("pk"))
    insights.annotate_summary(scenarios)
    rounds = insights.latest_revealed(scenarios)
    dots = insights.dots_by_note(rounds.values())
    top_notes = {
        n.pk: n
        for n in Note.objects.filter(pk__in=list(dots), hidden=False).select_related("phase", "micro_interaction")
    }
    flagged = insights.moment_notes(scenarios)
    actions: dict[int | None, list[Action]] = defaultdict(list)
    for action in Action.objects.filter(workshop=workshop).select_related("owner__user").order_by("due_date", "pk"):
        actions[action.scenario_id].append(action)

    lines = [f"# {md(workshop.title)}", ""]
    lines.append(f"*{date_format(workshop.date, 'l j F Y')}* · {workshop.get_status_display()} · {md(workshop.team.name)}")
    if workshop.follows_up_id:
        lines.append(f"Follows up *{md(workshop.follows_up.title)}* ({date_format(workshop.follows_up.date, 'j M Y')}).")
    lines.append("")
    for scenario in scenarios:
        insight = scenario.insight
        lines += [f"## {md(scenario.title)}", ""]
        if scenario.persona:
            lines += [f"Persona: **{md(scenario.persona.name)}** ({md(scenario.persona.segment)})", ""]
        if scenario.description:
            lines += [md(scenario.description), ""]
        lines += ["### Emotion curve", ""]
        if insight.curve.empty:
            lines.append("No step has an emotion yet.")
        for p in insight.curve.points:
            mark = {"positive": " ★ positive moment of truth", "negative": " ⚠ negative moment of truth"}.get(
                p.moment_of_truth, ""
            )
            spread = ""
            if p.ratings:
                spread = f" (median of {len(p.ratings)}, from {insights.signed(p.low)} to {insights.signed(p.high)}"
                spread += ", people disagree)" if p.disagree else ")"
            lines.append(f"{p.number}. {md(p.phase)} · {md(p.action)} ({md(p.channel)}): **{p.value_text}**{spread}{mark}")
        lines.append("")
        if flagged[scenario.pk]:
            lines += ["### Moments of truth the team wrote", ""]
            for note in flagged[scenario.pk]:
                where = f"{note.phase.name} · {note.micro_interaction.action}" if note.micro_interaction else note.phase.name
                lines.append(f"- {md(note.text)} · *{md(where)}*")
            lines.append("")
        voting = rounds.get(scenario.pk)
        lines += ["### Top frictions", ""]
        ranked = sorted(
            (n for n in top_notes.values() if n.scenario_id == scenario.pk), key=lambda n: (-dots[n.pk], n.pk)
        )[:10]
        if voting is None:
            lines.append("No vote has been revealed on this board.")
        elif not ranked:
            lines.append("No dots were cast in the last revealed vote.")
        for rank, note in enumerate(ranked, 1):
            where = note.micro_interaction.action if note.micro_interaction else note.phase.name
            lines.append(f"{rank}. {md(note.text)} · *{md(where)}* · {dots[note.pk]} dot{'s' if dots[note.pk] != 1 else ''}")
        lines.append("")
        if insight.loop and insight.loop.rows:
            lines += [f"### Closed loop since {md(insight.loop.previous_workshop.title)}", ""]
            for row in insight.loop.rows:
                after = row.after_text if row.rerated else "not re-rated yet"
                lines.append(
                    f"- {md(row.action)} ({md(row.phase)}): {row.before_text} → {after}"
                    f" · actions: {md(', '.join(a.title for a in row.actions))}"
                )
            lines.append("")
        if insight.evidence:
            lines += ["### Touchpoint evidence", ""]
            for mi in insight.evidence:
                lines.append(f"- **{md(mi.action)}** ({md(mi.phase.name)})")
                for m in mi.metric_list:
                    source = ", ".join(filter(None, [m.source, m.date.isoformat() if m.date else ""]))
                    lines.append(f"  - {md(m.name)}: {md(m.value_with_unit)}" + (f" ({md(source)})" if source else ""))
                for q in mi.quote_list:
                    source = ", ".join(filter(None, [q.source, q.date.isoformat() if q.date else ""]))
                    lines.append(f"  - “{md(q.text)}”" + (f" — {md(source)}" if source else ""))
            lines.append("")
        lines += ["### Actions", ""]
        lines += _action_lines(actions.get(scenario.pk, [])) or ["No action yet."]
        lines.append("")
    if actions.get(None):
        lines += ["## Other actions", "", *_action_lines(actions[None]), ""]
    return "\n".join(lines).rstrip() + "\n"


def _action_lines(actions: Sequence[Any]) -> list[str]:
    return [
        f"- [{'x' if a.status == 'done' else ' '}] {md(a.title)} · {md(a.owner.name)} · due {date_format(a.due_date, 'j M Y')}"
        f" · {a.get_status_display()}"
        for a in actions
    ]


# The poster as PDF -------------------------------------------------------------------------------


def poster_pdf(html: str, stylesheets: Sequence[str]) -> bytes:
    """Render the poster's HTML with WeasyPrint (A3 landscape, from its own @page rule). Only local
    stylesheets are read: nothing is fetched from the network."""
    import weasyprint

    # WeasyPrint reports every step and every CSS rule meant for screens only: keep its errors.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"Not fetched while printing: {url}")

    return weasyprint.HTML(string=html, url_fetcher=no_fetch).write_pdf(
        stylesheets=[weasyprint.CSS(string=css, url_fetcher=no_fetch) for css in stylesheets]
    )
