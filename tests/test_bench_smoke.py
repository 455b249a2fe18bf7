"""The benchmark's harness, small and fast: five signed-in participants on one board of a real
server, twenty changes through the capture form and twenty edits, every push received once and in
seq order. Timings are not asserted: this proves the harness counts right, `make bench` measures.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("websockets", reason="the benchmark's clients need `pip install -e '.[bench]'`")
pytest.importorskip("psutil", reason="the benchmark needs `pip install -e '.[bench]'`")

from bench import load, suite  # noqa: E402
from bench.load import Board, Writers  # noqa: E402
from bench.servers import App, Bare  # noqa: E402
from tests.live_server import LiveServer  # noqa: E402

PEOPLE = 5
CHANGES = 20


@pytest.fixture(scope="module")
def app():
    with LiveServer(demo=False) as server:
        target = App.around([server])
        spec = {"participants": PEOPLE, "writers": 1, "boards": {"smoke": {"notes": 6}}}
        target.seeded = target.manage_json("seed", spec)
        yield target


def test_it_delivers_every_change_once_in_order(app):
    async def scenario():
        board = Board.seeded("smoke", app.seeded["boards"]["smoke"])
        crowd = suite.crowd_for(app, [board], app.seeded["participants"], PEOPLE)
        names = [w["username"] for w in app.seeded["writers"]]
        results = []
        await crowd.open(presence=True, settle_timeout=30)
        # The clients ask for compression as browsers do, and get it as `make run`'s server grants
        # it (journeymap.wsprotocol: no context takeover): the benchmark measures what browsers cost.
        assert all(
            p.extensions.startswith("permessage-deflate") and "server_no_context_takeover" in p.extensions
            for p in crowd.participants
        )
        try:
            for mode in ("add", "edit"):
                writers = await Writers.sign_in(app, names, app.seeded["password"], mode=mode)
                try:
                    results.append(await load.run(app, crowd, writers, [board], rate=20, changes=CHANGES,
                                                  drain_timeout=20))
                finally:
                    await writers.close()
        finally:
            await crowd.close()
        return results

    for result in asyncio.run(scenario()):
        assert result["errors"] == 0, result["first_error"]
        assert result["expected"] == PEOPLE * CHANGES
        assert result["delivered"] == PEOPLE * CHANGES
        assert (result["duplicates"], result["gaps"], result["reorders"], result["stale"]) == (0, 0, 0, 0)
        assert result["complete"] == CHANGES  # every change's push matched by its marker, at everyone
        assert load.clean(result)


def test_it_relays_the_bare_baseline_the_same_way():
    async def scenario():
        bare = Bare().start()
        try:
            board = Board("smoke-bare", "smoke")
            people = [{"session": ""} for _ in range(PEOPLE)]
            crowd = suite.crowd_for(bare, [board], people, PEOPLE)
            await crowd.open(presence=False)
            writers = await Writers.sign_in(bare, ["w"], "", mode="edit")
            writers.pad_to = 800
            try:
                return await load.run(bare, crowd, writers, [board], rate=50, changes=CHANGES)
            finally:
                await writers.close()
                await crowd.close()
        finally:
            bare.close()

    result = asyncio.run(scenario())
    assert result["delivered"] == result["expected"] == PEOPLE * CHANGES
    assert result["complete"] == CHANGES
    assert result["push_bytes"] >= 800
    assert load.clean(result)


def test_it_counts_duplicates_gaps_and_reorders():
    """The reckoning itself, on pushes as a broken server might send them."""
    board = Board("b", 1, last_seq=13)
    people = [load.Participant(i, board, "", "", None, reference=i == 0) for i in range(2)]
    changes = []
    for k, seq in enumerate(range(11, 14)):
        marker = f"bench-9-{k}"
        board.markers[marker] = seq
        changes.append(load.Change(board, k, marker, scheduled=0.0, start=0.0, end=0.01, status=204))
    people[0].seqs, people[0].times = [11, 12, 13], [0.01, 0.02, 0.03]
    people[1].seqs, people[1].times = [10, 13, 11, 11], [0.0, 0.01, 0.02, 0.03]  # late, reordered, twice, 12 lost
    crowd = load.Crowd(people)
    result = load._reckon(
        crowd, crowd.by_board, [board], changes, {"b": 10}, {0: 0, 1: 0},
        rate=10, wall=1, post_wall=1, server_cpu=0, client_cpu=0, rss=0,
    )
    assert (result["expected"], result["delivered"]) == (6, 5)
    assert (result["duplicates"], result["gaps"], result["reorders"], result["stale"]) == (1, 1, 1, 1)
    assert result["complete"] == 2  # seq 12 never reached the second participant
    assert not load.clean(result)


def test_it_measures_what_a_note_edit_costs_in_process():
    """`python -m bench.edit_cost` edits the demo board in a database of its own and reports."""
    import subprocess
    import sys

    from tests.live_server import BASE_DIR, base_environment

    out = subprocess.run([sys.executable, "-m", "bench.edit_cost", "--edits", "3", "--warm-up", "1"],
                         cwd=BASE_DIR, env=base_environment(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "database: sqlite; SQL statements per edit: 7" in out.stdout
    assert "time per edit:" in out.stdout
