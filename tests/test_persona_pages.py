"""Persona pages: a team's personas, and the forms to create and edit them."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from boards import services as board_services
from workshops.models import Persona, Workshop

DENIED = [("as_participant", 403), ("as_manager", 403), ("as_outsider", 404)]

HELENE = {
    "name": "Hélène",
    "segment": "VIC",
    "goals": "Be recognised in every boutique",
    "expectations": "Her associate, a private salon, no waiting",
    "bio": "Collects complications; travels between Geneva and Dubai.",
}


def assert_login_redirect(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# The list --------------------------------------------------------------------------------------


def test_it_lists_the_teams_personas(as_participant, team, persona, board, other_team):
    Persona.objects.create(team=other_team, name="Somebody else's", segment="Patron")
    r = as_participant.get(f"/teams/{team.pk}/personas/")
    assert r.status_code == 200
    html = r.content.decode()
    card = html.split(f'id="persona-{persona.pk}"')[1].split("</li>")[0]
    assert "Camille" in card and "First-time buyer" in card and "Buy a first fine watch" in card
    assert "1 scenario<" in card
    assert "Somebody else" not in html
    assert "/personas/new/" not in html and "/edit/" not in html  # participants only read


def test_it_gives_facilitators_new_and_edit_links(as_facilitator, team, persona):
    html = as_facilitator.get(f"/teams/{team.pk}/personas/").content.decode()
    assert f'href="/teams/{team.pk}/personas/new/"' in html
    assert f'href="/personas/{persona.pk}/edit/"' in html


def test_it_invites_facilitators_to_create_the_first_persona(as_facilitator, team):
    assert (
        "No personas yet. Start with the clients"
        in as_facilitator.get(f"/teams/{team.pk}/personas/").content.decode()
    )


def test_it_hides_other_teams_personas(as_outsider, team):
    assert as_outsider.get(f"/teams/{team.pk}/personas/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in_before_personas(team):
    assert_login_redirect(Client().get(f"/teams/{team.pk}/personas/"))


def test_it_keeps_the_persona_list_queries_constant(
    as_facilitator, team, facilitator, workshop, persona, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        as_facilitator.get(f"/teams/{team.pk}/personas/")
    for i in range(10):
        p = Persona.objects.create(
            team=team, name=f"Client {i}", segment="Window shopper", goals="Browse"
        )
        board_services.create_scenario(
            actor=facilitator, workshop=workshop, title=f"Scenario {i}", persona=p
        )
    with django_assert_max_num_queries(len(few)):
        r = as_facilitator.get(f"/teams/{team.pk}/personas/")
    assert r.content.count(b'class="card persona-card"') == 11


# Creating --------------------------------------------------------------------------------------


def test_it_shows_the_persona_form_with_segment_suggestions(as_facilitator, team):
    r = as_facilitator.get(f"/teams/{team.pk}/personas/new/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'list="segment-options"' in html and '<datalist id="segment-options">' in html
    for segment in ("Window shopper", "First-time buyer", "Patron", "VIC"):
        assert f'<option value="{segment}"></option>' in html


def test_it_creates_a_persona(as_facilitator, team):
    r = as_facilitator.post(f"/teams/{team.pk}/personas/new/", HELENE)
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/personas/"
    persona = Persona.objects.get(name="Hélène")
    assert (persona.team, persona.segment, persona.bio) == (team, "VIC", HELENE["bio"])


def test_it_accepts_a_segment_of_the_teams_own(as_facilitator, team):
    as_facilitator.post(f"/teams/{team.pk}/personas/new/", {**HELENE, "segment": "Gift buyer"})
    assert Persona.objects.get(name="Hélène").segment == "Gift buyer"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("name", "", "This field is required."),
        ("segment", "", "This field is required."),
        ("bio", "x" * 601, "Ensure this value has at most 600 characters"),
        ("segment", "   ", "This field is required."),
    ],
)
def test_it_shows_what_is_wrong_with_a_persona(as_facilitator, team, field, value, message):
    r = as_facilitator.post(f"/teams/{team.pk}/personas/new/", {**HELENE, field: value})
    assert r.status_code == 422
    html = r.content.decode()
    assert f'id="persona_{field}_error"' in html and message in html
    assert 'value="Hélène"' in html or field == "name"  # what was typed stays
    assert not Persona.objects.exists()


@pytest.mark.parametrize("client_name,status", DENIED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_creating_personas(request, team, facilitator, client_name, status, method):
    r = getattr(request.getfixturevalue(client_name), method)(
        f"/teams/{team.pk}/personas/new/", HELENE
    )
    assert r.status_code == status
    assert not Persona.objects.exists()


def test_it_sends_anonymous_visitors_to_sign_in_before_creating_personas(team):
    assert_login_redirect(Client().post(f"/teams/{team.pk}/personas/new/", HELENE))
    assert not Persona.objects.exists()


# Editing ---------------------------------------------------------------------------------------


def test_it_shows_the_edit_form_filled_in(as_facilitator, persona):
    r = as_facilitator.get(f"/personas/{persona.pk}/edit/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'value="Camille"' in html and 'value="First-time buyer"' in html
    assert "Buy a first fine watch</textarea>" in html


def test_it_edits_a_persona(as_facilitator, team, persona):
    r = as_facilitator.post(
        f"/personas/{persona.pk}/edit/", {**HELENE, "name": "Camille", "segment": "Patron"}
    )
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/personas/"
    persona.refresh_from_db()
    assert (persona.name, persona.segment, persona.goals) == ("Camille", "Patron", HELENE["goals"])


def test_it_shows_what_is_wrong_with_a_persona_edit(as_facilitator, persona):
    r = as_facilitator.post(f"/personas/{persona.pk}/edit/", {**HELENE, "segment": "x" * 61})
    assert r.status_code == 422
    assert b'id="persona_segment_error"' in r.content
    persona.refresh_from_db()
    assert persona.segment == "First-time buyer"


@pytest.mark.parametrize("client_name,status", DENIED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_editing_personas(request, persona, facilitator, client_name, status, method):
    r = getattr(request.getfixturevalue(client_name), method)(
        f"/personas/{persona.pk}/edit/", HELENE
    )
    assert r.status_code == status
    persona.refresh_from_db()
    assert persona.name == "Camille"


def test_it_sends_anonymous_visitors_to_sign_in_before_editing_personas(persona):
    assert_login_redirect(Client().post(f"/personas/{persona.pk}/edit/", HELENE))
    persona.refresh_from_db()
    assert persona.name == "Camille"


def test_it_goes_back_to_the_workshop_it_was_asked_from(as_facilitator, team):
    workshop = Workshop.objects.create(team=team, title="Gifting season", date=datetime.date(2026, 12, 10))
    page = as_facilitator.get(f"/workshops/{workshop.pk}/").content.decode()
    link = f"/teams/{team.pk}/personas/new/?next=/workshops/{workshop.pk}/"
    assert f'href="{link}"' in page
    form = as_facilitator.get(link).content.decode()
    assert f'<input type="hidden" name="next" value="/workshops/{workshop.pk}/">' in form
    r = as_facilitator.post(link, {**HELENE, "next": f"/workshops/{workshop.pk}/"})
    assert r.status_code == 302 and r["Location"] == f"/workshops/{workshop.pk}/"
    r = as_facilitator.post(f"/teams/{team.pk}/personas/new/", {**HELENE, "name": "Other", "next": "https://elsewhere.example/"})
    assert r.status_code == 302 and r["Location"] == f"/teams/{team.pk}/personas/"  # never off the site
