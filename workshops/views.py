"""Team, workshop, persona and scenario pages. Each write calls one service function.

Objects are fetched through the signed-in user's teams (workshops.access: 404 outside them);
only facilitators may create or edit (403), and the services check it again.
Invalid forms are shown again with their errors and status 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boards import services as board_services
from boards.models import Scenario
from workshops import access, services
from workshops.forms import (
    MemberAddForm,
    MemberEditForm,
    PersonaForm,
    ScenarioCreateForm,
    ScenarioEditForm,
    TeamCreateForm,
    TeamForm,
    WorkshopCreateForm,
    WorkshopEditForm,
    add_service_errors,
)
from workshops.models import Membership, Persona, Role, Segment, Team, Workshop, WorkshopStatus

INVALID = 422
ROLE_ORDER = {Role.FACILITATOR: 0, Role.MANAGER: 1, Role.PARTICIPANT: 2}


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], form: Form | None = None
) -> HttpResponse:
    """Render a page; 422 when it is shown again because a form on it was invalid."""
    status = INVALID if form is not None and form.is_bound and form.errors else 200
    return render(request, f"workshops/{template}", context, status=status)


def _saved(form: Form, call: Callable[[dict[str, Any]], Any]) -> Any | None:
    """Run a service call for a valid form; put its ValidationError on the form instead."""
    if not form.is_valid():
        return None
    try:
        return call(form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None


# Home ------------------------------------------------------------------------------------------

STATUS_GROUPS = [
    (WorkshopStatus.LIVE, "Live now"),
    (WorkshopStatus.PLANNED, "Planned"),
    (WorkshopStatus.CLOSED, "Closed"),
]


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The user's teams, and their workshops grouped by status (or one status with ?status=)."""
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("team")
        .order_by("team__name", "pk")
    )
    workshops = list(
        Workshop.objects.filter(team__memberships__user=request.user)
        .select_related("team", "follows_up")
        .prefetch_related(
            Prefetch("scenarios", queryset=Scenario.objects.select_related("persona"))
        )
    )
    status = request.GET.get("status", "")
    if status not in WorkshopStatus.values:
        status = ""
    counts = {value: 0 for value in WorkshopStatus.values}
    for w in workshops:
        counts[w.status] += 1
    groups = []
    for value, heading in STATUS_GROUPS:
        if status and value != status:
            continue
        items = [w for w in workshops if w.status == value]
        if not items and not status:
            continue  # unfiltered, show only the statuses that have workshops
        if value == WorkshopStatus.PLANNED:
            items.sort(key=lambda w: (w.date, w.pk))  # the next one first
        groups.append({"status": value, "heading": heading, "workshops": items})
    filters = [("", "All", len(workshops))] + [(v, h, counts[v]) for v, h in STATUS_GROUPS]
    facilitated = [m for m in memberships if m.is_facilitator]
    return render(
        request,
        "workshops/home.html",
        {
            "memberships": memberships,
            "facilitated": facilitated,
            "groups": groups,
            "filters": filters,
            "status": status,
            "workshop_count": len(workshops),
        },
    )


# Teams -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST":
        team = _saved(
            form,
            lambda d: services.create_team(
                user=request.user,
                name=d["name"],
                business_function=d["business_function"],
                display_name=d["display_name"],
            ),
        )
        if team is not None:
            messages.success(
                request, f"“{team.name}” is ready. Add the people who will map journeys with you."
            )
            return redirect("team-detail", team.pk)
    return _page(request, "team_new.html", {"form": form}, form)


def _team_page(
    request: HttpRequest,
    team: Team,
    member: Membership,
    *,
    team_form: TeamForm | None = None,
    member_form: MemberAddForm | None = None,
) -> HttpResponse:
    members = sorted(
        team.memberships.select_related("user"),
        key=lambda m: (ROLE_ORDER.get(m.role, 9), m.name.lower()),
    )
    context = {
        "team": team,
        "member": member,
        "members": members,
        "workshops": list(team.workshops.all()[:5]),
        "team_form": team_form or TeamForm(initial={"name": team.name}),
        "member_form": member_form or MemberAddForm(),
    }
    return _page(request, "team_detail.html", context, team_form or member_form)


@login_required
@require_GET
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    return _team_page(request, team, member)


@login_required
@require_POST
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    access.require_facilitator(member)
    form = TeamForm(request.POST)
    saved = _saved(form, lambda d: services.update_team(actor=member, team=team, name=d["name"]))
    if saved is None:
        return _team_page(request, team, member, team_form=form)
    messages.success(request, "Team name saved.")
    return redirect("team-detail", team.pk)


@login_required
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    access.require_facilitator(member)
    form = MemberAddForm(request.POST)
    added = _saved(
        form,
        lambda d: services.add_member(
            actor=member,
            team=team,
            username=d["username"],
            display_name=d["display_name"],
            role=d["role"],
            business_function=d["business_function"],
            password=d["password"],
        ),
    )
    if added is None:
        return _team_page(request, team, member, member_form=form)
    messages.success(request, f"{added.name} can now sign in as “{added.user.get_username()}”.")
    return redirect("team-detail", team.pk)


@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    access.require_facilitator(member)
    target = team.memberships.select_related("user").filter(pk=member_pk).first()
    if target is None:
        raise Http404
    target.team = team
    if request.method == "POST":
        form = MemberEditForm(request.POST)
        saved = _saved(
            form,
            lambda d: services.update_member(
                actor=member,
                membership=target,
                display_name=d["display_name"],
                role=d["role"],
                business_function=d["business_function"],
            ),
        )
        if saved is not None:
            messages.success(request, f"{saved.name}'s details are saved.")
            return redirect("team-detail", team.pk)
    else:
        form = MemberEditForm(
            initial={
                "display_name": target.display_name,
                "role": target.role,
                "business_function": target.business_function,
            }
        )
    return _page(
        request,
        "member_edit.html",
        {"team": team, "member": member, "target": target, "form": form},
        form,
    )


# Workshops -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def workshop_create(request: HttpRequest, pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    access.require_facilitator(member)
    earlier = team.workshops.all()
    if request.method == "POST":
        form = WorkshopCreateForm(request.POST, earlier=earlier)
        workshop = _saved(
            form,
            lambda d: services.create_workshop(
                actor=member,
                team=team,
                title=d["title"],
                date=d["date"],
                follows_up=d["follows_up"],
            ),
        )
        if workshop is not None:
            messages.success(
                request, f"“{workshop.title}” is planned. Add the scenarios you will map."
            )
            return redirect("workshop-detail", workshop.pk)
    else:
        today = timezone.localdate()
        previous = earlier.filter(date__lt=today).first()
        form = WorkshopCreateForm(earlier=earlier, initial={"date": today, "follows_up": previous})
    return _page(request, "workshop_new.html", {"team": team, "member": member, "form": form}, form)


def _workshop_page(
    request: HttpRequest,
    workshop: Workshop,
    member: Membership,
    *,
    edit_form: WorkshopEditForm | None = None,
    scenario_form: ScenarioCreateForm | None = None,
) -> HttpResponse:
    team_personas = Persona.objects.filter(team_id=workshop.team_id)
    context: dict[str, Any] = {
        "workshop": workshop,
        "team": workshop.team,
        "member": member,
        "scenarios": list(workshop.scenarios.select_related("persona")),
        "personas": list(team_personas),
        "follow_ups": list(workshop.follow_ups.all()),
    }
    if member.is_facilitator:
        others = Workshop.objects.filter(team_id=workshop.team_id).exclude(pk=workshop.pk)
        context["edit_form"] = edit_form or WorkshopEditForm(
            earlier=others,
            initial={
                "title": workshop.title,
                "date": workshop.date,
                "status": workshop.status,
                "follows_up": workshop.follows_up_id,
            },
        )
        context["scenario_form"] = scenario_form or ScenarioCreateForm(personas=team_personas)
    return _page(request, "workshop_detail.html", context, edit_form or scenario_form)


@login_required
@require_GET
def workshop_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workshop, member = access.get_workshop(request.user, pk)
    return _workshop_page(request, workshop, member)


@login_required
@require_POST
def workshop_edit(request: HttpRequest, pk: int) -> HttpResponse:
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    others = Workshop.objects.filter(team_id=workshop.team_id).exclude(pk=workshop.pk)
    form = WorkshopEditForm(request.POST, earlier=others)
    saved = _saved(
        form,
        lambda d: services.update_workshop(
            actor=member,
            workshop=workshop,
            title=d["title"],
            date=d["date"],
            status=d["status"],
            follows_up=d["follows_up"],
        ),
    )
    if saved is None:
        return _workshop_page(request, workshop, member, edit_form=form)
    messages.success(request, "Workshop saved.")
    return redirect("workshop-detail", workshop.pk)


# Scenarios -------------------------------------------------------------------------------------


@login_required
@require_POST
def scenario_create(request: HttpRequest, pk: int) -> HttpResponse:
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    form = ScenarioCreateForm(
        request.POST, personas=Persona.objects.filter(team_id=workshop.team_id)
    )
    scenario = _saved(
        form,
        lambda d: board_services.create_scenario(
            actor=member,
            workshop=workshop,
            title=d["title"],
            description=d["description"],
            persona=d["persona"],
            template_key=d["template"],
        ),
    )
    if scenario is None:
        return _workshop_page(request, workshop, member, scenario_form=form)
    messages.success(request, f"The board for “{scenario.title}” is ready.")
    return redirect("board", scenario.pk)


@login_required
@require_http_methods(["GET", "POST"])
def scenario_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scenario, member = access.get_scenario(request.user, pk)
    access.require_facilitator(member)
    personas = Persona.objects.filter(team_id=scenario.workshop.team_id)
    if request.method == "POST":
        form = ScenarioEditForm(request.POST, personas=personas)
        saved = _saved(
            form,
            lambda d: board_services.update_scenario(
                actor=member,
                scenario=scenario,
                title=d["title"],
                description=d["description"],
                persona=d["persona"],
            ),
        )
        if saved is not None:
            messages.success(request, f"“{saved.title}” saved.")
            return redirect("workshop-detail", scenario.workshop_id)
    else:
        form = ScenarioEditForm(
            personas=personas,
            initial={
                "title": scenario.title,
                "description": scenario.description,
                "persona": scenario.persona_id,
            },
        )
    context = {"scenario": scenario, "team": scenario.workshop.team, "member": member, "form": form}
    return _page(request, "scenario_edit.html", context, form)


# Personas --------------------------------------------------------------------------------------


@login_required
@require_GET
def persona_list(request: HttpRequest, pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    personas = list(team.personas.annotate(scenario_count=Count("scenarios")))
    return render(
        request,
        "workshops/persona_list.html",
        {"team": team, "member": member, "personas": personas},
    )


def _persona_context(
    team: Team, member: Membership, form: PersonaForm, persona: Persona | None
) -> dict[str, Any]:
    return {
        "team": team,
        "member": member,
        "form": form,
        "persona": persona,
        "segments": Segment.values,
    }


def _persona_data(d: dict[str, Any]) -> dict[str, str]:
    return {k: d[k] for k in ("name", "segment", "goals", "expectations", "bio")}


@login_required
@require_http_methods(["GET", "POST"])
def persona_create(request: HttpRequest, pk: int) -> HttpResponse:
    team, member = access.get_team(request.user, pk)
    access.require_facilitator(member)
    form = PersonaForm(request.POST or None)
    if request.method == "POST":
        persona = _saved(
            form, lambda d: services.create_persona(actor=member, team=team, **_persona_data(d))
        )
        if persona is not None:
            messages.success(request, f"{persona.name} joins the team's personas.")
            return redirect("persona-list", team.pk)
    return _page(request, "persona_form.html", _persona_context(team, member, form, None), form)


@login_required
@require_http_methods(["GET", "POST"])
def persona_edit(request: HttpRequest, pk: int) -> HttpResponse:
    persona, member = access.get_persona(request.user, pk)
    access.require_facilitator(member)
    if request.method == "POST":
        form = PersonaForm(request.POST)
        saved = _saved(
            form,
            lambda d: services.update_persona(actor=member, persona=persona, **_persona_data(d)),
        )
        if saved is not None:
            messages.success(request, f"{saved.name} saved.")
            return redirect("persona-list", persona.team_id)
    else:
        form = PersonaForm(initial=_persona_data(persona.__dict__))
    return _page(
        request, "persona_form.html", _persona_context(member.team, member, form, persona), form
    )
