"""The embedded SQLite backend: this process's writing transactions queue on a lock of their own,
which every way out of a transaction gives back."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from journeymap.sqlite import base as sqlite_base
from workshops.models import Team

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded SQLite backend only"),
]


class Boom(Exception):
    pass


def test_it_holds_the_writer_lock_for_the_transaction_and_gives_it_back_on_commit():
    assert not sqlite_base._writer.locked()
    with transaction.atomic():
        Team.objects.create(name="Maison Horlogère, Geneva")
        assert sqlite_base._writer.locked()
        with transaction.atomic():  # a savepoint: the same transaction, the same lock
            Team.objects.create(name="Maison Horlogère, Zurich")
    assert not sqlite_base._writer.locked()
    assert Team.objects.count() == 2


def test_it_gives_the_lock_back_when_the_transaction_rolls_back():
    with pytest.raises(Boom), transaction.atomic():
        Team.objects.create(name="Rolled back")
        raise Boom
    assert not sqlite_base._writer.locked()
    assert not Team.objects.exists()


def test_it_gives_the_lock_back_when_the_connection_closes_in_a_transaction():
    with pytest.raises(Boom), transaction.atomic():
        Team.objects.create(name="Closed mid-way")
        connection.close()
        raise Boom
    assert not sqlite_base._writer.locked()
    connection.connect()
    assert not Team.objects.exists()


def test_it_queues_a_second_writer_until_the_first_commits():
    first_wrote, second_may_finish = threading.Event(), threading.Event()
    order: list[str] = []
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                Team.objects.create(name="First")
                first_wrote.set()
                assert second_may_finish.wait(5)
                order.append("first committed")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def second() -> None:
        try:
            assert first_wrote.wait(5)
            with transaction.atomic():
                order.append("second began")
                Team.objects.create(name="Second")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_wrote.wait(5)
    second_may_finish.set()
    for t in threads:
        t.join(10)
    assert not errors
    assert order == ["first committed", "second began"]
    assert sorted(Team.objects.values_list("name", flat=True)) == ["First", "Second"]
    assert not sqlite_base._writer.locked()
