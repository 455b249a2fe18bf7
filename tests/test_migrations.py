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


@pytest.mark.django_db(transaction=True)
def test_it_gives_each_existing_board_the_status_of_its_latest_round():
    before, after = [("boards", "0004_insights")], [("boards", "0005_scenario_voting")]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        Team, Workshop = old.get_model("workshops", "Team"), old.get_model("workshops", "Workshop")
        Scenario, VotingRound = old.get_model("boards", "Scenario"), old.get_model("boards", "VotingRound")
        workshop = Workshop.objects.create(team=Team.objects.create(name="Maison Lumière"), title="Client journeys",
                                           date=datetime.date(2026, 12, 4))
        revealed, closed, _online = (Scenario.objects.create(workshop=workshop, title=t) for t in ("Gift", "Repair", "Online"))
        VotingRound.objects.create(scenario=revealed, status="closed")
        VotingRound.objects.create(scenario=revealed, status="revealed")
        VotingRound.objects.create(scenario=closed, status="closed")

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("boards", "Scenario")
        assert dict(new.objects.values_list("title", "voting")) == {"Gift": "revealed", "Repair": "closed", "Online": ""}
    finally:  # the rest of the suite runs on the latest schema
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
