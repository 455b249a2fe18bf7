"""Actions and their review: "My actions", the managers' Actions page, summaries and exports.

Every page is visible to every member of the team (404 outside it). Updating an action is for
its owner, managers and facilitators (the service decides, the page hides the form from others);
planning the next session is for facilitators. Writes go through workshops.services.
"""

from __future__ import annotations

import csv
import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.request import split_domain_port
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from boards import insights as board_insights
from boards import render as board_render
from boards.forms import add_service_errors
from boards.models import MicroInteraction, MomentOfTruth, Note, Phase, VotingRound, VotingStatus
from boards.services import Conflict
from workshops import access, feeds, services
from workshops import render as workshops_render
from workshops.action_forms import (
    STILL_OPEN,
    ActionFilterForm,
    ActionReplanForm,
    ActionStatusForm,
    CalendarResetForm,
    PlanNextForm,
)
from workshops.models import Action, ActionStatus, Membership, Team, Workshop, WorkshopStatus

CLOSED = [ActionStatus.DONE, ActionStatus.DROPPED]
INVALID = 422


def _notes() -> Prefetch:
    notes = Note.objects.select_related("phase", "micro_interaction").order_by(
        "phase__order", "order", "pk"
    )
    return Prefetch("notes", queryset=notes)


def _annotate(actions: list[Action], member: Membership, today: datetime.date) -> list[Action]:
    """What a row shows besides the action: its notes' phases, overdue, may this person update."""
    for action in actions:
        action.phase_names = list(dict.fromkeys(n.phase.name for n in action.notes.all()))
        action.overdue = action.is_overdue(today)
        action.due_today = action.is_due_today(today)
        action.can_update = services.can_update_action(member, action)
    return actions


@dataclass
class OwnerLoad:
    """One owner's share of a list of actions."""

    owner: Membership
    open: int = 0
    overdue: int = 0
    done: int = 0


def _by_owner(actions: list[Action]) -> list[OwnerLoad]:
    """Who owns what among `actions` (annotated): each owner's open, overdue and done actions,
    the most overdue first."""
    loads: dict[int, OwnerLoad] = {}
    for action in actions:
        load = loads.setdefault(action.owner_id, OwnerLoad(action.owner))
        load.overdue += action.overdue
        load.open += not action.is_closed
        load.done += action.status == ActionStatus.DONE
    return sorted(loads.values(), key=lambda x: (-x.overdue, -x.open, x.owner.name.casefold()))


def _next_url(request: HttpRequest, value: str | None, default: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}):
        return value
    return default


# The team's Actions page and its CSV export -------------------------------------------------------


def filter_actions(team: Team, filters: dict[str, Any], today: datetime.date) -> QuerySet[Action]:
    """The team's actions that pass the Actions page's filters, with what a row shows."""
    actions = Action.objects.filter(workshop__team=team)
    if "owner" in filters:
        actions = actions.filter(owner_id=filters["owner"])
    status = filters.get("status")
    if status == STILL_OPEN:
        actions = actions.exclude(status__in=CLOSED)
    elif status:
        actions = actions.filter(status=status)
    if "workshop" in filters:
        actions = actions.filter(workshop_id=filters["workshop"])
    if "phase" in filters:
        # Each board has its own phases: match them by name.
        linked = Action.notes.through.objects.filter(note__phase__name__iexact=filters["phase"])
        actions = actions.filter(pk__in=linked.values("action_id"))
    if filters.get("overdue"):
        actions = actions.filter(due_date__lt=today).exclude(status__in=CLOSED)
    return (
        actions.select_related("workshop", "scenario", "owner__user")
        .prefetch_related(_notes())
        .order_by("due_date", "pk")
    )


def _filtered(
    params: QueryDict, team: Team, member: Membership
) -> tuple[ActionFilterForm, list[Action]]:
    """The filter form for `params` (its choices are the team's own) and the actions it lets
    through."""
    # Owners to filter by: the team's people, less those removed who own nothing here.
    owns = Exists(Action.objects.filter(owner=OuterRef("pk")))
    members = sorted(
        team.memberships.select_related("user").filter(Q(revoked_at__isnull=True) | owns),
        key=lambda m: m.name.lower(),
    )
    phase_names = Phase.objects.filter(notes__actions__workshop__team=team).values_list(
        "name", flat=True
    )
    unique = {name.casefold(): name for name in sorted(set(phase_names), reverse=True)}
    form = ActionFilterForm(
        params or None,
        members=members,
        workshops=team.workshops.all(),
        phase_names=sorted(unique.values(), key=str.casefold),
    )
    today = timezone.localdate()
    actions = _annotate(list(filter_actions(team, form.filters(), today)), member, today)
    return form, actions


def _tallies(form: ActionFilterForm, actions: list[Action]) -> dict[str, Any]:
    """The counts above the list: how many overdue, and who owns what (left out for one owner)."""
    return {
        "overdue_count": sum(1 for a in actions if a.overdue),
        "by_owner": [] if form.filters().get("owner") else _by_owner(actions),
    }


@login_required
@require_GET
def team_actions(request: HttpRequest, team_id: int) -> HttpResponse:
    team, member = access.get_team(request.user, team_id)
    form, actions = _filtered(request.GET, team, member)
    context = {
        "team": team,
        "member": member,
        "form": form,
        "actions": actions,
        **_tallies(form, actions),
        "filtered": bool(form.filters()),
        "query": request.GET.urlencode(),
        "today": timezone.localdate(),
        "next": request.get_full_path(),
        "status_choices": ActionStatus.choices,
        "calendar_feeds": [_feed_links(request, member)],
    }
    partial = bool(request.htmx) and request.htmx.target == "action-results"
    template = "workshops/actions.html#action-results" if partial else "workshops/actions.html"
    response = render(request, template, context)
    # One URL, two answers (the page, or its results for htmx): caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


CSV_HEADER = [
    "Action",
    "Owner",
    "Business function",
    "Workshop",
    "Workshop date",
    "Scenario",
    "Phases",
    "Notes",
    "Due date",
    "Status",
    "Overdue",
    "Link",
]


def _cell(value: Any) -> Any:
    """Keep a spreadsheet from reading a title such as "=HYPERLINK(…)" as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@login_required
@require_GET
def team_actions_csv(request: HttpRequest, team_id: int) -> HttpResponse:
    """The Actions page's rows, with the same filters, for a spreadsheet."""
    team, member = access.get_team(request.user, team_id)
    _, actions = _filtered(request.GET, team, member)
    today = timezone.localdate()
    filename = f"actions-{slugify(team.name) or 'team'}-{today:%Y-%m-%d}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # a byte order mark: Excel then reads the accents as UTF-8
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for a in actions:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    a.title,
                    a.owner.name,
                    a.owner.get_business_function_display(),
                    a.workshop.title,
                    a.workshop.date.isoformat(),
                    a.scenario.title if a.scenario else "",
                    ", ".join(a.phase_names),
                    " | ".join(n.text for n in a.notes.all()),
                    a.due_date.isoformat(),
                    a.get_status_display(),
                    "yes" if a.overdue else "",
                    request.build_absolute_uri(reverse("action-detail", args=[a.pk])),
                )
            ]
        )
    return response


# One action ---------------------------------------------------------------------------------------


def _detail(
    request: HttpRequest,
    action: Action,
    member: Membership,
    *,
    form: ActionStatusForm | None = None,
    replan: ActionReplanForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    notes = list(
        action.notes.select_related("phase", "micro_interaction", "scenario").order_by(
            "phase__order", "order", "pk"
        )
    )
    can_update = services.can_update_action(member, action)
    if form is None and can_update:
        form = ActionStatusForm(initial={"status": action.status, "version": action.version})
    can_replan = services.can_replan_action(member, action)
    if replan is None and can_replan:
        replan = ActionReplanForm(
            initial={"title": action.title, "owner": action.owner_id, "due_date": action.due_date,
                     "version": action.version},
            members=_seats(action),
            due=action.due_date,
        )
    context = {
        "action": action,
        "member": member,
        "notes": notes,
        "updates": list(action.updates.select_related("author__user")),
        "can_update": can_update,
        "form": form if can_update else None,
        "replan": replan if can_replan else None,
        "error": error,
        "overdue": action.is_overdue(),
        "due_today": action.is_due_today(),
    }
    return render(request, "workshops/action_detail.html", context, status=status)


@login_required
@require_GET
def action_detail(request: HttpRequest, pk: int) -> HttpResponse:
    action, member = access.get_action(request.user, pk)
    if action.owner_id == member.pk and not action.seen_by_owner:
        services.mark_actions_seen(user=request.user, action=action)  # its owner has seen it
    return _detail(request, action, member)


def _row(
    request: HttpRequest,
    action: Action,
    member: Membership,
    *,
    error: str = "",
    saved: bool = False,
    status: int = 200,
) -> HttpResponse:
    action = (
        Action.objects.select_related("workshop", "scenario", "owner__user")
        .prefetch_related(_notes())
        .get(pk=action.pk)
    )
    today = timezone.localdate()
    _annotate([action], member, today)
    next_url = _next_url(request, request.POST.get("next"), reverse("team-actions", args=[member.team_id]))
    context = {
        "action": action,
        "member": member,
        "today": today,
        "status_choices": ActionStatus.choices,
        "row_error": error,
        "row_saved": saved,
        "next": next_url,
    }
    if not saved:
        return render(request, "workshops/actions.html#action-row", context, status=status)
    # Saved: the counts above the list follow, for the filters the page shows and the rows it
    # shows (the saved row stays, even if it no longer passes them, until the list is filtered).
    team = member.team
    params = QueryDict(urlsplit(next_url).query)
    form, actions = _filtered(params, team, member)
    if all(a.pk != action.pk for a in actions):
        actions.append(action)
    context |= {"team": team, "actions": actions, "oob": True, **_tallies(form, actions)}
    return render(request, "workshops/actions.html#action-row-saved", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def action_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an action on, from its page (a plain form) or a row of the Actions page (htmx). (A
    GET, such as a reload of the page a refused form was shown on, goes to the action's page.)"""
    action, member = access.get_action(request.user, pk)
    if request.method == "GET":
        return redirect("action-detail", action.pk)
    in_row = bool(request.htmx) and (request.htmx.target or "").startswith("action-row-")
    form = ActionStatusForm(request.POST)
    if not form.is_valid():
        if in_row:
            return _row(
                request,
                action,
                member,
                error=" ".join(e for errs in form.errors.values() for e in errs),
                status=INVALID,
            )
        return _detail(request, action, member, form=form, status=INVALID)
    d = form.cleaned_data
    try:
        action = services.update_action_status(
            actor=member,
            action=action,
            status=d["status"],
            comment=d["comment"],
            version=d["version"],
        )
    except PermissionDenied as exc:
        if in_row:
            return _row(request, action, member, error=str(exc), status=403)
        raise
    except Conflict as exc:
        current = exc.current
        message = (
            f"{exc.message} It is now “{current.get_status_display()}”: your change was not saved. "
            "Check the history, then save again if it still applies."
        )
        if in_row:
            return _row(request, current, member, error=message, status=409)
        retry = ActionStatusForm(initial={**d, "version": current.version})
        return _detail(request, current, member, form=retry, error=message, status=409)
    except ValidationError as exc:
        if in_row:
            return _row(request, action, member, error=" ".join(exc.messages), status=INVALID)
        add_service_errors(form, exc)
        return _detail(request, action, member, form=form, status=INVALID)
    if in_row:
        return _row(request, action, member, saved=True)
    messages.success(request, f"“{action.title}” is now {action.get_status_display().lower()}.")
    return redirect(_next_url(request, d["next"], reverse("action-detail", args=[action.pk])))


def _seats(action: Action) -> list[Membership]:
    return list(access.workshop_seats(action.workshop).select_related("user").order_by("user__first_name", "pk"))


@login_required
@require_http_methods(["GET", "POST"])
def action_replan(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand an action to someone else, move its due date or rename it, from its page. (A GET goes
    to the action's page, as for `action_status`.)"""
    action, member = access.get_action(request.user, pk)
    if request.method == "GET":
        return redirect("action-detail", action.pk)
    if not services.can_replan_action(member, action):
        raise PermissionDenied("Only a manager or a facilitator can change who does an action, or by when.")
    seats = _seats(action)
    form = ActionReplanForm(request.POST, members=seats, due=action.due_date)
    if not form.is_valid():
        return _detail(request, action, member, replan=form, status=INVALID)
    d = form.cleaned_data
    try:
        action = services.replan_action(
            actor=member, action=action, title=d["title"], owner=next(m for m in seats if m.pk == d["owner"]),
            due_date=d["due_date"], comment=d["comment"], version=d["version"],
        )
    except Conflict as exc:
        message = (f"{exc.message} Your change was not saved: check the history, then save again if it "
                   "still applies.")
        data = request.POST.copy()
        data["version"] = exc.current.version
        retry = ActionReplanForm(data, members=seats, due=exc.current.due_date)
        return _detail(request, exc.current, member, replan=retry, error=message, status=409)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _detail(request, action, member, replan=form, status=INVALID)
    messages.success(request, f"Saved: {action.owner.name} owns “{action.title}”, due {date_format(action.due_date, 'j M Y')}.")
    return redirect("action-detail", action.pk)


# My actions and calendar links --------------------------------------------------------------------


def _feed_links(request: HttpRequest, member: Membership) -> dict[str, Any]:
    def url(scope: str) -> str:
        return request.build_absolute_uri(
            reverse("calendar-feed", args=[feeds.make_token(member, scope)])
        )

    personal, team = url(feeds.PERSONAL), url(feeds.TEAM)
    return {
        "team": member.team,
        # A guest's seat opens one workshop: its "team" feed holds that workshop's actions only.
        "team_label": f"All the actions of {member.workshop.title}" if member.is_guest else "All the team's actions",
        "personal": personal,
        "personal_webcal": "webcal://" + personal.split("://", 1)[1],
        "team_url": team,
        "team_webcal": "webcal://" + team.split("://", 1)[1],
    }


@login_required
@require_GET
def my_actions(request: HttpRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(user=request.user, revoked_at__isnull=True)
        .select_related("team", "workshop")
        .order_by("team__name", "pk")
    )
    context = {
        **workshops_render.my_actions_context(request.user),
        "version": workshops_render.my_actions_version(request.user),
        "calendar_feeds": [_feed_links(request, m) for m in memberships],
        "next": request.get_full_path(),
    }
    services.mark_actions_seen(user=request.user)  # shown as new this once
    return render(request, "workshops/my_actions.html", context)


@login_required
@require_POST
def calendar_reset(request: HttpRequest) -> HttpResponse:
    form = CalendarResetForm(request.POST)
    if not form.is_valid():
        raise Http404
    _, member = access.get_team(request.user, form.cleaned_data["team"])
    services.reset_calendar_links(actor=member)
    messages.success(
        request,
        "Your calendar links are new: the old ones no longer work. "
        "Subscribe again with the links below.",
    )
    return redirect(_next_url(request, form.cleaned_data["next"], reverse("my-actions")))


@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A feed for calendar apps, which send no cookies: the signed token in its address is a key."""
    found = feeds.read_token(token)
    if found is None:
        raise Http404
    member, scope = found
    body = feeds.calendar(
        name=feeds.feed_name(member, scope),
        actions=feeds.feed_actions(member, scope),
        link=lambda a: request.build_absolute_uri(reverse("action-detail", args=[a.pk])),
        domain=split_domain_port(request.get_host())[0] or "journeymap",
        with_owner=scope == feeds.TEAM,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="journeymap-{scope}.ics"'
    response["Cache-Control"] = "private, max-age=900"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# Workshop summary and follow-up -------------------------------------------------------------------


def next_session(workshop: Workshop, member: Membership) -> dict[str, Any]:
    """The sessions that follow `workshop` up, the latest of them, and whether this person may
    plan one: a facilitator, once the workshop is closed and has no follow-up yet (after that,
    the chain goes on from the latest follow-up)."""
    follow_ups = list(workshop.follow_ups.order_by("date", "pk"))
    return {
        "follow_ups": follow_ups,
        "next_session": follow_ups[-1] if follow_ups else None,
        "can_plan_next": (
            member.is_facilitator and workshop.status == WorkshopStatus.CLOSED and not follow_ups
        ),
    }


def _summary_context(workshop: Workshop, member: Membership) -> dict[str, Any]:
    scenarios = list(workshop.scenarios.select_related("persona").order_by("pk"))
    board_insights.annotate_summary(scenarios)
    latest_revealed: dict[int, VotingRound] = {}
    for voting in (
        VotingRound.objects.filter(scenario__in=scenarios, status=VotingStatus.REVEALED)
        .select_related("phase")
        .order_by("-opened", "-pk")
    ):
        latest_revealed.setdefault(voting.scenario_id, voting)
    moments: dict[int, list[MicroInteraction]] = defaultdict(list)
    for mi in (
        MicroInteraction.objects.filter(phase__scenario__in=scenarios)
        .exclude(moment_of_truth=MomentOfTruth.NONE)
        .select_related("phase")
        .order_by("phase__order", "order")
    ):
        moments[mi.phase.scenario_id].append(mi)
    flagged = board_insights.moment_notes(scenarios)
    today = timezone.localdate()
    actions = list(
        Action.objects.filter(workshop=workshop)
        .select_related("workshop", "owner__user")
        .prefetch_related(_notes())
        .order_by("due_date", "pk")
    )
    _annotate(actions, member, today)
    by_scenario: dict[int | None, list[Action]] = defaultdict(list)
    for action in actions:
        by_scenario[action.scenario_id].append(action)
    for scenario in scenarios:
        # A board's vote results take a few queries of their own: boards.render builds them.
        voting = latest_revealed.get(scenario.pk)
        scenario.results = (
            board_render.results_context(scenario, voting=voting)["results"] if voting else None
        )
        if scenario.results:
            labels = scenario.results["columns"]
            for row in scenario.results["ranking"]:
                row["by_function"] = [
                    (label, n) for label, n in zip(labels, row["breakdown"], strict=True) if n
                ]
        scenario.moments = moments[scenario.pk]
        scenario.flagged_moments = flagged[scenario.pk]
        scenario.action_list = by_scenario[scenario.pk]
    return {
        "workshop": workshop,
        "team": workshop.team,
        "member": member,
        "scenarios": scenarios,
        "other_actions": by_scenario[None],
        **next_session(workshop, member),
        "today": today,
        # A guest's seat opens this workshop only: not the earlier sessions' actions.
        **(workshops_render.review_first(workshop) if not member.is_guest else {"previous_workshop": None, "review_actions": [], "closed_since": []}),
    }


def _summary(
    request: HttpRequest,
    workshop: Workshop,
    member: Membership,
    *,
    form: PlanNextForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = _summary_context(workshop, member)
    if context["can_plan_next"] and form is None:
        next_date = max(timezone.localdate(), workshop.date) + datetime.timedelta(days=28)
        form = PlanNextForm(
            initial={"title": f"Follow-up: {workshop.title}"[:160], "date": next_date}
        )
    context["plan_form"] = form
    return render(request, "workshops/summary.html", context, status=status)


@login_required
@require_GET
def workshop_summary(request: HttpRequest, pk: int) -> HttpResponse:
    workshop, member = access.get_workshop(request.user, pk)
    return _summary(request, workshop, member)


@login_required
@require_POST
def workshop_plan_next(request: HttpRequest, pk: int) -> HttpResponse:
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    form = PlanNextForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            new = services.plan_next_workshop(
                actor=member, workshop=workshop, title=d["title"], date=d["date"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"“{new.title}” is planned, with the same boards and no notes. "
                f"It starts with the open actions of “{workshop.title}”.",
            )
            return redirect("workshop-detail", new.pk)
    return _summary(request, workshop, member, form=form, status=INVALID)
