"""workshops.services: the one write path for teams, members, workshops and personas,
and the model rules that live in workshops (check constraints, one seat per person per team)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from workshops import services
from workshops.models import (
    Action,
    BusinessFunction,
    Membership,
    Persona,
    Role,
    Team,
    Workshop,
    WorkshopStatus,
)

NOT_FACILITATORS = ["participant", "manager", "outsider"]
DAY = datetime.date(2026, 11, 20)


@pytest.fixture(params=NOT_FACILITATORS)
def non_facilitator(request) -> Membership:
    """Who may not change the team: its participants and managers, another team's facilitator."""
    return request.getfixturevalue(request.param)


def field_errors(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


# Teams -----------------------------------------------------------------------------------------


def test_it_makes_the_creator_the_facilitator_of_a_new_team(db):
    user = get_user_model().objects.create_user(username="nina", password="x-very-long-1")
    team = services.create_team(
        user=user, name="  Maison   Lumière ", business_function=BusinessFunction.ECOMMERCE
    )
    assert team.name == "Maison Lumière"
    seat = Membership.objects.get(team=team)
    assert (seat.user, seat.role, seat.business_function) == (
        user,
        Role.FACILITATOR,
        BusinessFunction.ECOMMERCE,
    )


def test_it_refuses_a_team_from_an_anonymous_user(db):
    with pytest.raises(PermissionDenied):
        services.create_team(
            user=AnonymousUser(), name="Ghost maison", business_function=BusinessFunction.TECH
        )
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    "name,function,field",
    [
        ("   ", BusinessFunction.TECH, "name"),
        ("x" * 121, BusinessFunction.TECH, "name"),
        ("Maison", "astrology", "business_function"),
    ],
)
def test_it_validates_a_new_team(db, name, function, field):
    user = get_user_model().objects.create_user(username="nina", password="x-very-long-1")
    with pytest.raises(ValidationError) as exc:
        services.create_team(user=user, name=name, business_function=function)
    assert field in field_errors(exc)
    assert not Team.objects.exists()


def test_it_renames_a_team(facilitator, team):
    services.update_team(actor=facilitator, team=team, name="Maison Horlogère, Zurich")
    team.refresh_from_db()
    assert team.name == "Maison Horlogère, Zurich"


def test_it_refuses_renaming_a_team_to_non_facilitators(non_facilitator, team):
    with pytest.raises(PermissionDenied):
        services.update_team(actor=non_facilitator, team=team, name="Taken over")
    team.refresh_from_db()
    assert team.name == "Maison Horlogère, Geneva"


def test_it_refuses_an_empty_team_name(facilitator, team):
    with pytest.raises(ValidationError) as exc:
        services.update_team(actor=facilitator, team=team, name="")
    assert "name" in field_errors(exc)


# Members ---------------------------------------------------------------------------------------


def add(actor: Membership, team: Team, **overrides) -> Membership:
    data = {
        "username": "claire",
        "display_name": "Claire D.",
        "role": Role.PARTICIPANT,
        "business_function": BusinessFunction.BOUTIQUE,
        "password": "velvet-tourbillon-42",
    }
    data.update(overrides)
    return services.add_member(actor=actor, team=team, **data)


def test_it_adds_a_member_with_a_sign_in(facilitator, team):
    seat = add(facilitator, team)
    assert (seat.team, seat.role, seat.business_function, seat.display_name) == (
        team,
        Role.PARTICIPANT,
        BusinessFunction.BOUTIQUE,
        "Claire D.",
    )
    assert seat.user.username == "claire"
    assert seat.user.check_password("velvet-tourbillon-42")


def test_it_refuses_adding_members_to_non_facilitators(non_facilitator, team):
    with pytest.raises(PermissionDenied):
        add(non_facilitator, team)
    assert not get_user_model().objects.filter(username="claire").exists()


def test_it_refuses_a_username_that_is_taken_whatever_its_case(facilitator, participant, team):
    with pytest.raises(ValidationError) as exc:
        add(facilitator, team, username="SAM")
    assert "already taken" in field_errors(exc)["username"][0]
    assert team.memberships.count() == 2


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"username": ""}, "username"),
        ({"username": "claire dupont"}, "username"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"role": "owner"}, "role"),
        ({"business_function": "astrology"}, "business_function"),
        ({"display_name": "x" * 61}, "display_name"),
    ],
)
def test_it_validates_a_new_member(facilitator, team, overrides, field):
    with pytest.raises(ValidationError) as exc:
        add(facilitator, team, **overrides)
    assert field in field_errors(exc)
    assert (
        not get_user_model().objects.filter(username=overrides.get("username", "claire")).exists()
    )


def test_it_updates_a_member(facilitator, participant):
    services.update_member(
        actor=facilitator,
        membership=participant,
        display_name="Sam, Rue du Rhône",
        role=Role.MANAGER,
        business_function=BusinessFunction.CUSTOMER_SERVICE,
    )
    participant.refresh_from_db()
    assert (participant.display_name, participant.role, participant.business_function) == (
        "Sam, Rue du Rhône",
        Role.MANAGER,
        BusinessFunction.CUSTOMER_SERVICE,
    )


def test_it_refuses_updating_members_to_non_facilitators(non_facilitator, other_participant):
    with pytest.raises(PermissionDenied):
        services.update_member(
            actor=non_facilitator,
            membership=other_participant,
            display_name="",
            role=Role.FACILITATOR,
            business_function=BusinessFunction.BOUTIQUE,
        )
    other_participant.refresh_from_db()
    assert other_participant.role == Role.PARTICIPANT


def test_it_keeps_the_last_facilitator(facilitator, participant):
    with pytest.raises(ValidationError) as exc:
        services.update_member(
            actor=facilitator,
            membership=facilitator,
            display_name="",
            role=Role.PARTICIPANT,
            business_function=facilitator.business_function,
        )
    assert "only facilitator" in field_errors(exc)["role"][0]
    facilitator.refresh_from_db()
    assert facilitator.is_facilitator


def test_it_lets_a_facilitator_step_down_once_there_is_another(facilitator, participant):
    services.update_member(
        actor=facilitator,
        membership=participant,
        display_name="",
        role=Role.FACILITATOR,
        business_function=participant.business_function,
    )
    services.update_member(
        actor=facilitator,
        membership=facilitator,
        display_name="",
        role=Role.PARTICIPANT,
        business_function=facilitator.business_function,
    )
    roles = dict(Membership.objects.filter(team=facilitator.team).values_list("pk", "role"))
    assert roles == {facilitator.pk: Role.PARTICIPANT, participant.pk: Role.FACILITATOR}


@pytest.mark.parametrize("field,value", [("role", "owner"), ("business_function", "astrology")])
def test_it_validates_a_member_update(facilitator, participant, field, value):
    data = {
        "display_name": "",
        "role": Role.PARTICIPANT,
        "business_function": BusinessFunction.BOUTIQUE,
        field: value,
    }
    with pytest.raises(ValidationError) as exc:
        services.update_member(actor=facilitator, membership=participant, **data)
    assert field in field_errors(exc)


# Workshops -------------------------------------------------------------------------------------


def test_it_creates_a_workshop_that_follows_up_an_earlier_one(facilitator, team, workshop):
    later = services.create_workshop(
        actor=facilitator,
        team=team,
        title=" Follow-up: delivery ",
        date=DAY + datetime.timedelta(days=28),
        follows_up=workshop,
    )
    assert (later.team, later.title, later.status, later.follows_up) == (
        team,
        "Follow-up: delivery",
        WorkshopStatus.PLANNED,
        workshop,
    )


def test_it_refuses_creating_workshops_to_non_facilitators(non_facilitator, team):
    with pytest.raises(PermissionDenied):
        services.create_workshop(actor=non_facilitator, team=team, title="Hijack", date=DAY)
    assert not Workshop.objects.exists()


def test_it_refuses_following_up_another_teams_workshop(facilitator, team, other_team):
    foreign = Workshop.objects.create(team=other_team, title="Theirs", date=DAY)
    with pytest.raises(ValidationError) as exc:
        services.create_workshop(
            actor=facilitator,
            team=team,
            title="Ours",
            date=DAY + datetime.timedelta(days=7),
            follows_up=foreign,
        )
    assert "this team's workshops" in field_errors(exc)["follows_up"][0]


@pytest.mark.parametrize("days", [0, -7])
def test_it_refuses_following_up_a_workshop_that_is_not_earlier(facilitator, team, workshop, days):
    with pytest.raises(ValidationError) as exc:
        services.create_workshop(
            actor=facilitator,
            team=team,
            title="Too early",
            date=DAY + datetime.timedelta(days=days),
            follows_up=workshop,
        )
    assert "held before this one" in field_errors(exc)["follows_up"][0]


@pytest.mark.parametrize(
    "title,date,field", [("", DAY, "title"), ("x" * 161, DAY, "title"), ("Ok", None, "date")]
)
def test_it_validates_a_new_workshop(facilitator, team, title, date, field):
    with pytest.raises(ValidationError) as exc:
        services.create_workshop(actor=facilitator, team=team, title=title, date=date)
    assert field in field_errors(exc)


def test_it_updates_a_workshop(facilitator, team, workshop):
    earlier = Workshop.objects.create(
        team=team, title="Kick-off", date=DAY - datetime.timedelta(days=30)
    )
    services.update_workshop(
        actor=facilitator,
        workshop=workshop,
        title="Delivery, revisited",
        date=DAY + datetime.timedelta(days=1),
        status=WorkshopStatus.LIVE,
        follows_up=earlier,
    )
    workshop.refresh_from_db()
    assert (workshop.title, workshop.date, workshop.status, workshop.follows_up) == (
        "Delivery, revisited",
        DAY + datetime.timedelta(days=1),
        WorkshopStatus.LIVE,
        earlier,
    )


def test_it_refuses_updating_workshops_to_non_facilitators(non_facilitator, workshop):
    with pytest.raises(PermissionDenied):
        services.update_workshop(
            actor=non_facilitator,
            workshop=workshop,
            title="Hijack",
            date=DAY,
            status=WorkshopStatus.CLOSED,
            follows_up=None,
        )
    workshop.refresh_from_db()
    assert workshop.status == WorkshopStatus.PLANNED


def test_it_refuses_an_unknown_workshop_status(facilitator, workshop):
    with pytest.raises(ValidationError) as exc:
        services.update_workshop(
            actor=facilitator,
            workshop=workshop,
            title="x",
            date=DAY,
            status="postponed",
            follows_up=None,
        )
    assert "status" in field_errors(exc)


def test_it_refuses_a_workshop_following_up_itself(facilitator, workshop):
    with pytest.raises(ValidationError) as exc:
        services.update_workshop(
            actor=facilitator,
            workshop=workshop,
            title="x",
            date=DAY,
            status=WorkshopStatus.PLANNED,
            follows_up=workshop,
        )
    assert "itself" in field_errors(exc)["follows_up"][0]


def test_it_refuses_moving_a_workshop_after_its_follow_up(facilitator, team, workshop):
    Workshop.objects.create(
        team=team, title="Review", date=DAY + datetime.timedelta(days=7), follows_up=workshop
    )
    with pytest.raises(ValidationError) as exc:
        services.update_workshop(
            actor=facilitator,
            workshop=workshop,
            title=workshop.title,
            date=DAY + datetime.timedelta(days=7),
            status=WorkshopStatus.PLANNED,
            follows_up=None,
        )
    assert "“Review” follows up this workshop" in field_errors(exc)["date"][0]


# Personas --------------------------------------------------------------------------------------

PERSONA = {
    "name": "Hélène",
    "segment": "VIC",
    "goals": "Be recognised at every boutique",
    "expectations": "A private salon, her associate, no waiting",
    "bio": "Collector of complications for twenty years.",
}


def test_it_creates_a_persona(facilitator, team):
    persona = services.create_persona(actor=facilitator, team=team, **PERSONA)
    assert (persona.team, persona.name, persona.segment, persona.bio) == (
        team,
        "Hélène",
        "VIC",
        PERSONA["bio"],
    )


def test_it_accepts_a_segment_in_the_teams_own_words(facilitator, team):
    persona = services.create_persona(
        actor=facilitator, team=team, **{**PERSONA, "segment": "Gift buyer"}
    )
    assert persona.segment == "Gift buyer"


def test_it_refuses_creating_personas_to_non_facilitators(non_facilitator, team):
    with pytest.raises(PermissionDenied):
        services.create_persona(actor=non_facilitator, team=team, **PERSONA)
    assert not Persona.objects.exists()


@pytest.mark.parametrize(
    "field,value", [("name", ""), ("segment", "  "), ("segment", "x" * 61), ("bio", "x" * 601)]
)
def test_it_validates_a_persona(facilitator, team, field, value):
    with pytest.raises(ValidationError) as exc:
        services.create_persona(actor=facilitator, team=team, **{**PERSONA, field: value})
    assert field in field_errors(exc)


def test_it_updates_a_persona(facilitator, persona):
    services.update_persona(actor=facilitator, persona=persona, **{**PERSONA, "segment": "Patron"})
    persona.refresh_from_db()
    assert (persona.name, persona.segment, persona.expectations) == (
        "Hélène",
        "Patron",
        PERSONA["expectations"],
    )


def test_it_refuses_updating_personas_to_non_facilitators(non_facilitator, persona):
    with pytest.raises(PermissionDenied):
        services.update_persona(actor=non_facilitator, persona=persona, **PERSONA)
    persona.refresh_from_db()
    assert persona.name == "Camille"


# Model rules -----------------------------------------------------------------------------------


def test_it_gives_a_person_one_seat_per_team(participant, team):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=participant.user, team=team, role=Role.MANAGER)


def test_it_lets_a_person_sit_in_several_teams(participant, other_team):
    Membership.objects.create(user=participant.user, team=other_team)
    assert participant.user.memberships.count() == 2


@pytest.mark.parametrize("field", ["role", "business_function"])
def test_it_rejects_an_unknown_role_or_function_in_the_database(participant, field):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=participant.pk).update(**{field: "astrologer"})


def test_it_rejects_an_unknown_workshop_status_in_the_database(workshop):
    with pytest.raises(IntegrityError), transaction.atomic():
        Workshop.objects.filter(pk=workshop.pk).update(status="postponed")


def test_it_rejects_an_unknown_action_status_in_the_database(workshop, manager):
    action = Action.objects.create(
        workshop=workshop, title="Greet within a minute", owner=manager, due_date=DAY
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Action.objects.filter(pk=action.pk).update(status="forgotten")
