"""Board pages and the htmx posts that change a board. Each write calls one service function."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from boards import exports, insights, services
from boards import history as board_history_module
from boards import render as fragments
from boards.forms import (
    ActionForm,
    EmotionRatingForm,
    FocusForm,
    HistoryForm,
    IdempotentForm,
    ImportForm,
    InteractionForm,
    MetricForm,
    MoveForm,
    NoteEditForm,
    NoteForm,
    NoteMoveForm,
    PhaseForm,
    QuoteForm,
    StageForm,
    TimerForm,
    ToggleForm,
    VoteForm,
    VotingRoundForm,
    add_service_errors,
)
from boards.models import CustomerQuote, MicroInteraction, NoteKind, Phase, TouchpointMetric
from journeymap.ratelimits import limit_note_posts
from workshops import access
from workshops.models import Action

PAGE = "boards/board.html"


def _dialog(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, f"{PAGE}#dialog-form", context, status=status)


def _done(reveal: str = "") -> HttpResponse:
    """A dialog's post succeeded: close it. The change itself arrives through the websocket;
    `reveal` names the element it makes, which the page then scrolls into sight (board.js)."""
    response = trigger_client_event(HttpResponse(status=204), "dialog:close")
    return trigger_client_event(response, "board:reveal", {"id": reveal}) if reveal else response


def _target(scenario, phase_id: int | None, interaction_id: int | None):
    """The phase and micro-interaction a note goes to, both checked to be on this board."""
    if interaction_id:
        mi = MicroInteraction.objects.select_related("phase").filter(
            pk=interaction_id, phase__scenario=scenario
        ).first()
        if mi is None:
            raise ValidationError({"interaction": "That micro-interaction is no longer on this board."})
        return mi.phase, mi
    phase = Phase.objects.filter(pk=phase_id, scenario=scenario).first()
    if phase is None:
        raise ValidationError({"phase": "That phase is no longer on this board."})
    return phase, None


# The board -------------------------------------------------------------------------------------


def _capture_context(scenario, *, phase_id=None, interaction_id=None, kind=NoteKind.OBSERVATION, text="", errors=(), sent=False):
    phases = list(scenario.phases.order_by("order"))
    if phase_id is None and phases:
        # The phase the room is on, if the facilitator has put one in focus: a late arrival's
        # first note lands there, as everyone else's form has followed the focus.
        focused = [p.pk for p in phases if p.pk == scenario.focus_phase_id]
        phase_id = focused[0] if focused else phases[0].pk
    interactions = list(MicroInteraction.objects.filter(phase_id=phase_id).order_by("order")) if phase_id else []
    return {
        "phases": phases,
        "phase_id": phase_id,
        "interactions": interactions,
        "interaction_id": interaction_id,
        "kind": kind,
        "text": text,
        "errors": list(errors),
        "sent": sent,
    }


@login_required
@require_GET
def board(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = access.get_scenario(request.user, pk)
    context = fragments.board_context(scenario)  # last_seq was read before the board: see events.catch_up
    context.update(
        member=member,
        board_filter=insights.board_filter(context["phases"], request.GET),
        capture=_capture_context(scenario),
        present=[],
        server_now_ms=int(timezone.now().timestamp() * 1000),
        heartbeat_ms=int(settings.BOARD_HEARTBEAT_SECONDS * 1000),
        **fragments.private_context(scenario, member),
    )
    return render(request, PAGE, context)


@require_GET
def board_ws(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return HttpResponseBadRequest("This address is for a websocket.")


@login_required
@require_GET
def capture_interactions(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, _ = access.get_scenario(request.user, pk)
    try:
        phase_id = int(request.GET.get("phase", ""))
    except ValueError:
        phase_id = None
    if not scenario.phases.filter(pk=phase_id).exists():
        raise Http404
    return render(request, f"{PAGE}#capture-interactions", {"capture": _capture_context(scenario, phase_id=phase_id)})


@login_required
@require_POST
@limit_note_posts
def note_create(request: HttpRequest, pk: int) -> HttpResponse:
    """The capture form: a note from anyone on the team, phone or laptop."""
    scenario, member = access.get_scenario(request.user, pk)
    data = request.POST.copy()
    data.setdefault("kind", NoteKind.OBSERVATION)
    form = NoteForm(data)
    errors: list[str] = []
    status = 422
    if form.is_valid():
        d = form.cleaned_data
        try:
            phase, mi = _target(scenario, d["phase"], d["interaction"])
            note = services.add_note(
                actor=member, scenario=scenario, phase=phase, micro_interaction=mi,
                kind=d["kind"], text=d["text"], request_id=d["request_id"],
            )
        except ValidationError as exc:
            errors = exc.messages
        except PermissionDenied as exc:
            errors, status = [str(exc)], 403
        else:
            if not request.htmx:
                messages.success(request, "Your note is on the board.")
                return redirect("board", pk=scenario.pk)
            ctx = _capture_context(scenario, phase_id=phase.pk, interaction_id=mi.pk if mi else None, kind=d["kind"], sent=True)
            ctx["sent_hidden"] = note.hidden
            response = render(request, f"{PAGE}#capture-form", {"capture": ctx, "kinds": NoteKind.choices, "scenario": scenario})
            # It comes into sight once the form has its new height (it says "Sent").
            return trigger_client_event(response, "board:reveal", {"id": f"note-{note.pk}"}, after="settle")
    else:
        errors = [e for errs in form.errors.values() for e in errs]
    ctx = _capture_context(
        scenario,
        phase_id=form.cleaned_data.get("phase") if hasattr(form, "cleaned_data") else None,
        interaction_id=form.cleaned_data.get("interaction") if hasattr(form, "cleaned_data") else None,
        kind=data.get("kind"),
        text=data.get("text", ""),
        errors=errors,
    )
    if not request.htmx:
        for e in errors:
            messages.error(request, e)
        return redirect("board", pk=scenario.pk)
    return render(request, f"{PAGE}#capture-form", {"capture": ctx, "kinds": NoteKind.choices, "scenario": scenario}, status=status)


# Notes -------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@limit_note_posts
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    """"+ Note" on one micro-interaction or phase, in the dialog."""
    scenario, member = access.get_scenario(request.user, pk)
    phase = mi = None
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                phase, mi = _target(scenario, d["phase"], d["interaction"])
                services.add_note(
                    actor=member, scenario=scenario, phase=phase, micro_interaction=mi,
                    kind=d["kind"], text=d["text"], request_id=d["request_id"],
                )
                return _done()
            except ValidationError as exc:
                add_service_errors(form, exc)
        status = 422
    else:
        try:
            phase, mi = _target(scenario, _int(request.GET.get("phase")), _int(request.GET.get("interaction")))
        except ValidationError:
            raise Http404 from None
        form = NoteForm(initial={"phase": phase.pk, "interaction": mi.pk if mi else None})
        status = 200
    where = form["interaction"].value() or form["phase"].value()
    if phase is None:  # a refused post: say where it was going, if that is still on the board
        try:
            phase, mi = _target(scenario, _int(request.POST.get("phase")), _int(request.POST.get("interaction")))
        except ValidationError:
            pass
    title = "Add a note" if phase is None else f"Add a note to {phase.name}" + (f" · {mi.action}" if mi else " (the whole phase)")
    return _dialog(request, {
        "title": title, "form": form, "action": reverse("note-add", args=[scenario.pk]),
        "submit": "Add note", "where": where,
    }, status)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    note, member = access.get_note(request.user, pk)
    services.require_note_editor(member, note, note.scenario)
    context: dict[str, Any] = {"title": "Edit note", "action": reverse("note-edit", args=[note.pk]), "submit": "Save"}
    status = 200
    if request.method == "POST":
        form = NoteEditForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.edit_note(
                    actor=member, note=note, text=d["text"], kind=d["kind"],
                    version=d["version"], request_id=d["request_id"],
                )
                return _done()
            except services.Conflict as exc:
                current = exc.current
                context.update(conflict=exc.message, current=current)
                # Keep what they typed; saving again now knowingly replaces the current text.
                # A kind they left as it was takes the one it has now, so theirs isn't undone.
                data = request.POST.copy()
                if data.get("kind") == data.get("kind_was"):
                    data["kind"] = current.kind
                data["version"], data["kind_was"] = current.version, current.kind
                form = NoteEditForm(data)
                return _dialog(request, {**context, "form": form}, 409)
            except ValidationError as exc:
                add_service_errors(form, exc)
        status = 422
    else:
        form = NoteEditForm(initial={"text": note.text, "kind": note.kind, "kind_was": note.kind, "version": note.version})
    return _dialog(request, {**context, "form": form}, status)


@login_required
@require_http_methods(["GET", "POST"])
def note_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The keyboard- and touch-friendly "Move to…" alternative to drag and drop."""
    note, member = access.get_note(request.user, pk)
    services.require_note_editor(member, note, note.scenario)
    phases = fragments.board_context(note.scenario)["phases"]
    status = 200
    if request.method == "POST":
        form = NoteMoveForm(request.POST, phases=phases)
        if form.is_valid():
            kind, target_pk = form.target_parts()
            try:
                phase, mi = _target(note.scenario, target_pk if kind == "phase" else None, target_pk if kind == "mi" else None)
                services.move_note(
                    actor=member, note=note, phase=phase, micro_interaction=mi,
                    position=form.cleaned_data["position"], request_id=form.cleaned_data["request_id"],
                )
                return _done()
            except ValidationError as exc:
                add_service_errors(form, exc)
        status = 422
    else:
        current = f"mi:{note.micro_interaction_id}" if note.micro_interaction_id else f"phase:{note.phase_id}"
        form = NoteMoveForm(initial={"target": current}, phases=phases)
    return _dialog(request, {
        "title": "Move note", "form": form, "action": reverse("note-move", args=[note.pk]),
        "submit": "Move", "quote": note.text,
    }, status)


@login_required
@require_POST
def note_reorder(request: HttpRequest, pk: int) -> HttpResponse:
    """Drag and drop: move a note to a container and position in one post."""
    note, member = access.get_note(request.user, pk)
    form = NoteForm({**request.POST.dict(), "kind": note.kind, "text": note.text})
    if not form.is_valid():
        return HttpResponse("Can't move the note there.", status=422)
    d = form.cleaned_data
    try:
        phase, mi = _target(note.scenario, d["phase"], d["interaction"])
        services.move_note(
            actor=member, note=note, phase=phase, micro_interaction=mi,
            position=_int(request.POST.get("position")), request_id=d["request_id"],
        )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=422)
    return HttpResponse(status=204)


@login_required
@require_http_methods(["GET", "POST"])
def note_delete(request: HttpRequest, pk: int) -> HttpResponse:
    note, member = access.get_note(request.user, pk)
    services.require_note_editor(member, note, note.scenario)
    if request.method == "POST":
        services.delete_note(actor=member, note=note, request_id=_uuid(request.POST.get("request_id")))
        return _done()
    return _dialog(request, {
        "title": "Delete this note?", "form": IdempotentForm(), "action": reverse("note-delete", args=[note.pk]),
        "submit": "Delete", "danger": True, "quote": note.text,
    })


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


# Phases and micro-interactions (facilitators) ---------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def phase_add(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = access.get_scenario(request.user, pk)
    access.require_facilitator(member)
    form = PhaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            phase = services.add_phase(actor=member, scenario=scenario, name=d["name"], goal=d["goal"],
                                       request_id=d["request_id"])
            return _done(reveal=f"phase-{phase.pk}")
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _dialog(request, {
        "title": "Add a phase", "form": form, "action": reverse("phase-add", args=[scenario.pk]), "submit": "Add phase",
    }, 422 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def phase_edit(request: HttpRequest, pk: int) -> HttpResponse:
    phase, member = access.get_phase(request.user, pk)
    access.require_facilitator(member)
    context: dict[str, Any] = {
        "title": "Edit phase", "action": reverse("phase-edit", args=[phase.pk]), "submit": "Save",
        "delete_url": reverse("phase-delete", args=[phase.pk]), "delete_label": "Delete the phase…",
    }
    if request.method == "POST":
        form = PhaseForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.update_phase(
                    actor=member, phase=phase, name=d["name"], goal=d["goal"],
                    version=d["version"] or 0, request_id=d["request_id"],
                )
                return _done()
            except services.Conflict as exc:
                data = request.POST.copy()
                data["version"] = exc.current.version
                return _dialog(request, {**context, "form": PhaseForm(data), "conflict": exc.message,
                                         "current": exc.current}, 409)
            except ValidationError as exc:
                add_service_errors(form, exc)
        return _dialog(request, {**context, "form": form}, 422)
    form = PhaseForm(initial={"name": phase.name, "goal": phase.goal, "version": phase.version})
    return _dialog(request, {**context, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def phase_delete(request: HttpRequest, pk: int) -> HttpResponse:
    phase, member = access.get_phase(request.user, pk)
    access.require_facilitator(member)
    form = IdempotentForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.delete_phase(actor=member, phase=phase, request_id=form.cleaned_data["request_id"])
            return _done()
        except ValidationError as exc:
            blocker, status = " ".join(exc.messages), 422
    else:
        blocker = services.phase_delete_blocker(phase)
    steps = phase.interactions.count()
    return _dialog(request, {
        "title": f"Delete the phase “{phase.name}”?", "form": IdempotentForm(), "blocked": blocker,
        "action": reverse("phase-delete", args=[phase.pk]), "submit": None if blocker else "Delete the phase",
        "danger": True,
        "explain": "" if blocker else (
            f"Its {steps} micro-interaction{'s' if steps != 1 else ''}, with their evidence and emotion ratings, "
            "go with it. " if steps else "") + "Everyone on the board sees it disappear.",
    }, status)


@login_required
@require_POST
def phase_move(request: HttpRequest, pk: int) -> HttpResponse:
    phase, member = access.get_phase(request.user, pk)
    access.require_facilitator(member)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Pick a position.", status=422)
    services.move_phase(actor=member, phase=phase, position=form.cleaned_data["position"],
                        request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


@login_required
@require_http_methods(["GET", "POST"])
def interaction_add(request: HttpRequest, pk: int) -> HttpResponse:
    phase, member = access.get_phase(request.user, pk)
    access.require_facilitator(member)
    form = InteractionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.add_micro_interaction(
                actor=member, phase=phase, action=d["action"], channel=d["channel"], emotion=d["emotion"],
                moment_of_truth=d["moment_of_truth"], request_id=d["request_id"],
            )
            return _done()
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _dialog(request, {
        "title": f"Add a micro-interaction to {phase.name}", "form": form,
        "action": reverse("interaction-add", args=[phase.pk]), "submit": "Add",
    }, 422 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def interaction_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mi, member = access.get_interaction(request.user, pk)
    access.require_facilitator(member)
    context: dict[str, Any] = {
        "title": "Edit micro-interaction", "action": reverse("interaction-edit", args=[mi.pk]), "submit": "Save",
        "delete_url": reverse("interaction-delete", args=[mi.pk]), "delete_label": "Delete it…",
    }
    if request.method == "POST":
        form = InteractionForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.update_micro_interaction(
                    actor=member, interaction=mi, action=d["action"], channel=d["channel"],
                    emotion=d["emotion"], moment_of_truth=d["moment_of_truth"],
                    version=d["version"] or 0, request_id=d["request_id"],
                )
                return _done()
            except services.Conflict as exc:
                data = request.POST.copy()
                data["version"] = exc.current.version
                return _dialog(request, {**context, "form": InteractionForm(data), "conflict": exc.message,
                                         "current": exc.current}, 409)
            except ValidationError as exc:
                add_service_errors(form, exc)
        return _dialog(request, {**context, "form": form}, 422)
    form = InteractionForm(initial={
        "action": mi.action, "channel": mi.channel, "emotion": "" if mi.emotion is None else str(mi.emotion),
        "moment_of_truth": mi.moment_of_truth, "version": mi.version,
    })
    if mi.is_carried:
        context["explain"] = ("Its emotion is carried over from last session. Saving keeps it as this "
                              "session's rating; change it if the customer feels differently now.")
    return _dialog(request, {**context, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def interaction_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mi, member = access.get_interaction(request.user, pk)
    access.require_facilitator(member)
    form = IdempotentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.delete_micro_interaction(actor=member, interaction=mi, request_id=form.cleaned_data["request_id"])
        return _done()
    notes = mi.notes.count()
    return _dialog(request, {
        "title": "Delete this micro-interaction?", "quote": mi.action, "form": form,
        "action": reverse("interaction-delete", args=[mi.pk]), "submit": "Delete it", "danger": True,
        "explain": (("Its note stays: it moves" if notes == 1 else f"Its {notes} notes stay: they move")
                    + f" to “On the whole phase” in {mi.phase.name}. " if notes else "")
        + "Its evidence and emotion ratings go with it.",
    })


@login_required
@require_POST
def interaction_move(request: HttpRequest, pk: int) -> HttpResponse:
    mi, member = access.get_interaction(request.user, pk)
    access.require_facilitator(member)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Pick a position.", status=422)
    services.move_micro_interaction(actor=member, interaction=mi, position=form.cleaned_data["position"],
                                    request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


# The live session (facilitators) ----------------------------------------------------------------


def _facilitated(request: HttpRequest, pk: int):
    scenario, member = access.get_scenario(request.user, pk)
    access.require_facilitator(member)
    return scenario, member


def _error(exc: ValidationError, status: int = 422) -> HttpResponse:
    """A short message for the toast of whoever sent the request."""
    return render_message(" ".join(exc.messages), status)


def render_message(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(escape(text), status=status)


@login_required
@require_POST
def session_stage(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    form = StageForm(request.POST)
    if not form.is_valid():
        return render_message("Pick a stage.", 422)
    services.set_stage(actor=member, scenario=scenario, stage=form.cleaned_data["stage"],
                       request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


@login_required
@require_POST
def session_focus(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    form = FocusForm(request.POST)
    if not form.is_valid():
        return render_message("Pick a phase.", 422)
    phase_id = form.cleaned_data["phase"]
    phase = scenario.phases.filter(pk=phase_id).first() if phase_id else None
    if phase_id and phase is None:
        return render_message("That phase is not on this board.", 422)
    services.focus_phase(actor=member, scenario=scenario, phase=phase, request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


def _toggle(request: HttpRequest, name: str) -> ToggleForm:
    """An on/off session control: the field `name` ("1" or "0"), and the post's request id."""
    return ToggleForm({"value": request.POST.get(name), "request_id": request.POST.get("request_id")})


@login_required
@require_POST
def session_lock(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    form = _toggle(request, "locked")
    if not form.is_valid():
        return render_message("Lock or unlock?", 422)
    services.set_board_lock(actor=member, scenario=scenario, locked=form.cleaned_data["value"],
                            request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


@login_required
@require_POST
def session_private(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    form = _toggle(request, "private")
    if not form.is_valid():
        return render_message("Start or reveal?", 422)
    if form.cleaned_data["value"]:
        services.start_private_round(actor=member, scenario=scenario, request_id=form.cleaned_data["request_id"])
    else:
        services.reveal_private_notes(actor=member, scenario=scenario, request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


@login_required
@require_POST
def session_timer(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    form = TimerForm(request.POST)
    if not form.is_valid():
        return render_message("Set the timer between 1 and 120 minutes.", 422)
    try:
        services.control_timer(actor=member, scenario=scenario, op=form.cleaned_data["op"],
                               minutes=form.cleaned_data["minutes"], request_id=form.cleaned_data["request_id"])
    except ValidationError as exc:
        return _error(exc)
    return HttpResponse(status=204)


# Dot voting -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def voting_open(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    phases = list(scenario.phases.order_by("order"))
    form = VotingRoundForm(request.POST or None, phases=phases)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        phase = next((p for p in phases if p.pk == d["phase"]), None)
        try:
            services.open_voting_round(actor=member, scenario=scenario, budget=d["budget"], cap_per_note=d["cap_per_note"],
                                       phase=phase, request_id=d["request_id"])
            return _done()
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _dialog(request, {
        "title": "Open dot voting", "form": form, "action": reverse("voting-open", args=[scenario.pk]),
        "submit": "Open voting",
        "explain": "Everyone places their dots on the frictions they would fix first: other kinds of note take "
                   "no dots. Totals stay hidden until you reveal them.",
    }, 422 if request.method == "POST" else 200)


@login_required
@require_POST
def voting_close(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    try:
        services.close_voting_round(actor=member, scenario=scenario, request_id=_uuid(request.POST.get("request_id")))
    except ValidationError as exc:
        return _error(exc)
    return HttpResponse(status=204)


@login_required
@require_POST
def voting_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = _facilitated(request, pk)
    try:
        services.reveal_votes(actor=member, scenario=scenario, request_id=_uuid(request.POST.get("request_id")))
    except ValidationError as exc:
        return _error(exc)
    return HttpResponse(status=204)


@login_required
@require_POST
def note_vote(request: HttpRequest, pk: int) -> HttpResponse:
    """+ dot / − dot. The answer goes to the voter's toast: empty when it worked."""
    note, member = access.get_note(request.user, pk)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return render_message("Add or remove a dot?", 422)
    operation = services.cast_vote if form.cleaned_data["op"] == "add" else services.withdraw_vote
    try:
        operation(actor=member, note=note, request_id=form.cleaned_data["request_id"])
    except ValidationError as exc:
        return _error(exc)
    return render_message("")


# Actions ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def action_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn friction notes into an action with an owner and a due date. The dialog says which of
    the picked notes already have actions (a second one is allowed, on purpose); once made, the
    dialog closes and the facilitator's toast confirms it."""
    from workshops import services as workshop_services

    scenario, member = _facilitated(request, pk)
    candidates = fragments.action_candidates(scenario)
    picked = next((n for n in candidates if str(n.pk) == request.GET.get("note")), None)
    if picked is not None:
        candidates.sort(key=lambda n: n.pk != picked.pk)  # first in the list, the rest as voted
    _attach_actions(candidates)
    members = list(access.workshop_seats(scenario.workshop).select_related("user"))
    if request.method == "POST":
        form = ActionForm(request.POST, members=members, notes=candidates)
        if form.is_valid():
            d = form.cleaned_data
            owner = next(m for m in members if m.pk == d["owner"])
            try:
                action = workshop_services.create_action(
                    actor=member, scenario=scenario, notes=[n for n in candidates if n.pk in d["notes"]],
                    title=d["title"], owner=owner, due_date=d["due_date"], request_id=d["request_id"],
                )
                return _action_created(action, members)
            except ValidationError as exc:
                add_service_errors(form, exc)
        chosen = request.POST.getlist("notes")
        status = 422
    else:
        chosen = [str(picked.pk)] if picked else []
        form = ActionForm(
            initial={"notes": [picked.pk] if picked else [], "due_date": timezone.localdate() + timezone.timedelta(days=14)},
            members=members, notes=candidates,
        )
        status = 200
    action_url = reverse("action-create", args=[scenario.pk])
    return _dialog(request, {
        "title": "Make it an action", "form": form, "submit": "Create action",
        "action": f"{action_url}?note={picked.pk}" if picked else action_url,
        "friction": picked, "already": [n for n in candidates if str(n.pk) in chosen and n.action_list],
    }, status)


def _attach_actions(notes: list) -> None:
    """Give each note its `action_list`, owners included, in one query for all the notes that
    have actions (Note.has_actions; none for the others)."""
    prefetch_related_objects(
        [n for n in notes if n.has_actions],
        Prefetch("actions", queryset=Action.objects.select_related("owner__user"), to_attr="action_list"),
    )
    for note in notes:
        if not note.has_actions:
            note.action_list = []


def _action_created(action, members: list) -> HttpResponse:
    """Close the dialog and confirm in the facilitator's toast. A retried post (same request id)
    gets the action made the first time, hence the same answer."""
    owner = next((m for m in members if m.pk == action.owner_id), None) or action.owner
    response = render_message(
        f"Action created: “{action.title}” for {owner.name}, due {date_format(action.due_date, 'j M')}."
    )
    response = reswap(retarget(response, "#toast"), "innerHTML")
    return trigger_client_event(response, "dialog:close", after="swap")


# Insights: consensus on emotions, evidence, the heatmap's filter --------------------------------


@login_required
@require_POST
def session_rating(request: HttpRequest, pk: int) -> HttpResponse:
    """Open or close consensus mode: everyone rates how the customer feels at each step."""
    scenario, member = _facilitated(request, pk)
    form = _toggle(request, "rating")
    if not form.is_valid():
        return render_message("Open or close emotion rating?", 422)
    services.set_emotion_rating(actor=member, scenario=scenario, open=form.cleaned_data["value"],
                                request_id=form.cleaned_data["request_id"])
    return HttpResponse(status=204)


@login_required
@require_POST
def emotion_rate(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's own rating of a step (−2…+2, or empty to take it back). The answer goes to
    their toast: empty when it worked; the curve arrives through the websocket."""
    mi, member = access.get_interaction(request.user, pk)
    form = EmotionRatingForm(request.POST)
    if not form.is_valid():
        return render_message("Rate from −2 (very negative) to +2 (very positive).", 422)
    try:
        services.rate_emotion(actor=member, interaction=mi, value=form.cleaned_data["value"],
                              request_id=form.cleaned_data["request_id"])
    except ValidationError as exc:
        return _error(exc)
    return render_message("")


def _evidence_item(model: type, user, pk: int):
    """A metric or a quote, and the user's membership of its board's team (404 outside it)."""
    item = model.objects.select_related("interaction__phase__scenario__workshop").filter(pk=pk).first()
    if item is None:
        raise Http404
    workshop = item.interaction.phase.scenario.workshop
    return item, access.membership(user, workshop.team_id, workshop.pk)


def _evidence_dialog(request: HttpRequest, mi: MicroInteraction, status: int = 200) -> HttpResponse:
    insights.attach_evidence([mi])
    return render(request, f"{PAGE}#evidence-dialog", {"mi": mi}, status=status)


@login_required
@require_GET
def evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """A step's metrics and quotes, to add to or remove from (facilitators)."""
    mi, member = access.get_interaction(request.user, pk)
    access.require_facilitator(member)
    return _evidence_dialog(request, mi)


@login_required
@require_http_methods(["GET", "POST"])
def metric_add(request: HttpRequest, pk: int) -> HttpResponse:
    mi, member = access.get_interaction(request.user, pk)
    access.require_facilitator(member)
    form = MetricForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.add_metric(actor=member, interaction=mi, name=d["name"], value=d["value"], unit=d["unit"],
                                source=d["source"], date=d["date"], request_id=d["request_id"])
            return _evidence_dialog(request, mi)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _dialog(request, {
        "title": "Add a metric", "quote": mi.action, "form": form,
        "action": reverse("metric-add", args=[mi.pk]), "submit": "Add metric",
    }, 422 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def quote_add(request: HttpRequest, pk: int) -> HttpResponse:
    mi, member = access.get_interaction(request.user, pk)
    access.require_facilitator(member)
    form = QuoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.add_quote(actor=member, interaction=mi, text=d["text"], source=d["source"], date=d["date"],
                               request_id=d["request_id"])
            return _evidence_dialog(request, mi)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _dialog(request, {
        "title": "Add a customer quote", "quote": mi.action, "form": form,
        "action": reverse("quote-add", args=[mi.pk]), "submit": "Add quote",
    }, 422 if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def metric_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a metric (the ✕ in the evidence dialog); a GET shows that dialog."""
    metric, member = _evidence_item(TouchpointMetric, request.user, pk)
    access.require_facilitator(member)
    if request.method == "POST":
        services.remove_metric(actor=member, metric=metric, request_id=_uuid(request.POST.get("request_id")))
    return _evidence_dialog(request, metric.interaction)


@login_required
@require_http_methods(["GET", "POST"])
def quote_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a customer quote (the ✕ in the evidence dialog); a GET shows that dialog."""
    quote, member = _evidence_item(CustomerQuote, request.user, pk)
    access.require_facilitator(member)
    if request.method == "POST":
        services.remove_quote(actor=member, quote=quote, request_id=_uuid(request.POST.get("request_id")))
    return _evidence_dialog(request, quote.interaction)


# Exports: the poster, CSV, JSON (and its import), the Markdown summary -------------------------------


def _filename(*parts: str) -> str:
    return "-".join(slugify(p) or "board" for p in parts)


def _poster_context(request: HttpRequest, pk: int) -> dict[str, Any]:
    scenario, member = access.get_scenario(request.user, pk)
    context = fragments.board_context(scenario)
    context.update(member=member, printed=timezone.localtime())
    return context


@login_required
@require_GET
def poster(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole journey on one A3 landscape page: print it, or save it as PDF from the browser."""
    return render(request, "boards/poster.html", _poster_context(request, pk))


@login_required
@require_GET
async def poster_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The poster as a PDF file, made on the server (WeasyPrint) from the same page. The page is
    rendered as any other; the PDF is made in a worker thread, so the seconds it takes hold up no
    other request."""

    def page() -> tuple[str, str, str]:
        context = _poster_context(request, pk)
        html = render_to_string("boards/poster.html", {**context, "pdf": True}, request=request)
        with open(finders.find("css/app.css"), encoding="utf-8") as css:
            # A follow-up's board has the same title: the workshop's date tells the files apart.
            scenario = context["scenario"]
            return html, css.read(), _filename(scenario.title, scenario.workshop.date.isoformat(), "poster")

    html, css, name = await sync_to_async(page)()
    try:
        pdf = await asyncio.to_thread(exports.poster_pdf, html, [css])
    except (ImportError, OSError):  # WeasyPrint needs the system's Pango library
        return HttpResponse(
            "This server can't make PDFs (WeasyPrint needs Pango). Open the poster and use your "
            "browser's Print → Save as PDF, on A3 landscape.", status=503, content_type="text/plain")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return response


@login_required
@require_GET
def export_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The board's notes (as everyone sees them) and its actions, for a spreadsheet."""
    from workshops.action_views import _cell as spreadsheet_cell

    scenario, _ = access.get_scenario(request.user, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(scenario.title, "notes")}.csv"'
    response.write("\ufeff")  # Excel then reads the accents as UTF-8
    exports.notes_csv(scenario, response, spreadsheet_cell)
    return response


@login_required
@require_GET
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole scenario as JSON, to import into another workshop, team or instance."""
    scenario, _ = access.get_scenario(request.user, pk)
    response = JsonResponse(exports.scenario_document(scenario), json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{_filename(scenario.title)}.journey.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def scenario_import(request: HttpRequest, pk: int) -> HttpResponse:
    """A new board in this workshop from a scenario exported as JSON (facilitators)."""
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    posted = request.method == "POST"
    form = ImportForm(request.POST if posted else None, request.FILES if posted else None)
    problems: list[str] = []
    if posted and form.is_valid():
        try:
            scenario = services.import_scenario(actor=member, workshop=workshop, data=exports.read_json(form.raw()))
        except ValidationError as exc:
            problems = exc.messages
        else:
            messages.success(request, f"“{scenario.title}” is imported: {scenario.phases.count()} phases, ready to use.")
            return redirect("board", pk=scenario.pk)
    context = {"workshop": workshop, "member": member, "form": form, "problems": problems}
    return render(request, "boards/import.html", context, status=422 if posted else 200)


@login_required
@require_GET
def summary_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    """The workshop summary as a Markdown file, for a wiki, an e-mail or a repository."""
    workshop, _ = access.get_workshop(request.user, pk)
    response = HttpResponse(exports.workshop_markdown(workshop), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(workshop.title, "summary", workshop.date.isoformat())}.md"'
    )
    return response


# History --------------------------------------------------------------------------------------------

TIMELINE_PAGE = 100


@login_required
@require_GET
def board_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The board's event log as a timeline, and the board as it was at any seq (read-only)."""
    scenario, member = access.get_scenario(request.user, pk)
    form = HistoryForm(request.GET)
    valid = form.is_valid()
    seq = form.cleaned_data["seq"] if valid else None
    past = board_history_module.replay(scenario, upto=seq)
    paginator = Paginator(list(reversed(past.timeline)), TIMELINE_PAGE)
    page = paginator.get_page(form.cleaned_data["page"] if valid else 1)
    asked = request.GET.get("seq", "")
    # A change that does not exist (a typed or edited address) shows the board now, and says so.
    notice = asked not in ("", str(past.seq)) and (not valid or seq != past.seq)
    return render(request, "boards/history.html", {
        "scenario": scenario, "member": member, "past": past, "page": page, "asked": asked if notice else None,
        "previous_seq": past.seq - 1 if past.seq > 1 else None,
        "next_seq": past.seq + 1 if past.seq < past.last_seq else None,
    })
