"""The admin browses every model of both apps, read-only: all writes go through the services."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from boards import services as board_services
from boards.models import EmotionRating, Vote, VotingRound
from workshops import services as workshop_services
from workshops.models import Action, ActionUpdate

MODELS = [
    model for app in ("workshops", "boards") for model in apps.get_app_config(app).get_models()
]


@pytest.fixture
def as_superuser(db) -> Client:
    user = get_user_model().objects.create_superuser(
        username="root", password="root-password-1", email=""
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def everything(board, facilitator, participant, manager, outsider):
    """A board with a note and a vote on it, so every changelist has a row."""
    workshop_services.create_invitation(actor=facilitator, workshop=board.workshop)
    phase = board.phases.first()
    note = board_services.add_note(
        actor=participant,
        scenario=board,
        phase=phase,
        micro_interaction=phase.interactions.first(),
        kind="friction",
        text="Nobody greets a young client while a VIC is served",
    )
    voting = VotingRound.objects.create(scenario=board)
    Vote.objects.create(round=voting, note=note, voter=participant)
    mi = phase.interactions.first()
    EmotionRating.objects.create(interaction=mi, member=participant, value=1)
    board_services.add_metric(actor=facilitator, interaction=mi, name="NPS", value=42)
    board_services.add_quote(actor=facilitator, interaction=mi, text="A lovely welcome")
    action = Action.objects.create(
        workshop=board.workshop,
        scenario=board,
        title="Greet every client within a minute",
        owner=manager,
        due_date=datetime.date(2026, 12, 15),
        created_by=participant,
    )
    ActionUpdate.objects.create(
        action=action, author=manager, from_status="open", to_status="in_progress"
    )
    return board


def test_it_registers_every_model_of_both_apps():
    assert MODELS and all(admin.site.is_registered(model) for model in MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_it_lets_a_superuser_browse_and_search(as_superuser, everything, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert as_superuser.get(url).status_code == 200
    assert as_superuser.get(url, {"q": "a"}).status_code == 200
    obj = model.objects.first()
    assert obj is not None
    detail = as_superuser.get(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    )
    assert detail.status_code == 200
    assert b'type="submit"' not in detail.content.split(b'id="content-main"')[1]  # nothing to save


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_it_refuses_adding_changing_and_deleting(as_superuser, everything, model):
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert as_superuser.get(reverse(f"{info}_add")).status_code == 403
    obj = model.objects.first()
    count = model.objects.count()
    assert as_superuser.post(reverse(f"{info}_change", args=[obj.pk]), {}).status_code == 403
    assert (
        as_superuser.post(reverse(f"{info}_delete", args=[obj.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert model.objects.count() == count


def test_it_keeps_votes_anonymous_in_the_admin(as_superuser, everything, participant):
    vote = Vote.objects.get()
    html = as_superuser.get(reverse("admin:boards_vote_change", args=[vote.pk])).content.decode()
    assert "voter" not in html.lower()


def test_it_keeps_the_admin_to_staff(as_participant):
    r = as_participant.get(reverse("admin:workshops_team_changelist"))
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
