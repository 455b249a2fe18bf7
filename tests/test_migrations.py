"""The migrations: in step with the models, and the data ones do what they say."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_it_has_a_migration_for_every_model_change():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def migrate(target: list[tuple[str, str]]):
    """Migrate the test database to `target`; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)  # the rest of the suite runs on the latest schema
    executor.migrate(executor.loader.graph.leaf_nodes())


def a_board(apps, title: str = "Gift"):
    Team, Workshop = apps.get_model("workshops", "Team"), apps.get_model("workshops", "Workshop")
    workshop = Workshop.objects.create(team=Team.objects.create(name="Maison Lumière"), title="Client journeys",
                                       date=datetime.date(2026, 12, 4))
    return apps.get_model("boards", "Scenario").objects.create(workshop=workshop, title=title)


@pytest.mark.django_db(transaction=True)
def test_it_gives_each_existing_board_the_status_of_its_latest_round(back_to_latest):
    old = migrate([("boards", "0004_insights")])
    VotingRound = old.get_model("boards", "VotingRound")
    revealed = a_board(old, "Gift")
    closed = old.get_model("boards", "Scenario").objects.create(workshop=revealed.workshop, title="Repair")
    old.get_model("boards", "Scenario").objects.create(workshop=revealed.workshop, title="Online")
    VotingRound.objects.create(scenario=revealed, status="closed")
    VotingRound.objects.create(scenario=revealed, status="revealed")
    VotingRound.objects.create(scenario=closed, status="closed")

    new = migrate([("boards", "0005_scenario_voting")]).get_model("boards", "Scenario")
    assert dict(new.objects.values_list("title", "voting")) == {"Gift": "revealed", "Repair": "closed", "Online": ""}


@pytest.mark.django_db(transaction=True)
def test_it_marks_the_existing_notes_made_into_actions(back_to_latest):
    old = migrate([("boards", "0005_scenario_voting")])
    board = a_board(old)
    phase = old.get_model("boards", "Phase").objects.create(scenario=board, name="Purchase", order=0)
    Note = old.get_model("boards", "Note")
    acted, _left = (Note.objects.create(scenario=board, phase=phase, text=t, order=i)
                   for i, t in enumerate(["No gift wrap", "Queue at the till"]))
    user = old.get_model("auth", "User").objects.create(username="fiona")
    owner = old.get_model("workshops", "Membership").objects.create(user=user, team_id=board.workshop.team_id)
    action = old.get_model("workshops", "Action").objects.create(
        workshop=board.workshop, scenario=board, title="Wrap gifts at the till", owner=owner,
        due_date=datetime.date(2027, 1, 15))
    action.notes.set([acted])

    new = migrate([("boards", "0006_note_has_actions")]).get_model("boards", "Note")
    assert dict(new.objects.values_list("text", "has_actions")) == {"No gift wrap": True, "Queue at the till": False}
