"""The one write path for teams, their members, workshops and personas.

One function per operation: keyword arguments only, one transaction, permission checked,
input validated. Only a facilitator of the team may change it; any signed-in person may start
a new team (and becomes its first facilitator). Scenarios are written by boards.services.
"""

from __future__ import annotations

import datetime
import secrets
import uuid
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format

from boards import events
from boards import render as board_render
from boards import services as board_services
from boards.models import MicroInteraction, Note, Phase, Scenario
from boards.services import clean_text
from workshops import invitations
from workshops import render as workshops_render
from workshops.models import (
    Action,
    ActionStatus,
    ActionUpdate,
    BusinessFunction,
    Invitation,
    Membership,
    Persona,
    Role,
    Team,
    Workshop,
    WorkshopStatus,
)

TEAM_NAME_MAX = 120
DISPLAY_NAME_MAX = 60
USERNAME_MAX = 150
WORKSHOP_TITLE_MAX = 160
PERSONA_NAME_MAX = 80
SEGMENT_MAX = 60
PERSONA_TEXT_MAX = 2000
BIO_MAX = 600


# Permission checks ---------------------------------------------------------------------------


def require_team_facilitator(actor: Membership, team_id: int) -> None:
    """Only a facilitator of this very team may change it."""
    if actor.team_id != team_id or not actor.is_facilitator:
        raise PermissionDenied("Only a facilitator of this team can do this.")


# Validation helpers ----------------------------------------------------------------------------


def _choice(value: str, choices: type, *, field: str, message: str) -> str:
    if value not in choices.values:
        raise ValidationError({field: message})
    return value


def _role(value: str) -> str:
    return _choice(value, Role, field="role", message="Pick facilitator, participant or manager.")


def _function(value: str) -> str:
    return _choice(
        value, BusinessFunction, field="business_function", message="Pick a business function from the list."
    )


def _lock_team(team_id: int) -> Team:
    """Serialise changes to one team and its members (the last-facilitator rule depends on it)."""
    return Team.objects.select_for_update().get(pk=team_id)


def _check_follows_up(
    *, team: Team, date: datetime.date, follows_up: Workshop | None, workshop: Workshop | None = None
) -> None:
    if follows_up is None:
        return
    if follows_up.team_id != team.pk:
        raise ValidationError({"follows_up": "Pick one of this team's workshops."})
    if workshop is not None and follows_up.pk == workshop.pk:
        raise ValidationError({"follows_up": "A workshop can't follow up itself."})
    if follows_up.date >= date:
        raise ValidationError(
            {"follows_up": f"“{follows_up.title}” is on {date_format(follows_up.date, 'j M Y')}: pick a workshop held before this one."}
        )


# Teams -----------------------------------------------------------------------------------------


@transaction.atomic
def create_team(
    *,
    user: AbstractBaseUser,
    name: str,
    business_function: str,
    display_name: str = "",
) -> Team:
    """Start a team. Its creator becomes its first facilitator, speaking for the function they pick."""
    if not user.is_authenticated:
        raise PermissionDenied("Sign in to start a team.")
    name = clean_text(name, field="name", max_length=TEAM_NAME_MAX)
    business_function = _function(business_function)
    display_name = clean_text(display_name, field="display_name", max_length=DISPLAY_NAME_MAX, required=False)
    team = Team.objects.create(name=name)
    Membership.objects.create(
        user=user,
        team=team,
        role=Role.FACILITATOR,
        business_function=business_function,
        display_name=display_name,
    )
    return team


@transaction.atomic
def update_team(*, actor: Membership, team: Team, name: str) -> Team:
    require_team_facilitator(actor, team.pk)
    team = _lock_team(team.pk)
    team.name = clean_text(name, field="name", max_length=TEAM_NAME_MAX)
    team.save(update_fields=["name"])
    return team


# Members ---------------------------------------------------------------------------------------


@transaction.atomic
def add_member(
    *,
    actor: Membership,
    team: Team,
    username: str,
    display_name: str,
    role: str,
    business_function: str,
    password: str,
) -> Membership:
    """Give someone a sign-in and a seat in the team."""
    require_team_facilitator(actor, team.pk)
    team = _lock_team(team.pk)
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": "Choose a username they will sign in with."})
    if len(username) > USERNAME_MAX:
        raise ValidationError({"username": f"Keep it under {USERNAME_MAX} characters."})
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise ValidationError(
            {"username": "Use letters, digits and @ . + - _ only, without spaces."}
        ) from None
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The username “{username}” is already taken. Choose another one."})
    display_name = clean_text(display_name, field="display_name", max_length=DISPLAY_NAME_MAX, required=False)
    role = _role(role)
    business_function = _function(business_function)
    candidate = User(username=username, first_name=display_name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user = User.objects.create_user(username=username, password=password, first_name=display_name)
    return Membership.objects.create(
        user=user,
        team=team,
        role=role,
        business_function=business_function,
        display_name=display_name,
    )


@transaction.atomic
def update_member(
    *,
    actor: Membership,
    membership: Membership,
    display_name: str,
    role: str,
    business_function: str,
) -> Membership:
    """Change someone's name, role or business function. A team always keeps a facilitator."""
    require_team_facilitator(actor, membership.team_id)
    _lock_team(membership.team_id)
    current = Membership.objects.select_related("user", "team").get(pk=membership.pk)
    display_name = clean_text(display_name, field="display_name", max_length=DISPLAY_NAME_MAX, required=False)
    role = _role(role)
    business_function = _function(business_function)
    if current.is_guest and role != Role.PARTICIPANT:
        raise ValidationError(
            {"role": f"{current.name} joined one workshop as a guest: a guest takes part only."}
        )
    if current.is_facilitator and role != Role.FACILITATOR:
        others = (
            Membership.objects.filter(team_id=current.team_id, role=Role.FACILITATOR)
            .exclude(pk=current.pk)
            .exists()
        )
        if not others:
            raise ValidationError(
                {"role": f"{current.name} is the team's only facilitator. Make someone else a facilitator first."}
            )
    current.display_name = display_name
    current.role = role
    current.business_function = business_function
    current.save(update_fields=["display_name", "role", "business_function"])
    return current


# Workshops -------------------------------------------------------------------------------------


@transaction.atomic
def create_workshop(
    *,
    actor: Membership,
    team: Team,
    title: str,
    date: datetime.date,
    follows_up: Workshop | None = None,
) -> Workshop:
    require_team_facilitator(actor, team.pk)
    title = clean_text(title, field="title", max_length=WORKSHOP_TITLE_MAX)
    if date is None:
        raise ValidationError({"date": "Give the workshop a date."})
    _check_follows_up(team=team, date=date, follows_up=follows_up)
    return Workshop.objects.create(team=team, title=title, date=date, follows_up=follows_up)


@transaction.atomic
def update_workshop(
    *,
    actor: Membership,
    workshop: Workshop,
    title: str,
    date: datetime.date,
    status: str,
    follows_up: Workshop | None,
) -> Workshop:
    current = Workshop.objects.select_for_update(of=("self",)).select_related("team").get(pk=workshop.pk)
    require_team_facilitator(actor, current.team_id)
    title = clean_text(title, field="title", max_length=WORKSHOP_TITLE_MAX)
    if date is None:
        raise ValidationError({"date": "Give the workshop a date."})
    status = _choice(status, WorkshopStatus, field="status", message="Pick planned, live or closed.")
    _check_follows_up(team=current.team, date=date, follows_up=follows_up, workshop=current)
    later = current.follow_ups.filter(date__lte=date).order_by("date", "pk").first()
    if later is not None:
        raise ValidationError(
            {"date": f"“{later.title}” follows up this workshop on {date_format(later.date, 'j M Y')}: keep this one before it."}
        )
    status_changed = current.status != status
    current.title, current.date, current.status, current.follows_up = title, date, status, follows_up
    current.save(update_fields=["title", "date", "status", "follows_up"])
    if status_changed:  # every board says so (a closed one takes notes from the facilitators only)
        for scenario_id in current.scenarios.order_by("pk").values_list("pk", flat=True):
            board_services.show_workshop_status(actor=actor, scenario_id=scenario_id)
    return current


# Personas --------------------------------------------------------------------------------------


def _persona_fields(
    name: str, segment: str, goals: str, expectations: str, bio: str
) -> dict[str, str]:
    return {
        "name": clean_text(name, field="name", max_length=PERSONA_NAME_MAX),
        "segment": clean_text(segment, field="segment", max_length=SEGMENT_MAX),
        "goals": clean_text(goals, field="goals", max_length=PERSONA_TEXT_MAX, required=False),
        "expectations": clean_text(
            expectations, field="expectations", max_length=PERSONA_TEXT_MAX, required=False
        ),
        "bio": clean_text(bio, field="bio", max_length=BIO_MAX, required=False),
    }


@transaction.atomic
def create_persona(
    *,
    actor: Membership,
    team: Team,
    name: str,
    segment: str,
    goals: str = "",
    expectations: str = "",
    bio: str = "",
) -> Persona:
    require_team_facilitator(actor, team.pk)
    return Persona.objects.create(team=team, **_persona_fields(name, segment, goals, expectations, bio))


@transaction.atomic
def update_persona(
    *,
    actor: Membership,
    persona: Persona,
    name: str,
    segment: str,
    goals: str,
    expectations: str,
    bio: str,
) -> Persona:
    current = Persona.objects.select_for_update(of=("self",)).select_related("team").get(pk=persona.pk)
    require_team_facilitator(actor, current.team_id)
    for field, value in _persona_fields(name, segment, goals, expectations, bio).items():
        setattr(current, field, value)
    current.save(update_fields=["name", "segment", "goals", "expectations", "bio"])
    return current


# Actions ---------------------------------------------------------------------------------------

ACTION_TITLE_MAX = 200
ACTION_COMMENT_MAX = 1000


def can_update_action(actor: Membership, action: Action) -> bool:
    """The owner follows their action up; managers and facilitators of the team review it."""
    if actor.team_id != action.workshop.team_id:
        return False
    return actor.pk == action.owner_id or actor.role in (Role.MANAGER, Role.FACILITATOR)


@transaction.atomic
def create_action(
    *,
    actor: Membership,
    scenario: Scenario,
    notes: list[Note],
    title: str,
    owner: Membership,
    due_date: datetime.date,
    request_id: uuid.UUID | None = None,
) -> Action:
    """Turn one or more notes (typically the top-voted frictions) into an owned action.

    It shows at once beside its notes on the board, and in its owner's "My actions".
    """
    scenario = events.lock_board(scenario)
    board_services.require_facilitator(actor, scenario)
    if done := events.applied_event(scenario, request_id):
        return Action.objects.get(pk=done.payload["action"])
    title = clean_text(title, field="title", max_length=ACTION_TITLE_MAX)
    if not notes:
        raise ValidationError({"notes": "Pick at least one note."})
    if any(n.scenario_id != scenario.pk or n.hidden for n in notes):
        raise ValidationError({"notes": "Pick notes that are on this board and revealed."})
    if owner.team_id != scenario.workshop.team_id:
        raise ValidationError({"owner": "The owner must be a member of this team."})
    if due_date < timezone.localdate():
        raise ValidationError({"due_date": "Pick a due date from today on."})
    action = Action.objects.create(
        workshop=scenario.workshop, scenario=scenario, title=title, owner=owner, due_date=due_date, created_by=actor,
        assigned_by=actor, seen_by_owner=owner.pk == actor.pk,
    )
    action.notes.set(notes)
    Note.objects.filter(pk__in=[n.pk for n in notes], has_actions=False).update(has_actions=True)
    for n in notes:
        n.has_actions = True
    ActionUpdate.objects.create(action=action, author=actor, from_status="", to_status=action.status,
                                comment=f"Agreed in “{scenario.workshop.title}”.")
    events.append(
        scenario=scenario,
        kind="action.created",
        actor_id=actor.pk,
        payload={"action": action.pk, "title": title, "owner": owner.pk, "notes": [n.pk for n in notes],
                 "due_date": due_date.isoformat()},
        fragments=[*board_render.notes(scenario, notes), board_render.board_actions(scenario),
                   board_render.results(scenario)],
        request_id=request_id,
    )
    _show_review(actor, scenario.workshop)
    _push_my_actions(owner.user)
    return action


@transaction.atomic
def update_action_status(
    *,
    actor: Membership,
    action: Action,
    status: str,
    comment: str = "",
    version: int,
) -> Action:
    """Move an action on (open, in progress, done, dropped), with a comment kept in its history."""
    current = Action.objects.select_for_update(of=("self",)).select_related("workshop", "owner__user").get(pk=action.pk)
    scenario = events.lock_board(current.scenario_id) if current.scenario_id else None
    if not can_update_action(actor, current):
        raise PermissionDenied("Only the action's owner, a manager or a facilitator can update it.")
    if status not in ActionStatus.values:
        raise ValidationError({"status": "Pick a status."})
    comment = clean_text(comment, field="comment", max_length=ACTION_COMMENT_MAX, required=False)
    if current.version != version:
        raise board_services.Conflict(current, "Someone else updated this action in the meantime.")
    if status == current.status and not comment:
        raise ValidationError({"comment": "Nothing changed: pick another status or add a comment."})
    ActionUpdate.objects.create(action=current, author=actor, from_status=current.status, to_status=status,
                                comment=comment)
    current.status = status
    current.version += 1
    current.updated = timezone.now()
    current.seen_by_owner = current.seen_by_owner or actor.pk == current.owner_id  # they're on it
    current.save(update_fields=["status", "version", "updated", "seen_by_owner"])
    if scenario is not None:
        notes = list(current.notes.all())
        events.append(
            scenario=scenario,
            kind="action.updated",
            actor_id=actor.pk,
            payload={"action": current.pk, "status": status, "comment": comment},
            fragments=[*board_render.notes(scenario, notes), board_render.board_actions(scenario)],
        )
    _show_review(actor, current.workshop)
    _push_my_actions(current.owner.user)
    return current


def _show_review(actor: Membership, workshop: Workshop) -> None:
    """The follow-ups of `workshop` (and theirs) list its open actions to review first: their
    boards follow."""
    later = workshops_render.following_up(workshop.pk, workshop.team_id)
    for scenario_id in Scenario.objects.filter(workshop_id__in=later).order_by("pk").values_list("pk", flat=True):
        board_services.show_review(actor=actor, scenario_id=scenario_id)


def can_replan_action(actor: Membership, action: Action) -> bool:
    """Who does what by when is decided by the team's managers and facilitators."""
    return actor.team_id == action.workshop.team_id and actor.role in (Role.MANAGER, Role.FACILITATOR)


@transaction.atomic
def replan_action(
    *,
    actor: Membership,
    action: Action,
    title: str,
    owner: Membership,
    due_date: datetime.date,
    comment: str = "",
    version: int,
) -> Action:
    """Rename an action, hand it to someone else or move its due date, typically in the review
    meeting. What changed, and why, goes into its history."""
    current = Action.objects.select_for_update(of=("self",)).select_related("workshop", "owner__user").get(pk=action.pk)
    scenario = events.lock_board(current.scenario_id) if current.scenario_id else None
    if not can_replan_action(actor, current):
        raise PermissionDenied("Only a manager or a facilitator can change who does an action, or by when.")
    if current.version != version:
        raise board_services.Conflict(current, "Someone else updated this action in the meantime.")
    title = clean_text(title, field="title", max_length=ACTION_TITLE_MAX)
    comment = clean_text(comment, field="comment", max_length=ACTION_COMMENT_MAX, required=False)
    seated = owner.team_id == current.workshop.team_id and owner.workshop_id in (None, current.workshop_id)
    if not seated or owner.revoked_at is not None:
        raise ValidationError({"owner": "The owner must take part in this action's workshop."})
    if due_date != current.due_date and due_date < timezone.localdate():
        raise ValidationError({"due_date": "Pick a due date from today on."})
    changes = []
    if title != current.title:
        changes.append(f"Renamed from “{current.title}”.")
    if owner.pk != current.owner_id:
        changes.append(f"Owner: {current.owner.name} → {owner.name}.")
    if due_date != current.due_date:
        changes.append(f"Due date: {_day(current.due_date)} → {_day(due_date)}.")
    if not changes:
        raise ValidationError("Nothing changed: change the title, the owner or the due date.")
    ActionUpdate.objects.create(action=current, author=actor, from_status=current.status, to_status=current.status,
                                comment="\n".join([" ".join(changes), comment]).strip(), is_replan=True,
                                from_owner=current.owner if owner.pk != current.owner_id else None)
    previous_owner = current.owner
    if owner.pk != current.owner_id:  # handed over: new to its new owner
        current.assigned_by, current.seen_by_owner = actor, owner.pk == actor.pk
    current.title, current.owner, current.due_date = title, owner, due_date
    current.version += 1
    current.updated = timezone.now()
    current.save(update_fields=["title", "owner", "due_date", "version", "updated", "assigned_by", "seen_by_owner"])
    if scenario is not None:
        events.append(
            scenario=scenario,
            kind="action.replanned",
            actor_id=actor.pk,
            payload={"action": current.pk, "title": title, "owner": owner.pk, "due_date": due_date.isoformat()},
            fragments=[*board_render.notes(scenario, current.notes.all()), board_render.board_actions(scenario)],
        )
    _show_review(actor, current.workshop)
    for person in {previous_owner.user_id: previous_owner, owner.user_id: owner}.values():
        _push_my_actions(person.user)
    return current


@transaction.atomic
def mark_actions_seen(*, user: AbstractBaseUser, action: Action | None = None) -> int:
    """The user has seen their "My actions" (or one action's page): what was given to them stops
    being new. Not a board change (no event): only its owner sees whether an action is new."""
    mine = Action.objects.filter(owner__user=user, seen_by_owner=False)
    if action is not None:
        mine = mine.filter(pk=action.pk)
    seen = mine.update(seen_by_owner=True)
    if seen:
        _push_new_actions_count(user)
    return seen


def _push_my_actions(user: AbstractBaseUser) -> None:
    """After commit, bring the person's open "My actions" pages up to date, and the menu's count
    of new actions on every page of theirs that listens."""
    count = workshops_render.new_actions(user)
    events.push_to_user(user_id=user.pk, html=workshops_render.my_actions(user) + count)
    _push_to_their_boards(user, count)


def _push_new_actions_count(user: AbstractBaseUser) -> None:
    count = workshops_render.new_actions(user)
    events.push_to_user(user_id=user.pk, html=count)
    _push_to_their_boards(user, count)


def _push_to_their_boards(user: AbstractBaseUser, html: str) -> None:
    """After commit, to every board socket of the person, through each of their memberships."""
    for member_id in Membership.objects.filter(user=user, revoked_at__isnull=True).values_list("pk", flat=True):
        events.push_to_member(member_id=member_id, html=html)


def _day(value: datetime.date) -> str:
    return date_format(value, "j M Y")


# Calendar feeds --------------------------------------------------------------------------------


@transaction.atomic
def reset_calendar_links(*, actor: Membership) -> Membership:
    """Revoke this person's calendar links for this team: the links carry a signature tied to
    `feed_version`, so bumping it makes every old link answer 404. New links are shown at once."""
    Membership.objects.filter(pk=actor.pk).update(feed_version=F("feed_version") + 1)
    return Membership.objects.select_related("user", "team").get(pk=actor.pk)


# Follow-up -------------------------------------------------------------------------------------


@transaction.atomic
def plan_next_workshop(
    *, actor: Membership, workshop: Workshop, title: str, date: datetime.date
) -> Workshop:
    """Plan the session that follows up a closed workshop.

    The new workshop follows up the closed one, and each scenario's board comes back with its
    structure (phases, micro-interactions with their emotion and moment of truth) but no notes.
    Each step's emotion is marked as carried over until the team or the facilitator rates it again.
    The closed workshop's open actions are carried over: the new one lists them to review first.
    """
    current = (
        Workshop.objects.select_for_update(of=("self",)).select_related("team").get(pk=workshop.pk)
    )
    require_team_facilitator(actor, current.team_id)
    if current.status != WorkshopStatus.CLOSED:
        raise ValidationError(
            f"“{current.title}” is {current.get_status_display().lower()}: "
            "close it before planning its next session."
        )
    planned = current.follow_ups.filter(status=WorkshopStatus.PLANNED).first()
    if planned is not None:
        raise ValidationError(f"“{planned.title}” is already planned as its next session.")
    if date is None:
        raise ValidationError({"date": "Give the next session a date."})
    if date <= current.date:
        raise ValidationError(
            {"date": f"Pick a date after “{current.title}” ({date_format(current.date, 'j M Y')})."}
        )
    new = create_workshop(
        actor=actor, team=current.team, title=title, date=date, follows_up=current
    )
    scenarios = list(current.scenarios.select_related("persona").order_by("pk"))
    phases_of: dict[int, list[Phase]] = defaultdict(list)
    for phase in Phase.objects.filter(scenario__in=scenarios).order_by("order"):
        phases_of[phase.scenario_id].append(phase)
    interactions_of: dict[int, list[MicroInteraction]] = defaultdict(list)
    for mi in MicroInteraction.objects.filter(phase__scenario__in=scenarios).order_by("order"):
        interactions_of[mi.phase_id].append(mi)
    for scenario in scenarios:
        copy = board_services.create_scenario(
            actor=actor,
            workshop=new,
            title=scenario.title,
            description=scenario.description,
            persona=scenario.persona,
            template_key="",
        )
        for phase in phases_of[scenario.pk]:
            new_phase = board_services.add_phase(
                actor=actor, scenario=copy, name=phase.name, goal=phase.goal
            )
            for mi in interactions_of[phase.pk]:
                board_services.add_micro_interaction(
                    actor=actor,
                    phase=new_phase,
                    action=mi.action,
                    channel=mi.channel,
                    emotion=mi.emotion,
                    moment_of_truth=mi.moment_of_truth,
                    carried=True,
                )
    return new


# Invitations and guests ------------------------------------------------------------------------

INVITATION_HOURS_DEFAULT = 24
INVITATION_HOURS_MAX = 7 * 24


def _require_workshop_facilitator(actor: Membership, workshop: Workshop) -> None:
    """A facilitator of the workshop's team, with a seat for the whole team (not a guest)."""
    require_team_facilitator(actor, workshop.team_id)
    if actor.is_guest or actor.is_revoked:
        raise PermissionDenied("Only a facilitator of this team can do this.")


def _locked_invitation(invitation: Invitation) -> Invitation:
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("workshop__team")
        .get(pk=invitation.pk)
    )


@transaction.atomic
def create_invitation(
    *, actor: Membership, workshop: Workshop, hours: int = INVITATION_HOURS_DEFAULT
) -> tuple[Invitation, str]:
    """A new link to join one workshop as a guest. Returns the invitation and its token (only
    the token's hash and seed are stored: workshops.invitations)."""
    _require_workshop_facilitator(actor, workshop)
    if not isinstance(hours, int) or not 1 <= hours <= INVITATION_HOURS_MAX:
        raise ValidationError(
            {"hours": "Pick how long the link works: from one hour to seven days."}
        )
    seed, token = invitations.new_token()
    now = timezone.now()
    invitation = Invitation.objects.create(
        workshop=workshop,
        token_hash=invitations.hash_token(token),
        token_seed=seed,
        created_by=actor,
        created=now,
        token_created=now,
        expires_at=now + datetime.timedelta(hours=hours),
    )
    return invitation, token


@transaction.atomic
def revoke_invitation(*, actor: Membership, invitation: Invitation) -> Invitation:
    """Close a link: it stops working at once. Guests who already joined stay."""
    current = _locked_invitation(invitation)
    _require_workshop_facilitator(actor, current.workshop)
    if current.revoked_at is None:
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
    return current


@transaction.atomic
def rotate_invitation(*, actor: Membership, invitation: Invitation) -> tuple[Invitation, str]:
    """Give a link a new token with the same expiry: the old link (and its QR code) stop working."""
    current = _locked_invitation(invitation)
    _require_workshop_facilitator(actor, current.workshop)
    if current.revoked_at is not None:
        raise ValidationError("This link was withdrawn: create a new invitation instead.")
    if current.is_expired():
        raise ValidationError("This link has expired: create a new invitation instead.")
    seed, token = invitations.new_token()
    current.token_hash = invitations.hash_token(token)
    current.token_seed = seed
    current.token_created = timezone.now()
    current.save(update_fields=["token_hash", "token_seed", "token_created"])
    return current, token


@transaction.atomic
def join_workshop(
    *, invitation: Invitation, token_hash: str, display_name: str, business_function: str
) -> Membership:
    """Someone with a valid link joins its workshop: a guest account with no password, whose
    seat in the team opens this one workshop only. The link is checked again under a lock, so
    a link revoked or rotated a moment before lets no one in."""
    display_name = invitations.clean_display_name(display_name)
    business_function = _function(business_function)
    current = Invitation.objects.select_for_update(of=("self",)).select_related("workshop").filter(
        pk=invitation.pk, token_hash=token_hash
    ).first()
    verdict = invitations.judge(current)
    if not verdict.usable:
        raise PermissionDenied(f"{verdict.title}. {verdict.message}")
    # One join at a time per workshop (whatever its link), so two people can't take one name.
    Workshop.objects.select_for_update().filter(pk=current.workshop_id).exists()
    if invitations.name_in_use(current.workshop, display_name):
        raise ValidationError({"display_name": (
            f"Someone here already goes by “{display_name}”. Add an initial or where you work "
            "(such as “Geneva boutique”) so the others can tell you apart."
        )})
    User = get_user_model()
    user = User.objects.create_user(
        username=f"guest-{secrets.token_hex(8)}", password=None, first_name=display_name[:150]
    )
    return Membership.objects.create(
        user=user,
        team_id=current.workshop.team_id,
        workshop=current.workshop,
        invitation=current,
        role=Role.PARTICIPANT,
        business_function=business_function,
        display_name=display_name,
    )


@transaction.atomic
def revoke_guest(*, actor: Membership, membership: Membership) -> Membership:
    """Withdraw a guest's access: every later request answers 403, and their open board
    sockets close (4403) once this commits."""
    current = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "workshop")
        .get(pk=membership.pk)
    )
    if current.workshop is None:
        raise ValidationError("Only guests who joined with a link can be removed here.")
    _require_workshop_facilitator(actor, current.workshop)
    if current.revoked_at is None:
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
    events.disconnect_member(current.pk)
    return current
