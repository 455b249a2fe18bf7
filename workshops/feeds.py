"""Calendar feeds of due dates (iCalendar, RFC 5545), for calendar apps that send no cookies.

A feed's address carries a signed token instead: which membership, and whose actions (the
person's own, or the whole team's). The signature's salt includes the membership's
`feed_version`, so `services.reset_calendar_links` revokes every link handed out before.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable

import icalendar
from django.core import signing
from django.db.models import Prefetch, QuerySet
from django.utils.formats import date_format

from boards.models import Note
from workshops.models import Action, ActionStatus, Membership

PERSONAL = "me"
TEAM = "team"
SCOPES = (PERSONAL, TEAM)
SALT = "journeymap.calendar"
REFRESH = datetime.timedelta(hours=6)  # how often calendar apps should fetch again


def _signer(feed_version: int) -> signing.Signer:
    # "." keeps the token to URL-safe characters: <membership>-<scope>.<signature>
    return signing.Signer(salt=f"{SALT}.v{feed_version}", sep=".")


def make_token(member: Membership, scope: str) -> str:
    if scope not in SCOPES:
        raise ValueError(f"Unknown feed scope {scope!r}")
    return _signer(member.feed_version).sign(f"{member.pk}-{scope}")


def read_token(token: str) -> tuple[Membership, str] | None:
    """The membership and scope a token was made for, or None if it is forged or revoked."""
    value, _, _ = token.rpartition(".")
    pk, _, scope = value.partition("-")
    if not pk.isdigit() or scope not in SCOPES:
        return None
    member = (
        Membership.objects.select_related("user", "team")
        .filter(pk=int(pk), user__is_active=True, revoked_at__isnull=True)
        .first()
    )
    if member is None:
        return None
    try:
        _signer(member.feed_version).unsign(token)
    except signing.BadSignature:
        return None
    return member, scope


def feed_actions(member: Membership, scope: str) -> QuerySet[Action]:
    """The open actions of a feed, with what their events say, in a constant number of queries."""
    actions = Action.objects.exclude(status__in=[ActionStatus.DONE, ActionStatus.DROPPED])
    if scope == PERSONAL:
        actions = actions.filter(owner=member)
    else:
        actions = actions.filter(workshop__team_id=member.team_id)
        if member.workshop_id is not None:  # a guest's "team" is their one workshop
            actions = actions.filter(workshop_id=member.workshop_id)
    notes = Note.objects.select_related("phase", "micro_interaction").order_by(
        "phase__order", "order", "pk"
    )
    return (
        actions.select_related("workshop", "scenario", "owner__user")
        .prefetch_related(Prefetch("notes", queryset=notes))
        .order_by("due_date", "pk")
    )


def feed_name(member: Membership, scope: str) -> str:
    if scope == PERSONAL:
        return f"My actions · {member.team.name}"
    return f"Team actions · {member.team.name}"


def _description(action: Action, link: str) -> str:
    lines = [f"Agreed in “{action.workshop.title}” ({date_format(action.workshop.date, 'j M Y')})."]
    if action.scenario is not None:
        lines.append(f"Scenario: {action.scenario.title}")
    lines.append(f"Owner: {action.owner.name} ({action.owner.get_business_function_display()})")
    lines.append(f"Status: {action.get_status_display()}")
    notes = list(action.notes.all())
    if notes:
        lines.append("")
        lines.append("From the notes:")
        for note in notes:
            where = note.phase.name
            if note.micro_interaction is not None:
                where = f"{where} › {note.micro_interaction.action}"
            lines.append(f"- {note.text} ({where})")
    lines.append("")
    lines.append(f"Update it: {link}")
    return "\n".join(lines)


def calendar(
    *,
    name: str,
    actions: Iterable[Action],
    link: Callable[[Action], str],
    domain: str,
    with_owner: bool,
) -> bytes:
    """One all-day event per action, on its due date. UIDs are stable, so an app that
    refreshes the feed moves an event whose due date changed instead of adding another."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Journeymap//Actions//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")  # the same, for apps that only know this older name
    for action in actions:
        url = link(action)
        event = icalendar.Event()
        event.add("uid", f"action-{action.pk}@{domain}")
        event.add("dtstamp", action.updated)
        event.add("last-modified", action.updated)
        event.add("sequence", action.version)
        event.add("dtstart", action.due_date)
        event.add("dtend", action.due_date + datetime.timedelta(days=1))
        event.add(
            "summary", f"{action.title} ({action.owner.name})" if with_owner else action.title
        )
        event.add("description", _description(action, url))
        event.add("url", url)
        event.add("status", "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()
