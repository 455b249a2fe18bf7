from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from workshops import access
from workshops.models import Membership, Workshop


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The workshops of every team the user belongs to."""
    memberships = list(Membership.objects.filter(user=request.user).select_related("team"))
    workshops = (
        Workshop.objects.filter(team__memberships__user=request.user)
        .select_related("team")
        .prefetch_related("scenarios")
    )
    return render(request, "workshops/home.html", {"memberships": memberships, "workshops": workshops})


@login_required
@require_GET
def workshop_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workshop, member = access.get_workshop(request.user, pk)
    scenarios = workshop.scenarios.select_related("persona")
    return render(request, "workshops/workshop_detail.html", {"workshop": workshop, "member": member, "scenarios": scenarios})
