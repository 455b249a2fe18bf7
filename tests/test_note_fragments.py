"""Note fragments are kept between pages by everything they show: a kept fragment is never stale."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone

from boards import render, services
from boards.models import Note
from tests.conftest import client_for
from workshops import services as workshop_services


@pytest.fixture
def note(board, participant) -> Note:
    phase = board.phases.order_by("order").first()
    return services.add_note(actor=participant, scenario=board, phase=phase, kind="friction",
                             text="The client waits at the door while the advisor finds the watch")


def note_li(member, board, note) -> BeautifulSoup:
    html = client_for(member).get(f"/boards/{board.pk}/").content.decode()
    li = BeautifulSoup(html, "html.parser").find(id=f"note-{note.pk}")
    assert li is not None
    return li


def test_it_renders_an_unchanged_note_once(board, note, facilitator, participant):
    render._fragments.clear()
    note_li(facilitator, board, note)
    kept = dict(render._fragments)
    assert len(kept) == 1
    assert note_li(participant, board, note) and render._fragments == kept


def test_it_shows_an_edit_at_once(board, note, facilitator, participant):
    note_li(facilitator, board, note)
    services.edit_note(actor=participant, note=note, text="Strap changed in the boutique while she waited",
                       kind="idea", version=note.version)
    li = note_li(facilitator, board, note)
    assert "Strap changed in the boutique" in li.text and "kind-idea" in li["class"]


def test_it_shows_the_author_s_new_name(board, note, facilitator, participant):
    note_li(facilitator, board, note)
    workshop_services.update_member(actor=facilitator, membership=participant, display_name="Inès, client advisor",
                                    role=participant.role, business_function=participant.business_function)
    assert "Inès, client advisor" in note_li(facilitator, board, note).text


def test_it_shows_an_action_made_from_the_note(board, note, facilitator, participant):
    note_li(facilitator, board, note)
    workshop_services.create_action(actor=facilitator, scenario=board, notes=[note], title="Bring the watch before the client arrives",
                                    owner=participant, due_date=timezone.localdate())
    assert "Bring the watch before the client arrives" in note_li(facilitator, board, note).text


def test_it_shows_dots_only_while_a_round_is_open(board, note, facilitator, participant):
    assert note_li(participant, board, note).find(class_="vote-tools") is None
    services.open_voting_round(actor=facilitator, scenario=board)
    assert note_li(participant, board, note).find(class_="vote-tools") is not None


def test_it_starts_afresh_when_full(board, note, facilitator, monkeypatch):
    monkeypatch.setattr(render, "FRAGMENT_LIMIT", 1)
    render._fragments.clear()
    render._fragments[("another",)] = "<li>old</li>"
    assert "The client waits at the door" in note_li(facilitator, board, note).text
    assert list(render._fragments) == [Note.objects.get(pk=note.pk).fragment_key]
