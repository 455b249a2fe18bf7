"""Adding a scenario to a workshop (from a journey template or blank), and editing it."""

from __future__ import annotations

import pytest
from django.test import Client

from boards.models import BoardEvent, MicroInteraction, Phase, Scenario
from workshops.models import Persona

DENIED = [("as_participant", 403), ("as_manager", 403), ("as_outsider", 404)]


def assert_login_redirect(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# Adding ----------------------------------------------------------------------------------------


def test_it_creates_a_board_from_a_journey_template(as_facilitator, workshop, persona):
    r = as_facilitator.post(
        f"/workshops/{workshop.pk}/scenarios/new/",
        {
            "title": "Buying online, collecting in boutique",
            "persona": persona.pk,
            "template": "omnichannel-ecommerce",
            "description": "Click and collect at Rue du Rhône",
        },
    )
    scenario = Scenario.objects.get(title="Buying online, collecting in boutique")
    assert r.status_code == 302 and r["Location"] == f"/boards/{scenario.pk}/"
    assert (scenario.workshop, scenario.persona, scenario.template_key) == (
        workshop,
        persona,
        "omnichannel-ecommerce",
    )
    assert list(Phase.objects.filter(scenario=scenario).values_list("name", flat=True))[:2] == [
        "Awareness",
        "Consideration",
    ]
    assert BoardEvent.objects.filter(scenario=scenario, kind="scenario.created").count() == 1


def test_it_creates_a_blank_board(as_facilitator, workshop):
    as_facilitator.post(
        f"/workshops/{workshop.pk}/scenarios/new/",
        {"title": "Repair and servicing", "template": ""},
    )
    scenario = Scenario.objects.get(title="Repair and servicing")
    assert scenario.persona is None and scenario.template_key == ""
    assert not Phase.objects.filter(scenario=scenario).exists()
    assert not MicroInteraction.objects.filter(phase__scenario=scenario).exists()


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"title": "", "template": ""}, "title", "This field is required."),
        ({"title": "x", "template": "fast-fashion"}, "template", "Select a valid choice"),
        (
            {"title": "x" * 161, "template": ""},
            "title",
            "Ensure this value has at most 160 characters",
        ),
    ],
)
def test_it_shows_what_is_wrong_with_a_new_scenario(as_facilitator, workshop, data, field, message):
    r = as_facilitator.post(f"/workshops/{workshop.pk}/scenarios/new/", data)
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="scenario-new" open' in html
    assert f'id="scenario_{field}_error"' in html and message in html
    assert not Scenario.objects.exists()


def test_it_only_offers_the_teams_personas(as_facilitator, workshop, other_team):
    foreign = Persona.objects.create(team=other_team, name="Not ours", segment="VIC")
    page = as_facilitator.get(f"/workshops/{workshop.pk}/").content.decode()
    assert "Not ours" not in page
    r = as_facilitator.post(
        f"/workshops/{workshop.pk}/scenarios/new/",
        {"title": "x", "template": "", "persona": foreign.pk},
    )
    assert r.status_code == 422 and b'id="scenario_persona_error"' in r.content
    assert not Scenario.objects.exists()


@pytest.mark.parametrize("client_name,status", DENIED)
def test_it_refuses_adding_scenarios(request, workshop, facilitator, client_name, status):
    r = request.getfixturevalue(client_name).post(
        f"/workshops/{workshop.pk}/scenarios/new/", {"title": "Hijack", "template": ""}
    )
    assert r.status_code == status
    assert not Scenario.objects.exists()


def test_it_sends_anonymous_visitors_to_sign_in_before_adding_scenarios(workshop):
    assert_login_redirect(
        Client().post(f"/workshops/{workshop.pk}/scenarios/new/", {"title": "x", "template": ""})
    )
    assert not Scenario.objects.exists()


def test_it_only_adds_scenarios_by_post(as_facilitator, workshop):
    assert as_facilitator.get(f"/workshops/{workshop.pk}/scenarios/new/").status_code == 405


# Editing ---------------------------------------------------------------------------------------


def test_it_shows_the_scenario_form_filled_in(as_facilitator, board, persona):
    r = as_facilitator.get(f"/scenarios/{board.pk}/edit/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="scenario-edit-form"' in html and 'value="A first fine watch"' in html
    assert f'<option value="{persona.pk}" selected>' in html
    assert 'name="template"' not in html  # the template only matters when the board is created


def test_it_edits_a_scenario_and_tells_the_board(as_facilitator, board, workshop, team):
    hélène = Persona.objects.create(team=team, name="Hélène", segment="VIC")
    r = as_facilitator.post(
        f"/scenarios/{board.pk}/edit/",
        {
            "title": "A VIC's first complication",
            "description": "Private salon",
            "persona": hélène.pk,
        },
    )
    assert r.status_code == 302 and r["Location"] == f"/workshops/{workshop.pk}/"
    board.refresh_from_db()
    assert (board.title, board.description, board.persona) == (
        "A VIC's first complication",
        "Private salon",
        hélène,
    )
    event = BoardEvent.objects.get(scenario=board, kind="scenario.updated")
    assert "A VIC&#x27;s first complication" in event.html


def test_it_removes_a_scenarios_persona(as_facilitator, board):
    as_facilitator.post(
        f"/scenarios/{board.pk}/edit/", {"title": board.title, "description": "", "persona": ""}
    )
    board.refresh_from_db()
    assert board.persona is None


def test_it_shows_what_is_wrong_with_a_scenario_edit(as_facilitator, board):
    r = as_facilitator.post(
        f"/scenarios/{board.pk}/edit/", {"title": "   ", "description": "", "persona": ""}
    )
    assert r.status_code == 422
    assert b'id="scenario_title_error"' in r.content
    board.refresh_from_db()
    assert board.title == "A first fine watch"


@pytest.mark.parametrize("client_name,status", DENIED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_refuses_editing_scenarios(request, board, client_name, status, method):
    r = getattr(request.getfixturevalue(client_name), method)(
        f"/scenarios/{board.pk}/edit/", {"title": "Hijack", "description": "", "persona": ""}
    )
    assert r.status_code == status
    board.refresh_from_db()
    assert board.title == "A first fine watch"


def test_it_sends_anonymous_visitors_to_sign_in_before_editing_scenarios(board):
    assert_login_redirect(Client().post(f"/scenarios/{board.pk}/edit/", {"title": "Hijack"}))
    board.refresh_from_db()
    assert board.title == "A first fine watch"
