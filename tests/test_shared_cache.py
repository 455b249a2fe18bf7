"""The shared cache of scale-out (REDIS_URL), on a real server with its rate limits on: one pool
of Redis connections a process rather than a connection a request, and a Redis that does not
answer costs the rate limits, never a sign-in or a note."""

from __future__ import annotations

import json
import os

import pytest

from tests.http_client import Member
from tests.live_server import LiveServer, free_port

REDIS_URL = os.environ.get("JOURNEYMAP_TEST_REDIS_URL", "")


def first_board(server: LiveServer) -> tuple[int, int]:
    out = server.manage("shell", "-c", (
        "import json; from boards.models import Scenario; from workshops import demo; s = Scenario.objects.get(title=demo.SCENARIO_TITLE); "
        "print(json.dumps([s.pk, s.phases.order_by('order').first().pk]))"
    ))
    pk, phase = json.loads(out.strip().splitlines()[-1])
    return pk, phase


def notes_with(server: LiveServer, text: str) -> int:
    out = server.manage("shell", "-c", (
        f"from boards.models import Note; print(Note.objects.filter(text={text!r}).count())"
    ))
    return int(out.strip().splitlines()[-1])


def test_it_signs_in_and_takes_notes_while_redis_does_not_answer():
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with LiveServer(env={"REDIS_URL": nowhere, "RATELIMIT_ENABLE": "1"}) as server:
        pk, phase = first_board(server)
        writer = Member(server.url, "lea")  # the sign-in's rate limits could not count it
        assert writer.add_note(pk, phase, "Asked for the shoe in her size") == 200
        assert notes_with(server, "Asked for the shoe in her size") == 1
        assert "Exception ignored" in server.log_tail(400)  # logged, not hidden


@pytest.mark.scaleout
@pytest.mark.skipif(not REDIS_URL, reason="set JOURNEYMAP_TEST_REDIS_URL to run the shared cache tests")
def test_it_keeps_its_redis_connections_from_one_request_to_the_next():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)

    def connections_received() -> int:
        return client.info("stats")["total_connections_received"]

    def forget_counts() -> None:  # the rate limits' counts outlive a run by a minute
        for key in client.scan_iter("journeymap:*"):
            client.delete(key)

    forget_counts()
    try:
        with LiveServer(env={"REDIS_URL": REDIS_URL, "RATELIMIT_ENABLE": "1"}) as server:
            pk, phase = first_board(server)
            writer = Member(server.url, "lea")
            assert writer.add_note(pk, phase, "warm-up") == 200  # each rate-limited post uses the cache
            before = connections_received()
            for i in range(20):
                assert writer.add_note(pk, phase, f"Client {i} asked for gift wrapping") == 200
            # One request at a time needs one connection; a connection a request made 20.
            assert connections_received() - before <= 3
    finally:
        forget_counts()
        client.close()
