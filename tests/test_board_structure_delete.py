"""Deleting phases and micro-interactions: the service, its events, its history, and the dialogs.

A micro-interaction's notes are never deleted with it: they move to its phase's own notes. A phase
that holds notes is not deleted at all. Facilitators only; retries take effect once.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from boards import history, services
from boards.models import (
    BoardEvent,
    CustomerQuote,
    EmotionRating,
    MicroInteraction,
    Note,
    NoteKind,
    Phase,
    Scenario,
    TouchpointMetric,
)
from tests.conftest import client_for
from tests.test_board_services import (
    add,
    assert_event,
    board_state,
    interaction_order,
    note_order,
    phase_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def loyalty(phases) -> Phase:
    return phases[-1]


@pytest.fixture
def steps(awareness) -> list[MicroInteraction]:
    return list(awareness.interactions.order_by("order"))


# Micro-interactions --------------------------------------------------------------------------


def test_it_deletes_a_micro_interaction_and_keeps_its_notes_on_the_phase(
    facilitator, participant, board, awareness, steps
):
    first, second = steps[0], steps[1]
    on_phase = add(participant, board, awareness, None, "The window display on Rue du Rhône")
    kept = [add(participant, board, awareness, first, f"Saw the campaign {i}", NoteKind.FRICTION) for i in range(2)]
    other = add(participant, board, awareness, second, "A friend wears one")
    services.add_metric(actor=facilitator, interaction=first, name="Reach", value="12000", unit="", source="", date=None)
    services.add_quote(actor=facilitator, interaction=first, text="I saw it everywhere", source="", date=None)
    services.set_emotion_rating(actor=facilitator, scenario=board, open=True)
    services.rate_emotion(actor=participant, interaction=first, value=1)
    assert EmotionRating.objects.filter(interaction_id=first.pk).exists()

    services.delete_micro_interaction(actor=facilitator, interaction=first)

    assert not MicroInteraction.objects.filter(pk=first.pk).exists()
    assert interaction_order(awareness) == [s.pk for s in steps[1:]]
    assert note_order(phase=awareness) == [on_phase.pk, *(n.pk for n in kept)]
    assert note_order(mi=second) == [other.pk]
    assert Note.objects.get(pk=kept[0].pk).version == kept[0].version  # an edit in progress still saves
    assert not TouchpointMetric.objects.filter(interaction_id=first.pk).exists()
    assert not CustomerQuote.objects.filter(interaction_id=first.pk).exists()
    assert not EmotionRating.objects.filter(interaction_id=first.pk).exists()
    event = assert_event(
        board, seq=Scenario.objects.get(pk=board.pk).last_seq, kind="interaction.deleted", actor=facilitator,
        fragments=[f"phase-{awareness.pk}"],
    )
    assert f'id="notes-phase-{awareness.pk}"' in event.html
    assert f'id="mi-{first.pk}"' not in event.html
    assert f'id="note-{kept[0].pk}"' in event.html
    assert event.payload["notes"] == [n.pk for n in kept]
    assert event.payload["action"] == first.action


def test_it_deletes_a_deleted_micro_interaction_without_fuss(facilitator, board, steps):
    services.delete_micro_interaction(actor=facilitator, interaction=steps[0])
    before = board_state(board)
    services.delete_micro_interaction(actor=facilitator, interaction=steps[0])
    assert board_state(board) == before


# Phases ----------------------------------------------------------------------------------------


def test_it_deletes_an_empty_phase_with_its_micro_interactions(facilitator, board, phases, loyalty):
    loyalty_steps = list(loyalty.interactions.values_list("pk", flat=True))
    assert loyalty_steps
    services.focus_phase(actor=facilitator, scenario=board, phase=loyalty)

    services.delete_phase(actor=facilitator, phase=loyalty)

    assert phase_order(board) == [p.pk for p in phases[:-1]]
    assert not MicroInteraction.objects.filter(pk__in=loyalty_steps).exists()
    assert Scenario.objects.get(pk=board.pk).focus_phase_id is None
    event = assert_event(
        board, seq=Scenario.objects.get(pk=board.pk).last_seq, kind="phase.deleted", actor=facilitator,
        fragments=["board", "session"],
    )
    assert f'id="phase-{loyalty.pk}"' not in event.html
    assert f'<option value="{loyalty.pk}"' not in event.html  # nor in the Focus list
    assert event.payload["name"] == loyalty.name
    assert sorted(s["interaction"] for s in event.payload["interactions"]) == sorted(loyalty_steps)


def test_it_renumbers_the_phases_after_one_in_the_middle_goes(facilitator, board, phases):
    services.delete_phase(actor=facilitator, phase=phases[1])
    assert phase_order(board) == [phases[0].pk, *(p.pk for p in phases[2:])]


def test_it_refuses_to_delete_a_phase_that_holds_notes(facilitator, participant, board, awareness, steps):
    add(participant, board, awareness, steps[0], "Saw the campaign")
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        services.delete_phase(actor=facilitator, phase=awareness)
    assert "holds 1 note" in caught.value.messages[0]
    assert board_state(board) == before


def test_it_refuses_to_delete_a_phase_a_vote_was_held_in(facilitator, board, loyalty):
    services.open_voting_round(actor=facilitator, scenario=board, budget=3, cap_per_note=2, phase=loyalty)
    before = board_state(board)
    with pytest.raises(ValidationError) as caught:
        services.delete_phase(actor=facilitator, phase=loyalty)
    assert "record of that vote" in caught.value.messages[0]
    assert board_state(board) == before


@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])  # outsider: another team's facilitator
def test_it_lets_only_a_facilitator_delete_structure(request, board, awareness, loyalty, steps, who):
    actor = request.getfixturevalue(who)
    before = board_state(board)
    with pytest.raises(PermissionDenied):
        services.delete_phase(actor=actor, phase=loyalty)
    with pytest.raises(PermissionDenied):
        services.delete_micro_interaction(actor=actor, interaction=steps[0])
    assert board_state(board) == before


def test_it_applies_a_retried_delete_once(facilitator, board, loyalty, steps):
    for delete in (
        lambda rid: services.delete_phase(actor=facilitator, phase=loyalty, request_id=rid),
        lambda rid: services.delete_micro_interaction(actor=facilitator, interaction=steps[0], request_id=rid),
    ):
        rid = uuid.uuid4()
        delete(rid)
        after = board_state(board)
        delete(rid)
        assert board_state(board) == after
        assert BoardEvent.objects.filter(scenario=board, request_id=rid).count() == 1


# History -------------------------------------------------------------------------------------


def test_it_shows_deleted_structure_in_the_board_as_it_was(facilitator, participant, board, awareness, loyalty, steps):
    note = add(participant, board, awareness, steps[0], "Saw the campaign on the tram")
    before_deletes = Scenario.objects.get(pk=board.pk).last_seq
    services.delete_micro_interaction(actor=facilitator, interaction=steps[0])
    services.delete_phase(actor=facilitator, phase=loyalty)

    then = history.replay(board, upto=before_deletes)
    assert [p.name for p in then.phases][-1] == loyalty.name  # a template phase, deleted since
    assert then.phases[0].interaction_list[0].action == steps[0].action
    assert [n.pk for n in then.phases[0].interaction_list[0].note_list] == [note.pk]

    now = history.replay(board)
    assert loyalty.name not in [p.name for p in now.phases]
    assert steps[0].action not in [m.action for m in now.phases[0].interaction_list]
    assert [n.pk for n in now.phases[0].note_list] == [note.pk]
    texts = [e.text for e in now.timeline[-2:]]
    assert texts[0].startswith(f"deleted the step “{steps[0].action}") and "1 note moved" in texts[0]
    assert texts[1] == f"deleted the phase “{loyalty.name}”"


# The dialogs -----------------------------------------------------------------------------------


def test_it_offers_delete_in_the_edit_dialogs(facilitator, awareness, steps):
    client = client_for(facilitator)
    phase_dialog = client.get(reverse("phase-edit", args=[awareness.pk])).content.decode()
    assert f'hx-get="{reverse("phase-delete", args=[awareness.pk])}"' in phase_dialog
    step_dialog = client.get(reverse("interaction-edit", args=[steps[0].pk])).content.decode()
    assert f'hx-get="{reverse("interaction-delete", args=[steps[0].pk])}"' in step_dialog


def test_it_says_what_goes_before_deleting_a_micro_interaction(facilitator, participant, board, awareness, steps):
    add(participant, board, awareness, steps[0], "Saw the campaign")
    page = client_for(facilitator).get(reverse("interaction-delete", args=[steps[0].pk])).content.decode()
    assert "Its note stays: it moves to “On the whole phase” in Awareness." in page
    assert "Delete it</button>" in page


def test_it_deletes_a_micro_interaction_from_its_dialog(facilitator, steps):
    response = client_for(facilitator).post(reverse("interaction-delete", args=[steps[0].pk]), {"request_id": str(uuid.uuid4())})
    assert response.status_code == 204
    assert "dialog:close" in response.headers["HX-Trigger"]
    assert not MicroInteraction.objects.filter(pk=steps[0].pk).exists()


def test_it_explains_why_a_phase_with_notes_stays(facilitator, participant, board, awareness, steps):
    add(participant, board, awareness, steps[0], "Saw the campaign")
    client = client_for(facilitator)
    page = client.get(reverse("phase-delete", args=[awareness.pk])).content.decode()
    assert "It holds 1 note: move them to another phase or delete them first." in page
    assert "Delete the phase</button>" not in page
    response = client.post(reverse("phase-delete", args=[awareness.pk]), {"request_id": str(uuid.uuid4())})
    assert response.status_code == 422
    assert "It holds 1 note" in response.content.decode()
    assert Phase.objects.filter(pk=awareness.pk).exists()


def test_it_deletes_an_empty_phase_from_its_dialog(facilitator, loyalty):
    client = client_for(facilitator)
    page = client.get(reverse("phase-delete", args=[loyalty.pk])).content.decode()
    assert "Delete the phase</button>" in page and "micro-interactions, with their evidence" in page
    response = client.post(reverse("phase-delete", args=[loyalty.pk]), {"request_id": str(uuid.uuid4())})
    assert response.status_code == 204
    assert not Phase.objects.filter(pk=loyalty.pk).exists()


@pytest.mark.parametrize("who", ["participant", "manager"])
def test_it_refuses_the_delete_dialogs_to_non_facilitators(request, who, loyalty, steps):
    client = client_for(request.getfixturevalue(who))
    for name, pk in (("phase-delete", loyalty.pk), ("interaction-delete", steps[0].pk)):
        assert client.get(reverse(name, args=[pk])).status_code == 403
        assert client.post(reverse(name, args=[pk]), {}).status_code == 403
    assert Phase.objects.filter(pk=loyalty.pk).exists()
    assert MicroInteraction.objects.filter(pk=steps[0].pk).exists()


def test_it_answers_outsiders_404(outsider, loyalty, steps):
    client = client_for(outsider)
    assert client.post(reverse("phase-delete", args=[loyalty.pk]), {}).status_code == 404
    assert client.post(reverse("interaction-delete", args=[steps[0].pk]), {}).status_code == 404
