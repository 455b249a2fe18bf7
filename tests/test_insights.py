"""Journey insights: the emotion curve and the team's consensus, the friction heatmap and its filter
on the board, the evidence on a touchpoint, and the closed loop between a workshop and its
follow-up. Services, pushes, pages and who may do what."""

from __future__ import annotations

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from boards import insights, render, services
from boards.models import (
    BoardEvent,
    CustomerQuote,
    EmotionRating,
    MicroInteraction,
    Scenario,
    TouchpointMetric,
)
from tests.conftest import client_for, make_member
from workshops import services as workshop_services
from workshops.models import Role, WorkshopStatus

HX = {"HTTP_HX_REQUEST": "true"}


def step(board: Scenario, action: str) -> MicroInteraction:
    return MicroInteraction.objects.select_related("phase").get(phase__scenario=board, action=action)


def steps(board: Scenario) -> list[MicroInteraction]:
    return list(
        MicroInteraction.objects.filter(phase__scenario=board).select_related("phase").order_by("phase__order", "order")
    )


def last_event(board: Scenario) -> BoardEvent:
    return BoardEvent.objects.filter(scenario=board).order_by("-seq").first()


def pushed_ids(event: BoardEvent) -> set[str]:
    soup = BeautifulSoup(event.html, "html.parser")
    return {el["id"] for el in soup.find_all(attrs={"hx-swap-oob": True}) if el.get("id")} - {"board-seq"}


def curve_of(board: Scenario) -> insights.Curve:
    return insights.emotion_context(Scenario.objects.select_related("workshop").get(pk=board.pk))["curve"]


@pytest.fixture
def chat(board) -> MicroInteraction:
    return step(board, "Asks for a model's details on live chat")


@pytest.fixture
def rating_open(board, facilitator) -> Scenario:
    return services.set_emotion_rating(actor=facilitator, scenario=board, open=True)


# The emotion curve ------------------------------------------------------------------------------


def test_it_draws_a_point_per_rated_step_and_breaks_the_line_where_one_is_not_rated(board, facilitator):
    first, second, _third, fourth = steps(board)[:4]
    for mi, emotion in ((first, 2), (second, 1), (fourth, -2)):
        services.rate_micro_interaction(actor=facilitator, interaction=mi, emotion=emotion, moment_of_truth="none")
    curve = curve_of(board)
    assert len(curve.points) == len(steps(board))
    assert [p.pk for p in curve.plotted] == [first.pk, second.pk, fourth.pk]
    # +2 at the top, −2 at the bottom of the plot.
    assert curve.plotted[0].y == insights.TOP and curve.plotted[2].y == insights.TOP + insights.PLOT
    # One line for the first two; the fourth stands alone after the unrated third.
    assert len(curve.lines) == 1 and curve.lines[0].count(" L ") == 1
    assert [run[-1].pk for run in curve.runs] == [second.pk, fourth.pk]
    # Each phase gets a band as wide as its steps.
    assert [band.name for band in curve.phases] == list(board.phases.order_by("order").values_list("name", flat=True))


@pytest.mark.parametrize(("action", "lines"), [
    ("Gets expert answers on craftsmanship", ["Gets expert", "answers on", "craftsmanship"]),
    ("Sees the new collection on Instagram", ["Sees the new", "collection", "on Instagram"]),
    ("Receives a handwritten thank-you card from the boutique", ["Receives a", "handwritten", "thank-you…"]),
    ("Uhrmacherhandwerksmeisterbrief", ["Uhrmacherhandw…"]),
])
def test_it_labels_the_curve_without_cutting_words_in_two(action, lines):
    point = insights.CurvePoint(pk=1, number=1, phase="Consideration", action=action, channel="boutique",
                                moment_of_truth="none", emotion=None)
    assert point.label_lines == lines


def test_it_marks_the_moments_of_truth_on_the_curve(board, facilitator, as_participant):
    good, bad = steps(board)[:2]
    services.rate_micro_interaction(actor=facilitator, interaction=good, emotion=2, moment_of_truth="positive")
    services.rate_micro_interaction(actor=facilitator, interaction=bad, emotion=None, moment_of_truth="negative")
    html = as_participant.get(f"/boards/{board.pk}/").content.decode()
    soup = BeautifulSoup(html, "html.parser").find(id="emotion-curve")
    assert len(soup.select("polygon.curve-mot.mot-positive")) == 1
    assert len(soup.select("polygon.curve-mot.mot-negative")) == 1  # marked, though not rated yet
    assert len(soup.select(".curve-point")) == 1


def test_it_draws_with_attributes_and_classes_only(board, facilitator, as_participant):
    services.rate_micro_interaction(actor=facilitator, interaction=steps(board)[0], emotion=1, moment_of_truth="none")
    html = as_participant.get(f"/boards/{board.pk}/").content.decode()
    curve = BeautifulSoup(html, "html.parser").find(id="emotion-curve")
    assert curve.find("svg") is not None
    assert curve.find(attrs={"style": True}) is None and curve.find("style") is None and curve.find("script") is None


def test_it_writes_emotions_as_the_board_does():
    assert [insights.signed(v) for v in (2, 0.5, 0, -1, -1.5, None)] == ["+2", "+0.5", "0", "−1", "−1.5", "not rated"]


# Consensus mode ---------------------------------------------------------------------------------


def test_it_lets_everyone_rate_once_the_facilitator_opens_rating(
    board, chat, rating_open, facilitator, participant, other_participant, manager
):
    for member, value in ((participant, -2), (other_participant, 1), (manager, 1), (facilitator, -1)):
        services.rate_emotion(actor=member, interaction=chat, value=value)
    point = next(p for p in curve_of(board).points if p.pk == chat.pk)
    assert point.ratings == [-2, -1, 1, 1]
    assert (point.value, point.low, point.high) == (0.0, -2.0, 1.0)
    assert point.disagree
    assert curve_of(board).raters == 4


def test_it_keeps_one_rating_per_person_and_lets_them_take_it_back(board, chat, rating_open, participant):
    services.rate_emotion(actor=participant, interaction=chat, value=-2)
    services.rate_emotion(actor=participant, interaction=chat, value=1)
    assert list(EmotionRating.objects.filter(interaction=chat).values_list("member", "value")) == [(participant.pk, 1)]
    assert services.rate_emotion(actor=participant, interaction=chat, value=None) is None
    assert not EmotionRating.objects.filter(interaction=chat).exists()
    with pytest.raises(ValidationError, match="not rated"):
        services.rate_emotion(actor=participant, interaction=chat, value=None)


def test_it_flags_only_a_real_disagreement(board, chat, rating_open, participant, other_participant):
    services.rate_emotion(actor=participant, interaction=chat, value=-1)
    services.rate_emotion(actor=other_participant, interaction=chat, value=-2)
    curve = curve_of(board)
    assert curve.disagreements == [] and curve.bands == [] and len(curve.whiskers) == 1
    services.rate_emotion(actor=other_participant, interaction=chat, value=1)
    assert [p.pk for p in curve_of(board).disagreements] == [chat.pk]


def test_it_bands_the_spread_between_neighbouring_steps(board, facilitator, participant, other_participant, rating_open):
    first, second = steps(board)[:2]
    services.rate_micro_interaction(actor=facilitator, interaction=first, emotion=1, moment_of_truth="none")
    services.rate_emotion(actor=participant, interaction=second, value=-2)
    services.rate_emotion(actor=other_participant, interaction=second, value=2)
    curve = curve_of(board)
    assert len(curve.bands) == 1 and curve.whiskers == []
    points = curve.bands[0].split()
    assert len(points) == 4  # over the two steps and back


def test_it_refuses_ratings_while_rating_is_closed_or_out_of_range(board, chat, participant, facilitator):
    with pytest.raises(ValidationError, match="closed"):
        services.rate_emotion(actor=participant, interaction=chat, value=1)
    services.set_emotion_rating(actor=facilitator, scenario=board, open=True)
    for value in (3, -3, True):
        with pytest.raises(ValidationError):
            services.rate_emotion(actor=participant, interaction=chat, value=value)
    assert not EmotionRating.objects.exists()


def test_it_lets_only_facilitators_open_rating(board, participant, manager, outsider):
    for member in (participant, manager, outsider):
        with pytest.raises(PermissionDenied):
            services.set_emotion_rating(actor=member, scenario=board, open=True)
    assert not Scenario.objects.get(pk=board.pk).rating_open


def test_it_refuses_a_rating_from_another_team(board, chat, rating_open, outsider):
    with pytest.raises(PermissionDenied):
        services.rate_emotion(actor=outsider, interaction=chat, value=1)


def test_it_pushes_each_rating_as_the_curve_without_anyones_name(board, chat, rating_open, participant):
    services.rate_emotion(actor=participant, interaction=chat, value=-2)
    event = last_event(board)
    assert event.kind == "emotion.rated" and event.actor_id is None
    assert set(event.payload) == {"interaction", "rating", "value"}
    assert pushed_ids(event) == {"emotion-curve", "closed-loop"}
    assert participant.name not in event.html and "sam" not in event.html.lower()
    # The rater sees their own choice through their private panel.
    panel = BeautifulSoup(render.private_panel(board, participant), "html.parser").find(id="my-panel")
    assert panel["data-ratings"] == f'{{"{chat.pk}": -2}}'


def test_it_applies_a_retried_rating_once(board, chat, rating_open, participant):
    request_id = uuid.uuid4()
    for _ in range(2):
        services.rate_emotion(actor=participant, interaction=chat, value=1, request_id=request_id)
    assert BoardEvent.objects.filter(scenario=board, kind="emotion.rated").count() == 1


def test_it_opens_rating_for_every_screen(board, facilitator):
    services.set_emotion_rating(actor=facilitator, scenario=board, open=True)
    event = last_event(board)
    assert event.kind == "session.rating" and pushed_ids(event) == {"session"}
    assert 'data-rating="open"' in event.html


@pytest.mark.parametrize("who, status", [("participant", 200), ("manager", 200), ("facilitator", 200)])
def test_it_rates_from_the_board(request, board, chat, rating_open, who, status):
    client = client_for(request.getfixturevalue(who))
    r = client.post(f"/interactions/{chat.pk}/rate/", {"value": "-1"}, **HX)
    assert r.status_code == status and r.content == b""
    assert EmotionRating.objects.get(interaction=chat).value == -1


def test_it_says_why_a_rating_is_refused(board, chat, as_participant):
    r = as_participant.post(f"/interactions/{chat.pk}/rate/", {"value": "1"}, **HX)
    assert r.status_code == 422 and "closed" in r.content.decode()
    r = as_participant.post(f"/interactions/{chat.pk}/rate/", {"value": "7"}, **HX)
    assert r.status_code == 422 and "−2" in r.content.decode()


def test_it_hides_rating_from_other_teams_and_strangers(board, chat, rating_open, as_outsider, client):
    assert as_outsider.post(f"/interactions/{chat.pk}/rate/", {"value": "1"}, **HX).status_code == 404
    r = client.post(f"/interactions/{chat.pk}/rate/", {"value": "1"})
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert not EmotionRating.objects.exists()


@pytest.mark.parametrize("who, status", [("participant", 403), ("manager", 403), ("outsider", 404)])
def test_it_lets_only_facilitators_open_rating_from_the_board(request, board, who, status):
    client = client_for(request.getfixturevalue(who))
    assert client.post(f"/boards/{board.pk}/session/rating/", {"rating": "1"}, **HX).status_code == status
    assert not Scenario.objects.get(pk=board.pk).rating_open


def test_it_opens_rating_from_the_facilitators_panel(board, as_facilitator):
    assert as_facilitator.post(f"/boards/{board.pk}/session/rating/", {"rating": "1"}, **HX).status_code == 204
    assert Scenario.objects.get(pk=board.pk).rating_open
    html = as_facilitator.get(f"/boards/{board.pk}/").content.decode()
    assert "Close emotion rating" in html and 'data-rating="open"' in html


# Pushes: the curve and the heatmap follow every change that moves them ------------------------------


def test_it_pushes_the_curve_with_every_change_to_emotions_or_structure(board, facilitator, chat):
    awareness = board.phases.order_by("order").first()
    calls = [
        lambda: services.rate_micro_interaction(actor=facilitator, interaction=chat, emotion=-2, moment_of_truth="negative"),
        lambda: services.update_micro_interaction(actor=facilitator, interaction=chat, action="Asks on chat",
                                                  channel="chat", emotion=-1, moment_of_truth="none",
                                                  version=MicroInteraction.objects.get(pk=chat.pk).version),
        lambda: services.add_micro_interaction(actor=facilitator, phase=awareness, action="Reads a review", channel="website"),
        lambda: services.move_micro_interaction(actor=facilitator, interaction=chat, position=0),
        lambda: services.add_phase(actor=facilitator, scenario=board, name="Repair"),
        lambda: services.move_phase(actor=facilitator, phase=awareness, position=2),
    ]
    for call in calls:
        call()
        assert {"emotion-curve", "closed-loop"} <= pushed_ids(last_event(board)), last_event(board).kind


def test_it_pushes_the_heatmap_with_every_change_to_friction_notes(board, participant, chat):
    note = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat,
                             kind="friction", text="Nobody answered")
    assert "heatmap" in pushed_ids(last_event(board))
    services.move_note(actor=participant, note=note, phase=chat.phase)
    assert "heatmap" in pushed_ids(last_event(board))
    services.edit_note(actor=participant, note=note, text="Nobody answered at 10 pm", kind="friction", version=2)
    assert "heatmap" not in pushed_ids(last_event(board))  # its text does not count
    services.edit_note(actor=participant, note=note, text="Nobody answered at 10 pm", kind="idea", version=3)
    assert "heatmap" in pushed_ids(last_event(board))  # no longer a friction
    services.move_note(actor=participant, note=note, phase=chat.phase, micro_interaction=chat)
    assert "heatmap" not in pushed_ids(last_event(board))
    friction = services.add_note(actor=participant, scenario=board, phase=chat.phase, kind="friction", text="x")
    services.delete_note(actor=participant, note=friction)
    assert "heatmap" in pushed_ids(last_event(board))


def test_it_sends_the_insights_with_a_fresh_board(board):
    soup = BeautifulSoup(render.whole_board(board), "html.parser")
    assert all(soup.find(id=name) for name in ("emotion-curve", "heatmap", "closed-loop"))


# The friction heatmap ---------------------------------------------------------------------------


@pytest.fixture
def frictions(board, participant, other_participant, facilitator):
    """Friction on the webstore (twice), live chat, the whole Purchase phase, and a private one."""
    web = step(board, "Browses the collection on the webstore")
    chat = step(board, "Asks for a model's details on live chat")
    purchase = board.phases.get(name="Purchase")

    def friction(who, phase, mi, text):
        return services.add_note(actor=who, scenario=board, phase=phase, micro_interaction=mi, kind="friction", text=text)

    notes = {
        "web1": friction(participant, web.phase, web, "No 360° view"),
        "web2": friction(other_participant, web.phase, web, "Prices hidden"),
        "chat": friction(participant, chat.phase, chat, "Nobody on chat"),
        "purchase": friction(participant, purchase, None, "The counter is in the back"),
    }
    services.add_note(actor=participant, scenario=board, phase=web.phase, micro_interaction=web, kind="idea", text="An idea")
    services.start_private_round(actor=facilitator, scenario=board)
    friction(other_participant, chat.phase, chat, "Private friction")
    return notes


def vote(board, facilitator, ballots, reveal=True):
    services.open_voting_round(actor=facilitator, scenario=board, budget=3, cap_per_note=3)
    for who, notes in ballots:
        for note in notes:
            services.cast_vote(actor=who, note=note)
    if reveal:
        services.reveal_votes(actor=facilitator, scenario=board)
    else:
        services.close_voting_round(actor=facilitator, scenario=board)


def cell(heatmap: insights.Heatmap, phase: str, channel: str) -> insights.HeatCell:
    row = next(cells for p, cells in heatmap.rows if p.name == phase)
    return row[[c for c, _ in heatmap.columns].index(channel)]


def test_it_counts_friction_by_phase_and_channel(board, frictions):
    heat = insights.heatmap(board)
    assert heat.voting is None and heat.notes == 4  # the private one is left out
    assert (cell(heat, "Consideration", "website").notes, cell(heat, "Consideration", "chat").notes) == (2, 1)
    assert cell(heat, "Purchase", "whole").notes == 1
    assert cell(heat, "Consideration", "website").level == 4 and cell(heat, "Consideration", "chat").level == 2
    assert cell(heat, "Awareness", "website").steps == 0 and cell(heat, "Consideration", "website").steps == 1
    assert [label for _, label in heat.columns][-1] == "Whole phase"


def test_it_adds_the_dots_of_the_latest_revealed_vote(board, frictions, facilitator, participant, other_participant):
    services.reveal_private_notes(actor=facilitator, scenario=board)
    vote(board, facilitator, [(participant, [frictions["chat"]] * 3), (other_participant, [frictions["web1"], frictions["purchase"]])])
    vote(board, facilitator, [(participant, [frictions["web2"]])], reveal=False)  # closed, not revealed
    heat = insights.heatmap(board)
    assert heat.voting is not None and heat.dots == 5
    assert cell(heat, "Consideration", "chat").dots == 3 and cell(heat, "Consideration", "chat").notes == 2
    assert cell(heat, "Consideration", "website").dots == 1
    assert cell(heat, "Consideration", "chat").level == 4 and cell(heat, "Purchase", "whole").level == 2


def test_it_shows_the_heatmap_with_links_that_filter_the_board(board, frictions, as_manager):
    html = as_manager.get(f"/boards/{board.pk}/").content.decode()
    heat = BeautifulSoup(html, "html.parser").find(id="heatmap")
    web = board.phases.get(name="Consideration")
    link = heat.find("a", href=f"/boards/{board.pk}/?phase={web.pk}&channel=website#board")
    assert link is not None and link.get_text(strip=True) == "2"


def test_it_shows_only_the_friction_of_a_heatmap_cell(board, frictions, as_participant):
    phase = board.phases.get(name="Consideration")
    r = as_participant.get(f"/boards/{board.pk}/", {"phase": phase.pk, "channel": "website"})
    soup = BeautifulSoup(r.content.decode(), "html.parser")
    assert "Consideration · Website" in soup.select_one(".filter-banner").get_text()
    css = " ".join(s.get_text() for s in soup.find_all("style"))
    assert f'.phase:not([data-phase="{phase.pk}"])' in css
    assert '.interaction-head[data-channel="website"]' in css
    assert "#board .note:not(.kind-friction)" in css
    # Every style element carries the page's nonce.
    assert all(s.get("nonce") for s in soup.find_all("style"))
    # The steps carry what the filter reads.
    assert soup.select_one(f'#mi-head-{step(board, "Browses the collection on the webstore").pk}')["data-channel"] == "website"


@pytest.mark.parametrize("query", [{"phase": "999999", "channel": "fax"}, {"phase": "x"}, {"channel": "<b>"}])
def test_it_ignores_a_filter_that_is_not_on_the_board(board, as_participant, query):
    soup = BeautifulSoup(as_participant.get(f"/boards/{board.pk}/", query).content.decode(), "html.parser")
    assert soup.select_one(".filter-banner") is None
    assert "<b>" not in " ".join(s.get_text() for s in soup.find_all("style"))


def test_it_filters_on_a_whole_phase_or_a_channel_alone(board, frictions, as_participant):
    purchase = board.phases.get(name="Purchase")
    r = as_participant.get(f"/boards/{board.pk}/", {"phase": purchase.pk, "channel": "whole"})
    soup = BeautifulSoup(r.content.decode(), "html.parser")
    assert "Purchase · the whole phase" in soup.select_one(".filter-banner").get_text()
    assert "#board .interactions { display: none; }" in " ".join(s.get_text() for s in soup.find_all("style"))
    r = as_participant.get(f"/boards/{board.pk}/", {"channel": "chat"})
    banner = BeautifulSoup(r.content.decode(), "html.parser").select_one(".filter-banner").get_text()
    assert "Chat" in banner


# Evidence -----------------------------------------------------------------------------------------


def test_it_adds_metrics_and_quotes_to_a_step(board, chat, facilitator):
    metric = services.add_metric(actor=facilitator, interaction=chat, name=" NPS ", value="32", unit="",
                                 source="Quarterly survey", date=datetime.date(2026, 10, 1))
    assert (metric.name, metric.value, metric.value_with_unit) == ("NPS", Decimal("32.0000"), "32")
    event = last_event(board)
    assert event.kind == "evidence.metric_added" and event.actor_id == facilitator.pk
    assert pushed_ids(event) == {f"evidence-mi-{chat.pk}"}
    assert event.payload["value"] == "32.0000" and event.payload["date"] == "2026-10-01"
    quote = services.add_quote(actor=facilitator, interaction=chat, text="Nobody answered\r\nat 10 pm", source="Review")
    assert quote.text == "Nobody answered\nat 10 pm"
    assert last_event(board).kind == "evidence.quote_added"
    assert "Nobody answered" in last_event(board).html


@pytest.mark.parametrize("value, unit, shown", [(4.3, "/5", "4.3/5"), ("2.40", "%", "2.4%"), (12, "min", "12 min"),
                                                 (-3, "", "-3"), ("0.0001", "", "0.0001"), (1200, "€", "1200 €")])
def test_it_writes_a_metric_as_people_read_it(board, chat, facilitator, value, unit, shown):
    metric = services.add_metric(actor=facilitator, interaction=chat, name="M", value=value, unit=unit)
    assert TouchpointMetric.objects.get(pk=metric.pk).value_with_unit == shown


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"name": " "}, "name"),
        ({"name": "N" * 61}, "name"),
        ({"value": "lots"}, "value"),
        ({"value": "1.23456"}, "value"),
        ({"value": "1e12"}, "value"),
        ({"value": True}, "value"),
        ({"value": float("nan")}, "value"),
        ({"unit": "u" * 17}, "unit"),
        ({"source": "s" * 121}, "source"),
        ({"date": timezone.localdate() + datetime.timedelta(days=1)}, "date"),
    ],
)
def test_it_refuses_an_invalid_metric(board, chat, facilitator, fields, error):
    kwargs = {"name": "NPS", "value": 30, "unit": "", "source": "", "date": None, **fields}
    with pytest.raises(ValidationError) as exc:
        services.add_metric(actor=facilitator, interaction=chat, **kwargs)
    assert error in exc.value.message_dict
    assert not TouchpointMetric.objects.exists()


def test_it_refuses_an_invalid_quote(board, chat, facilitator):
    for kwargs, field in (({"text": "  "}, "text"), ({"text": "x" * 1001}, "text"),
                          ({"text": "ok", "date": timezone.localdate() + datetime.timedelta(days=3)}, "date")):
        with pytest.raises(ValidationError) as exc:
            services.add_quote(actor=facilitator, interaction=chat, **kwargs)
        assert field in exc.value.message_dict
    assert not CustomerQuote.objects.exists()


@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])
def test_it_lets_only_facilitators_change_evidence(request, board, chat, facilitator, who):
    member = request.getfixturevalue(who)
    metric = services.add_metric(actor=facilitator, interaction=chat, name="NPS", value=30)
    quote = services.add_quote(actor=facilitator, interaction=chat, text="Lovely")
    for call in (
        lambda: services.add_metric(actor=member, interaction=chat, name="NPS", value=1),
        lambda: services.add_quote(actor=member, interaction=chat, text="x"),
        lambda: services.remove_metric(actor=member, metric=metric),
        lambda: services.remove_quote(actor=member, quote=quote),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert TouchpointMetric.objects.count() == 1 and CustomerQuote.objects.count() == 1


def test_it_removes_evidence_once(board, chat, facilitator):
    metric = services.add_metric(actor=facilitator, interaction=chat, name="NPS", value=30)
    quote = services.add_quote(actor=facilitator, interaction=chat, text="Lovely")
    services.remove_metric(actor=facilitator, metric=metric)
    services.remove_quote(actor=facilitator, quote=quote)
    assert [e.kind for e in BoardEvent.objects.filter(scenario=board).order_by("-seq")[:2]] == [
        "evidence.quote_removed", "evidence.metric_removed"]
    assert pushed_ids(last_event(board)) == {f"evidence-mi-{chat.pk}"}
    seq = last_event(board).seq
    services.remove_metric(actor=facilitator, metric=metric)
    services.remove_quote(actor=facilitator, quote=quote)
    assert last_event(board).seq == seq


def test_it_adds_a_retried_metric_once(board, chat, facilitator):
    request_id = uuid.uuid4()
    first = services.add_metric(actor=facilitator, interaction=chat, name="NPS", value=30, request_id=request_id)
    again = services.add_metric(actor=facilitator, interaction=chat, name="NPS", value=30, request_id=request_id)
    assert first.pk == again.pk and TouchpointMetric.objects.count() == 1


def test_it_shows_evidence_compactly_on_the_step(board, chat, facilitator, as_participant):
    services.add_metric(actor=facilitator, interaction=chat, name="CSAT", value="3.1", unit="/5", source="Survey")
    services.add_quote(actor=facilitator, interaction=chat, text="I almost bought elsewhere", source="Review",
                       date=datetime.date(2026, 11, 2))
    soup = BeautifulSoup(as_participant.get(f"/boards/{board.pk}/").content.decode(), "html.parser")
    box = soup.find(id=f"evidence-mi-{chat.pk}")
    assert box.select_one(".metric").get_text(" ", strip=True) == "CSAT 3.1/5"
    assert "1 customer quote" in box.select_one("details.quotes summary").get_text()
    assert "Review, 2 Nov 2026" in box.select_one(".quote-source").get_text()


def test_it_adds_evidence_through_the_dialog(board, chat, as_facilitator):
    r = as_facilitator.get(f"/interactions/{chat.pk}/evidence/", **HX)
    assert r.status_code == 200 and "No metric yet." in r.content.decode()
    r = as_facilitator.get(f"/interactions/{chat.pk}/metrics/new/", **HX)
    assert r.status_code == 200 and 'name="value"' in r.content.decode()
    r = as_facilitator.post(f"/interactions/{chat.pk}/metrics/new/", {"name": "Wait", "value": "9", "unit": "h",
                                                                      "source": "Chat logs", "date": "2026-10-31"}, **HX)
    assert r.status_code == 200 and "Wait" in r.content.decode() and "9 h" in r.content.decode()
    r = as_facilitator.post(f"/interactions/{chat.pk}/quotes/new/", {"text": "Too slow", "source": "", "date": ""}, **HX)
    assert r.status_code == 200 and "Too slow" in r.content.decode()
    metric, quote = TouchpointMetric.objects.get(), CustomerQuote.objects.get()
    r = as_facilitator.get(f"/metrics/{metric.pk}/remove/", **HX)
    assert r.status_code == 200 and TouchpointMetric.objects.exists()  # a GET only shows the dialog
    r = as_facilitator.post(f"/metrics/{metric.pk}/remove/", {}, **HX)
    assert r.status_code == 200 and "No metric yet." in r.content.decode()
    r = as_facilitator.post(f"/quotes/{quote.pk}/remove/", {}, **HX)
    assert r.status_code == 200 and "No quote yet." in r.content.decode()


def test_it_keeps_the_form_with_clear_errors(board, chat, as_facilitator):
    r = as_facilitator.post(f"/interactions/{chat.pk}/metrics/new/", {"name": "", "value": "lots"}, **HX)
    assert r.status_code == 422
    html = r.content.decode()
    assert "This field is required." in html and "Enter a number." in html
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    r = as_facilitator.post(f"/interactions/{chat.pk}/quotes/new/", {"text": "Hi", "date": future}, **HX)
    assert r.status_code == 422 and "Pick a date that has passed" in r.content.decode()
    assert not TouchpointMetric.objects.exists() and not CustomerQuote.objects.exists()


@pytest.mark.parametrize("who, status", [("participant", 403), ("manager", 403), ("outsider", 404)])
def test_it_keeps_the_evidence_dialogs_for_facilitators(request, board, chat, facilitator, who, status):
    client = client_for(request.getfixturevalue(who))
    metric = services.add_metric(actor=facilitator, interaction=chat, name="NPS", value=30)
    quote = services.add_quote(actor=facilitator, interaction=chat, text="Lovely")
    for method, url in (
        ("get", f"/interactions/{chat.pk}/evidence/"),
        ("get", f"/interactions/{chat.pk}/metrics/new/"),
        ("post", f"/interactions/{chat.pk}/metrics/new/"),
        ("get", f"/interactions/{chat.pk}/quotes/new/"),
        ("post", f"/interactions/{chat.pk}/quotes/new/"),
        ("get", f"/metrics/{metric.pk}/remove/"),
        ("post", f"/metrics/{metric.pk}/remove/"),
        ("get", f"/quotes/{quote.pk}/remove/"),
        ("post", f"/quotes/{quote.pk}/remove/"),
    ):
        assert getattr(client, method)(url, {}, **HX).status_code == status, url
    assert TouchpointMetric.objects.count() == 1 and CustomerQuote.objects.count() == 1


def test_it_sends_strangers_to_sign_in_for_evidence(board, chat, client):
    for url in (f"/interactions/{chat.pk}/evidence/", f"/interactions/{chat.pk}/metrics/new/"):
        r = client.get(url)
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_it_answers_404_for_evidence_that_does_not_exist(as_facilitator, board):
    assert as_facilitator.post("/metrics/999999/remove/", {}).status_code == 404
    assert as_facilitator.post("/quotes/999999/remove/", {}).status_code == 404


# The board stays cheap to draw ---------------------------------------------------------------------


def test_it_draws_insights_in_a_constant_number_of_queries(
    board, facilitator, participant, other_participant, as_facilitator, rating_open
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_facilitator.get(f"/boards/{board.pk}/").status_code == 200
        return len(ctx.captured_queries)

    all_steps = steps(board)
    services.add_note(actor=participant, scenario=board, phase=all_steps[0].phase, micro_interaction=all_steps[0],
                      kind="friction", text="first")
    services.add_metric(actor=facilitator, interaction=all_steps[0], name="NPS", value=1)
    services.rate_emotion(actor=participant, interaction=all_steps[0], value=1)
    small = queries()
    for mi in all_steps[1:]:
        services.add_metric(actor=facilitator, interaction=mi, name="NPS", value=2)
        services.add_quote(actor=facilitator, interaction=mi, text="Good")
        services.rate_emotion(actor=participant, interaction=mi, value=-1)
        services.rate_emotion(actor=other_participant, interaction=mi, value=2)
        services.add_note(actor=participant, scenario=board, phase=mi.phase, micro_interaction=mi, kind="friction", text="f")
    assert queries() == small


# The closed loop ---------------------------------------------------------------------------------


@pytest.fixture
def follow_up(board, facilitator, participant, other_participant, chat):
    """The workshop closes with an action on the live chat; its follow-up is planned."""
    web = step(board, "Browses the collection on the webstore")
    services.rate_micro_interaction(actor=facilitator, interaction=chat, emotion=-2, moment_of_truth="negative")
    services.set_emotion_rating(actor=facilitator, scenario=board, open=True)
    services.rate_emotion(actor=participant, interaction=web, value=-1)
    services.rate_emotion(actor=other_participant, interaction=web, value=-2)
    notes = [
        services.add_note(actor=participant, scenario=board, phase=mi.phase, micro_interaction=mi, kind="friction", text=t)
        for mi, t in ((chat, "Nobody on chat at night"), (web, "No 360° view"))
    ]
    due = timezone.localdate() + datetime.timedelta(days=14)
    workshop_services.create_action(actor=facilitator, scenario=board, notes=[notes[0]], title="Chat until 11 pm",
                                    owner=participant, due_date=due)
    workshop_services.create_action(actor=facilitator, scenario=board, notes=[notes[1]], title="360° views",
                                    owner=other_participant, due_date=due)
    workshop = board.workshop
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title, date=workshop.date,
                                      status=WorkshopStatus.CLOSED, follows_up=None)
    new = workshop_services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Follow-up",
                                               date=workshop.date + datetime.timedelta(days=30))
    return new.scenarios.select_related("workshop").get()


def loop_of(scenario: Scenario) -> insights.Loop:
    return insights.emotion_context(Scenario.objects.select_related("workshop").get(pk=scenario.pk))["loop"]


def test_it_lists_the_steps_the_actions_touched_with_the_emotion_before(board, follow_up, chat):
    loop = loop_of(follow_up)
    assert loop.previous_scenario.pk == board.pk
    rows = {r.action: r for r in loop.rows}
    assert set(rows) == {"Asks for a model's details on live chat", "Browses the collection on the webstore"}
    assert rows["Asks for a model's details on live chat"].before == -2.0
    assert rows["Browses the collection on the webstore"].before == -1.5  # the team's median
    assert all(not r.rerated and r.after is None and r.direction == "unknown" for r in rows.values())
    assert [a.title for a in rows["Asks for a model's details on live chat"].actions] == ["Chat until 11 pm"]


def test_it_shows_the_emotion_after_once_the_follow_up_re_rates(follow_up, facilitator, participant):
    again_chat = step(follow_up, "Asks for a model's details on live chat")
    again_web = step(follow_up, "Browses the collection on the webstore")
    services.rate_micro_interaction(actor=facilitator, interaction=again_chat, emotion=1, moment_of_truth="none")
    services.set_emotion_rating(actor=facilitator, scenario=follow_up, open=True)
    services.rate_emotion(actor=participant, interaction=again_web, value=-2)
    rows = {r.action: r for r in loop_of(follow_up).rows}
    chat_row, web_row = rows["Asks for a model's details on live chat"], rows["Browses the collection on the webstore"]
    assert (chat_row.after, chat_row.change, chat_row.direction, chat_row.change_text) == (1.0, 3.0, "better", "+3")
    assert (web_row.after, web_row.direction) == (-2.0, "worse")
    # The follow-up's curve shows where each step was.
    curve = curve_of(follow_up)
    assert {p.pk: p.before for p in curve.looped} == {again_chat.pk: -2.0, again_web.pk: -1.5}


def test_it_shows_the_loop_on_the_follow_up_board_and_pushes_it(follow_up, facilitator, participant):
    client = client_for(participant)
    html = client.get(f"/boards/{follow_up.pk}/").content.decode()
    loop = BeautifulSoup(html, "html.parser").find(id="closed-loop")
    assert loop is not None and not loop.has_attr("hidden")
    assert "Chat until 11 pm" in loop.get_text() and "not re-rated yet" in loop.get_text()
    again_chat = step(follow_up, "Asks for a model's details on live chat")
    services.rate_micro_interaction(actor=facilitator, interaction=again_chat, emotion=0, moment_of_truth="none")
    pushed = BeautifulSoup(last_event(follow_up).html, "html.parser").find(id="closed-loop")
    row = pushed.find("tr", attrs={"data-interaction": str(again_chat.pk)})
    assert row.select_one(".loop-after").get_text(strip=True) == "0"
    assert "+2, better" in row.select_one(".loop-change").get_text()


def test_it_marks_last_sessions_emotions_as_carried_over_on_the_follow_up(follow_up, facilitator, as_participant):
    again_chat = step(follow_up, "Asks for a model's details on live chat")
    assert again_chat.emotion == -2 and again_chat.is_carried
    assert not step(follow_up, "Browses the collection on the webstore").is_carried  # nothing to carry: it had none
    soup = BeautifulSoup(as_participant.get(f"/boards/{follow_up.pk}/").content.decode(), "html.parser")
    head = soup.find(id=f"mi-head-{again_chat.pk}")
    assert "is-carried" in head.select_one(".emotion")["class"]
    assert head.select_one(".emotion-label").get_text(" ", strip=True) == "Very negative (-2) · last session"
    point = soup.select_one(f"#emotion-curve .curve-point[data-interaction='{again_chat.pk}']")
    assert "is-carried" in point["class"]
    assert "carried over from last session, not rated again yet" in point.title.get_text()
    assert "carried over from last session" in soup.select_one("#emotion-curve .curve-caption").get_text()
    loop = soup.find(id="closed-loop").find("tr", attrs={"data-interaction": str(again_chat.pk)})
    assert loop.select_one(".loop-after").get_text(strip=True) == "not re-rated yet"


def test_it_counts_a_carried_emotion_as_rated_once_the_facilitator_saves_it(follow_up, facilitator, as_facilitator):
    again_chat = step(follow_up, "Asks for a model's details on live chat")
    dialog = as_facilitator.get(reverse("interaction-edit", args=[again_chat.pk])).content.decode()
    assert "Its emotion is carried over from last session" in dialog
    # Moving it is not rating it.
    services.move_micro_interaction(actor=facilitator, interaction=again_chat, position=1)
    assert step(follow_up, "Asks for a model's details on live chat").is_carried
    services.update_micro_interaction(actor=facilitator, interaction=again_chat, action=again_chat.action,
                                      channel=again_chat.channel, emotion=-2, moment_of_truth="negative",
                                      version=MicroInteraction.objects.get(pk=again_chat.pk).version)
    again_chat = step(follow_up, "Asks for a model's details on live chat")
    assert not again_chat.is_carried
    pushed = BeautifulSoup(last_event(follow_up).html, "html.parser")
    assert "is-carried" not in pushed.find(id=f"mi-head-{again_chat.pk}").select_one(".emotion")["class"]
    row = pushed.find(id="closed-loop").find("tr", attrs={"data-interaction": str(again_chat.pk)})
    assert row.select_one(".loop-after").get_text(strip=True) == "−2"  # rated again: the same, and said so
    assert "Its emotion is carried over" not in as_facilitator.get(
        reverse("interaction-edit", args=[again_chat.pk])).content.decode()


def test_it_no_longer_calls_a_step_carried_once_the_team_rates_it(follow_up, facilitator, participant):
    again_chat = step(follow_up, "Asks for a model's details on live chat")
    services.set_emotion_rating(actor=facilitator, scenario=follow_up, open=True)
    services.rate_emotion(actor=participant, interaction=again_chat, value=1)
    point = next(p for p in curve_of(follow_up).points if p.pk == again_chat.pk)
    assert not point.is_carried and point.value == 1.0
    assert not curve_of(follow_up).carried


def test_it_has_no_loop_on_a_first_workshop(board, as_participant):
    loop = BeautifulSoup(as_participant.get(f"/boards/{board.pk}/").content.decode(), "html.parser").find(id="closed-loop")
    assert loop.has_attr("hidden") and loop.get_text(strip=True) == ""


def test_it_says_when_no_action_touched_a_step(board, facilitator):
    workshop = board.workshop
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title, date=workshop.date,
                                      status=WorkshopStatus.CLOSED, follows_up=None)
    new = workshop_services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Again",
                                               date=workshop.date + datetime.timedelta(days=7))
    scenario = new.scenarios.select_related("workshop").get()
    loop = loop_of(scenario)
    assert loop is not None and loop.rows == []
    html = render_to_string("boards/insights.html#loop-table", {"loop": loop})
    assert "None of the actions from" in html


# The workshop summary -----------------------------------------------------------------------------


def test_it_gives_the_summary_its_insights(follow_up, facilitator):
    services.add_metric(actor=facilitator, interaction=step(follow_up, "Asks for a model's details on live chat"),
                        name="Reply time", value=9, unit="h")
    scenarios = list(follow_up.workshop.scenarios.select_related("persona").order_by("pk"))
    insights.annotate_summary(scenarios)
    html = render_to_string("boards/insights.html#summary-insights", {"scenario": scenarios[0]})
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select_one(f"#summary-curve-{follow_up.pk} svg.curve-svg") is not None
    assert "Chat until 11 pm" in soup.select_one(f"#summary-loop-{follow_up.pk}").get_text()
    assert "Reply time 9 h" in soup.select_one(f"#summary-evidence-{follow_up.pk}").get_text(" ", strip=True)


def test_it_builds_the_summary_insights_in_a_constant_number_of_queries(board, facilitator, workshop):
    def count() -> int:
        scenarios = list(workshop.scenarios.select_related("persona").order_by("pk"))
        with CaptureQueriesContext(connection) as ctx:
            insights.annotate_summary(scenarios)
        return len(ctx.captured_queries)

    one = count()
    for title in ("Second", "Third"):
        other = services.create_scenario(actor=facilitator, workshop=workshop, title=title, template_key="luxury-retail")
        services.add_metric(actor=facilitator, interaction=steps(other)[0], name="NPS", value=1)
    assert count() == one


def test_it_matches_steps_by_phase_and_words_only(board, facilitator):
    """A renamed step in the follow-up is not the same step: it shows as gone from the board."""
    chat = step(board, "Asks for a model's details on live chat")
    note = services.add_note(actor=facilitator, scenario=board, phase=chat.phase, micro_interaction=chat,
                             kind="friction", text="Slow")
    workshop_services.create_action(actor=facilitator, scenario=board, notes=[note], title="Faster chat",
                                    owner=facilitator, due_date=timezone.localdate() + datetime.timedelta(days=3))
    workshop = board.workshop
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title, date=workshop.date,
                                      status=WorkshopStatus.CLOSED, follows_up=None)
    new = workshop_services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Again",
                                               date=workshop.date + datetime.timedelta(days=7))
    again = step(new.scenarios.get(), "Asks for a model's details on live chat")
    services.update_micro_interaction(actor=facilitator, interaction=again, action="Chats with a specialist",
                                      channel="chat", emotion=2, moment_of_truth="none", version=again.version)
    row = loop_of(new.scenarios.get()).rows[0]
    assert row.interaction_id is None and row.after is None


def test_it_counts_people_not_ratings(board, rating_open, participant):
    for mi in steps(board)[:3]:
        services.rate_emotion(actor=participant, interaction=mi, value=1)
    assert curve_of(board).raters == 1


def test_it_keeps_guests_ratings_anonymous_too(board, rating_open, team, chat):
    guest = make_member(team, "gina", Role.PARTICIPANT)
    services.rate_emotion(actor=guest, interaction=chat, value=2)
    assert "Gina" not in last_event(board).html and last_event(board).actor_id is None


def test_it_renders_the_board_for_a_phone_without_inline_styles(board, chat, facilitator, as_participant):
    services.add_metric(actor=facilitator, interaction=chat, name="NPS", value=1)
    html = as_participant.get(f"/boards/{board.pk}/").content.decode()
    assert not re.search(r"<[^>]+\sstyle=", html)


def test_it_hides_the_board_page_filter_from_other_teams(board, as_outsider):
    assert as_outsider.get(f"/boards/{board.pk}/", {"channel": "chat"}).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in_for_the_filtered_board(board):
    r = Client().get(f"/boards/{board.pk}/", {"channel": "chat"})
    assert r.status_code == 302
