"""Access helpers: fetch an object only through the signed-in user's teams (404 outside them).

A guest who joined with an invitation link holds a seat scoped to one workshop: everything
else of the team (its other workshops, their boards, notes and actions, the team's own pages)
answers 404 for them. A revoked seat answers 403 on every request, and the board's websocket
refuses it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from boards.models import MicroInteraction, Note, Phase, Scenario
from journeymap.joined import Join, JoinedRead
from workshops.models import Action, Invitation, Membership, Persona, Team, Workshop

User = get_user_model()

REVOKED_MESSAGE = (
    "Your access here was withdrawn. Ask the facilitator if you should still take part."
)


def membership(
    user: AbstractBaseUser | AnonymousUser, team_id: int, workshop_id: int | None = None
) -> Membership:
    """The user's membership of a team, or 404: other teams' objects don't exist for them.

    `workshop_id` is the workshop the object belongs to (None for the team's own objects):
    a guest's seat opens that one workshop only. A revoked seat raises PermissionDenied.
    """
    if not user.is_authenticated:
        raise Http404
    try:
        found = Membership.objects.select_related("team").get(user=user, team_id=team_id)
    except Membership.DoesNotExist:
        raise Http404 from None
    found.user = user  # the signed-in user, read already: not joined again
    return check_scope(found, workshop_id)


def check_scope(found: Membership, workshop_id: int | None) -> Membership:
    if found.workshop_id is not None and found.workshop_id != workshop_id:
        raise Http404
    if found.revoked_at is not None:
        raise PermissionDenied(REVOKED_MESSAGE)
    return found


def _get(queryset, pk: Any):
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404 from None


def get_team(user, pk: int) -> tuple[Team, Membership]:
    m = membership(user, pk)
    return m.team, m


def get_workshop(user, pk: int) -> tuple[Workshop, Membership]:
    workshop = _get(Workshop.objects.select_related("team"), pk)
    return workshop, membership(user, workshop.team_id, workshop.pk)


def get_persona(user, pk: int) -> tuple[Persona, Membership]:
    persona = _get(Persona.objects.all(), pk)
    return persona, membership(user, persona.team_id)


def get_scenario(user, pk: int) -> tuple[Scenario, Membership]:
    scenario = _get(Scenario.objects.select_related("workshop__team", "persona"), pk)
    return scenario, membership(user, scenario.workshop.team_id, scenario.workshop_id)


def get_phase(user, pk: int) -> tuple[Phase, Membership]:
    phase = _get(Phase.objects.select_related("scenario__workshop"), pk)
    return phase, membership(user, phase.scenario.workshop.team_id, phase.scenario.workshop_id)


def get_interaction(user, pk: int) -> tuple[MicroInteraction, Membership]:
    mi = _get(MicroInteraction.objects.select_related("phase__scenario__workshop"), pk)
    return mi, membership(user, mi.phase.scenario.workshop.team_id, mi.phase.scenario.workshop_id)


# The note with its board, workshop and author, and the user's seat in the workshop's team, with
# the seat's team: what `membership` reads, in the same statement (see journeymap.joined).
_NOTE_AND_SEAT = JoinedRead(Note, "n", [
    Join("s", Scenario, "{s}.id = {n}.scenario_id", parent="n", field="scenario"),
    Join("w", Workshop, "{w}.id = {s}.workshop_id", parent="s", field="workshop"),
    Join("a", Membership, "{a}.id = {n}.author_id", outer=True, parent="n", field="author"),
    Join("au", User, "{au}.id = {a}.user_id", outer=True, parent="a", field="user"),
    Join("m", Membership, "{m}.team_id = {w}.team_id AND {m}.user_id = %s", outer=True),
    Join("t", Team, "{t}.id = {m}.team_id", outer=True, parent="m", field="team"),
], where="{n}.id = %s")


def get_note(user, pk: int) -> tuple[Note, Membership]:
    """The note with its board and its author, as they were at the board's seq `note.as_of_seq`:
    a service that finds the board still at that seq under its lock need not read it again.
    Read with the user's seat in one statement, the seat checked as `membership` checks it."""
    if not user.is_authenticated:
        raise Http404
    found = _NOTE_AND_SEAT.read([user.pk, pk])
    if found is None or found["m"] is None:
        raise Http404
    note, seat = found["n"], found["m"]
    note.as_of_seq = note.scenario.last_seq
    seat.user = user  # the signed-in user, read already
    return note, check_scope(seat, note.scenario.workshop_id)


def get_action(user, pk: int) -> tuple[Action, Membership]:
    action = _get(Action.objects.select_related("workshop", "owner__user"), pk)
    return action, membership(user, action.workshop.team_id, action.workshop_id)


def get_invitation(user, pk: int) -> tuple[Invitation, Membership]:
    invitation = _get(Invitation.objects.select_related("workshop__team"), pk)
    return invitation, membership(user, invitation.workshop.team_id, invitation.workshop_id)


def board_membership(user, scenario_id: int) -> Membership | None:
    """The user's membership of a board's team, or None: what the board's websocket checks.

    None too for a revoked seat, and for a guest whose seat is for another workshop."""
    if not user or not user.is_authenticated:
        return None
    board = (
        Scenario.objects.filter(pk=scenario_id).values("workshop_id", "workshop__team_id").first()
    )
    if board is None:
        return None
    return (
        Membership.objects.select_related("user")
        .filter(user=user, team_id=board["workshop__team_id"], revoked_at__isnull=True)
        .filter(Q(workshop__isnull=True) | Q(workshop_id=board["workshop_id"]))
        .first()
    )


def visible_workshops(user) -> QuerySet[Workshop]:
    """The workshops the user may open: all of their teams', or a guest's one workshop."""
    seats = Membership.objects.filter(
        Q(workshop__isnull=True) | Q(workshop=OuterRef("pk")),
        user=user,
        team=OuterRef("team"),
        revoked_at__isnull=True,
    )
    return Workshop.objects.filter(Exists(seats))


def workshop_seats(workshop: Workshop) -> QuerySet[Membership]:
    """Everyone who takes part in a workshop: the team's members and this workshop's guests,
    not revoked (who may own its actions, for instance)."""
    return Membership.objects.filter(
        Q(workshop__isnull=True) | Q(workshop_id=workshop.pk),
        team_id=workshop.team_id,
        revoked_at__isnull=True,
    )


def team_memberships(user) -> QuerySet[Membership]:
    """The user's seats in whole teams (not guest seats), not revoked."""
    return Membership.objects.filter(user=user, workshop__isnull=True, revoked_at__isnull=True)


def guest_memberships(user) -> QuerySet[Membership]:
    """The user's guest seats, revoked ones included."""
    return Membership.objects.filter(user=user, workshop__isnull=False)


def require_facilitator(m: Membership) -> None:
    if not m.is_facilitator:
        raise PermissionDenied("Only a facilitator can do this.")
