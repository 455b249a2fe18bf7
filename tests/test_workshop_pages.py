"""Signing in and out, the home page (teams and workshops by status), and the workshop pages."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import services as board_services
from tests.conftest import PASSWORD, client_for, make_member
from workshops.models import Persona, Role, Team, Workshop, WorkshopStatus

DENIED = [("as_participant", 403), ("as_manager", 403), ("as_outsider", 404)]
DAY = datetime.date(2026, 11, 20)


def assert_login_redirect(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def query_count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# Signing in and out ----------------------------------------------------------------------------


def test_it_shows_the_sign_in_page(db):
    r = Client().get("/accounts/login/?next=/workshops/1/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'autocomplete="current-password"' in html
    assert 'name="next" value="/workshops/1/"' in html


def test_it_signs_in_and_goes_where_it_was_asked(participant, workshop):
    r = Client().post(
        "/accounts/login/",
        {"username": "sam", "password": PASSWORD, "next": f"/workshops/{workshop.pk}/"},
    )
    assert r.status_code == 302 and r["Location"] == f"/workshops/{workshop.pk}/"


def test_it_explains_a_failed_sign_in(participant):
    r = Client().post("/accounts/login/", {"username": "sam", "password": "wrong"})
    assert r.status_code == 200
    assert b"Please enter a correct username and password" in r.content
    assert b'value="sam"' in r.content


def test_it_signs_out_by_post(as_participant):
    r = as_participant.post("/accounts/logout/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/"
    assert_login_redirect(as_participant.get("/"))


# Home ------------------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(db):
    assert_login_redirect(Client().get("/"))


def test_it_shows_the_teams_and_workshops_grouped_by_status(
    as_participant, team, workshop, board, other_team
):
    live = Workshop.objects.create(
        team=team, title="Boutique welcome", date=DAY, status=WorkshopStatus.LIVE
    )
    Workshop.objects.create(team=other_team, title="Someone else's workshop", date=DAY)
    r = as_participant.get("/")
    assert r.status_code == 200
    html = r.content.decode()
    assert f'href="/teams/{team.pk}/"' in html and f'href="/teams/{team.pk}/personas/"' in html
    assert "Someone else" not in html and other_team.name not in html
    live_section = html.split('id="status-live"')[1].split("</section>")[0]
    planned_section = html.split('id="status-planned"')[1].split("</section>")[0]
    assert live.title in live_section and workshop.title not in live_section
    assert workshop.title in planned_section and f'href="/boards/{board.pk}/"' in planned_section
    assert 'id="status-closed"' not in html  # empty groups are left out of the overview
    assert "/workshops/new/" not in html  # participants don't plan workshops


def test_it_filters_workshops_by_status(as_participant, team, workshop):
    Workshop.objects.create(
        team=team, title="Boutique welcome", date=DAY, status=WorkshopStatus.LIVE
    )
    html = as_participant.get("/?status=live").content.decode()
    assert "Boutique welcome" in html and workshop.title not in html
    assert 'href="/?status=live" class="chip active" aria-current="page"' in html
    closed = as_participant.get("/?status=closed").content.decode()
    assert 'id="status-closed"' in closed and "No closed workshops yet." in closed


def test_it_ignores_an_unknown_status_filter(as_participant, workshop):
    assert workshop.title in as_participant.get("/?status=postponed").content.decode()


def test_it_offers_facilitators_a_new_workshop(as_facilitator, team):
    assert f'href="/teams/{team.pk}/workshops/new/"' in as_facilitator.get("/").content.decode()


def test_it_welcomes_someone_without_a_team(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="newcomer", password=PASSWORD)
    client = Client()
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "You are not in a team yet" in html and 'href="/teams/new/"' in html


def test_it_keeps_the_home_page_queries_constant(
    as_facilitator, team, facilitator, persona, board, django_assert_max_num_queries
):
    few = query_count(as_facilitator, "/")
    for i in range(6):
        w = Workshop.objects.create(
            team=team, title=f"Workshop {i}", date=DAY, status=WorkshopStatus.values[i % 3]
        )
        for j in range(2):
            board_services.create_scenario(
                actor=facilitator, workshop=w, title=f"Scenario {j}", persona=persona
            )
        extra = Team.objects.create(name=f"Maison {i}")
        make_member(extra, f"fac{i}", Role.FACILITATOR)
        facilitator.user.memberships.create(team=extra, role=Role.PARTICIPANT)
    with django_assert_max_num_queries(few):
        r = as_facilitator.get("/")
    assert r.content.count(b'class="card workshop-card"') == 7
    assert r.content.count(b'class="card team-card"') == 7


# New workshop ----------------------------------------------------------------------------------


def test_it_shows_the_new_workshop_form(as_facilitator, team, workshop):
    r = as_facilitator.get(f"/teams/{team.pk}/workshops/new/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="workshop-new-form"' in html and 'type="date"' in html
    assert (
        f'<option value="{workshop.pk}"' in html
        and "First visit to delivery · 20 Nov 2026</option>" in html
    )


def test_it_plans_a_first_workshop_unless_told_it_follows_one_up(as_facilitator, team):
    today = timezone.localdate()
    last = Workshop.objects.create(
        team=team, title="Last month", date=today - datetime.timedelta(days=30)
    )
    html = as_facilitator.get(f"/teams/{team.pk}/workshops/new/").content.decode()
    assert f'<option value="{last.pk}">Last month' in html  # offered, not picked
    assert '<option value="" selected>— Nothing, it&#x27;s a first workshop —</option>' in html
    assert f'value="{today:%Y-%m-%d}"' in html


def test_it_plans_a_workshop(as_facilitator, team, workshop):
    r = as_facilitator.post(
        f"/teams/{team.pk}/workshops/new/",
        {"title": "Delivery, one month on", "date": "2026-12-18", "follows_up": workshop.pk},
    )
    created = Workshop.objects.get(title="Delivery, one month on")
    assert r.status_code == 302 and r["Location"] == f"/workshops/{created.pk}/"
    assert (created.team, created.date, created.status, created.follows_up) == (
        team,
        datetime.date(2026, 12, 18),
        WorkshopStatus.PLANNED,
        workshop,
    )


def test_it_shows_what_is_wrong_with_a_new_workshop(as_facilitator, team, workshop):
    r = as_facilitator.post(
        f"/teams/{team.pk}/workshops/new/", {"title": "", "date": "20/11/2026", "follows_up": ""}
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="workshop_title_error"' in html and 'id="workshop_date_error"' in html
    assert "Enter a valid date." in html
    assert Workshop.objects.count() == 1


def test_it_explains_that_a_follow_up_comes_after(as_facilitator, team, workshop):
    r = as_facilitator.post(
        f"/teams/{team.pk}/workshops/new/",
        {"title": "Before", "date": "2026-11-01", "follows_up": workshop.pk},
    )
    assert r.status_code == 422
    assert "pick a workshop held before this one" in r.content.decode()


def test_it_only_offers_the_teams_own_workshops_to_follow_up(as_facilitator, team, other_team):
    foreign = Workshop.objects.create(team=other_team, title="Theirs", date=DAY)
    r = as_facilitator.post(
        f"/teams/{team.pk}/workshops/new/",
        {"title": "Ours", "date": "2026-12-01", "follows_up": foreign.pk},
    )
    assert r.status_code == 422
    assert b"Select a valid choice" in r.content
    assert not Workshop.objects.filter(title="Ours").exists()


@pytest.mark.parametrize("client_name,status", DENIED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_planning_workshops(request, team, facilitator, client_name, status, method):
    client = request.getfixturevalue(client_name)
    r = getattr(client, method)(
        f"/teams/{team.pk}/workshops/new/", {"title": "Hijack", "date": "2026-12-01"}
    )
    assert r.status_code == status
    assert not Workshop.objects.exists()


def test_it_sends_anonymous_visitors_to_sign_in_before_planning(team):
    assert_login_redirect(
        Client().post(f"/teams/{team.pk}/workshops/new/", {"title": "x", "date": "2026-12-01"})
    )
    assert not Workshop.objects.exists()


# Workshop page ---------------------------------------------------------------------------------


def test_it_shows_a_workshop_to_its_team(as_participant, team, workshop, board, persona):
    review = Workshop.objects.create(
        team=team, title="Review", date=DAY + datetime.timedelta(days=30), follows_up=workshop
    )
    Persona.objects.create(team=team, name="Hélène", segment="VIC")
    r = as_participant.get(f"/workshops/{review.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Review" in html and "Planned" in html and 'datetime="2026-12-20"' in html
    assert f'Follows up <a href="/workshops/{workshop.pk}/">First visit to delivery</a>' in html
    assert "Camille" in html and "Hélène" in html  # the team's personas
    assert 'id="scenario-new-form"' not in html and 'id="workshop-edit-form"' not in html

    original = as_participant.get(f"/workshops/{workshop.pk}/").content.decode()
    assert f'href="/boards/{board.pk}/"' in original and "A first fine watch" in original
    assert f'Followed up by\n    <a href="/workshops/{review.pk}/">Review</a>' in original
    assert "/scenarios/" not in original  # no edit links for participants


def test_it_gives_facilitators_the_workshop_tools(as_facilitator, workshop, board):
    html = as_facilitator.get(f"/workshops/{workshop.pk}/").content.decode()
    assert 'id="scenario-new-form"' in html and 'id="workshop-edit-form"' in html
    assert f'href="/scenarios/{board.pk}/edit/"' in html
    assert 'value="luxury-retail"' in html and "Blank board" in html


def test_it_hides_other_teams_workshops(as_outsider, workshop):
    assert as_outsider.get(f"/workshops/{workshop.pk}/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in_before_a_workshop(workshop):
    assert_login_redirect(Client().get(f"/workshops/{workshop.pk}/"))


def test_it_keeps_the_workshop_page_queries_constant(
    as_facilitator, team, facilitator, workshop, persona, django_assert_max_num_queries
):
    few = query_count(as_facilitator, f"/workshops/{workshop.pk}/")
    for i in range(8):
        p = Persona.objects.create(team=team, name=f"Persona {i}", segment="Patron")
        board_services.create_scenario(
            actor=facilitator, workshop=workshop, title=f"Scenario {i}", persona=p
        )
        Workshop.objects.create(
            team=team,
            title=f"Later {i}",
            date=DAY + datetime.timedelta(days=i + 1),
            follows_up=workshop,
        )
    with django_assert_max_num_queries(few):
        r = as_facilitator.get(f"/workshops/{workshop.pk}/")
    assert r.content.count(b'class="card scenario-card"') == 8


# Editing a workshop ----------------------------------------------------------------------------


def test_it_edits_a_workshop(as_facilitator, team, workshop):
    kickoff = Workshop.objects.create(
        team=team, title="Kick-off", date=DAY - datetime.timedelta(days=14)
    )
    r = as_facilitator.post(
        f"/workshops/{workshop.pk}/edit/",
        {
            "title": "First visit to delivery (live)",
            "date": "2026-11-21",
            "status": "live",
            "follows_up": kickoff.pk,
        },
    )
    assert r.status_code == 302 and r["Location"] == f"/workshops/{workshop.pk}/"
    workshop.refresh_from_db()
    assert (workshop.title, workshop.date, workshop.status, workshop.follows_up) == (
        "First visit to delivery (live)",
        datetime.date(2026, 11, 21),
        WorkshopStatus.LIVE,
        kickoff,
    )


def test_it_shows_what_is_wrong_with_a_workshop_edit(as_facilitator, workshop):
    r = as_facilitator.post(
        f"/workshops/{workshop.pk}/edit/",
        {"title": "x", "date": "2026-11-20", "status": "postponed", "follows_up": ""},
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="workshop-edit" open' in html and 'id="workshop_status_error"' in html
    workshop.refresh_from_db()
    assert workshop.title == "First visit to delivery"


def test_it_refuses_a_workshop_following_itself_up(as_facilitator, workshop):
    r = as_facilitator.post(
        f"/workshops/{workshop.pk}/edit/",
        {"title": "x", "date": "2026-11-20", "status": "planned", "follows_up": workshop.pk},
    )
    assert r.status_code == 422  # not even offered: it is not a valid choice
    workshop.refresh_from_db()
    assert workshop.follows_up is None


@pytest.mark.parametrize("client_name,status", DENIED)
def test_it_refuses_editing_workshops(request, workshop, facilitator, client_name, status):
    r = request.getfixturevalue(client_name).post(
        f"/workshops/{workshop.pk}/edit/",
        {"title": "Hijack", "date": "2026-11-20", "status": "closed"},
    )
    assert r.status_code == status
    workshop.refresh_from_db()
    assert workshop.status == WorkshopStatus.PLANNED


def test_it_sends_anonymous_visitors_to_sign_in_before_editing_a_workshop(workshop):
    assert_login_redirect(
        Client().post(
            f"/workshops/{workshop.pk}/edit/",
            {"title": "x", "date": "2026-11-20", "status": "closed"},
        )
    )
    workshop.refresh_from_db()
    assert workshop.status == WorkshopStatus.PLANNED


def test_it_only_edits_a_workshop_by_post(as_facilitator, workshop):
    assert as_facilitator.get(f"/workshops/{workshop.pk}/edit/").status_code == 405


def test_a_demoted_facilitator_loses_the_tools_at_once(team, facilitator, participant, workshop):
    participant.role = Role.FACILITATOR
    participant.save()
    facilitator.role = Role.PARTICIPANT
    facilitator.save()
    client = client_for(facilitator)
    assert (
        'id="workshop-edit-form"' not in client.get(f"/workshops/{workshop.pk}/").content.decode()
    )
    r = client.post(
        f"/workshops/{workshop.pk}/edit/", {"title": "x", "date": "2026-11-20", "status": "closed"}
    )
    assert r.status_code == 403


def test_it_takes_a_workshop_live_then_closes_and_reopens_it(as_facilitator, workshop, board):
    url = f"/workshops/{workshop.pk}/status/"
    page = as_facilitator.get(f"/workshops/{workshop.pk}/").content.decode()
    assert '<button type="submit" name="status" value="live" class="primary">Go live</button>' in page
    for status, button, said in [
        ("live", "Close the workshop", "The workshop is live."),
        ("closed", "Reopen", "The workshop is closed: its boards take notes from facilitators only."),
        ("live", "Close the workshop", "The workshop is live."),
    ]:
        r = as_facilitator.post(url, {"status": status}, follow=True)
        assert r.redirect_chain == [(f"/workshops/{workshop.pk}/", 302)]
        workshop.refresh_from_db()
        page = r.content.decode()
        assert workshop.status == status and said in page and f">{button}</button>" in page
    # The title, date and follow-up stay as they were; the board heard of every change.
    assert (workshop.title, workshop.date) == ("First visit to delivery", datetime.date(2026, 11, 20))
    board.refresh_from_db()
    assert list(board.events.filter(kind="workshop.status").values_list("payload__status", flat=True)) == [
        "live", "closed", "live"]


def test_it_refuses_a_status_that_does_not_exist(as_facilitator, workshop):
    r = as_facilitator.post(f"/workshops/{workshop.pk}/status/", {"status": "postponed"}, follow=True)
    assert "Pick planned, live or closed." in r.content.decode()
    workshop.refresh_from_db()
    assert workshop.status == WorkshopStatus.PLANNED


@pytest.mark.parametrize("client_name,status", DENIED)
def test_it_lets_only_facilitators_change_a_workshops_status(request, workshop, facilitator, client_name, status):
    r = request.getfixturevalue(client_name).post(f"/workshops/{workshop.pk}/status/", {"status": "closed"})
    assert r.status_code == status
    workshop.refresh_from_db()
    assert workshop.status == WorkshopStatus.PLANNED
    if client_name != "as_outsider":
        assert "Go live" not in request.getfixturevalue(client_name).get(f"/workshops/{workshop.pk}/").content.decode()
