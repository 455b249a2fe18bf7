"""Team pages: a new team, the team page with its members, renaming, adding and editing members."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.conftest import make_member
from workshops.models import BusinessFunction, Membership, Role, Team

# Who may not change a team, and what they get: a 403 inside the team, a 404 from another team.
DENIED = [("as_participant", 403), ("as_manager", 403), ("as_outsider", 404)]

NEW_MEMBER = {
    "username": "claire",
    "display_name": "Claire",
    "role": Role.PARTICIPANT,
    "business_function": BusinessFunction.BOUTIQUE,
    "password": "velvet-tourbillon-42",
}


def assert_login_redirect(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# New team --------------------------------------------------------------------------------------


def test_it_shows_the_new_team_form(as_participant):
    r = as_participant.get("/teams/new/")
    assert r.status_code == 200
    assert b'id="team-new-form"' in r.content
    assert b'name="business_function"' in r.content


def test_it_creates_a_team_led_by_its_creator(as_participant, participant):
    r = as_participant.post(
        "/teams/new/",
        {
            "name": "Maison Lumière",
            "display_name": "",
            "business_function": BusinessFunction.MARKETING,
        },
    )
    team = Team.objects.get(name="Maison Lumière")
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/"
    seat = Membership.objects.get(team=team)
    assert (seat.user, seat.role, seat.business_function) == (
        participant.user,
        Role.FACILITATOR,
        "marketing",
    )


def test_it_shows_what_is_wrong_with_a_new_team(as_participant):
    r = as_participant.post("/teams/new/", {"name": "   ", "business_function": "astrology"})
    assert r.status_code == 422
    assert b'aria-invalid="true"' in r.content
    assert b"This field is required." in r.content
    assert b"Select a valid choice" in r.content
    assert list(Team.objects.values_list("name", flat=True)) == ["Maison Horlogère, Geneva"]


def test_it_sends_anonymous_visitors_to_sign_in_before_a_new_team(db):
    assert_login_redirect(Client().get("/teams/new/"))
    assert_login_redirect(Client().post("/teams/new/", {"name": "x", "business_function": "tech"}))
    assert not Team.objects.exists()


# Team page -------------------------------------------------------------------------------------


def test_it_lists_members_with_role_and_function(
    as_participant, team, facilitator, participant, manager
):
    r = as_participant.get(f"/teams/{team.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    for m, role, function in [
        (facilitator, "Facilitator", "Clienteling / CRM"),
        (participant, "Participant", "Boutique &amp; retail"),
        (manager, "Manager", "Marketing"),
    ]:
        row = html.split(f'id="member-{m.pk}"')[1].split("</li>")[0]
        assert m.name in row and role in row and function in row
    # Participants see the team, not the tools to change it.
    assert 'id="member-add-form"' not in html and 'id="team-edit-form"' not in html
    assert "/members/" not in html


def test_it_gives_facilitators_the_team_tools(as_facilitator, team, participant):
    html = as_facilitator.get(f"/teams/{team.pk}/").content.decode()
    assert 'id="member-add-form"' in html and 'id="team-edit-form"' in html
    assert f"/teams/{team.pk}/members/{participant.pk}/edit/" in html


def test_it_hides_other_teams(as_outsider, team):
    assert as_outsider.get(f"/teams/{team.pk}/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in_before_a_team_page(team):
    assert_login_redirect(Client().get(f"/teams/{team.pk}/"))


def test_it_keeps_the_team_page_queries_constant(
    as_facilitator, team, facilitator, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        as_facilitator.get(f"/teams/{team.pk}/")
    for i in range(12):
        make_member(team, f"staff{i}", Role.PARTICIPANT)
    with django_assert_max_num_queries(len(few)):
        r = as_facilitator.get(f"/teams/{team.pk}/")
    assert r.content.count(b'class="member role-') == 13


# Renaming the team -----------------------------------------------------------------------------


def test_it_renames_the_team(as_facilitator, team):
    r = as_facilitator.post(f"/teams/{team.pk}/edit/", {"name": "Maison Horlogère, Zurich"})
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/"
    team.refresh_from_db()
    assert team.name == "Maison Horlogère, Zurich"


def test_it_shows_what_is_wrong_with_a_team_name(as_facilitator, team):
    r = as_facilitator.post(f"/teams/{team.pk}/edit/", {"name": "x" * 121})
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="team-edit" open' in html
    assert 'id="team_name_error"' in html
    team.refresh_from_db()
    assert team.name == "Maison Horlogère, Geneva"


@pytest.mark.parametrize("client_name,status", DENIED)
def test_it_refuses_renaming_the_team(request, team, facilitator, client_name, status):
    r = request.getfixturevalue(client_name).post(f"/teams/{team.pk}/edit/", {"name": "Taken over"})
    assert r.status_code == status
    team.refresh_from_db()
    assert team.name == "Maison Horlogère, Geneva"


def test_it_sends_anonymous_visitors_to_sign_in_before_renaming(team):
    assert_login_redirect(Client().post(f"/teams/{team.pk}/edit/", {"name": "Taken over"}))
    team.refresh_from_db()
    assert team.name == "Maison Horlogère, Geneva"


def test_it_only_renames_by_post(as_facilitator, team):
    assert as_facilitator.get(f"/teams/{team.pk}/edit/").status_code == 405


# Adding members --------------------------------------------------------------------------------


def test_it_adds_a_member_who_can_then_sign_in(as_facilitator, team):
    r = as_facilitator.post(f"/teams/{team.pk}/members/new/", NEW_MEMBER)
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/"
    seat = Membership.objects.get(user__username="claire")
    assert (seat.team, seat.role, seat.business_function) == (team, Role.PARTICIPANT, "boutique")
    signed_in = Client().post(
        "/accounts/login/", {"username": "claire", "password": NEW_MEMBER["password"]}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"


def test_it_says_clearly_when_a_username_is_taken(as_facilitator, team, participant):
    r = as_facilitator.post(f"/teams/{team.pk}/members/new/", {**NEW_MEMBER, "username": "sam"})
    assert r.status_code == 422
    html = r.content.decode()
    assert "The username “sam” is already taken" in html
    assert 'id="member-add" open' in html
    assert 'value="sam"' in html  # what they typed stays
    assert NEW_MEMBER["password"] not in html  # but the password is never echoed back
    assert team.memberships.count() == 2


def test_it_shows_what_is_wrong_with_a_weak_password(as_facilitator, team):
    r = as_facilitator.post(f"/teams/{team.pk}/members/new/", {**NEW_MEMBER, "password": "short"})
    assert r.status_code == 422
    assert b"This password is too short" in r.content
    assert not get_user_model().objects.filter(username="claire").exists()


@pytest.mark.parametrize("client_name,status", DENIED)
def test_it_refuses_adding_members(request, team, facilitator, client_name, status):
    r = request.getfixturevalue(client_name).post(f"/teams/{team.pk}/members/new/", NEW_MEMBER)
    assert r.status_code == status
    assert not get_user_model().objects.filter(username="claire").exists()


def test_it_sends_anonymous_visitors_to_sign_in_before_adding_members(team):
    assert_login_redirect(Client().post(f"/teams/{team.pk}/members/new/", NEW_MEMBER))
    assert not get_user_model().objects.filter(username="claire").exists()


# Editing members -------------------------------------------------------------------------------


def test_it_shows_the_member_form(as_facilitator, team, participant):
    r = as_facilitator.get(f"/teams/{team.pk}/members/{participant.pk}/edit/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="member-edit-form"' in html
    assert '<option value="boutique" selected>' in html


def test_it_edits_a_member(as_facilitator, team, participant):
    r = as_facilitator.post(
        f"/teams/{team.pk}/members/{participant.pk}/edit/",
        {"display_name": "Sam B.", "role": Role.MANAGER, "business_function": BusinessFunction.HR},
    )
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/"
    participant.refresh_from_db()
    assert (participant.display_name, participant.role, participant.business_function) == (
        "Sam B.",
        "manager",
        "hr",
    )


def test_it_explains_why_the_last_facilitator_stays(as_facilitator, team, facilitator):
    r = as_facilitator.post(
        f"/teams/{team.pk}/members/{facilitator.pk}/edit/",
        {
            "display_name": "",
            "role": Role.PARTICIPANT,
            "business_function": facilitator.business_function,
        },
    )
    assert r.status_code == 422
    assert "the team&#x27;s only facilitator" in r.content.decode()
    facilitator.refresh_from_db()
    assert facilitator.is_facilitator


@pytest.mark.parametrize("client_name,status", DENIED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_editing_members(
    request, team, facilitator, other_participant, client_name, status, method
):
    client = request.getfixturevalue(client_name)
    url = f"/teams/{team.pk}/members/{other_participant.pk}/edit/"
    r = getattr(client, method)(
        url, {"display_name": "", "role": Role.FACILITATOR, "business_function": "tech"}
    )
    assert r.status_code == status
    other_participant.refresh_from_db()
    assert other_participant.role == Role.PARTICIPANT


def test_it_hides_members_of_other_teams_behind_a_team_address(as_facilitator, team, outsider):
    r = as_facilitator.post(
        f"/teams/{team.pk}/members/{outsider.pk}/edit/",
        {"display_name": "", "role": Role.PARTICIPANT, "business_function": "tech"},
    )
    assert r.status_code == 404
    outsider.refresh_from_db()
    assert outsider.is_facilitator


def test_it_sends_anonymous_visitors_to_sign_in_before_editing_members(team, participant):
    assert_login_redirect(Client().get(f"/teams/{team.pk}/members/{participant.pk}/edit/"))
