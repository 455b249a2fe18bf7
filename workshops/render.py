"""Fragments of workshops pages that are also pushed live."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from workshops.models import Action, ActionStatus, ActionUpdate, Workshop

HANDED_OVER_DAYS = 30  # how long "My actions" lists what was handed from you to someone else


def my_actions_context(user) -> dict:
    actions = list(
        Action.objects.filter(owner__user=user)
        .exclude(status__in=[ActionStatus.DONE, ActionStatus.DROPPED])
        .select_related("workshop", "scenario", "owner__user", "assigned_by__user")
        .order_by("due_date", "pk")
    )
    done = list(
        Action.objects.filter(owner__user=user, status__in=[ActionStatus.DONE, ActionStatus.DROPPED])
        .select_related("workshop")
        .order_by("-updated")[:20]
    )
    return {"open_actions": actions, "closed_actions": done, "handed_over": handed_over(user),
            "today": timezone.localdate()}


def handed_over(user) -> list[ActionUpdate]:
    """The latest hand-over of each action taken from `user` lately and now owned by someone
    else: so an action doesn't vanish from their list without a word."""
    since = timezone.now() - datetime.timedelta(days=HANDED_OVER_DAYS)
    updates = (
        ActionUpdate.objects.filter(from_owner__user=user, created__gte=since)
        .exclude(action__owner__user=user)
        .select_related("action__workshop", "action__owner__user", "author__user")
        .order_by("-created", "-pk")[:50]
    )
    latest: dict[int, ActionUpdate] = {}
    for update in updates:
        update.by_you = update.author is not None and update.author.user_id == user.pk
        latest.setdefault(update.action_id, update)
    return list(latest.values())[:10]


def my_actions(user) -> str:
    """The "My actions" list, as a push for the owner's open pages."""
    return render_to_string("workshops/my_actions.html#my-actions", {"oob": True, **my_actions_context(user)})


def my_actions_version(user) -> str:
    """A stamp of the person's actions as "My actions" lists them: it changes when one is given
    to them, taken from them, or changes. The page's socket sends it back on connect, and is sent
    a fresh list only if it changed: a list just shown keeps its "New" badges."""
    stamp = Action.objects.filter(owner__user=user).aggregate(
        n=Count("pk"), versions=Sum("version"), last=Max("updated")
    )
    last = stamp["last"].timestamp() if stamp["last"] else 0
    return f"{stamp['n']}-{stamp['versions'] or 0}-{last}"


def new_actions_count(user) -> int:
    """How many open actions were given to `user` and are not yet seen in "My actions"."""
    return (
        Action.objects.filter(owner__user=user, owner__revoked_at__isnull=True, seen_by_owner=False)
        .exclude(status__in=[ActionStatus.DONE, ActionStatus.DROPPED])
        .count()
    )


def new_actions(user) -> str:
    """The menu's count of new actions, as a push for every open page of `user`."""
    return render_to_string("base.html#new-actions", {"oob": True, "new_actions": new_actions_count(user)})


def review_first(workshop: Workshop) -> dict[str, Any]:
    """The open actions a follow-up session reviews first: those of the workshop it follows up,
    and of the ones before it that are still open (they were carried over then, too)."""
    if workshop.follows_up_id is None:
        return {"previous_workshop": None, "review_actions": [], "closed_since": []}
    earlier = dict(
        Workshop.objects.filter(team_id=workshop.team_id).values_list("pk", "follows_up_id")
    )
    chain: list[int] = []
    pk = workshop.follows_up_id
    while pk is not None and pk not in chain and pk != workshop.pk:
        chain.append(pk)
        pk = earlier.get(pk)
    previous = workshop.follows_up
    # Still open, and closed since the previous session (what the team got done, to say so).
    actions = list(
        Action.objects.filter(workshop_id__in=chain)
        .filter(
            ~Q(status__in=[ActionStatus.DONE, ActionStatus.DROPPED])
            | Q(updated__date__gte=previous.date)
        )
        .select_related("workshop", "owner__user")
        .order_by("due_date", "pk")
    )
    today = timezone.localdate()
    for action in actions:
        action.overdue = action.is_overdue(today)
        action.due_today = action.is_due_today(today)
    return {
        "previous_workshop": previous,
        "review_actions": [a for a in actions if not a.is_closed],
        "closed_since": [a for a in actions if a.is_closed],
    }


def following_up(workshop_id: int, team_id: int) -> list[int]:
    """The workshops that review `workshop_id`'s open actions first: its follow-ups, theirs, and
    so on down the chain (see `review_first`)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Workshop.objects.filter(team_id=team_id).values_list("pk", "follows_up_id"):
        children.setdefault(parent, []).append(pk)
    found: list[int] = []
    todo = list(children.get(workshop_id, []))
    while todo:
        pk = todo.pop()
        if pk not in found and pk != workshop_id:
            found.append(pk)
            todo.extend(children.get(pk, []))
    return found
