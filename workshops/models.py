"""Teams, the people in them, workshops, personas, and the actions they lead to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Team(models.Model):
    name = models.CharField(max_length=120)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    FACILITATOR = "facilitator", "Facilitator"
    PARTICIPANT = "participant", "Participant"
    MANAGER = "manager", "Manager"


class BusinessFunction(models.TextChoices):
    BOUTIQUE = "boutique", "Boutique & retail"
    ECOMMERCE = "ecommerce", "E-commerce"
    CLIENTELING = "clienteling", "Clienteling / CRM"
    CUSTOMER_SERVICE = "customer_service", "Customer service"
    MARKETING = "marketing", "Marketing"
    TECH = "tech", "Tech"
    HR = "hr", "HR"
    OTHER = "other", "Other"


class Membership(models.Model):
    """A person's seat in a team: their role there and the business function they speak for."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PARTICIPANT)
    business_function = models.CharField(
        max_length=20, choices=BusinessFunction.choices, default=BusinessFunction.OTHER
    )
    display_name = models.CharField(max_length=60, blank=True)
    # Bumped to revoke this person's calendar feed links.
    feed_version = models.PositiveIntegerField(default=1)
    # A guest who joined with an invitation sees this one workshop only; empty for the whole team.
    workshop = models.ForeignKey(
        "Workshop", null=True, blank=True, on_delete=models.CASCADE, related_name="guests"
    )
    invitation = models.ForeignKey(
        "Invitation", null=True, blank=True, on_delete=models.SET_NULL, related_name="guests"
    )
    # Set when a facilitator withdraws this seat: every request answers 403 from then on.
    revoked_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "display_name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team"),
            models.CheckConstraint(
                condition=models.Q(workshop__isnull=True) | models.Q(role=Role.PARTICIPANT),
                name="membership_guest_is_participant",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(business_function__in=BusinessFunction.values),
                name="membership_function_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()}, {self.team})"

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()

    @property
    def is_facilitator(self) -> bool:
        return self.role == Role.FACILITATOR

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_guest(self) -> bool:
        """Joined one workshop with an invitation link, without a password."""
        return self.workshop_id is not None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class WorkshopStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    LIVE = "live", "Live"
    CLOSED = "closed", "Closed"


class Workshop(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="workshops")
    title = models.CharField(max_length=160)
    date = models.DateField()
    status = models.CharField(max_length=10, choices=WorkshopStatus.choices, default=WorkshopStatus.PLANNED)
    follows_up = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=WorkshopStatus.values), name="workshop_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Invitation(models.Model):
    """A link (and its QR code) that lets boutique staff join one workshop with a name only.

    The link's token is not stored: only its SHA-256 (to find the link) and its seed, from which
    the server's SECRET_KEY makes it again (workshops.invitations). A link works until it
    expires, is revoked or rotated.
    """

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    # Empty for links made before seeds were kept: those can't be shown again.
    token_seed = models.CharField(max_length=43, blank=True, default="")
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    # When the current token was made: rotating gives a new token and keeps the expiry.
    token_created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"Invitation to {self.workshop} until {self.expires_at:%Y-%m-%d %H:%M}"

    def is_expired(self, now=None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def is_usable(self, now=None) -> bool:
        return self.revoked_at is None and not self.is_expired(now)


class Segment(models.TextChoices):
    WINDOW_SHOPPER = "Window shopper"
    FIRST_TIME_BUYER = "First-time buyer"
    PATRON = "Patron"
    VIC = "VIC"


class Persona(models.Model):
    """A customer archetype, shared by a team's workshops."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="personas")
    name = models.CharField(max_length=80)
    # One of Segment's values, or the team's own words.
    segment = models.CharField(max_length=60)
    goals = models.TextField(blank=True)
    expectations = models.TextField(blank=True)
    bio = models.TextField(blank=True, max_length=600)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} · {self.segment}"


class ActionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DROPPED = "dropped", "Dropped"


class Action(models.Model):
    """A decision from a workshop: who will fix which friction, by when."""

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="actions")
    scenario = models.ForeignKey(
        "boards.Scenario", null=True, blank=True, on_delete=models.SET_NULL, related_name="actions"
    )
    title = models.CharField(max_length=200)
    notes = models.ManyToManyField("boards.Note", blank=True, related_name="actions")
    owner = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="owned_actions")
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="created_actions"
    )
    # Who gave it to its current owner, and whether the owner has seen it in "My actions" since.
    assigned_by = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    seen_by_owner = models.BooleanField(default=True, db_default=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ActionStatus.values), name="action_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_closed(self) -> bool:
        return self.status in (ActionStatus.DONE, ActionStatus.DROPPED)

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return not self.is_closed and self.due_date < today

    def is_due_today(self, today=None) -> bool:
        return not self.is_closed and self.due_date == (today or timezone.localdate())

    @property
    def is_new_to_owner(self) -> bool:
        """Given to its owner by someone else, and not yet seen in their "My actions"."""
        return not self.seen_by_owner and not self.is_closed


class ActionUpdate(models.Model):
    """One step in an action's history: a status change and the comment that came with it, or a
    new plan (owner, due date, title: `is_replan`), what changed being in the comment."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="updates")
    is_replan = models.BooleanField(default=False)
    author = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    # A new plan that handed the action over: who had it until then (their "My actions" says so).
    from_owner = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="handed_over"
    )
    from_status = models.CharField(max_length=12, choices=ActionStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ActionStatus.choices)
    comment = models.TextField(blank=True, max_length=1000)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "pk"]
