"""A hypothesis state machine over the board's sync protocol.

People add, edit (with a fresh or a stale version), move and delete notes, vote, retry a post they
already sent, and their pages disconnect and resume. Each page is modelled by what it would do in
a browser: it starts from the page's own render, applies each push in seq order by swapping
elements by id (as htmx's out-of-band swap does), and on resume gets exactly what the server's
catch-up sends. Invariants: every connected page equals a fresh render of the database, and no one
ever spends more dots than the budget, nor more than the cap on one note.
"""

from __future__ import annotations

import re
import uuid

import pytest
from bs4 import BeautifulSoup
from django.core.exceptions import ValidationError
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from boards import events, render, services
from boards.models import Note, Scenario, Vote, VotingRound, VotingStatus
from tests.conftest import make_member
from workshops.models import BusinessFunction, Role, Team, Workshop

SEQ = re.compile(r'^<span id="board-seq" data-seq="(\d+)"( data-reset)?')
SHARED = ("session", "results", "board", "board-actions")


def normalise(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(attrs={"hx-swap-oob": True}):
        del tag["hx-swap-oob"]
    return " ".join(str(soup).split())


class Page:
    """What one browser tab holds of the board, built only from what the server sends it."""

    def __init__(self, scenario: Scenario) -> None:
        self.seq = Scenario.objects.get(pk=scenario.pk).last_seq
        self.dom = BeautifulSoup(render.whole_board(scenario), "html.parser")
        self.connected = True

    def apply(self, message: str) -> None:
        m = SEQ.match(message)
        seq = int(m.group(1))
        if not m.group(2):
            assert seq == self.seq + 1, f"gap or duplicate: at {self.seq}, got {seq}"
        self.seq = seq
        fragment = BeautifulSoup(message, "html.parser")
        for element in fragment.find_all(recursive=False):
            if element.get("id") == "board-seq":
                continue
            target = self.dom.find(id=element["id"])
            assert target is not None, f"no #{element['id']} on the page"
            target.replace_with(element)

    def catch_up(self, scenario_id: int) -> None:
        messages, _ = events.catch_up(scenario_id, self.seq)
        for message in messages:
            self.apply(message)

    def shared_html(self) -> str:
        return shared_html(self.dom)


def shared_html(dom: BeautifulSoup) -> str:
    return " ".join(normalise(str(dom.find(id=name))) for name in SHARED)


class BoardMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        team = Team.objects.create(name="Maison")
        n = uuid.uuid4().hex[:6]
        self.facilitator = make_member(team, f"f{n}", Role.FACILITATOR, BusinessFunction.CLIENTELING)
        self.people = [
            self.facilitator,
            make_member(team, f"a{n}", Role.PARTICIPANT, BusinessFunction.BOUTIQUE),
            make_member(team, f"b{n}", Role.PARTICIPANT, BusinessFunction.ECOMMERCE),
        ]
        workshop = Workshop.objects.create(team=team, title="W", date="2026-11-20")
        # A small board keeps every render cheap: two phases with one micro-interaction each.
        self.scenario = services.create_scenario(actor=self.facilitator, workshop=workshop, title="S")
        for name in ("Purchase", "Service"):
            phase = services.add_phase(actor=self.facilitator, scenario=self.scenario, name=name)
            services.add_micro_interaction(actor=self.facilitator, phase=phase, action=f"{name} step", channel="boutique")
        self.phases = list(self.scenario.phases.order_by("order"))
        self.pages = [Page(self.scenario) for _ in range(3)]
        self.last_call = None

    # Helpers ---------------------------------------------------------------------------------

    def notes(self) -> list[Note]:
        return list(Note.objects.filter(scenario=self.scenario).order_by("pk"))

    def call(self, fn, **kwargs) -> None:
        """Run a service call as a post would, remembering it for a retry."""
        kwargs.setdefault("request_id", uuid.uuid4())
        self.last_call = (fn, kwargs)
        try:
            fn(**kwargs)
        except (ValidationError, services.Conflict):
            pass  # refused: the sender sees an error, nobody else sees anything

    def deliver(self) -> None:
        """Live pushes reach every connected page: exactly the events after its seq."""
        for page in self.pages:
            if page.connected:
                page.catch_up(self.scenario.pk)

    # Rules -----------------------------------------------------------------------------------

    @rule(who=st.integers(0, 2), phase=st.integers(0, 1), on_interaction=st.booleans(),
          kind=st.sampled_from(["friction", "idea", "observation"]), text=st.text(min_size=1, max_size=40))
    def add(self, who, phase, on_interaction, kind, text):
        phase = self.phases[phase]
        mi = phase.interactions.order_by("order").first() if on_interaction else None
        self.call(services.add_note, actor=self.people[who], scenario=self.scenario, phase=phase,
                  micro_interaction=mi, kind=kind, text=text)
        self.deliver()

    @precondition(lambda self: Note.objects.filter(scenario=self.scenario).exists())
    @rule(who=st.integers(0, 2), index=st.integers(0, 50), stale=st.booleans(), text=st.text(min_size=1, max_size=40))
    def edit(self, who, index, stale, text):
        notes = self.notes()
        note = notes[index % len(notes)]
        version = note.version - 1 if stale else note.version
        try:
            self.call(services.edit_note, actor=self.people[who], note=note, text=text, kind=note.kind, version=version)
        except Exception as exc:  # PermissionDenied: not their note
            assert exc.__class__.__name__ == "PermissionDenied"
        self.deliver()

    @precondition(lambda self: Note.objects.filter(scenario=self.scenario).exists())
    @rule(index=st.integers(0, 50), phase=st.integers(0, 1), on_interaction=st.booleans(), position=st.integers(0, 5))
    def move(self, index, phase, on_interaction, position):
        notes = self.notes()
        note = notes[index % len(notes)]
        phase = self.phases[phase]
        mi = phase.interactions.order_by("order").first() if on_interaction else None
        self.call(services.move_note, actor=self.facilitator, note=note, phase=phase, micro_interaction=mi,
                  position=position)
        self.deliver()

    @precondition(lambda self: Note.objects.filter(scenario=self.scenario).exists())
    @rule(index=st.integers(0, 50))
    def delete(self, index):
        notes = self.notes()
        self.call(services.delete_note, actor=self.facilitator, note=notes[index % len(notes)])
        self.deliver()

    @rule()
    def open_or_reveal_voting(self):
        voting = VotingRound.objects.filter(scenario=self.scenario).first()
        if voting is None or voting.status == VotingStatus.REVEALED:
            self.call(services.open_voting_round, actor=self.facilitator, scenario=self.scenario, budget=3,
                      cap_per_note=2)
        else:
            self.call(services.reveal_votes, actor=self.facilitator, scenario=self.scenario)
        self.deliver()

    @precondition(lambda self: Note.objects.filter(scenario=self.scenario, kind="friction").exists())
    @rule(who=st.integers(0, 2), index=st.integers(0, 50), withdraw=st.booleans())
    def vote(self, who, index, withdraw):
        frictions = [n for n in self.notes() if n.kind == "friction"]
        note = frictions[index % len(frictions)]
        operation = services.withdraw_vote if withdraw else services.cast_vote
        self.call(operation, actor=self.people[who], note=note)
        self.deliver()

    @precondition(lambda self: self.last_call is not None)
    @rule()
    def retry(self):
        """The same post again, with the same request id: it changes nothing more."""
        before = Scenario.objects.get(pk=self.scenario.pk).last_seq
        fn, kwargs = self.last_call
        try:
            fn(**kwargs)
        except (ValidationError, services.Conflict):
            pass
        except Exception as exc:  # a retried delete of a now-forbidden note, etc.
            assert exc.__class__.__name__ == "PermissionDenied"
        after = Scenario.objects.get(pk=self.scenario.pk).last_seq
        if fn is not services.delete_note:
            assert after == before, f"a retried {fn.__name__} took effect twice"
        self.deliver()

    @rule(page=st.integers(0, 2))
    def disconnect(self, page):
        self.pages[page].connected = False

    @rule(page=st.integers(0, 2))
    def resume(self, page):
        page = self.pages[page]
        page.connected = True
        page.catch_up(self.scenario.pk)

    # Invariants ------------------------------------------------------------------------------

    @invariant()
    def pages_equal_the_database(self):
        if not hasattr(self, "scenario"):
            return
        truth = shared_html(BeautifulSoup(render.whole_board(Scenario.objects.get(pk=self.scenario.pk)), "html.parser"))
        for page in self.pages:
            if page.connected:
                assert page.shared_html() == truth

    @invariant()
    def budgets_hold(self):
        for voting in VotingRound.objects.filter(scenario__workshop__team__name="Maison"):
            spent = Vote.objects.filter(round=voting).values("voter").annotate(s=Sum("dots"))
            assert all(row["s"] <= voting.budget for row in spent)
            assert not Vote.objects.filter(round=voting, dots__gt=voting.cap_per_note).exists()


BoardMachine.TestCase.settings = settings(
    max_examples=6,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.django_db(transaction=True)
class TestBoardSync(BoardMachine.TestCase):
    pass
