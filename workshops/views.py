"""Team, workshop, persona and scenario pages. Each write calls one service function.

Objects are fetched through the signed-in user's teams (workshops.access: 404 outside them);
only facilitators may create or edit (403), and the services check it again.
Invalid forms are shown again with their errors and status 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from boards import services as board_services
from boards.models import Scenario
from journeymap import ratelimits
from workshops import access, action_views, invitations, services
from workshops import render as workshops_render
from workshops.forms import (
    InvitationForm,
    JoinForm,
    MemberAddForm,
    MemberEditForm,
    PersonaForm,
    ScenarioCreateForm,
    ScenarioEditForm,
    TeamCreateForm,
    TeamForm,
    WorkshopCreateForm,
    WorkshopEditForm,
    WorkshopStatusForm,
    add_service_errors,
)
from workshops.models import (
    Invitation,
    Membership,
    Persona,
    Role,
    Segment,
    Team,
    Workshop,
    WorkshopStatus,
)

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
    """The user's teams, and their workshops grouped by status (or one status with ?status=).

    A guest, whose only seat is one workshop's, goes straight to that workshop."""
    memberships = list(
        access.team_memberships(request.user).select_related("team").order_by("team__name", "pk")
    )
    if not memberships:
        guest_seat = _guest_landing(request.user)
        if guest_seat is not None:
            return guest_seat
    workshops = list(
        access.visible_workshops(request.user)
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


def _guest_landing(user) -> HttpResponse | None:
    """Where a guest-only account goes instead of the list of workshops: its workshop, or a
    clear 403 when every guest seat it had was withdrawn."""
    seats = list(access.guest_memberships(user).order_by("revoked_at", "-created"))
    if not seats:
        return None
    if seats[0].revoked_at is None:
        return redirect(_landing(seats[0].workshop))
    raise PermissionDenied(access.REVOKED_MESSAGE)


# Teams -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    if (
        access.guest_memberships(request.user).exists()
        and not access.team_memberships(request.user).exists()
    ):
        raise PermissionDenied("A guest account takes part in one workshop; it can't start a team.")
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
        team.memberships.filter(workshop__isnull=True).select_related("user"),
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
    # Guests are managed on their workshop's page.
    target = (
        team.memberships.select_related("user").filter(pk=member_pk, workshop__isnull=True).first()
    )
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
        # A first workshop unless the facilitator says otherwise ("Plan next session" on a closed
        # workshop makes a follow-up with everything filled in).
        form = WorkshopCreateForm(earlier=earlier, initial={"date": timezone.localdate()})
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
        **action_views.next_session(workshop, member),
        # The open actions a follow-up session reviews first (not for a guest's one-workshop seat).
        **(workshops_render.review_first(workshop) if not member.is_guest else {}),
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
        context["guests"] = list(
            workshop.guests.select_related("user").order_by("revoked_at", "display_name", "pk")
        )
        context["guests_removed"] = sum(1 for g in context["guests"] if g.revoked_at is not None)
        context["guests_in"] = len(context["guests"]) - context["guests_removed"]
        now = timezone.now()
        context["open_invitations"] = 0 if workshop.status == WorkshopStatus.CLOSED else workshop.invitations.filter(
            revoked_at__isnull=True, expires_at__gt=now
        ).count()
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


STATUS_SAVED = {
    WorkshopStatus.LIVE: "The workshop is live.",
    WorkshopStatus.CLOSED: "The workshop is closed: its boards take notes from facilitators only.",
    WorkshopStatus.PLANNED: "The workshop is planned again.",
}


@login_required
@require_POST
def workshop_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Go live, close or reopen the workshop in one click; everything else stays as it is."""
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    form = WorkshopStatusForm(request.POST)
    if not form.is_valid():
        error = "Pick planned, live or closed."
    else:
        try:
            services.update_workshop(actor=member, workshop=workshop, title=workshop.title, date=workshop.date,
                                     status=form.cleaned_data["status"], follows_up=workshop.follows_up)
            error = ""
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if request.htmx:  # from a board's session bar: its boards say the new status themselves
        return HttpResponse(escape(error), status=422) if error else HttpResponse(status=204)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, STATUS_SAVED[form.cleaned_data["status"]])
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
            # Back where the facilitator came from (a workshop's "create one"), or to the list.
            return redirect(action_views._next_url(request, request.POST.get("next"), reverse("persona-list", args=[team.pk])))
    context = _persona_context(team, member, form, None)
    context["next"] = request.POST.get("next") or request.GET.get("next", "")
    return _page(request, "persona_form.html", context, form)


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


# Signing in --------------------------------------------------------------------------------------

_login = LoginView.as_view()


def _username_key(group: str, request: HttpRequest) -> str:
    return "username:" + request.POST.get("username", "").strip().casefold()[:150]


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Django's sign-in, with rate limits per address and per username (429 past them)."""
    if request.method == "POST":
        # Both limits count every attempt, so neither can be used to skip the other.
        over_address = ratelimits.hit(request, "login_ip", key="ip")
        over_username = ratelimits.hit(request, "login_username", key=_username_key)
        if over_address or over_username:
            form = AuthenticationForm(
                request, initial={"username": request.POST.get("username", "")[:150]}
            )
            context = {
                "form": form,
                "next": request.POST.get("next", ""),
                "rate_limited": ratelimits.MESSAGES["login"],
            }
            response = render(
                request, "registration/login.html", context, status=ratelimits.TOO_MANY_REQUESTS
            )
            response["Retry-After"] = str(ratelimits.RETRY_AFTER_SECONDS)
            return response
    return _login(request)


# Invitations (facilitators) and joining with a link (guests) ------------------------------------

JOIN_SESSION_KEY = "journeymap.join"
NO_LINK = invitations.Verdict(
    None,
    404,
    "Open your invitation link again",
    "Scan the QR code or open the link the facilitator shared: it brings you to the right workshop.",
)

REMOVED = invitations.Verdict(
    None,
    403,
    "You were removed from this workshop",
    "Ask the facilitator if you should still take part.",
)


def _no_store(response: HttpResponse) -> HttpResponse:
    """Pages about an invitation: never kept in a cache or the back-forward history."""
    add_never_cache_headers(response)
    return response


def _no_referrer(response: HttpResponse) -> HttpResponse:
    """Answers to an address that holds a token: it is sent as a referrer nowhere, not even to
    this site (a redirect's policy also governs the request it leads to).

    Pages with a form keep the site's same-origin policy instead: under no-referrer, browsers
    send `Origin: null` with the form's POST, which the CSRF check rightly refuses.
    """
    response["Referrer-Policy"] = "no-referrer"
    return _no_store(response)


def _landing(workshop: Workshop) -> str:
    """Where someone who joins a workshop lands: its board when it has just one, else its page."""
    boards = list(workshop.scenarios.order_by("pk").values_list("pk", flat=True)[:2])
    if len(boards) == 1:
        return reverse("board", args=[boards[0]])
    return reverse("workshop-detail", args=[workshop.pk])


def _fresh_link(request: HttpRequest, invitation: Invitation, token: str) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("join-link", args=[token]))
    return {"invitation": invitation, "url": url, "qr": invitations.qr_svg(url)}


def _invitations_page(
    request: HttpRequest,
    workshop: Workshop,
    member: Membership,
    *,
    form: InvitationForm | None = None,
    fresh: dict[str, Any] | None = None,
) -> HttpResponse:
    now = timezone.now()
    links = list(
        workshop.invitations.select_related("created_by__user").annotate(joined=Count("guests"))
    )
    for link in links:
        link.verdict = invitations.judge(link, now)
    context = {
        "workshop": workshop,
        "team": workshop.team,
        "member": member,
        "form": form or InvitationForm(),
        "fresh": fresh,
        "links": links,
        "hours_max": services.INVITATION_HOURS_MAX,
    }
    return _no_store(_page(request, "invitations.html", context, form))


@login_required
@require_http_methods(["GET", "POST"])
def invitation_list(request: HttpRequest, pk: int) -> HttpResponse:
    """A workshop's invitation links; a new one is shown with its QR code when made."""
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    if request.method == "POST":
        form = InvitationForm(request.POST)
        made = _saved(
            form,
            lambda d: services.create_invitation(actor=member, workshop=workshop, hours=d["hours"]),
        )
        if made is None:
            return _invitations_page(request, workshop, member, form=form)
        return _invitations_page(request, workshop, member, fresh=_fresh_link(request, *made))
    return _invitations_page(request, workshop, member)


@login_required
@require_GET
def invitation_show(request: HttpRequest, pk: int) -> HttpResponse:
    """A link and its QR code shown again, for the projector at the next session."""
    invitation, member = access.get_invitation(request.user, pk)
    access.require_facilitator(member)
    if not invitations.judge(invitation).usable:
        messages.error(request, "This link no longer works: create a new one.")
        return redirect("invitation-list", invitation.workshop_id)
    token = invitations.shown_token(invitation)
    if token is None:
        messages.error(request, "This link can't be shown again: replace it to get a new one.")
        return redirect("invitation-list", invitation.workshop_id)
    return _invitations_page(
        request, invitation.workshop, member, fresh=_fresh_link(request, invitation, token)
    )


@login_required
@require_POST
def invitation_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    """A new token for a link: the old link and its QR code stop working at once."""
    invitation, member = access.get_invitation(request.user, pk)
    access.require_facilitator(member)
    try:
        rotated, token = services.rotate_invitation(actor=member, invitation=invitation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("invitation-list", invitation.workshop_id)
    return _invitations_page(
        request, invitation.workshop, member, fresh=_fresh_link(request, rotated, token)
    )


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation, member = access.get_invitation(request.user, pk)
    access.require_facilitator(member)
    services.revoke_invitation(actor=member, invitation=invitation)
    messages.success(
        request, "The link no longer works. Guests who already joined stay until you remove them."
    )
    return redirect("invitation-list", invitation.workshop_id)


@login_required
@require_POST
def guest_revoke(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    """Remove a guest: their next request answers 403 and their open board closes."""
    workshop, member = access.get_workshop(request.user, pk)
    access.require_facilitator(member)
    guest = workshop.guests.select_related("user").filter(pk=member_pk).first()
    if guest is None:
        raise Http404
    services.revoke_guest(actor=member, membership=guest)
    messages.success(request, f"{guest.name} no longer has access to this workshop.")
    return redirect("workshop-detail", workshop.pk)


def _join_refused(request: HttpRequest, verdict: invitations.Verdict) -> HttpResponse:
    context = {"title": verdict.title, "message": verdict.message}
    return _no_referrer(render(request, "workshops/join_gone.html", context, status=verdict.status))


def _seat_in(user, workshop: Workshop) -> Membership | None:
    """The signed-in user's seat that already opens this workshop (revoked or not), if any."""
    if not user.is_authenticated:
        return None
    seat = Membership.objects.filter(user=user, team_id=workshop.team_id).first()
    if seat is None or seat.workshop_id not in (None, workshop.pk):
        return None
    return seat


@require_GET
def join_link(request: HttpRequest, token: str) -> HttpResponse:
    """An invitation link: remember it in the session and move on to /join/ at once, so the
    token leaves the address bar (and the history) before anything else loads."""
    if ratelimits.hit(request, "join_link_ip", key="ip"):
        return _no_referrer(ratelimits.too_many(request, ratelimits.MESSAGES["join"]))
    verdict = invitations.find(token)
    if not verdict.usable:
        return _join_refused(request, verdict)
    request.session[JOIN_SESSION_KEY] = {
        "invitation": verdict.invitation.pk,
        "hash": verdict.invitation.token_hash,
    }
    return _no_referrer(redirect("join"))


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    """Join the workshop of the link just opened: a display name and a business function."""
    pending = request.session.get(JOIN_SESSION_KEY)
    if not isinstance(pending, dict):
        return _join_refused(request, NO_LINK)
    verdict = invitations.find_by_hash(pending.get("invitation"), pending.get("hash", ""))
    if not verdict.usable:
        request.session.pop(JOIN_SESSION_KEY, None)
        return _join_refused(request, verdict)
    workshop = verdict.invitation.workshop
    seat = _seat_in(request.user, workshop)
    if seat is not None:
        if seat.revoked_at is not None:
            return _join_refused(request, REMOVED)
        request.session.pop(JOIN_SESSION_KEY, None)
        messages.info(request, f"You're already in “{workshop.title}”.")
        return redirect(_landing(workshop))
    status = 200
    limited = ""
    if request.method == "POST":
        form = JoinForm(request.POST)
        if ratelimits.hit(request, "join_ip", key="ip"):
            limited, status = ratelimits.MESSAGES["join"], ratelimits.TOO_MANY_REQUESTS
        else:
            try:
                guest = _saved(
                    form,
                    lambda d: services.join_workshop(
                        invitation=verdict.invitation,
                        token_hash=pending["hash"],
                        display_name=d["display_name"],
                        business_function=d["business_function"],
                    ),
                )
            except PermissionDenied:
                # Revoked, rotated or expired while the form was open.
                request.session.pop(JOIN_SESSION_KEY, None)
                now_verdict = invitations.find_by_hash(verdict.invitation.pk, pending["hash"])
                return _join_refused(
                    request, invitations.UNKNOWN if now_verdict.usable else now_verdict
                )
            if guest is not None:
                request.session.pop(JOIN_SESSION_KEY, None)
                login(request, guest.user, backend=settings.AUTHENTICATION_BACKENDS[0])
                messages.success(
                    request, f"Welcome, {guest.name}. Add what you see and hear from your clients."
                )
                return _no_store(redirect(_landing(workshop)))
            status = INVALID
    else:
        form = JoinForm()
    context = {"workshop": workshop, "team": workshop.team, "form": form, "limited": limited}
    response = render(request, "workshops/join.html", context, status=status)
    if limited:
        response["Retry-After"] = str(ratelimits.RETRY_AFTER_SECONDS)
    return _no_store(response)
