"""Read-only admin: browse and search everything; every change goes through the services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from workshops.models import (
    Action,
    ActionUpdate,
    Invitation,
    Membership,
    Persona,
    Team,
    Workshop,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete from the admin: writes must go through the service functions."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ["name", "created"]
    search_fields = ["name"]
    date_hierarchy = "created"


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__", "user", "team", "role", "business_function", "workshop", "revoked_at", "created"
    ]
    list_filter = ["role", "business_function", "team"]
    list_select_related = ["user", "team", "workshop"]
    search_fields = [
        "display_name",
        "user__username",
        "user__first_name",
        "user__last_name",
        "team__name",
    ]


@admin.register(Workshop)
class WorkshopAdmin(ReadOnlyAdmin):
    list_display = ["title", "team", "date", "status", "follows_up"]
    list_filter = ["status", "team"]
    list_select_related = ["team", "follows_up"]
    search_fields = ["title", "team__name"]
    date_hierarchy = "date"


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["workshop", "created", "expires_at", "revoked_at", "created_by"]
    list_filter = ["workshop__team"]
    list_select_related = ["workshop", "created_by__user", "created_by__team"]
    search_fields = ["workshop__title", "workshop__team__name"]
    exclude = ["token_hash"]  # only a hash, but of no use to anyone reading the admin
    date_hierarchy = "created"


@admin.register(Persona)
class PersonaAdmin(ReadOnlyAdmin):
    list_display = ["name", "segment", "team"]
    list_filter = ["segment", "team"]
    list_select_related = ["team"]
    search_fields = ["name", "segment", "goals", "expectations", "bio"]


@admin.register(Action)
class ActionAdmin(ReadOnlyAdmin):
    list_display = ["title", "workshop", "owner", "due_date", "status", "version"]
    list_filter = ["status", "workshop__team"]
    list_select_related = ["workshop", "owner__user", "owner__team"]
    search_fields = ["title", "workshop__title", "owner__display_name", "owner__user__username"]
    date_hierarchy = "due_date"


@admin.register(ActionUpdate)
class ActionUpdateAdmin(ReadOnlyAdmin):
    list_display = ["action", "from_status", "to_status", "author", "created"]
    list_filter = ["to_status"]
    list_select_related = ["action", "author__user", "author__team"]
    search_fields = ["action__title", "comment"]
