"""A half-open connection (the socket looks open but nothing gets through, as behind a sleeping
access point) is detected by the heartbeat, and the page reconnects within two heartbeats."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_live_board import open_board
from tests.live_server import LiveServer

HEARTBEAT_SECONDS = 1.0


@pytest.fixture(scope="module")
def app_server():
    server = LiveServer(env={"BOARD_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)})
    try:
        yield server.start()
    finally:
        server.close()


def test_it_replaces_a_half_open_socket_within_two_heartbeats(desktop, sign_in, app_server):
    pk = app_server.manage("shell", "-c", "from boards.models import Scenario; from workshops import demo; print(Scenario.objects.get(title=demo.SCENARIO_TITLE).pk)").split()[-1]
    silent = {"on": False}
    opened: list[float] = []

    def route(ws):
        opened.append(time.monotonic())
        server = ws.connect_to_server()
        # While "silent", nothing the server sends reaches the page: the socket stays open.
        server.on_message(lambda message: None if silent["on"] else ws.send(message))

    desktop.route_web_socket(re.compile(r"/ws/boards/"), route)
    open_board(desktop, sign_in, "fiona", f"/boards/{pk}/")
    assert len(opened) == 1
    silent["on"] = True
    went_silent = time.monotonic()
    # the heartbeat checks every half beat, and gives up after two beats of silence
    deadline = went_silent + 2.5 * HEARTBEAT_SECONDS + 1.0
    while len(opened) < 2:
        assert time.monotonic() < deadline, "the half-open socket was not replaced in time"
        desktop.wait_for_timeout(50)
    silent["on"] = False
    expect(desktop.locator("#sync-status")).to_have_attribute("data-state", "live", timeout=5000)
