"""`access.get_note`: the note, its board, workshop and author, and the user's seat, in one
statement built once (journeymap.joined), read as the ORM reads them and checked as
`access.membership` checks a seat."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from boards import services
from boards.models import Note
from tests.conftest import make_member
from workshops import access
from workshops.models import Membership, Role, Workshop


@pytest.fixture
def note(board, participant, awareness) -> Note:
    return services.add_note(actor=participant, scenario=board, phase=awareness, kind="moment",
                             text="The boutique remembered her name on the second visit")


def values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_it_reads_the_note_and_the_seat_as_the_orm_does(note, facilitator, django_assert_num_queries):
    with django_assert_num_queries(1):
        read, seat = access.get_note(facilitator.user, note.pk)
    orm = Note.objects.select_related("scenario__workshop", "author__user").get(pk=note.pk)
    orm_seat = Membership.objects.select_related("team").get(pk=facilitator.pk)
    pairs = [
        (read, orm), (read.scenario, orm.scenario), (read.scenario.workshop, orm.scenario.workshop),
        (read.author, orm.author), (read.author.user, orm.author.user), (seat, orm_seat), (seat.team, orm_seat.team),
    ]
    with django_assert_num_queries(0):  # everything joined is cached where select_related leaves it
        for got, expected in pairs:
            assert type(got) is type(expected) and values(got) == values(expected)
            assert not got._state.adding and got._state.db == "default"
        assert seat.user is facilitator.user
    # Converted as the ORM converts: aware datetimes, dates, booleans.
    assert timezone.is_aware(read.updated) and isinstance(read.scenario.workshop.date, datetime.date)
    assert read.hidden is False and read.author.user.is_active is True
    assert read.as_of_seq == orm.scenario.last_seq


def test_it_reads_a_note_whose_author_has_left(note, participant, facilitator, django_assert_num_queries):
    participant.delete()
    with django_assert_num_queries(1):
        read, seat = access.get_note(facilitator.user, note.pk)
        assert read.author is None and read.text == note.text and seat.pk == facilitator.pk


def test_it_answers_404_to_an_outsider(note, outsider):
    with pytest.raises(Http404):
        access.get_note(outsider.user, note.pk)


def test_it_answers_404_when_signed_out_or_for_a_note_that_does_not_exist(note, facilitator):
    with pytest.raises(Http404):
        access.get_note(AnonymousUser(), note.pk)
    with pytest.raises(Http404):
        access.get_note(facilitator.user, note.pk + 1000)


def test_it_refuses_a_revoked_seat(note, participant):
    Membership.objects.filter(pk=participant.pk).update(revoked_at=timezone.now())
    with pytest.raises(PermissionDenied):
        access.get_note(participant.user, note.pk)


def test_it_opens_a_guests_own_workshop_only(note, team, board):
    guest = make_member(team, "guest-camille", Role.PARTICIPANT)
    guest.workshop = board.workshop
    guest.save()
    read, seat = access.get_note(guest.user, note.pk)
    assert read.pk == note.pk and seat.pk == guest.pk
    guest.workshop = Workshop.objects.create(team=team, title="Another workshop", date=datetime.date(2026, 12, 1))
    guest.save()
    with pytest.raises(Http404):
        access.get_note(guest.user, note.pk)
