"""`python manage.py load_demo`: a Geneva watch maison in the middle of a live workshop.

Idempotent: the demo is recognised by its team name, and a second run changes nothing;
it refuses to run if its usernames are already taken by anyone else.
Refused when DEBUG is off (the sign-ins share a known password) unless --force is given.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from boards import services as board_services
from boards.models import MicroInteraction, MomentOfTruth, Note, Phase, Scenario
from workshops import demo
from workshops import services as workshop_services
from workshops.models import Membership, Team, WorkshopStatus


class Command(BaseCommand):
    help = "Load the demo workshop: a watch maison's team, personas and a live journey map."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even when DEBUG is off. The demo sign-ins share a known password.",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load the demo with DEBUG off: its sign-ins share the password "
                f"'{demo.PASSWORD}'. Run it in development (DEBUG=1), or pass --force."
            )
        if Team.objects.filter(name=demo.TEAM_NAME).exists():
            self.stdout.write(
                f'The demo is already loaded (team "{demo.TEAM_NAME}"): nothing changed.'
            )
            self.print_sign_ins()
            return
        same_names = Q()
        for person in demo.PEOPLE:
            same_names |= Q(username__iexact=person.username)
        taken = sorted(
            get_user_model().objects.filter(same_names).values_list("username", flat=True)
        )
        if taken:
            raise CommandError(
                f"Can't load the demo: the sign-ins {', '.join(taken)} already exist outside "
                f'the demo team "{demo.TEAM_NAME}". Nothing was changed.'
            )
        try:
            with transaction.atomic():
                scenario = load()
        except ValidationError as exc:
            raise CommandError(
                f"The demo data doesn't pass validation, nothing was changed: {exc}"
            ) from exc
        self.print_summary(scenario)
        self.print_sign_ins()

    def print_summary(self, scenario: Scenario) -> None:
        workshop = scenario.workshop
        interactions = MicroInteraction.objects.filter(phase__scenario=scenario)
        rated = interactions.filter(emotion__isnull=False).count()
        moments = interactions.exclude(moment_of_truth=MomentOfTruth.NONE).count()
        self.stdout.write(
            self.style.SUCCESS(
                f'Loaded the demo: team "{workshop.team.name}" with {len(demo.PEOPLE)} sign-ins '
                f"and {len(demo.PERSONAS)} personas."
            )
        )
        status = workshop.get_status_display().lower()
        self.stdout.write(f'  Workshop "{workshop.title}" ({status}, {date_format(workshop.date, "j F Y")})')
        phases = Phase.objects.filter(scenario=scenario).count()
        notes = Note.objects.filter(scenario=scenario).count()
        self.stdout.write(
            f'  Board "{scenario.title}": {phases} phases, {interactions.count()} '
            f"micro-interactions ({rated} rated, {moments} moments of truth), {notes} notes."
        )
        self.stdout.write(f"  Open it at {reverse('board', args=[scenario.pk])}")
        self.stdout.write(
            f'  Earlier workshop "{demo.EARLIER_WORKSHOP_TITLE}" (closed): {len(demo.EARLIER_ACTIONS)} '
            f"actions to follow up at {reverse('team-actions', args=[workshop.team_id])}"
        )

    def print_sign_ins(self) -> None:
        self.stdout.write(f"Demo sign-ins (password: {demo.PASSWORD}):")
        width = max(len(p.username) for p in demo.PEOPLE)
        for person in demo.PEOPLE:
            self.stdout.write(
                f"  {person.username:<{width}}  {person.full_name}, {person.description}"
            )


def load() -> Scenario:
    """Create the demo. Call inside a transaction: a failure part-way leaves nothing behind.

    Everything goes through the service functions, as the people in the demo would do it.
    Only the first facilitator's sign-in is created directly: a team is started by a user.
    """
    first, *others = demo.PEOPLE
    user = get_user_model().objects.create_user(
        username=first.username,
        password=demo.PASSWORD,
        first_name=first.first_name,
        last_name=first.last_name,
    )
    team = workshop_services.create_team(
        user=user,
        name=demo.TEAM_NAME,
        business_function=first.business_function,
        display_name=first.full_name,
    )
    facilitator = Membership.objects.select_related("user").get(team=team, user=user)
    members = {first.username: facilitator}
    for person in others:
        members[person.username] = workshop_services.add_member(
            actor=facilitator,
            team=team,
            username=person.username,
            display_name=person.full_name,
            role=person.role,
            business_function=person.business_function,
            password=demo.PASSWORD,
        )
    personas = {
        p.name: workshop_services.create_persona(
            actor=facilitator,
            team=team,
            name=p.name,
            segment=p.segment,
            goals=p.goals,
            expectations=p.expectations,
            bio=p.bio,
        )
        for p in demo.PERSONAS
    }
    load_earlier_session(facilitator, members, personas)
    workshop = workshop_services.create_workshop(
        actor=facilitator, team=team, title=demo.WORKSHOP_TITLE, date=timezone.localdate()
    )
    workshop = workshop_services.update_workshop(
        actor=facilitator,
        workshop=workshop,
        title=workshop.title,
        date=workshop.date,
        status=demo.WORKSHOP_STATUS,
        follows_up=None,
    )
    scenario = board_services.create_scenario(
        actor=facilitator,
        workshop=workshop,
        title=demo.SCENARIO_TITLE,
        description=demo.SCENARIO_DESCRIPTION,
        persona=personas[demo.SCENARIO_PERSONA],
        template_key=demo.SCENARIO_TEMPLATE,
    )
    phases = {phase.name: phase for phase in Phase.objects.filter(scenario=scenario)}

    for extra in demo.EXTRA_INTERACTIONS:
        mi = board_services.add_micro_interaction(
            actor=facilitator,
            phase=_lookup(phases, extra.phase),
            action=extra.action,
            channel=extra.channel,
        )
        if extra.position is not None:
            board_services.move_micro_interaction(
                actor=facilitator, interaction=mi, position=extra.position
            )

    interactions = {
        (mi.phase.name, mi.action): mi
        for mi in MicroInteraction.objects.filter(phase__scenario=scenario).select_related("phase")
    }
    _rate(facilitator, interactions, demo.RATINGS)

    for note in demo.NOTES:
        board_services.add_note(
            actor=members[note.author],
            scenario=scenario,
            phase=_lookup(phases, note.phase),
            micro_interaction=_lookup(interactions, (note.phase, note.action))
            if note.action
            else None,
            kind=note.kind,
            text=note.text,
        )
    return Scenario.objects.select_related("workshop__team").get(pk=scenario.pk)


def load_earlier_session(facilitator: Membership, members: dict[str, Membership], personas: dict) -> None:
    """The team's session of a few weeks ago, now closed: a board with its frictions, and the
    actions decided there, each as far along as the review has got."""
    workshop = workshop_services.create_workshop(
        actor=facilitator,
        team=facilitator.team,
        title=demo.EARLIER_WORKSHOP_TITLE,
        date=timezone.localdate() - timedelta(weeks=demo.EARLIER_WORKSHOP_WEEKS_AGO),
    )
    scenario = board_services.create_scenario(
        actor=facilitator,
        workshop=workshop,
        title=demo.EARLIER_SCENARIO_TITLE,
        persona=personas[demo.EARLIER_SCENARIO_PERSONA],
        template_key=demo.SCENARIO_TEMPLATE,
    )
    interactions = {
        (mi.phase.name, mi.action): mi
        for mi in MicroInteraction.objects.filter(phase__scenario=scenario).select_related("phase")
    }
    notes = [  # each action below names its note by a few words of it
        board_services.add_note(
            actor=members[n.author],
            scenario=scenario,
            phase=_lookup(interactions, (n.phase, n.action)).phase,
            micro_interaction=_lookup(interactions, (n.phase, n.action)),
            kind=n.kind,
            text=n.text,
        )
        for n in demo.EARLIER_NOTES
    ]
    _rate(facilitator, interactions, demo.EARLIER_RATINGS)
    board_services.open_voting_round(actor=facilitator, scenario=scenario)
    for voter, words in demo.EARLIER_VOTES:
        board_services.cast_vote(actor=members[voter], note=_note_with(notes, words))
    board_services.close_voting_round(actor=facilitator, scenario=scenario)
    board_services.reveal_votes(actor=facilitator, scenario=scenario)
    for a in demo.EARLIER_ACTIONS:
        action = workshop_services.create_action(
            actor=facilitator,
            scenario=scenario,
            notes=[_note_with(notes, a.note)],
            title=a.title,
            owner=members[a.owner],
            due_date=timezone.localdate() + timedelta(days=a.due_in_days),
        )
        if a.status != action.status:
            workshop_services.update_action_status(
                actor=members[a.owner], action=action, status=a.status, comment=a.comment, version=action.version
            )
    workshop_services.update_workshop(
        actor=facilitator,
        workshop=workshop,
        title=workshop.title,
        date=workshop.date,
        status=WorkshopStatus.CLOSED,
        follows_up=None,
    )


def _rate(facilitator: Membership, interactions: dict, ratings: tuple[demo.Rating, ...]) -> None:
    """The facilitator's emotion and moment of truth for each step named in `ratings`."""
    for rating in ratings:
        board_services.rate_micro_interaction(
            actor=facilitator,
            interaction=_lookup(interactions, (rating.phase, rating.action)),
            emotion=rating.emotion,
            moment_of_truth=rating.moment_of_truth,
        )


def _note_with(notes: list[Note], words: str) -> Note:
    found = [n for n in notes if words in n.text]
    if len(found) != 1:
        raise CommandError(f"The demo's actions name a note by {words!r}, which {len(found)} notes have.")
    return found[0]


def _lookup(found: dict, key: Any) -> Any:
    if key not in found:
        raise CommandError(f"The demo refers to {key!r}, which its journey template doesn't have.")
    return found[key]
