"""Scale-out: two server processes share PostgreSQL and the Redis channel layer.

A note posted through process A reaches a page whose websocket is held by process B, and back.
Selected by JOURNEYMAP_TEST_DATABASE_URL and JOURNEYMAP_TEST_REDIS_URL (set by .ci/run).
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import expect

from tests.browser.test_live_board import capture, open_board
from tests.live_server import LiveServer

DATABASE_URL = os.environ.get("JOURNEYMAP_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("JOURNEYMAP_TEST_REDIS_URL", "")
pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.skipif(
        not (DATABASE_URL and REDIS_URL),
        reason="set JOURNEYMAP_TEST_DATABASE_URL and JOURNEYMAP_TEST_REDIS_URL to run the scale-out tests",
    ),
]


def fresh_database(url: str, name: str) -> str:
    """Drop and create database `name` on the server of `url`; return its URL."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def two_servers():
    env = {"DATABASE_URL": fresh_database(DATABASE_URL, "journeymap_scaleout"), "REDIS_URL": REDIS_URL}
    a = LiveServer(env=env)
    b = LiveServer(env=env, prepare=False)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.close()
        a.close()


@pytest.fixture
def pages(browser, two_servers):
    a, b = two_servers
    contexts = [
        browser.new_context(base_url=a.url, viewport={"width": 1440, "height": 900}),
        browser.new_context(base_url=b.url, viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True),
    ]
    yield [c.new_page() for c in contexts]
    for c in contexts:
        c.close()


def test_it_shares_a_board_between_two_processes(two_servers, pages):
    from tests.browser.conftest import _sign_in as sign_in

    a, _ = two_servers
    pk = a.manage("shell", "-c", "from boards.models import Scenario; from workshops import demo; print(Scenario.objects.get(title=demo.SCENARIO_TITLE).pk)").split()[-1]
    url = f"/boards/{pk}/"
    projector, phone = pages
    open_board(projector, sign_in, "fiona", url)
    open_board(phone, sign_in, "sam", url)

    # Presence spans both processes.
    expect(projector.locator("#presence")).to_contain_text("Samuel Rochat")
    expect(phone.locator("#presence")).to_contain_text("Fiona Keller")

    # Posted through B, pushed by A.
    text = f"Asked for the warranty card in French: only English on the shelf ({uuid.uuid4().hex[:6]})"
    capture(phone, phase="Service", interaction="Registers the warranty online", kind="friction", text=text)
    expect(projector.locator(".note", has_text=text)).to_have_count(1)

    # Moved through A, pushed by B.
    projector.locator(".note", has_text=text).get_by_role("button", name="Move note to…").click()
    projector.locator("#dialog").get_by_label("Move to").select_option(label="Service (whole phase)")
    projector.locator("#dialog").get_by_role("button", name="Move").click()
    phase_notes = phone.locator(".phase", has_text="Be looked after once the piece is home").locator(".phase-notes")
    expect(phase_notes.locator(".note", has_text=text)).to_have_count(1)

    # Edited through B (in one statement on PostgreSQL), pushed by A.
    phase_notes.locator(".note", has_text=text).get_by_role("button", name="Edit note").click()
    dialog = phone.locator("#dialog")
    dialog.get_by_label("Text").fill(text + ", and none in Italian")
    dialog.get_by_role("button", name="Save").click()
    expect(projector.locator(".note", has_text=text + ", and none in Italian")).to_have_count(1)
