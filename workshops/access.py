"""Access helpers: fetch an object only through the signed-in user's teams (404 outside them)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from boards.models import MicroInteraction, Note, Phase, Scenario
from workshops.models import Action, Membership, Persona, Team, Workshop


def membership(user: AbstractBaseUser | AnonymousUser, team_id: int) -> Membership:
    """The user's membership of a team, or 404: other teams' objects don't exist for them."""
    if not user.is_authenticated:
        raise Http404
    found = Membership.objects.select_related("user", "team").filter(user=user, team_id=team_id).first()
    if found is None:
        raise Http404
    return found


def _get(queryset, pk: Any):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def get_team(user, pk: int) -> tuple[Team, Membership]:
    m = membership(user, pk)
    return m.team, m


def get_workshop(user, pk: int) -> tuple[Workshop, Membership]:
    workshop = _get(Workshop.objects.select_related("team"), pk)
    return workshop, membership(user, workshop.team_id)


def get_persona(user, pk: int) -> tuple[Persona, Membership]:
    persona = _get(Persona.objects.all(), pk)
    return persona, membership(user, persona.team_id)


def get_scenario(user, pk: int) -> tuple[Scenario, Membership]:
    scenario = _get(Scenario.objects.select_related("workshop__team", "persona"), pk)
    return scenario, membership(user, scenario.workshop.team_id)


def get_phase(user, pk: int) -> tuple[Phase, Membership]:
    phase = _get(Phase.objects.select_related("scenario__workshop"), pk)
    return phase, membership(user, phase.scenario.workshop.team_id)


def get_interaction(user, pk: int) -> tuple[MicroInteraction, Membership]:
    mi = _get(MicroInteraction.objects.select_related("phase__scenario__workshop"), pk)
    return mi, membership(user, mi.phase.scenario.workshop.team_id)


def get_note(user, pk: int) -> tuple[Note, Membership]:
    note = _get(Note.objects.select_related("scenario__workshop", "author__user"), pk)
    return note, membership(user, note.scenario.workshop.team_id)


def get_action(user, pk: int) -> tuple[Action, Membership]:
    action = _get(Action.objects.select_related("workshop", "owner__user"), pk)
    return action, membership(user, action.workshop.team_id)


def board_membership(user, scenario_id: int) -> Membership | None:
    """The user's membership of a board's team, or None: what the board's websocket checks."""
    if not user or not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("user")
        .filter(user=user, team__workshops__scenarios__pk=scenario_id)
        .first()
    )


def require_facilitator(m: Membership) -> None:
    if not m.is_facilitator:
        raise PermissionDenied("Only a facilitator can do this.")
