"""The journey map ("the board") of a scenario, and the event log that keeps every screen in sync."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    BOUTIQUE = "boutique", "Boutique"
    WEBSITE = "website", "Website"
    APP = "app", "App"
    SOCIAL = "social", "Social"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    EVENT = "event", "Event"
    DELIVERY = "delivery", "Delivery"
    OTHER = "other", "Other"


class MomentOfTruth(models.TextChoices):
    NONE = "none", "—"
    POSITIVE = "positive", "Positive moment of truth"
    NEGATIVE = "negative", "Negative moment of truth"


class NoteKind(models.TextChoices):
    OBSERVATION = "observation", "Observation"
    FRICTION = "friction", "Friction"
    IDEA = "idea", "Idea"
    QUESTION = "question", "Question"
    DELIGHT = "delight", "Delight"
    MOMENT = "moment", "Moment of truth"


EMOTION_LABELS = {-2: "Very negative", -1: "Negative", 0: "Neutral", 1: "Positive", 2: "Very positive"}


class Stage(models.TextChoices):
    CAPTURE = "capture", "Capture"
    DISCUSS = "discuss", "Discuss"
    VOTE = "vote", "Vote"
    ACTIONS = "actions", "Actions"


class VotingStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    REVEALED = "revealed", "Revealed"


class Scenario(models.Model):
    """A customer scenario mapped in a workshop. Its journey map is the board.

    It also holds the live session's state, which the facilitator controls.
    """

    workshop = models.ForeignKey("workshops.Workshop", on_delete=models.CASCADE, related_name="scenarios")
    persona = models.ForeignKey(
        "workshops.Persona", null=True, blank=True, on_delete=models.SET_NULL, related_name="scenarios"
    )
    title = models.CharField(max_length=160)
    description = models.TextField(blank=True, max_length=2000)
    template_key = models.CharField(max_length=40, blank=True)
    # The seq of the newest BoardEvent; bumped under a row lock by every write.
    last_seq = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    # The live session, under the facilitator's control.
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.CAPTURE)
    focus_phase = models.ForeignKey(
        "Phase", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked = models.BooleanField(default=False, help_text="Participants cannot change the board.")
    private_round = models.BooleanField(
        default=False, help_text="Participants' new notes stay hidden until revealed."
    )
    # A running timer has an end; a paused one has the seconds it had left.
    timer_ends_at = models.DateTimeField(null=True, blank=True)
    timer_remaining = models.PositiveIntegerField(null=True, blank=True)
    # Consensus mode: everyone may rate each micro-interaction's emotion while it is open.
    rating_open = models.BooleanField(
        default=False, help_text="Everyone may rate how the customer feels at each step."
    )
    # The status of the board's latest voting round ("" before the first), kept with it by the
    # voting services: a note's fragment shows an open or a revealed round, so a board whose
    # round is closed, or that has none, is not read for one on every change to a note.
    voting = models.CharField(max_length=10, blank=True, choices=VotingStatus.choices)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(stage__in=Stage.values), name="scenario_stage_valid"),
            models.CheckConstraint(
                condition=models.Q(voting__in=["", *VotingStatus.values]), name="scenario_voting_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def team_id(self) -> int:
        return self.workshop.team_id

    @property
    def timer_state(self) -> str:
        if self.timer_ends_at is not None:
            return "running"
        if self.timer_remaining is not None:
            return "paused"
        return "off"


class Phase(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveIntegerField()
    name = models.CharField(max_length=80)
    goal = models.CharField("customer's goal", max_length=240, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["scenario", "order"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "order"], name="phase_unique_order"),
        ]

    def __str__(self) -> str:
        return self.name


class MicroInteraction(models.Model):
    """One thing the customer does, on one channel, within a phase."""

    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="interactions")
    order = models.PositiveIntegerField()
    action = models.CharField("what the customer does", max_length=200)
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.BOUTIQUE)
    emotion = models.SmallIntegerField(null=True, blank=True)
    moment_of_truth = models.CharField(
        max_length=10, choices=MomentOfTruth.choices, default=MomentOfTruth.NONE
    )
    # On a follow-up's board: the emotion is the previous session's, not rated again yet.
    emotion_carried = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["phase", "order"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "order"], name="interaction_unique_order"),
            models.CheckConstraint(
                condition=models.Q(emotion__gte=-2, emotion__lte=2) | models.Q(emotion__isnull=True),
                name="interaction_emotion_range",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="interaction_channel_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(moment_of_truth__in=MomentOfTruth.values),
                name="interaction_mot_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.action

    @property
    def emotion_label(self) -> str:
        return EMOTION_LABELS.get(self.emotion, "Not rated") if self.emotion is not None else "Not rated"

    @property
    def is_carried(self) -> bool:
        """The emotion shown is last session's: nobody has rated this step again yet."""
        return self.emotion_carried and self.emotion is not None


class Note(models.Model):
    """A sticky note, on a micro-interaction or directly on a phase."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="notes")
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="notes")
    micro_interaction = models.ForeignKey(
        MicroInteraction, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        "workshops.Membership", null=True, on_delete=models.SET_NULL, related_name="notes"
    )
    kind = models.CharField(max_length=12, choices=NoteKind.choices, default=NoteKind.OBSERVATION)
    text = models.CharField(max_length=500)
    order = models.PositiveIntegerField()
    version = models.PositiveIntegerField(default=1)
    # Written during a private round: only its author sees the text until the facilitator reveals it.
    hidden = models.BooleanField(default=False)
    # Set when an action is made from the note (actions are never unlinked): a note without one,
    # most notes, is not read for its actions each time it changes.
    has_actions = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=NoteKind.values), name="note_kind_valid"),
            models.UniqueConstraint(
                fields=["micro_interaction", "order"],
                condition=models.Q(micro_interaction__isnull=False),
                name="note_unique_order_in_interaction",
            ),
            models.UniqueConstraint(
                fields=["phase", "order"],
                condition=models.Q(micro_interaction__isnull=True),
                name="note_unique_order_in_phase",
            ),
        ]
        indexes = [models.Index(fields=["scenario", "kind"], name="note_scenario_kind")]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def fragment_key(self) -> tuple:
        """Everything the note's fragment on the board shows, with what `annotate_notes` adds
        (can it take dots, its revealed total, its actions): the fragment's cached HTML is reused
        while this is equal, so nothing has to invalidate it."""
        author = self.author.name if self.author_id else None
        actions = tuple(
            (a.pk, a.title, a.owner.name if a.owner_id else "", a.due_date, a.status)
            for a in getattr(self, "action_list", ())
        )
        return (
            self.pk, self.version, self.scenario_id, self.kind, self.hidden, self.text, self.author_id,
            author, getattr(self, "votable", False), getattr(self, "vote_total", None), actions,
        )

    @property
    def container_id(self) -> str:
        """The DOM id of the list this note sits in."""
        if self.micro_interaction_id:
            return f"notes-mi-{self.micro_interaction_id}"
        return f"notes-phase-{self.phase_id}"


class VotingRound(models.Model):
    """A dot-voting round on a board's friction notes."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="voting_rounds")
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    budget = models.PositiveSmallIntegerField(default=3)
    cap_per_note = models.PositiveSmallIntegerField(default=2)
    status = models.CharField(max_length=10, choices=VotingStatus.choices, default=VotingStatus.OPEN)
    opened_by = models.ForeignKey("workshops.Membership", null=True, on_delete=models.SET_NULL, related_name="+")
    opened = models.DateTimeField(default=timezone.now)
    closed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(budget__gte=1), name="round_budget_positive"),
            models.CheckConstraint(condition=models.Q(cap_per_note__gte=1), name="round_cap_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=VotingStatus.values), name="round_status_valid"
            ),
            models.UniqueConstraint(
                fields=["scenario"], condition=models.Q(status="open"), name="round_one_open_per_board"
            ),
        ]


class Vote(models.Model):
    """The dots one person put on one note in one round. Anonymous to everyone but its voter."""

    round = models.ForeignKey(VotingRound, on_delete=models.CASCADE, related_name="votes")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey("workshops.Membership", on_delete=models.CASCADE, related_name="votes")
    dots = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "note", "voter"], name="vote_unique_per_note"),
            models.CheckConstraint(condition=models.Q(dots__gte=1), name="vote_dots_positive"),
        ]


class BoardEvent(models.Model):
    """One change to a board, in order. `html` is the push every screen applies, rendered once."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    actor = models.ForeignKey("workshops.Membership", null=True, on_delete=models.SET_NULL, related_name="+")
    # The client-generated id of the request that caused it: a retried post takes effect once.
    request_id = models.UUIDField(null=True, blank=True)
    html = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scenario", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "seq"], name="event_unique_seq"),
            models.UniqueConstraint(
                fields=["scenario", "request_id"],
                condition=models.Q(request_id__isnull=False),
                name="event_unique_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario_id}#{self.seq} {self.kind}"


# Insights: consensus on emotions, and the evidence behind a touchpoint ----------------------------


class EmotionRating(models.Model):
    """One person's rating of how the customer feels at one micro-interaction (consensus mode).

    Ratings are only ever shown pooled (median and spread), never by name.
    """

    interaction = models.ForeignKey(MicroInteraction, on_delete=models.CASCADE, related_name="ratings")
    member = models.ForeignKey("workshops.Membership", on_delete=models.CASCADE, related_name="+")
    value = models.SmallIntegerField()
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["interaction", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["interaction", "member"], name="rating_unique_per_member"),
            models.CheckConstraint(
                condition=models.Q(value__gte=-2, value__lte=2), name="rating_value_range"
            ),
        ]


class TouchpointMetric(models.Model):
    """A measure of a touchpoint: NPS, CSAT, conversion, wait time… with where it comes from."""

    interaction = models.ForeignKey(MicroInteraction, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=60)
    value = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=120, blank=True)
    date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        "workshops.Membership", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["interaction", "pk"]

    def __str__(self) -> str:
        return f"{self.name} {self.display_value}{self.unit}"

    @property
    def display_value(self) -> str:
        """32 rather than 32.0000, 4.3 rather than 4.3000."""
        return format_decimal(self.value)

    @property
    def value_with_unit(self) -> str:
        """"4.3/5", "2.4%", "12 min": a word-like unit gets a space, a sign doesn't."""
        if not self.unit:
            return self.display_value
        joined = self.unit[0] in "%/°‰"
        return f"{self.display_value}{'' if joined else ' '}{self.unit}"


class CustomerQuote(models.Model):
    """What a customer said about a touchpoint, in their words, and where it was heard."""

    interaction = models.ForeignKey(MicroInteraction, on_delete=models.CASCADE, related_name="quotes")
    text = models.TextField(max_length=1000)
    source = models.CharField(max_length=120, blank=True)
    date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        "workshops.Membership", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["interaction", "pk"]

    def __str__(self) -> str:
        return self.text[:60]


def format_decimal(value) -> str:
    """A decimal without trailing zeros and never in exponent form: 32, 4.3, 0.25, 1200."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
