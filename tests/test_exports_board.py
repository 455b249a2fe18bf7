"""What leaves a board: the A3 poster (and its PDF), the CSV of notes and actions, the scenario as
JSON and its strict import (a round trip between teams or instances), the Markdown summary."""

from __future__ import annotations

import copy
import csv
import datetime
import io
import json
import re
import zlib

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from boards import exports, services
from boards.models import (
    BoardEvent,
    CustomerQuote,
    MicroInteraction,
    Note,
    Scenario,
    TouchpointMetric,
)
from tests.conftest import client_for
from workshops import services as workshop_services
from workshops.models import Persona, Workshop


def step(board: Scenario, action: str) -> MicroInteraction:
    return MicroInteraction.objects.select_related("phase").get(phase__scenario=board, action=action)


@pytest.fixture
def mapped(board, facilitator, participant, other_participant):
    """A board with emotions, moments of truth, evidence, notes (one private), a revealed vote
    and an action."""
    chat = step(board, "Asks for a model's details on live chat")
    door = step(board, "Walks past the boutique window")
    services.rate_micro_interaction(actor=facilitator, interaction=chat, emotion=-2, moment_of_truth="negative")
    services.rate_micro_interaction(actor=facilitator, interaction=door, emotion=1, moment_of_truth="positive")
    services.add_metric(actor=facilitator, interaction=chat, name="CSAT", value="3.1", unit="/5", source="Survey",
                        date=datetime.date(2026, 10, 1))
    services.add_metric(actor=facilitator, interaction=chat, name="Reply time", value=9, unit="h")
    services.add_quote(actor=facilitator, interaction=chat, text="Nobody answered at 10 pm.", source="Review",
                       date=datetime.date(2026, 11, 2))
    friction = services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat,
                                 kind="friction", text="=HYPERLINK(\"http://x\") nobody on chat")
    idea = services.add_note(actor=other_participant, scenario=board, phase=chat.phase, micro_interaction=chat,
                             kind="idea", text="Video calls *with* a specialist")
    phase_note = services.add_note(actor=participant, scenario=board, phase=door.phase, kind="question",
                                   text="How did she hear of us?")
    services.open_voting_round(actor=facilitator, scenario=board)
    services.cast_vote(actor=participant, note=friction)
    services.cast_vote(actor=other_participant, note=friction)
    services.reveal_votes(actor=facilitator, scenario=board)
    action = workshop_services.create_action(
        actor=facilitator, scenario=board, notes=[friction], title="Chat until 11 pm", owner=participant,
        due_date=timezone.localdate() + datetime.timedelta(days=14))
    services.start_private_round(actor=facilitator, scenario=board)
    hidden = services.add_note(actor=participant, scenario=board, phase=door.phase, kind="idea", text="Secret idea")
    return {"chat": chat, "door": door, "friction": friction, "idea": idea, "phase_note": phase_note,
            "action": action, "hidden": hidden}


# The poster ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["facilitator", "participant", "manager"])
def test_it_shows_every_member_the_poster(request, board, mapped, who):
    r = client_for(request.getfixturevalue(who)).get(f"/boards/{board.pk}/poster/")
    assert r.status_code == 200
    soup = BeautifulSoup(r.content.decode(), "html.parser")
    assert soup.select_one(".poster h1").get_text() == board.title
    assert len(soup.select(".journey-phase")) == board.phases.count()
    assert soup.select_one(".poster .curve-svg") is not None
    assert "Chat until 11 pm" in soup.select_one(".poster-actions").get_text()
    assert "nobody on chat" in soup.select_one(".poster-ranking").get_text()
    assert "CSAT" in soup.select_one(".poster-journey").get_text()
    assert "Secret idea" not in r.content.decode()


def test_it_tells_a_follow_ups_actions_from_those_it_carried_over(board, mapped, facilitator, as_manager):
    workshop = board.workshop
    workshop_services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title,
                                      date=workshop.date, status="closed", follows_up=None)
    later = workshop_services.plan_next_workshop(actor=facilitator, workshop=workshop, title="Follow-up",
                                                 date=timezone.localdate() + datetime.timedelta(days=30))
    copy = later.scenarios.get()
    soup = BeautifulSoup(as_manager.get(f"/boards/{copy.pk}/poster/").content.decode(), "html.parser")
    block = soup.select_one('[aria-labelledby="poster-actions"]').get_text(" ", strip=True)
    assert "Actions agreed in this session None yet in this session." in block
    assert "Still open from First visit to delivery Chat until 11 pm" in block
    # The first session's poster is as it was.
    soup = BeautifulSoup(as_manager.get(f"/boards/{board.pk}/poster/").content.decode(), "html.parser")
    assert soup.select_one("#poster-actions").get_text() == "Actions" and soup.select_one("#poster-review") is None


def test_it_prints_the_poster_on_a3_landscape(board, as_participant):
    r = as_participant.get(f"/boards/{board.pk}/poster/")
    soup = BeautifulSoup(r.content.decode(), "html.parser")
    page_rule = next(s for s in soup.find_all("style") if "@page" in s.get_text())
    assert "size: A3 landscape" in page_rule.get_text()
    nonce = page_rule["nonce"]
    assert f"'nonce-{nonce}'" in r["Content-Security-Policy"]
    assert "unsafe-inline" not in r["Content-Security-Policy"]
    assert not re.search(r"<[^>]+\sstyle=", r.content.decode())
    assert soup.find("script") is None


def _weasyprint_missing() -> str:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: the system's Pango is missing
        return str(exc)
    return ""


@pytest.mark.skipif(bool(_weasyprint_missing()), reason="WeasyPrint cannot load here (it needs Pango)")
def test_it_makes_the_poster_as_an_a3_pdf(board, mapped, as_manager):
    r = as_manager.get(f"/boards/{board.pk}/poster.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    # The workshop's date tells it from the poster of a follow-up's board, which has the same title.
    assert r["Content-Disposition"] == 'attachment; filename="a-first-fine-watch-2026-11-20-poster.pdf"'
    pdf = r.content
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", pdf_objects(pdf))
    assert boxes and {(round(float(w)), round(float(h))) for w, h in boxes} == {(1191, 842)}  # A3 landscape


def pdf_objects(pdf: bytes) -> bytes:
    """The PDF's text with its compressed streams (object streams included) inflated."""
    inflated = [pdf]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            inflated.append(zlib.decompress(stream))
        except zlib.error:
            pass
    return b"\n".join(inflated)


@pytest.mark.parametrize("url", ["poster/", "poster.pdf", "notes.csv", "scenario.json", "history/"])
def test_it_hides_a_boards_exports_from_other_teams(board, as_outsider, url):
    assert as_outsider.get(f"/boards/{board.pk}/{url}").status_code == 404


@pytest.mark.parametrize("url", ["poster/", "poster.pdf", "notes.csv", "scenario.json", "history/"])
def test_it_sends_anonymous_visitors_to_sign_in_for_exports(board, url):
    r = Client().get(f"/boards/{board.pk}/{url}")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


# The CSV of notes and actions -------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_it_exports_notes_and_actions_as_csv(board, mapped, as_manager):
    r = as_manager.get(f"/boards/{board.pk}/notes.csv")
    assert r.status_code == 200 and r["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="a-first-fine-watch-notes.csv"' in r["Content-Disposition"]
    rows = read_csv(r)
    notes = [row for row in rows if row["Record"] == "note"]
    actions = [row for row in rows if row["Record"] == "action"]
    assert len(notes) == 3 and len(actions) == 1
    friction = next(row for row in notes if "nobody on chat" in row["Text"])
    assert friction["Text"].startswith("'=HYPERLINK")  # never read as a formula
    assert (friction["Phase"], friction["Micro-interaction"], friction["Channel"]) == (
        "Consideration", "Asks for a model's details on live chat", "Chat")
    assert (friction["Emotion"], friction["Moment of truth"], friction["Kind"]) == ("-2", "Negative moment of truth", "Friction")
    assert friction["Dots (last revealed vote)"] == "2" and friction["Actions"] == "Chat until 11 pm"
    assert friction["Author"] == "Sam"
    question = next(row for row in notes if row["Kind"] == "Question")
    assert question["Micro-interaction"] == "" and question["Dots (last revealed vote)"] == ""
    action = actions[0]
    assert (action["Text"], action["Owner"], action["Status"]) == ("Chat until 11 pm", "Sam", "Open")
    assert action["Micro-interaction"] == "Asks for a model's details on live chat"
    assert "Secret idea" not in r.content.decode()


def test_it_exports_a_csv_in_a_constant_number_of_queries(board, mapped, participant, as_manager, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        as_manager.get(f"/boards/{board.pk}/notes.csv")
    chat = mapped["chat"]
    services.reveal_private_notes(actor=mapped["action"].created_by, scenario=board)
    for i in range(15):
        services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="idea", text=f"n{i}")
    with django_assert_max_num_queries(len(few)):
        as_manager.get(f"/boards/{board.pk}/notes.csv")


# The scenario as JSON, and back -----------------------------------------------------------------


def document_of(client: Client, board: Scenario) -> dict:
    r = client.get(f"/boards/{board.pk}/scenario.json")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert 'filename="a-first-fine-watch.journey.json"' in r["Content-Disposition"]
    return json.loads(r.content)


def without_time(document: dict) -> dict:
    document = copy.deepcopy(document)
    document.pop("exported", None)
    return document


def test_it_exports_a_whole_scenario_as_json(board, mapped, as_participant):
    document = document_of(as_participant, board)
    assert (document["format"], document["version"]) == ("journeymap.scenario", 1)
    scenario = document["scenario"]
    assert scenario["title"] == board.title and scenario["persona"] == {"name": "Camille", "segment": "First-time buyer"}
    consideration = next(p for p in scenario["phases"] if p["name"] == "Consideration")
    chat = next(i for i in consideration["interactions"] if i["action"].startswith("Asks"))
    assert (chat["channel"], chat["emotion"], chat["moment_of_truth"]) == ("chat", -2, "negative")
    assert chat["metrics"] == [
        {"name": "CSAT", "value": 3.1, "unit": "/5", "source": "Survey", "date": "2026-10-01"},
        {"name": "Reply time", "value": 9, "unit": "h", "source": "", "date": None},
    ]
    assert chat["quotes"] == [{"text": "Nobody answered at 10 pm.", "source": "Review", "date": "2026-11-02"}]
    assert [n["kind"] for n in chat["notes"]] == ["friction", "idea"]
    awareness = scenario["phases"][0]
    assert awareness["notes"] == [{"kind": "question", "text": "How did she hear of us?"}]
    text = json.dumps(document)
    assert "Secret idea" not in text  # still private
    assert "Sam" not in text and "author" not in text  # people's names don't travel


def test_it_round_trips_a_scenario_through_an_import(board, mapped, facilitator, as_facilitator, team):
    document = document_of(as_facilitator, board)
    other = Workshop.objects.create(team=team, title="Another workshop", date=datetime.date(2026, 12, 1))
    imported = services.import_scenario(actor=facilitator, workshop=other, data=document)
    assert imported.workshop == other and imported.persona.name == "Camille"
    again = document_of(as_facilitator, imported)
    assert without_time(again) == without_time(document)
    # One event holds the whole imported board; notes come in as the importer's, none hidden.
    event = BoardEvent.objects.get(scenario=imported)
    assert event.kind == "scenario.imported" and event.actor_id == facilitator.pk and event.seq == 1
    assert len(event.payload["phases"]) == board.phases.count()
    assert set(Note.objects.filter(scenario=imported).values_list("author", "hidden")) == {(facilitator.pk, False)}


def test_it_imports_into_another_team_without_its_persona(board, mapped, as_facilitator, outsider):
    document = document_of(as_facilitator, board)
    elsewhere = Workshop.objects.create(team=outsider.team, title="Elsewhere", date=datetime.date(2026, 12, 1))
    imported = services.import_scenario(actor=outsider, workshop=elsewhere, data=document)
    assert imported.persona is None  # their team has no Camille
    assert TouchpointMetric.objects.filter(interaction__phase__scenario=imported).count() == 2
    assert CustomerQuote.objects.filter(interaction__phase__scenario=imported).count() == 1


def test_it_links_the_persona_of_the_same_name(board, mapped, as_facilitator, facilitator, workshop, team):
    document = document_of(as_facilitator, board)
    Persona.objects.filter(team=team).delete()
    camille = Persona.objects.create(team=team, name="CAMILLE", segment="VIC")
    assert services.import_scenario(actor=facilitator, workshop=workshop, data=document).persona == camille


def minimal() -> dict:
    return {
        "format": "journeymap.scenario",
        "version": 1,
        "scenario": {
            "title": "Shared journey",
            "phases": [
                {"name": "Awareness", "interactions": [{"action": "Sees an advert", "channel": "social"}]},
            ],
        },
    }


def test_it_imports_a_minimal_document(facilitator, workshop):
    scenario = services.import_scenario(actor=facilitator, workshop=workshop, data=minimal())
    mi = MicroInteraction.objects.get(phase__scenario=scenario)
    assert (scenario.title, scenario.description, scenario.persona) == ("Shared journey", "", None)
    assert (mi.action, mi.channel, mi.emotion, mi.moment_of_truth) == ("Sees an advert", "social", None, "none")


def broken(change) -> dict:
    document = minimal()
    change(document)
    return document


def _set(path, value):
    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


STEP = ("scenario", "phases", 0, "interactions", 0)


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "document: must be an object"),
        (broken(_set(("format",), "trello")), "document.format: must be \"journeymap.scenario\""),
        (broken(_set(("version",), 2)), "document.version: must be 1"),
        (broken(_set(("version",), True)), "document.version: must be 1"),
        (broken(_set(("colour",), "red")), "document.colour: unknown field"),
        (broken(lambda d: d["scenario"].pop("title")), "scenario.title: is missing"),
        (broken(_set(("scenario", "title"), "  ")), "scenario.title: This can't be empty"),
        (broken(_set(("scenario", "title"), "T" * 161)), "scenario.title: Keep it under 160 characters"),
        (broken(_set(("scenario", "phases"), {})), "scenario.phases: must be a list"),
        (broken(_set(("scenario", "phases"), [{"name": "P"}] * 41)), "scenario.phases: has 41 items: at most 40"),
        (broken(_set(("scenario", "phases", 0, "name"), 7)), "scenario.phases[0].name: must be text"),
        (broken(_set((*STEP, "channel"), "fax")), "scenario.phases[0].interactions[0].channel: must be one of"),
        (broken(_set((*STEP, "emotion"), 3)), "interactions[0].emotion: use a whole number from -2 to 2"),
        (broken(_set((*STEP, "emotion"), True)), "interactions[0].emotion: use a whole number from -2 to 2"),
        (broken(_set((*STEP, "emotion"), 1.5)), "interactions[0].emotion: use a whole number from -2 to 2"),
        (broken(_set((*STEP, "moment_of_truth"), "big")), "interactions[0].moment_of_truth: must be one of"),
        (broken(_set((*STEP, "notes"), [{"kind": "rant", "text": "x"}])), "interactions[0].notes[0].kind: must be one of"),
        (broken(_set((*STEP, "notes"), [{"kind": "idea", "text": "x" * 501}])), "notes[0].text: Keep it under 500"),
        (broken(_set((*STEP, "notes"), [{"kind": "idea", "text": "x", "author": "Sam"}])), "notes[0].author: unknown field"),
        (broken(_set((*STEP, "metrics"), [{"name": "NPS", "value": "32"}])), "metrics[0].value: must be a number"),
        (broken(_set((*STEP, "metrics"), [{"name": "NPS", "value": 1e11}])), "metrics[0].value: must be a number below"),
        (broken(_set((*STEP, "metrics"), [{"name": "NPS", "value": 1, "date": "01/02/2026"}])), "metrics[0].date: use a date"),
        (broken(_set((*STEP, "metrics"), [{"name": "NPS", "value": 1, "date": "2026-02-30"}])), "metrics[0].date: use a date"),
        (broken(_set((*STEP, "metrics"), [{"name": "NPS", "value": 1, "date": "2999-01-01"}])), "metrics[0].date: is in the future"),
        (broken(_set((*STEP, "quotes"), [{"source": "x"}])), "quotes[0].text: is missing"),
        (broken(_set((*STEP, "quotes"), "Nice")), "interactions[0].quotes: must be a list"),
    ],
)
def test_it_refuses_a_broken_document_with_a_clear_error(facilitator, workshop, document, message):
    with pytest.raises(ValidationError) as exc:
        services.import_scenario(actor=facilitator, workshop=workshop, data=document)
    assert any(message in m for m in exc.value.messages), exc.value.messages
    assert not Scenario.objects.filter(title="Shared journey").exists()


def test_it_lists_every_problem_at_once_up_to_a_limit(facilitator, workshop):
    document = minimal()
    document["scenario"]["phases"] = [
        {"name": "", "interactions": [{"action": "", "channel": "fax", "emotion": 9}]} for _ in range(12)
    ]
    with pytest.raises(ValidationError) as exc:
        exports.parse_scenario(document)
    messages = exc.value.messages
    assert len(messages) == exports.MAX_ERRORS + 1 and messages[-1].startswith("…and 23 more problems")


def test_it_reads_json_with_errors_a_person_can_act_on():
    with pytest.raises(ValidationError, match=r"not valid JSON: Expecting value at line 1, column 1"):
        exports.read_json(b"nope")
    with pytest.raises(ValidationError, match="not text in UTF-8"):
        exports.read_json(b"\xff\xfe{}")
    with pytest.raises(ValidationError, match="at most 2 MB"):
        exports.read_json(b" " * (exports.MAX_BYTES + 1))
    assert exports.read_json("\ufeff{\"a\": 1}".encode()) == {"a": 1}


@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])
def test_it_lets_only_the_teams_facilitators_import(request, workshop, who):
    with pytest.raises(PermissionDenied):
        services.import_scenario(actor=request.getfixturevalue(who), workshop=workshop, data=minimal())
    assert not Scenario.objects.exists()


def test_it_imports_an_uploaded_file_from_the_page(workshop, as_facilitator):
    r = as_facilitator.get(f"/workshops/{workshop.pk}/scenarios/import/")
    assert r.status_code == 200 and 'enctype="multipart/form-data"' in r.content.decode()
    upload = SimpleUploadedFile("shared.journey.json", json.dumps(minimal()).encode(), content_type="application/json")
    r = as_facilitator.post(f"/workshops/{workshop.pk}/scenarios/import/", {"file": upload})
    scenario = Scenario.objects.get(title="Shared journey")
    assert r.status_code == 302 and r["Location"] == f"/boards/{scenario.pk}/"


def test_it_imports_pasted_json_from_the_page(workshop, as_facilitator):
    r = as_facilitator.post(f"/workshops/{workshop.pk}/scenarios/import/", {"text": json.dumps(minimal())})
    assert r.status_code == 302 and Scenario.objects.filter(title="Shared journey").exists()


def test_it_shows_what_is_wrong_with_a_file_and_imports_nothing(workshop, as_facilitator):
    document = broken(_set((*STEP, "channel"), "fax"))
    r = as_facilitator.post(f"/workshops/{workshop.pk}/scenarios/import/", {"text": json.dumps(document)})
    assert r.status_code == 422
    problems = BeautifulSoup(r.content.decode(), "html.parser").find(id="import-problems")
    assert "Nothing was imported" in problems.get_text()
    assert "scenario.phases[0].interactions[0].channel: must be one of" in problems.get_text()
    r = as_facilitator.post(f"/workshops/{workshop.pk}/scenarios/import/", {"text": "{oops"})
    assert r.status_code == 422 and "not valid JSON" in r.content.decode()
    r = as_facilitator.post(f"/workshops/{workshop.pk}/scenarios/import/", {})
    assert r.status_code == 422 and "Choose a file exported from Journeymap" in r.content.decode()
    assert not Scenario.objects.exists()


@pytest.mark.parametrize("who, status", [("participant", 403), ("manager", 403), ("outsider", 404)])
def test_it_keeps_the_import_page_for_facilitators(request, workshop, who, status):
    client = client_for(request.getfixturevalue(who))
    assert client.get(f"/workshops/{workshop.pk}/scenarios/import/").status_code == status
    assert client.post(f"/workshops/{workshop.pk}/scenarios/import/", {"text": json.dumps(minimal())}).status_code == status
    assert not Scenario.objects.exists()


def test_it_sends_anonymous_visitors_to_sign_in_to_import(workshop):
    r = Client().get(f"/workshops/{workshop.pk}/scenarios/import/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


# The Markdown summary -----------------------------------------------------------------------------


def test_it_downloads_the_workshop_summary_as_markdown(board, mapped, workshop, as_manager):
    r = as_manager.get(f"/workshops/{workshop.pk}/summary.md")
    assert r.status_code == 200 and r["Content-Type"] == "text/markdown; charset=utf-8"
    assert r["Content-Disposition"] == 'attachment; filename="first-visit-to-delivery-summary-2026-11-20.md"'
    text = r.content.decode()
    assert text.startswith("# First visit to delivery\n")
    assert "## A first fine watch" in text and "Persona: **Camille** (First-time buyer)" in text
    assert "### Emotion curve" in text
    assert "5. Consideration · Asks for a model's details on live chat (Chat): **−2** ⚠ negative moment of truth" in text
    assert "### Top frictions" in text and "· 2 dots" in text
    assert '=HYPERLINK\\("http://x"\\) nobody on chat' in text  # markup is escaped, not rendered
    assert "### Touchpoint evidence" in text and "  - CSAT: 3.1/5 (Survey, 2026-10-01)" in text
    assert "  - “Nobody answered at 10 pm.” — Review, 2026-11-02" in text
    assert "- [ ] Chat until 11 pm · Sam · due" in text
    assert "Secret idea" not in text


def test_it_lists_the_moments_of_truth_the_team_wrote_in_the_markdown_summary(board, workshop, participant, as_manager):
    chat = step(board, "Asks for a model's details on live chat")
    services.add_note(actor=participant, scenario=board, phase=chat.phase, micro_interaction=chat, kind="moment",
                      text="She nearly *left* for another maison here")
    text = as_manager.get(f"/workshops/{workshop.pk}/summary.md").content.decode()
    section = text[text.index("### Moments of truth the team wrote"):]
    assert section.splitlines()[2] == (
        "- She nearly \\*left\\* for another maison here · *Consideration · Asks for a model's details on live chat*"
    )


def test_it_escapes_markdown_and_html_in_what_people_typed():
    assert exports.md("<script>*x*</script>\n# y") == "\\<script\\>\\*x\\*\\</script\\> \\# y"


def test_it_hides_the_markdown_summary_from_other_teams(workshop, as_outsider):
    assert as_outsider.get(f"/workshops/{workshop.pk}/summary.md").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in_for_the_markdown(workshop):
    r = Client().get(f"/workshops/{workshop.pk}/summary.md")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
