"""Read-only admin for boards: browse and search; every change goes through boards.services."""

from __future__ import annotations

from django.contrib import admin

from boards.models import (
    BoardEvent,
    CustomerQuote,
    EmotionRating,
    MicroInteraction,
    Note,
    Phase,
    Scenario,
    TouchpointMetric,
    Vote,
    VotingRound,
)
from workshops.admin import ReadOnlyAdmin


@admin.register(Scenario)
class ScenarioAdmin(ReadOnlyAdmin):
    list_display = [
        "title",
        "workshop",
        "persona",
        "template_key",
        "stage",
        "locked",
        "last_seq",
        "created",
    ]
    list_filter = ["stage", "locked", "template_key", "workshop__team"]
    list_select_related = ["workshop", "persona"]
    search_fields = ["title", "description", "workshop__title"]


@admin.register(Phase)
class PhaseAdmin(ReadOnlyAdmin):
    list_display = ["name", "scenario", "order", "goal"]
    list_select_related = ["scenario"]
    search_fields = ["name", "goal", "scenario__title"]


@admin.register(MicroInteraction)
class MicroInteractionAdmin(ReadOnlyAdmin):
    list_display = ["action", "phase", "channel", "emotion", "moment_of_truth"]
    list_filter = ["channel", "moment_of_truth", "emotion"]
    list_select_related = ["phase"]
    search_fields = ["action", "phase__name"]


@admin.register(Note)
class NoteAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "hidden", "scenario", "phase", "author", "created"]
    list_filter = ["kind", "hidden"]
    list_select_related = ["scenario", "phase", "author__user", "author__team"]
    search_fields = ["text", "scenario__title"]


@admin.register(VotingRound)
class VotingRoundAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "scenario",
        "phase",
        "status",
        "budget",
        "cap_per_note",
        "opened",
        "closed",
    ]
    list_filter = ["status"]
    list_select_related = ["scenario", "phase"]
    search_fields = ["scenario__title"]


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin):
    # Votes are anonymous to everyone but their voter, so the admin doesn't show who voted.
    list_display = ["pk", "round", "note", "dots"]
    list_select_related = ["round", "note"]
    exclude = ["voter"]
    search_fields = ["note__text"]


@admin.register(BoardEvent)
class BoardEventAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "scenario", "seq", "kind", "actor", "created"]
    list_filter = ["kind"]
    list_select_related = ["scenario", "actor__user", "actor__team"]
    search_fields = ["kind", "scenario__title"]


@admin.register(EmotionRating)
class EmotionRatingAdmin(ReadOnlyAdmin):
    """Ratings show pooled on the board: no rater here either."""

    list_display = ["pk", "interaction", "value", "updated"]
    list_select_related = ["interaction"]
    exclude = ["member"]
    search_fields = ["interaction__action"]


@admin.register(TouchpointMetric)
class TouchpointMetricAdmin(ReadOnlyAdmin):
    list_display = ["name", "value", "unit", "interaction", "source", "date"]
    list_select_related = ["interaction"]
    search_fields = ["name", "source", "interaction__action"]


@admin.register(CustomerQuote)
class CustomerQuoteAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "interaction", "source", "date"]
    list_select_related = ["interaction"]
    search_fields = ["text", "source", "interaction__action"]
