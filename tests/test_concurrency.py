"""Concurrent writers on one board: every write gets the board's next seq, with no gaps, no
duplicates and no "database is locked", and notes keep unique, gapless orders.

The writers are real threads, each with its own database connection, started at the same
moment. The tests run on the default database (SQLite in WAL mode unless DATABASE_URL says
otherwise); with JOURNEYMAP_TEST_DATABASE_URL set they run again, in a child process, on that
database (PostgreSQL).
"""

from __future__ import annotations

import copy
import datetime
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import dj_database_url
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from boards import services
from boards.models import BoardEvent, MicroInteraction, Note, Phase, Scenario
from tests.conftest import make_member
from workshops.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8
NOTES_EACH = 4


def run_at_once(work: Callable[[int], None], count: int = WRITERS) -> list[BaseException]:
    """Run work(0..count-1) in as many threads, released together; return what they raised."""
    barrier = threading.Barrier(count, timeout=30)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer never finished"
    return errors


@pytest.fixture
def writers(team, participant, other_participant, manager, facilitator) -> list[Membership]:
    """Eight people of the team: the shared ones and four more boutique staff."""
    extra = [make_member(team, f"associate{i}", Role.PARTICIPANT) for i in range(WRITERS - 4)]
    return [participant, other_participant, manager, facilitator, *extra]


def target(board: Scenario) -> tuple[Phase, MicroInteraction, MicroInteraction]:
    phase = board.phases.order_by("order").first()
    first, second = phase.interactions.order_by("order")[:2]
    return phase, first, second


def assert_gapless_seqs(board: Scenario) -> list[BoardEvent]:
    events = list(BoardEvent.objects.filter(scenario=board).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert Scenario.objects.get(pk=board.pk).last_seq == len(events)
    return events


def assert_gapless_orders(**container) -> list[int]:
    orders = list(
        Note.objects.filter(**container).order_by("order").values_list("order", flat=True)
    )
    assert orders == list(range(len(orders)))
    return orders


def test_it_runs_on_the_database_the_environment_names_default_database():
    if os.environ.get("DATABASE_URL"):
        assert (
            connection.settings_dict["ENGINE"]
            == dj_database_url.parse(os.environ["DATABASE_URL"])["ENGINE"]
        )
    else:
        assert connection.vendor == "sqlite"
        assert connection.cursor().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_it_gives_concurrent_notes_the_next_seqs_default_database(board, writers):
    phase, mi, _ = target(board)

    def add_notes(i: int) -> None:
        for n in range(NOTES_EACH):
            services.add_note(
                actor=writers[i],
                scenario=board,
                phase=phase,
                micro_interaction=mi if n % 2 == 0 else None,
                kind="friction",
                text=f"Writer {i}, note {n}: told to wait in line",
            )

    errors = run_at_once(add_notes)
    assert errors == [], f"writers failed: {errors!r}"

    events = assert_gapless_seqs(board)
    total = WRITERS * NOTES_EACH
    assert len(events) == 1 + total  # scenario.created, then one note.added per note
    added = [e for e in events if e.kind == "note.added"]
    notes = {note.pk: note for note in Note.objects.filter(scenario=board)}
    assert len(notes) == total
    assert sorted(e.payload["note"] for e in added) == sorted(notes)
    # Every push starts with its own seq: a client can check it applies them in order.
    for event in events:
        assert event.html.startswith(f'<span id="board-seq" data-seq="{event.seq}"')
    assert len(assert_gapless_orders(micro_interaction=mi)) == total // 2
    assert len(assert_gapless_orders(phase=phase, micro_interaction__isnull=True)) == total // 2
    for i, writer in enumerate(writers):
        mine = sorted(n.text for n in notes.values() if n.author_id == writer.pk)
        assert mine == [f"Writer {i}, note {n}: told to wait in line" for n in range(NOTES_EACH)]


def test_it_keeps_orders_gapless_under_concurrent_adds_moves_and_deletes_default_database(
    board, writers
):
    phase, left, right = target(board)
    seeded = [
        services.add_note(
            actor=writers[i],
            scenario=board,
            phase=phase,
            micro_interaction=left,
            kind="idea",
            text=f"Seed {i}",
        )
        for i in range(WRITERS)
    ]

    def shuffle(i: int) -> None:
        me = writers[i]
        mine = services.add_note(
            actor=me,
            scenario=board,
            phase=phase,
            micro_interaction=right,
            kind="observation",
            text=f"New {i}",
        )
        services.move_note(
            actor=me, note=seeded[i], phase=phase, micro_interaction=right, position=0
        )
        services.move_note(actor=me, note=mine, phase=phase, micro_interaction=left, position=i % 3)
        if i % 2:
            services.delete_note(actor=me, note=seeded[i])

    errors = run_at_once(shuffle)
    assert errors == [], f"writers failed: {errors!r}"

    events = assert_gapless_seqs(board)
    assert len(events) == 1 + WRITERS + WRITERS * 3 + WRITERS // 2
    assert len(assert_gapless_orders(micro_interaction=left)) == WRITERS
    assert len(assert_gapless_orders(micro_interaction=right)) == WRITERS // 2


def test_it_takes_an_edit_sent_many_times_at_once_once_default_database(board, participant):
    """A double tap, or a retry racing its first attempt: the same edit, with the same request id
    and version, from several connections at once. One takes effect; the others find it did and
    answer as it did, not with a conflict."""
    from workshops import access

    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="friction", text="The gift box came without its ribbon")
    request_id = uuid.uuid4()

    def edit(i: int) -> None:
        read, member = access.get_note(participant.user, note.pk)
        edited = services.edit_note(actor=member, note=read, text="The gift box came crushed", kind="friction",
                                    version=1, request_id=request_id)
        assert (edited.text, edited.version) == ("The gift box came crushed", 2)

    errors = run_at_once(edit, 4)
    assert errors == [], f"writers failed: {errors!r}"
    events = assert_gapless_seqs(board)
    assert [e.kind for e in events if e.request_id == request_id] == ["note.edited"]
    assert Note.objects.get(pk=note.pk).version == 2


def test_it_refuses_a_request_id_used_already_on_another_edit_default_database(board, participant):
    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="friction", text="The gift box came without its ribbon")
    request_id = uuid.uuid4()
    services.edit_note(actor=participant, note=note, text="The gift box came crushed", kind="friction",
                       version=1, request_id=request_id)
    before = list(BoardEvent.objects.filter(scenario=board).values_list("seq", "kind"))
    with pytest.raises(ValidationError, match="made already"):
        services.edit_note(actor=participant, note=note, text="No ribbon, and crushed", kind="friction",
                           version=2, request_id=request_id)
    assert list(BoardEvent.objects.filter(scenario=board).values_list("seq", "kind")) == before
    current = Note.objects.get(pk=note.pk)
    assert (current.text, current.version) == ("The gift box came crushed", 2)
    assert Scenario.objects.get(pk=board.pk).last_seq == before[-1][0]


def test_it_edits_a_note_read_before_the_board_moved_on_default_database(board, participant, facilitator):
    """The board changed between the read and the write: the edit takes the lock and goes on,
    on the board as it is now."""
    from workshops import access

    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="friction", text="The gift box came without its ribbon")
    services.set_board_lock(actor=facilitator, scenario=board, locked=True)
    read, member = access.get_note(participant.user, note.pk)  # read while the board is locked
    services.add_note(actor=facilitator, scenario=board, phase=phase, kind="idea", text="Ribbons at the till")
    services.set_board_lock(actor=facilitator, scenario=board, locked=False)
    edited = services.edit_note(actor=member, note=read, text="The gift box came crushed", kind="friction",
                                version=1)
    events = assert_gapless_seqs(board)
    assert events[-1].kind == "note.edited" and edited.version == 2
    # The same note edited meanwhile: a conflict, and nothing written.
    stale, member = access.get_note(participant.user, note.pk)
    services.edit_note(actor=facilitator, note=note, text="Crushed, and no ribbon", kind="friction", version=2)
    with pytest.raises(services.Conflict):
        services.edit_note(actor=member, note=stale, text="Mine", kind="friction", version=2)
    assert Note.objects.get(pk=note.pk).text == "Crushed, and no ribbon"
    assert len(assert_gapless_seqs(board)) == len(events) + 1


def test_it_gives_concurrent_edits_of_one_board_the_next_seqs_default_database(board, writers):
    """Everyone edits their own note at once, each from their own read of it."""
    from workshops import access

    phase, mi, _ = target(board)
    notes = [services.add_note(actor=w, scenario=board, phase=phase, micro_interaction=mi, kind="friction",
                               text=f"Note {i}") for i, w in enumerate(writers)]

    def edit(i: int) -> None:
        for n in range(NOTES_EACH):
            read, member = access.get_note(writers[i].user, notes[i].pk)
            services.edit_note(actor=member, note=read, text=f"Note {i}, take {n}", kind="friction",
                               version=n + 1)

    errors = run_at_once(edit)
    assert errors == [], f"writers failed: {errors!r}"
    events = assert_gapless_seqs(board)
    assert len(events) == 1 + WRITERS + WRITERS * NOTES_EACH
    for event in events:
        assert event.html.startswith(f'<span id="board-seq" data-seq="{event.seq}"')
    saved = {n.pk: (n.text, n.version) for n in Note.objects.filter(scenario=board)}
    assert saved == {note.pk: (f"Note {i}, take {NOTES_EACH - 1}", NOTES_EACH + 1) for i, note in enumerate(notes)}


def test_it_refuses_an_edit_read_before_the_board_was_locked_default_database(board, participant, facilitator):
    """Locked between the read and the write: the edit is refused as on a fresh read, and nothing
    is written (on PostgreSQL the one-statement edit finds the board changed and gives way)."""
    from workshops import access

    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="idea", text="Engrave the case back while the client waits")
    read, member = access.get_note(participant.user, note.pk)
    services.set_board_lock(actor=facilitator, scenario=board, locked=True)
    before = assert_gapless_seqs(board)
    with pytest.raises(PermissionDenied, match="locked"):
        services.edit_note(actor=member, note=read, text="Engrave it in the lounge", kind="idea", version=1)
    assert Note.objects.get(pk=note.pk).text == "Engrave the case back while the client waits"
    assert len(assert_gapless_seqs(board)) == len(before)


def test_it_pushes_an_edited_note_as_the_board_is_when_it_is_written_default_database(board, participant, facilitator):
    """Dot voting opened, and an action was agreed on the note, between the read and the write:
    the edit's push shows the note as it is then, taking dots and with its action."""
    from workshops import access
    from workshops import services as workshop_services

    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="friction", text="The strap was sized in the back office")
    other = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                              kind="friction", text="Nowhere to sit while the strap is sized")
    read, member = access.get_note(participant.user, note.pk)
    read_other, _ = access.get_note(participant.user, other.pk)
    services.open_voting_round(actor=facilitator, scenario=board)
    services.edit_note(actor=member, note=read, text="The strap was sized out of sight", kind="friction", version=1)
    pushed = assert_gapless_seqs(board)[-1]
    assert "The strap was sized out of sight" in pushed.html and "Put a dot on this friction" in pushed.html

    workshop_services.create_action(actor=facilitator, scenario=board, notes=[other], title="Size straps at the counter",
                                    owner=participant, due_date=datetime.date.today() + datetime.timedelta(days=7))
    services.edit_note(actor=member, note=read_other, text="Nowhere to sit while it is sized", kind="friction",
                       version=1)
    pushed = assert_gapless_seqs(board)[-1]
    assert "Nowhere to sit while it is sized" in pushed.html and "Size straps at the counter" in pushed.html


def test_it_lets_one_of_several_edits_of_a_note_from_one_version_win_default_database(board, writers):
    """Everyone edits the same note from the same version at once: one edit is saved, the others
    are told of a conflict, and the board's seqs stay gapless."""
    from workshops import access

    phase, mi, _ = target(board)
    facilitator = writers[3]
    note = services.add_note(actor=facilitator, scenario=board, phase=phase, micro_interaction=mi, kind="idea",
                             text="Offer a coffee while the bracelet is adjusted")
    read, member = access.get_note(facilitator.user, note.pk)
    conflicts = []

    def edit(i: int) -> None:
        try:
            services.edit_note(actor=member, note=copy.copy(read), text=f"Offer a coffee, take {i}", kind="idea",
                               version=1)
        except services.Conflict:
            conflicts.append(i)

    errors = run_at_once(edit)
    assert errors == [], f"writers failed: {errors!r}"
    assert len(conflicts) == WRITERS - 1
    saved = Note.objects.get(pk=note.pk)
    winner = ({*range(WRITERS)} - set(conflicts)).pop()
    assert (saved.text, saved.version) == (f"Offer a coffee, take {winner}", 2)
    events = assert_gapless_seqs(board)
    assert [e.payload["text"] for e in events if e.kind == "note.edited"] == [saved.text]


def test_it_writes_a_common_edit_at_once_default_database(board, participant):
    """An edit checked on what the request read is written at once, from SQL built once: on
    PostgreSQL in one statement, so the board's lock is held only while the database runs it; on
    SQLite the board's seq moved only if the board and the note are as read, the note and the
    event, in one transaction."""
    from django.test.utils import CaptureQueriesContext

    from workshops import access

    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="question", text="Can the client keep the old strap?")
    read, member = access.get_note(participant.user, note.pk)
    with CaptureQueriesContext(connection) as queries:
        services.edit_note(actor=member, note=read, text="May the client keep the old strap?", kind="question",
                           version=1)
    statements = [q["sql"] for q in queries]
    if connection.vendor == "postgresql":
        assert len(statements) == 1, statements
    else:
        assert [sql.split(" ", 2)[:2] for sql in statements] == [
            ["BEGIN", "IMMEDIATE"], ["UPDATE", '"boards_scenario"'], ["UPDATE", '"boards_note"'],
            ["INSERT", "INTO"], ["COMMIT"],
        ], statements
    event = assert_gapless_seqs(board)[-1]
    assert event.kind == "note.edited" and event.actor_id == participant.pk
    assert event.html.startswith(f'<span id="board-seq" data-seq="{event.seq}" hidden hx-swap-oob="true"></span>')
    assert "May the client keep the old strap?" in event.html
    saved = Note.objects.get(pk=note.pk)
    assert (saved.version, saved.text, saved.kind) == (2, "May the client keep the old strap?", "question")
    assert saved.updated > note.updated and saved.created == note.created


def test_it_writes_at_once_after_another_note_of_the_board_changed_default_database(board, participant, facilitator):
    """Another note's edit moves only the board's seq, which the edit at once does not compare:
    on a busy board, edits made meanwhile do not send it the long way."""
    from django.test.utils import CaptureQueriesContext

    from workshops import access

    phase, mi, _ = target(board)
    mine = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="idea", text="Offer to engrave the caseback")
    other = services.add_note(actor=facilitator, scenario=board, phase=phase, micro_interaction=mi,
                              kind="idea", text="Send the warranty card by email")
    read, member = access.get_note(participant.user, mine.pk)
    services.edit_note(actor=facilitator, note=other, text="Send the warranty card by email too", kind="idea",
                       version=1)
    with CaptureQueriesContext(connection) as queries:
        services.edit_note(actor=member, note=read, text="Offer to engrave the caseback for free", kind="idea",
                           version=1)
    # At once: one statement on PostgreSQL; begin, seq, note, event, commit on SQLite.
    assert len(queries) == (1 if connection.vendor == "postgresql" else 5), [q["sql"] for q in queries]
    events = assert_gapless_seqs(board)
    assert [e.payload.get("text") for e in events[-2:]] == [
        "Send the warranty card by email too", "Offer to engrave the caseback for free",
    ]


def test_it_writes_nothing_at_once_when_the_board_changed_since_it_was_read_default_database(board, participant, facilitator):
    """The board changed (locked by the facilitator) after the note was read: the edit at once
    writes nothing, and the usual way, under the board's lock, refuses it on the board as it is."""
    from workshops import access

    phase, mi, _ = target(board)
    note = services.add_note(actor=participant, scenario=board, phase=phase, micro_interaction=mi,
                             kind="question", text="Can the client keep the old strap?")
    read, member = access.get_note(participant.user, note.pk)
    services.set_board_lock(actor=facilitator, scenario=board, locked=True)
    with pytest.raises(PermissionDenied):
        services.edit_note(actor=member, note=read, text="May the client keep the old strap?", kind="question",
                           version=1)
    assert Note.objects.get(pk=note.pk).version == 1
    assert assert_gapless_seqs(board)[-1].kind != "note.edited"


@pytest.mark.scaleout
@pytest.mark.skipif(
    not os.environ.get("JOURNEYMAP_TEST_DATABASE_URL"),
    reason="needs JOURNEYMAP_TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/journeymap_test",
)
@pytest.mark.django_db(transaction=False)
def test_it_gives_concurrent_writers_the_next_seqs_on_postgresql():
    """Run this file's default-database tests in a child process whose database is PostgreSQL."""
    env = {**os.environ, "DATABASE_URL": os.environ["JOURNEYMAP_TEST_DATABASE_URL"]}
    del env["JOURNEYMAP_TEST_DATABASE_URL"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-k", "default_database"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "13 passed" in report, report
