"""`manage.py load_demo`: the Geneva watch maison's live workshop, loaded once, in development."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from boards.journey_templates import DEFAULT_TEMPLATE
from boards.models import (
    BoardEvent,
    MicroInteraction,
    MomentOfTruth,
    Note,
    NoteKind,
    Phase,
    Scenario,
)
from tests.conftest import client_for
from workshops import demo
from workshops.models import (
    Action,
    ActionStatus,
    Membership,
    Persona,
    Role,
    Team,
    Workshop,
    WorkshopStatus,
)

pytestmark = pytest.mark.django_db

MODELS = (
    Team,
    get_user_model(),
    Membership,
    Persona,
    Workshop,
    Scenario,
    Phase,
    MicroInteraction,
    Note,
    BoardEvent,
)


def load(**options) -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.fixture
def loaded(debug) -> Scenario:
    load()
    return Scenario.objects.select_related("workshop__team").get(
        workshop__team__name=demo.TEAM_NAME, title=demo.SCENARIO_TITLE
    )


def note_on(scenario: Scenario, action: str, kind: str, words: str) -> Note:
    return Note.objects.select_related("micro_interaction").get(
        scenario=scenario, micro_interaction__action=action, kind=kind, text__icontains=words
    )


def test_it_loads_the_team_with_its_sign_ins(debug):
    output = load()
    team = Team.objects.get(name=demo.TEAM_NAME)
    members = {
        m.user.username: m for m in Membership.objects.filter(team=team).select_related("user")
    }
    assert set(members) == {"fiona", "sam", "lea", "marc"}
    assert members["fiona"].role == Role.FACILITATOR
    assert members["sam"].role == members["lea"].role == Role.PARTICIPANT
    assert members["marc"].role == Role.MANAGER
    for person in demo.PEOPLE:
        member = members[person.username]
        assert member.user.check_password("journeymap")
        assert member.name == f"{person.first_name} {person.last_name}"
        assert member.business_function == person.business_function
    assert "Demo sign-ins (password: journeymap)" in output
    for username in members:
        assert f"  {username} " in output


def test_it_loads_the_personas_and_the_live_workshop(loaded):
    team = loaded.workshop.team
    personas = {p.name: p for p in Persona.objects.filter(team=team)}
    assert len(personas) == 2
    assert {p.segment for p in personas.values()} == {"First-time buyer", "VIC"}
    for persona in personas.values():
        assert persona.goals and persona.expectations and persona.bio
    workshop = loaded.workshop
    assert workshop.title == "First visit to delivery: Swiss watch boutique"
    assert workshop.status == WorkshopStatus.LIVE
    assert loaded.template_key == DEFAULT_TEMPLATE
    assert loaded.persona.segment == "First-time buyer"


def test_it_builds_the_board_from_the_default_template(loaded):
    phases = list(
        Phase.objects.filter(scenario=loaded).order_by("order").values_list("name", flat=True)
    )
    assert phases == ["Awareness", "Consideration", "Purchase", "Service", "Loyalty & Advocacy"]
    consideration = list(
        MicroInteraction.objects.filter(phase__scenario=loaded, phase__name="Consideration")
        .order_by("order")
        .values_list("action", flat=True)
    )
    # The extra interaction was moved into place, just before the welcome.
    assert consideration.index(
        "Waits at the door while staff serve a VIC"
    ) + 1 == consideration.index("Is welcomed and told the brand story in the boutique")


def test_it_rates_emotions_and_moments_of_truth(loaded):
    interactions = MicroInteraction.objects.filter(phase__scenario=loaded)
    emotions = set(interactions.exclude(emotion__isnull=True).values_list("emotion", flat=True))
    assert emotions == {-2, -1, 0, 1, 2}
    moments = list(interactions.values_list("moment_of_truth", flat=True))
    assert moments.count(MomentOfTruth.NEGATIVE) >= 3
    assert moments.count(MomentOfTruth.POSITIVE) >= 1


def test_it_has_the_five_moments_from_the_domain(loaded):
    live_chat = note_on(
        loaded, "Asks for a model's details on live chat", NoteKind.FRICTION, "live chat"
    )
    ignored = note_on(loaded, "Waits at the door while staff serve a VIC", NoteKind.FRICTION, "VIC")
    knowledge = note_on(
        loaded, "Gets expert answers on craftsmanship", NoteKind.FRICTION, "couldn't explain"
    )
    packaging = note_on(
        loaded, "Unboxes the piece at home", NoteKind.FRICTION, "ordinary packaging"
    )
    praise = note_on(
        loaded, "Tries the piece on with an associate", NoteKind.DELIGHT, "chosen well"
    )
    for negative in (live_chat, ignored, packaging):
        assert negative.micro_interaction.moment_of_truth == MomentOfTruth.NEGATIVE
        assert negative.micro_interaction.emotion == -2
    assert knowledge.micro_interaction.emotion == -1
    assert praise.micro_interaction.moment_of_truth == MomentOfTruth.POSITIVE
    assert praise.micro_interaction.emotion == 2


def test_it_has_ideas_questions_and_observations_by_several_authors(loaded):
    notes = Note.objects.filter(scenario=loaded)
    assert 18 <= notes.count() <= 25
    assert set(notes.values_list("kind", flat=True)) == set(NoteKind.values)
    assert set(notes.values_list("author__user__username", flat=True)) == {
        "fiona",
        "sam",
        "lea",
        "marc",
    }
    ideas = " ".join(notes.filter(kind=NoteKind.IDEA).values_list("text", flat=True))
    for idea in ("White-glove delivery", "24/7 live chat", "Sales training"):
        assert idea in ideas
    assert notes.filter(
        kind=NoteKind.QUESTION, text="How does the client feel when told to wait?"
    ).exists()
    assert notes.filter(micro_interaction__isnull=True).exists(), "some notes sit on a whole phase"


def test_it_records_every_change_as_a_board_event(loaded):
    seqs = list(
        BoardEvent.objects.filter(scenario=loaded).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    assert loaded.last_seq == len(seqs)
    added = BoardEvent.objects.filter(scenario=loaded, kind="note.added").count()
    assert added == Note.objects.filter(scenario=loaded).count()
    assert BoardEvent.objects.filter(scenario=loaded, kind="interaction.rated").count() == len(
        demo.RATINGS
    )


def test_it_is_idempotent(loaded):
    before = counts()
    output = load()
    assert counts() == before
    assert "already loaded" in output and "nothing changed" in output
    assert "Demo sign-ins (password: journeymap)" in output


def test_it_is_refused_when_debug_is_off(settings):
    settings.DEBUG = False
    before = counts()
    with pytest.raises(CommandError, match="DEBUG"):
        load()
    assert counts() == before


def test_it_loads_with_force_when_debug_is_off(settings):
    settings.DEBUG = False
    load(force=True)
    assert Team.objects.filter(name=demo.TEAM_NAME).exists()


@pytest.mark.parametrize("username", ["fiona", "Marc"])
def test_it_refuses_to_take_over_existing_sign_ins(debug, username):
    get_user_model().objects.create_user(username=username, password="their-own-password")
    before = counts()
    with pytest.raises(CommandError, match=username):
        load()
    assert counts() == before
    assert get_user_model().objects.get(username=username).check_password("their-own-password")


def test_it_leaves_nothing_behind_when_the_demo_does_not_fit_its_template(debug, monkeypatch):
    bogus = demo.Rating("Purchase", "Engraves the case back", 1)
    monkeypatch.setattr(demo, "RATINGS", (*demo.RATINGS, bogus))
    before = counts()
    with pytest.raises(CommandError, match="Engraves the case back"):
        load()
    assert counts() == before


def test_it_shows_the_demo_board_to_its_team_only(loaded, outsider):
    sam = Membership.objects.get(team=loaded.workshop.team, user__username="sam")
    response = client_for(sam).get(f"/boards/{loaded.pk}/")
    assert response.status_code == 200
    assert "Waits at the door while staff serve a VIC" in response.content.decode()
    assert client_for(outsider).get(f"/boards/{loaded.pk}/").status_code == 404


def test_it_loads_an_earlier_closed_session_with_actions_to_follow_up(loaded):
    earlier = Workshop.objects.get(team=loaded.workshop.team, title=demo.EARLIER_WORKSHOP_TITLE)
    assert earlier.status == WorkshopStatus.CLOSED
    assert earlier.date < loaded.workshop.date
    actions = {a.title: a for a in Action.objects.filter(workshop=earlier).select_related("owner__user")}
    assert len(actions) == len(demo.EARLIER_ACTIONS) == 3
    for data in demo.EARLIER_ACTIONS:
        action = actions[data.title]
        assert (action.owner.user.username, action.status) == (data.owner, data.status)
        assert action.notes.get().kind == NoteKind.FRICTION  # the friction it came from
        assert not action.is_overdue()
    assert {a.status for a in actions.values()} == {ActionStatus.OPEN, ActionStatus.IN_PROGRESS, ActionStatus.DONE}
    assert BoardEvent.objects.filter(scenario__workshop=earlier, kind="action.created").count() == 3


def test_it_gives_the_manager_actions_to_review_and_staff_their_own(loaded):
    team = loaded.workshop.team
    marc = Membership.objects.get(team=team, user__username="marc")
    page = client_for(marc).get(f"/teams/{team.pk}/actions/").content.decode()
    for data in demo.EARLIER_ACTIONS:
        assert data.title in page
    sam = Membership.objects.get(team=team, user__username="sam")
    mine = client_for(sam).get("/actions/mine/").content.decode()
    assert "Tell every client where their watch is" in mine
    assert "Send service estimates by e-mail" not in mine  # Léa's


def test_it_gives_the_earlier_session_a_curve_and_a_revealed_vote_to_summarise(loaded):
    earlier = Workshop.objects.get(team=loaded.workshop.team, title=demo.EARLIER_WORKSHOP_TITLE)
    marc = Membership.objects.get(team=earlier.team, user__username="marc")
    page = client_for(marc).get(f"/workshops/{earlier.pk}/summary/").content.decode()
    assert "From the last revealed vote: 3 voters." in page
    assert page.index("Henri called twice") < page.index("nobody called") < page.index("The service estimate came")
    assert page.count('class="curve-point') == len(demo.EARLIER_RATINGS)
    assert "Is invited to a private event" in page.split("Moments of truth")[1]
    assert "No vote revealed" not in page
