"""Fragments of workshops pages that are also pushed live."""

from __future__ import annotations

from django.db.models import Count, Max, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from workshops.models import Action, ActionStatus


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
    return {"open_actions": actions, "closed_actions": done, "today": timezone.localdate()}


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
