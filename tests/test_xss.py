"""What people type never becomes markup: note texts, names and titles are escaped in pages and in
pushes, every page carries a strict Content-Security-Policy with script nonces, and htmx runs with
eval and script tags off.

Each check renders the same thing twice, once with a harmless text and once with the payload, and
compares the markup's shape (every element and its attribute names): a payload that became markup
would add elements or attributes.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from asgiref.sync import async_to_sync
from bs4 import BeautifulSoup
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boards import render, services
from boards.models import BoardEvent
from tests.conftest import client_for
from tests.ws import communicator, receive_board_messages

HX = {"HTTP_HX_REQUEST": "true"}
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)",
    '" autofocus onfocus="alert(1)',
    "</textarea><script>alert(1)</script>",
    "</li></ul><div id=board>hijack</div>",
    '<a href="javascript:alert(1)">click</a>',
    "<style>body{display:none}</style>",
    "<!-- <span hx-get=/x hx-trigger=load>",
    '<div hx-get="/accounts/logout/" hx-trigger="load">',
    "{{ 7|add:7 }} {% csrf_token %}",
    "&lt;b&gt;already escaped&lt;/b&gt; &amp;",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "\u202egnp.exe <b>bidi</b>",
]
HARMLESS = "A harmless note"


def shape(html: str) -> list[tuple[str, tuple[str, ...]]]:
    """The markup: every element and its attribute names, in order."""
    return [(tag.name, tuple(sorted(tag.attrs))) for tag in BeautifulSoup(html, "html.parser").find_all(True)]


def board_shape(html: str) -> list:
    soup = BeautifulSoup(html, "html.parser")
    return shape(str(soup.find(id="board"))) + shape(str(soup.find(id="scenario-head")))


@pytest.fixture
def twin(facilitator, workshop, persona):
    """A second board exactly like `board`, that only ever gets harmless text."""
    return services.create_scenario(actor=facilitator, workshop=workshop, title="A first fine watch",
                                    persona=persona, template_key="luxury-retail")


def post_note(client, board, text: str) -> str:
    phase = board.phases.order_by("order").first()
    r = client.post(f"/boards/{board.pk}/notes/", {
        "phase": phase.pk, "kind": "friction", "text": text, "request_id": str(uuid.uuid4())}, **HX)
    assert r.status_code == 200, r.content
    return BoardEvent.objects.filter(scenario=board).last().html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_escapes_note_texts_over_http(as_participant, as_facilitator, board, twin, payload):
    assert shape(post_note(as_participant, board, payload)) == shape(post_note(as_participant, twin, HARMLESS))
    page = as_facilitator.get(f"/boards/{board.pk}/").content.decode()
    assert board_shape(page) == board_shape(as_facilitator.get(f"/boards/{twin.pk}/").content.decode())
    assert "<script>alert" not in page


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_escapes_names_and_titles(board, twin, facilitator, participant, payload):
    participant.display_name = payload[:60]
    participant.save()
    services.add_note(actor=participant, scenario=board, phase=board.phases.first(), kind="idea", text="x")
    services.add_note(actor=facilitator, scenario=twin, phase=twin.phases.first(), kind="idea", text="x")
    services.update_scenario(actor=facilitator, scenario=board, title=payload, description=payload, persona=None)
    services.update_scenario(actor=facilitator, scenario=twin, title=HARMLESS, description=HARMLESS, persona=None)
    assert shape(BoardEvent.objects.filter(scenario=board).last().html) == shape(
        BoardEvent.objects.filter(scenario=twin).last().html)
    client = client_for(facilitator)
    assert board_shape(client.get(f"/boards/{board.pk}/").content.decode()) == board_shape(
        client.get(f"/boards/{twin.pk}/").content.decode())


@pytest.mark.django_db(transaction=True)
def test_it_escapes_what_the_websocket_carries(board, twin, facilitator, participant):
    comm = communicator(board.pk, facilitator, since=board.last_seq)

    async def run():
        await comm.connect()
        for payload in PAYLOADS:
            await database_sync_to_async(services.add_note)(
                actor=participant, scenario=board, phase=await database_sync_to_async(board.phases.first)(),
                kind="friction", text=payload)
            [push] = await receive_board_messages(comm, 1)
            harmless = await database_sync_to_async(services.add_note)(
                actor=participant, scenario=twin, phase=await database_sync_to_async(twin.phases.first)(),
                kind="friction", text=HARMLESS)
            twin_push = await database_sync_to_async(lambda: BoardEvent.objects.filter(scenario=twin).last().html)()
            # both lists hold as many notes: same shape, or the payload became markup
            assert shape(push) == shape(twin_push), payload
            assert harmless
        await comm.disconnect()

    async_to_sync(run)()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=200).filter(lambda t: t.strip()))
def test_it_escapes_any_text(board, participant, text):
    phase = board.phases.first()
    try:
        note = services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text=text)
    except Exception as exc:  # text that is only spaces and line breaks after cleaning, etc.
        assert exc.__class__.__name__ == "ValidationError"
        return
    baseline = services.add_note(actor=participant, scenario=board, phase=phase, kind="idea", text="x")
    assert shape(render.note(note)) == shape(render.note(baseline))


# Content-Security-Policy and htmx ---------------------------------------------------------------


@pytest.fixture
def pages(board, facilitator, workshop):
    team = facilitator.team_id
    return ["/accounts/login/", "/", f"/teams/{team}/", f"/workshops/{workshop.pk}/", f"/boards/{board.pk}/",
            "/actions/mine/", f"/teams/{team}/actions/", f"/workshops/{workshop.pk}/summary/"]


def test_it_sends_a_strict_csp_with_script_nonces(as_facilitator, pages):
    for path in pages:
        r = as_facilitator.get(path)
        assert r.status_code == 200, path
        policy = r["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]+)", policy).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, path
        nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
        soup = BeautifulSoup(r.content.decode(), "html.parser")
        scripts = soup.find_all("script")
        assert scripts, path
        for script in scripts:
            assert script.get("nonce") == nonce, (path, script)
            assert script.get("src"), f"inline script on {path}"
        assert not soup.find_all(attrs={"style": True}), f"inline style attribute on {path}"
        assert not [t for t in soup.find_all(True) if any(a.startswith("on") for a in t.attrs)], path


def test_it_runs_htmx_without_eval_or_script_tags(as_facilitator, board):
    soup = BeautifulSoup(as_facilitator.get(f"/boards/{board.pk}/").content.decode(), "html.parser")
    config = json.loads(soup.find("meta", attrs={"name": "htmx-config"})["content"])
    assert config["allowEval"] is False and config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True
