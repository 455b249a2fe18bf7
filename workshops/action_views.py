"""Actions and their review: "My actions", the managers' Actions page, summaries and exports."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from workshops import access
from workshops import render as workshops_render


@login_required
@require_GET
def my_actions(request: HttpRequest) -> HttpResponse:
    return render(request, "workshops/my_actions.html", workshops_render.my_actions_context(request.user))


@login_required
@require_GET
def action_detail(request: HttpRequest, pk: int) -> HttpResponse:
    action, member = access.get_action(request.user, pk)
    return render(request, "workshops/action_detail.html", {"action": action, "member": member,
                                                           "updates": action.updates.select_related("author__user")})
