"""The HTTP side of journeymap.asgi: Django's middleware in one thread hop, on threads kept between
requests (with their database connections), and async views still served."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.db import connections

from boards import services
from journeymap import handlers
from tests.ws import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(app, cookies: bytes, method: str, path: str) -> dict:
    async def run():
        comm = HttpCommunicator(app, method, path, headers=[(b"host", b"localhost"), (b"cookie", cookies)])
        return await comm.get_response(timeout=20)

    return async_to_sync(run)()


def test_it_serves_requests_one_after_another_on_one_kept_thread(monkeypatch, facilitator, board):
    app = handlers.SyncMiddlewareASGIHandler()
    cookies = session_cookie(facilitator)
    here = threading.get_ident()
    seen: list[tuple[int, int]] = []
    wrapper = type(connections["default"])
    original = wrapper.ensure_connection

    def spy(self):
        original(self)
        if threading.get_ident() != here:
            seen.append((threading.get_ident(), id(self.connection)))

    monkeypatch.setattr(wrapper, "ensure_connection", spy)
    for _ in range(3):
        assert fetch(app, cookies, "GET", f"/boards/{board.pk}/")["status"] == 200
    threads, kept = {t for t, _ in seen}, {c for _, c in seen}
    assert len(seen) >= 3 and len(threads) == 1  # one thread
    if not connections["default"].settings_dict.get("OPTIONS", {}).get("pool"):
        assert len(kept) == 1  # its connection kept (a pooled one goes back to the pool instead)
    assert app._kept == 1 and len(app._idle) == 1


def test_it_gives_a_request_its_own_thread_when_the_kept_ones_are_busy(monkeypatch, facilitator):
    app = handlers.SyncMiddlewareASGIHandler()
    monkeypatch.setattr(handlers, "KEPT_THREADS", 0)
    assert fetch(app, session_cookie(facilitator), "GET", "/")["status"] == 200
    assert app._kept == 0 and app._idle == []


def test_it_runs_a_note_edit_through_the_whole_middleware(participant, board):
    """CSRF, sessions, htmx and the service, through the ASGI entry point the servers use."""
    from journeymap.asgi import application

    phase = board.phases.order_by("order").first()
    note = services.add_note(actor=participant, scenario=board, phase=phase, kind="friction", text="Told to wait")
    token = "k" * 32
    body = (f"text=Told+to+wait+at+the+door&kind=friction&version={note.version}"
            f"&request_id={uuid.uuid4()}&csrfmiddlewaretoken={token}").encode()
    cookie = session_cookie(participant) + f"; csrftoken={token}".encode()

    async def run():
        comm = HttpCommunicator(application, "POST", f"/notes/{note.pk}/edit/", body=body, headers=[
            (b"host", b"localhost"), (b"cookie", cookie), (b"hx-request", b"true"),
            (b"content-type", b"application/x-www-form-urlencoded"), (b"origin", b"http://localhost"),
        ])
        return await comm.get_response(timeout=20)

    response = async_to_sync(run)()
    assert response["status"] == 204
    note.refresh_from_db()
    assert note.text == "Told to wait at the door"


def test_it_still_serves_async_views(manager, board):
    """The poster's PDF view is async; the synchronous middleware chain calls it."""
    response = fetch(handlers.SyncMiddlewareASGIHandler(), session_cookie(manager), "GET", f"/boards/{board.pk}/poster.pdf")
    assert response["status"] in (200, 503)  # 503: this machine's WeasyPrint lacks Pango
    if response["status"] == 200:
        assert response["body"].startswith(b"%PDF")


@pytest.mark.django_db(transaction=False)
def test_it_keeps_what_start_up_loaded_out_of_the_garbage_collectors_sight(tmp_path):
    """A full collection would walk everything Django loaded on every pass (50-100 ms with no
    answer and no push): the ASGI application freezes it once loaded."""
    from tests.live_server import BASE_DIR, base_environment

    found = subprocess.run(
        [sys.executable, "-c", "import gc, journeymap.asgi; print(gc.get_freeze_count())"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
        env={**base_environment(), "DEBUG": "1", "SQLITE_PATH": str(tmp_path / "db.sqlite3")},
    )
    assert found.returncode == 0, found.stderr
    assert int(found.stdout.split()[-1]) > 50_000


def test_it_sends_the_request_signals_once_each_on_the_requests_own_thread(facilitator, board):
    """request_started, the view and request_finished (which gives the database connection back)
    run in one hop to the request's thread, not one hop each."""
    from django.core import signals

    seen: list[tuple[str, int]] = []

    def started(**kwargs):
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        response = fetch(handlers.SyncMiddlewareASGIHandler(), session_cookie(facilitator), "GET", f"/boards/{board.pk}/")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert response["status"] == 200
    assert [name for name, _ in seen] == ["started", "finished"]
    assert seen[0][1] == seen[1][1] != threading.get_ident()


def test_it_answers_errors_and_streams_files_through_the_handler(facilitator):
    from asgiref.testing import ApplicationCommunicator

    from tests.live_server import BASE_DIR

    app, cookies = handlers.SyncMiddlewareASGIHandler(), session_cookie(facilitator)
    assert fetch(app, cookies, "GET", "/boards/999999/")["status"] == 404

    async def get_streamed(path: str) -> tuple[int, bytes]:
        scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "scheme": "http", "server": ("localhost", 80),
                 "headers": [(b"host", b"localhost")]}
        comm = ApplicationCommunicator(app, scope)
        await comm.send_input({"type": "http.request", "body": b""})
        start = await comm.receive_output(timeout=20)
        body = b""
        while True:
            message = await comm.receive_output(timeout=20)
            body += message.get("body", b"")
            if not message.get("more_body"):
                return start["status"], body

    status, body = async_to_sync(get_streamed)("/static/js/board.js")  # WhiteNoise streams files
    assert status == 200
    assert body == (BASE_DIR / "static" / "js" / "board.js").read_bytes()
