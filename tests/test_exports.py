"""Exports of the team's actions: a CSV for spreadsheets (same filters as the Actions page), and
calendar feeds of due dates behind signed links that calendar apps can fetch without cookies."""

from __future__ import annotations

import csv
import datetime
import io
import re

import icalendar
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import services as board_services
from tests.conftest import client_for
from workshops import feeds, services
from workshops.models import Action, ActionStatus, Membership


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def friction(board, member, phase_name: str, text: str):
    phase = board.phases.get(name=phase_name)
    return board_services.add_note(
        actor=member,
        scenario=board,
        phase=phase,
        micro_interaction=phase.interactions.first(),
        kind="friction",
        text=text,
    )


@pytest.fixture
def actions(board, facilitator, participant, other_participant, manager):
    """Sam's open action (accents included), Léa's overdue one, and one already done."""
    atelier = services.create_action(
        actor=facilitator,
        scenario=board,
        title="Former les équipes à l'atelier de Genève",
        owner=participant,
        notes=[friction(board, participant, "Purchase", "Nobody could say which movement it has")],
        due_date=days(14),
    )
    replies = services.create_action(
        actor=facilitator,
        scenario=board,
        title="=Answer Instagram questions within the hour",
        owner=other_participant,
        notes=[friction(board, other_participant, "Awareness", "My DM went unanswered")],
        due_date=days(3),
    )
    Action.objects.filter(pk=replies.pk).update(due_date=days(-2))
    done = services.create_action(
        actor=facilitator,
        scenario=board,
        title="Engraving offered at the till",
        owner=participant,
        notes=[friction(board, participant, "Purchase", "Engraving was never mentioned")],
        due_date=days(7),
    )
    services.update_action_status(actor=manager, action=done, status=ActionStatus.DONE, version=1)
    return {"atelier": atelier, "replies": replies, "done": done}


# CSV ------------------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_it_exports_the_actions_as_csv_for_excel(as_manager, team, board, actions):
    r = as_manager.get(f"/teams/{team.pk}/actions.csv")
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert (
        r["Content-Disposition"]
        == f'attachment; filename="actions-maison-horlogere-geneva-{today}.csv"'
    )
    assert r.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark
    table = read_csv(r)
    assert [row["Action"] for row in table] == [
        "'=Answer Instagram questions within the hour",  # never read as a formula
        "Engraving offered at the till",
        "Former les équipes à l'atelier de Genève",
    ]
    atelier = table[2]
    assert atelier == {
        "Action": "Former les équipes à l'atelier de Genève",
        "Owner": "Sam",
        "Business function": "Boutique & retail",
        "Workshop": "First visit to delivery",
        "Workshop date": "2026-11-20",
        "Scenario": "A first fine watch",
        "Phases": "Purchase",
        "Notes": "Nobody could say which movement it has",
        "Due date": days(14).isoformat(),
        "Status": "Open",
        "Overdue": "",
        "Link": f"http://testserver/actions/{actions['atelier'].pk}/",
    }
    assert table[0]["Overdue"] == "yes" and table[1]["Status"] == "Done"


@pytest.mark.parametrize(
    "query, expected",
    [
        (
            "status=active",
            [
                "=Answer Instagram questions within the hour",
                "Former les équipes à l'atelier de Genève",
            ],
        ),
        ("overdue=on", ["=Answer Instagram questions within the hour"]),
        ("phase=Purchase&status=done", ["Engraving offered at the till"]),
        (
            "owner={participant}",
            ["Engraving offered at the till", "Former les équipes à l'atelier de Genève"],
        ),
    ],
)
def test_it_exports_the_same_rows_as_the_filtered_page(
    as_manager, team, participant, actions, query, expected
):
    query = query.format(participant=participant.pk)
    titles = [
        row["Action"].removeprefix("'")
        for row in read_csv(as_manager.get(f"/teams/{team.pk}/actions.csv?{query}"))
    ]
    assert titles == expected
    page = as_manager.get(f"/teams/{team.pk}/actions/?{query}").content.decode()
    assert len(re.findall(r'id="action-row-\d+"', page)) == len(expected)


@pytest.mark.parametrize("who", ["participant", "facilitator"])
def test_it_exports_for_every_member(request, team, actions, who):
    assert (
        client_for(request.getfixturevalue(who)).get(f"/teams/{team.pk}/actions.csv").status_code
        == 200
    )


def test_it_hides_the_csv_from_other_teams_and_anonymous_visitors(as_outsider, team, actions):
    assert as_outsider.get(f"/teams/{team.pk}/actions.csv").status_code == 404
    r = Client().get(f"/teams/{team.pk}/actions.csv")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


# Calendar feeds --------------------------------------------------------------------------------------------


def feed_urls(client, path: str = "/actions/mine/") -> dict[str, str]:
    html = client.get(path).content.decode()
    found = dict(
        re.findall(
            r'id="feed-(me|team)-\d+" class="feed-url" type="url" readonly value="http://testserver(/calendar/[^"]+\.ics)"',
            html,
        )
    )
    assert set(found) == {"me", "team"}, html
    return found


def events(response) -> dict[str, icalendar.Event]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = icalendar.Calendar.from_ical(response.content)
    return {str(e["SUMMARY"]): e for e in cal.walk("VEVENT")}


def test_it_feeds_a_persons_open_actions_to_a_calendar_app_without_cookies(participant, actions):
    urls = feed_urls(client_for(participant))
    response = Client().get(urls["me"])  # a calendar app: no session
    cal = icalendar.Calendar.from_ical(response.content)
    assert str(cal["X-WR-CALNAME"]) == "My actions · Maison Horlogère, Geneva"
    assert str(cal["VERSION"]) == "2.0" and "Journeymap" in str(cal["PRODID"])
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT6H\r\n" in response.content
    assert b"\r\nX-PUBLISHED-TTL:PT6H\r\n" in response.content
    found = events(response)
    assert list(found) == [
        "Former les équipes à l'atelier de Genève"
    ]  # Sam's, open; not the done one
    event = found["Former les équipes à l'atelier de Genève"]
    assert event.decoded("DTSTART") == days(14) and isinstance(
        event.decoded("DTSTART"), datetime.date
    )
    assert not isinstance(event.decoded("DTSTART"), datetime.datetime)  # an all-day event
    assert event.decoded("DTEND") == days(15)
    assert str(event["UID"]) == f"action-{actions['atelier'].pk}@testserver"
    description = str(event["DESCRIPTION"])
    assert "First visit to delivery" in description
    assert (
        "Nobody could say which movement it has (Purchase › Tries the piece on with an associate)"
        in description
    )
    assert f"http://testserver/actions/{actions['atelier'].pk}/" in description
    assert str(event["URL"]) == f"http://testserver/actions/{actions['atelier'].pk}/"


def test_it_feeds_the_whole_teams_open_actions_with_their_owners(participant, actions):
    found = events(Client().get(feed_urls(client_for(participant))["team"]))
    assert set(found) == {
        "Former les équipes à l'atelier de Genève (Sam)",
        "=Answer Instagram questions within the hour (Lea)",
    }


def test_it_keeps_an_events_uid_when_its_action_changes(participant, manager, actions):
    url = feed_urls(client_for(participant))["me"]
    before = events(Client().get(url))["Former les équipes à l'atelier de Genève"]
    services.update_action_status(
        actor=manager, action=actions["atelier"], status=ActionStatus.IN_PROGRESS, version=1
    )
    after = events(Client().get(url))["Former les équipes à l'atelier de Genève"]
    assert after["UID"] == before["UID"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert "Status: In progress" in str(after["DESCRIPTION"])


def test_it_answers_a_head_request_from_a_calendar_app(participant, actions):
    assert Client().head(feed_urls(client_for(participant))["me"]).status_code == 200


def test_it_revokes_the_old_links_when_the_person_resets_them(participant, actions):
    client = client_for(participant)
    old = feed_urls(client)
    r = client.post(
        "/calendar/reset/", {"team": participant.team_id, "next": "/actions/mine/"}, follow=True
    )
    assert r.redirect_chain == [("/actions/mine/", 302)]
    assert "the old ones no longer work" in r.content.decode()
    assert Membership.objects.get(pk=participant.pk).feed_version == 2
    for url in old.values():
        assert Client().get(url).status_code == 404
    new = feed_urls(client)
    assert set(new.values()).isdisjoint(old.values())
    for url in new.values():
        assert Client().get(url).status_code == 200


def test_it_shows_the_feed_links_on_the_team_actions_page(as_manager, team, actions):
    urls = feed_urls(as_manager, f"/teams/{team.pk}/actions/")
    assert Client().get(urls["team"]).status_code == 200


@pytest.mark.parametrize("token", ["nonsense", "1-me.forged-signature", "999999-me.abc"])
def test_it_answers_an_unknown_or_forged_link_with_404(db, token):
    assert Client().get(f"/calendar/{token}.ics").status_code == 404


def test_it_answers_404_once_the_person_has_left_or_been_deactivated(participant, actions):
    url = feed_urls(client_for(participant))["me"]
    participant.user.is_active = False
    participant.user.save()
    assert Client().get(url).status_code == 404


def test_it_resets_only_a_team_the_person_is_in(as_outsider, participant):
    r = as_outsider.post("/calendar/reset/", {"team": participant.team_id})
    assert r.status_code == 404
    assert Membership.objects.get(pk=participant.pk).feed_version == 1


def test_it_asks_anonymous_visitors_to_sign_in_to_reset(participant):
    r = Client().post("/calendar/reset/", {"team": participant.team_id})
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert Membership.objects.get(pk=participant.pk).feed_version == 1


def test_it_keeps_a_reset_from_redirecting_elsewhere(as_participant, participant):
    r = as_participant.post(
        "/calendar/reset/", {"team": participant.team_id, "next": "https://elsewhere.example/"}
    )
    assert r["Location"] == "/actions/mine/"


def test_it_makes_tokens_that_fit_in_a_url(participant):
    for scope in feeds.SCOPES:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+", feeds.make_token(participant, scope))


def test_it_exports_in_the_same_number_of_queries_whatever_the_number_of_actions(
    as_participant, team, board, facilitator, participant, actions
):
    url = feed_urls(as_participant)["team"]

    def count(path: str, client) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    csv_before, ics_before = (
        count(f"/teams/{team.pk}/actions.csv", as_participant),
        count(url, Client()),
    )
    for i in range(4):
        services.create_action(
            actor=facilitator,
            scenario=board,
            title=f"Call back within the day ({i})",
            owner=participant,
            notes=[friction(board, participant, "Service", f"Nobody called back ({i})")],
            due_date=days(i + 1),
        )
    assert count(f"/teams/{team.pk}/actions.csv", as_participant) == csv_before
    assert count(url, Client()) == ics_before
