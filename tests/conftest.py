"""The shared base: one team with a facilitator, a participant, a manager, and an outsider from
another team, plus a board made from the default journey template."""

from __future__ import annotations

import datetime
import os

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from boards import services as board_services
from boards.journey_templates import DEFAULT_TEMPLATE
from boards.models import Phase, Scenario
from workshops.models import BusinessFunction, Membership, Persona, Role, Team, Workshop

PASSWORD = "journeymap-test"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Django removes the SQLite test database, but not the write-ahead log beside it."""
    name = settings.DATABASES["default"].get("TEST", {}).get("NAME") or ""
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name:
        for leftover in (f"{name}-wal", f"{name}-shm"):
            if os.path.exists(leftover) and not os.path.exists(name):
                os.remove(leftover)


def make_member(team: Team, username: str, role: str, function: str = BusinessFunction.BOUTIQUE, name: str = "") -> Membership:
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, first_name=name or username.title())
    return Membership.objects.create(user=user, team=team, role=role, business_function=function)


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="Maison Horlogère, Geneva")


@pytest.fixture
def facilitator(team) -> Membership:
    return make_member(team, "fiona", Role.FACILITATOR, BusinessFunction.CLIENTELING)


@pytest.fixture
def participant(team) -> Membership:
    return make_member(team, "sam", Role.PARTICIPANT, BusinessFunction.BOUTIQUE)


@pytest.fixture
def other_participant(team) -> Membership:
    return make_member(team, "lea", Role.PARTICIPANT, BusinessFunction.ECOMMERCE)


@pytest.fixture
def manager(team) -> Membership:
    return make_member(team, "marc", Role.MANAGER, BusinessFunction.MARKETING)


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(name="Another maison")


@pytest.fixture
def outsider(other_team) -> Membership:
    return make_member(other_team, "otto", Role.FACILITATOR, BusinessFunction.TECH)


@pytest.fixture
def workshop(team) -> Workshop:
    return Workshop.objects.create(team=team, title="First visit to delivery", date=datetime.date(2026, 11, 20))


@pytest.fixture
def persona(team) -> Persona:
    return Persona.objects.create(team=team, name="Camille", segment="First-time buyer", goals="Buy a first fine watch")


@pytest.fixture
def board(workshop, facilitator, persona) -> Scenario:
    return board_services.create_scenario(
        actor=facilitator, workshop=workshop, title="A first fine watch", persona=persona, template_key=DEFAULT_TEMPLATE
    )


@pytest.fixture
def phases(board) -> list[Phase]:
    """The board's phases in order: Awareness, Consideration, Purchase, Service, Loyalty & Advocacy."""
    return list(board.phases.order_by("order"))


@pytest.fixture
def awareness(phases) -> Phase:
    return phases[0]


def client_for(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture
def as_facilitator(facilitator) -> Client:
    return client_for(facilitator)


@pytest.fixture
def as_participant(participant) -> Client:
    return client_for(participant)


@pytest.fixture
def as_manager(manager) -> Client:
    return client_for(manager)


@pytest.fixture
def as_outsider(outsider) -> Client:
    return client_for(outsider)
