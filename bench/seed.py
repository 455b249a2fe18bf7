"""The benchmark's data, loaded inside a server's environment:

    manage.py shell -c "from bench import seed; seed.main({...})"

It prints one line `BENCH-JSON <json>` with everything the benchmark needs: the participants'
session keys, the writers' usernames, the boards with their notes, containers and last seq.

Boards, the notes that writers edit and the catch-up history go through the board services (real
events, real pushes). Users and memberships are bulk-created with one password hash (hashing one per
person would take a second each), and the big page boards' notes are bulk-created: they only need
to be read. Participants' sessions are made by django.contrib.auth.login, exactly as the login
view makes them, without checking a password a thousand times.
"""

from __future__ import annotations

import datetime
import json
from importlib import import_module
from typing import Any

PASSWORD = "bench-journeymap-2026"
TEAM = "Bench maison"


def main(spec: dict[str, Any]) -> None:
    from django.db import transaction

    with transaction.atomic():
        out = _people(spec)
    out["boards"] = {}
    for key, board in spec.get("boards", {}).items():
        out["boards"][key] = _board(out, key, board)
    print("BENCH-JSON " + json.dumps(out))


def _people(spec: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from workshops.models import BusinessFunction, Membership, Persona, Role, Team, Workshop

    User = get_user_model()
    team = Team.objects.create(name=TEAM)
    workshop = Workshop.objects.create(team=team, title="Bench workshop", date=datetime.date(2026, 1, 15))
    persona = Persona.objects.create(team=team, name="Camille", segment="First-time buyer")
    hashed = make_password(PASSWORD)
    functions = [f for f in BusinessFunction.values if f != BusinessFunction.OTHER]
    writers = [f"bench-writer-{i}" for i in range(spec.get("writers", 2))]
    participants = [f"bench-{i:04d}" for i in range(spec["participants"])]
    users = User.objects.bulk_create(
        [User(username=u, password=hashed, first_name="Writer", last_name=u[-1]) for u in writers]
        + [User(username=u, password=hashed, first_name="Person", last_name=u[-4:]) for u in participants]
    )
    users = list(User.objects.filter(username__in=writers + participants).order_by("username"))
    by_name = {u.username: u for u in users}
    Membership.objects.bulk_create(
        [Membership(user=by_name[u], team=team, role=Role.FACILITATOR, business_function=functions[0])
         for u in writers]
        + [Membership(user=by_name[u], team=team, role=Role.PARTICIPANT,
                      business_function=functions[i % len(functions)])
           for i, u in enumerate(participants)]
    )
    members = {m.user.username: m for m in Membership.objects.filter(team=team).select_related("user")}
    return {
        "team": team.pk,
        "workshop": workshop.pk,
        "persona": persona.pk,
        "password": PASSWORD,
        "writers": [{"username": u, "member": members[u].pk} for u in writers],
        "participants": [
            {"username": u, "member": members[u].pk, "session": _session(members[u].user)} for u in participants
        ],
    }


def _session(user) -> str:
    """A signed-in session for `user`, as the login view would leave it."""
    from django.conf import settings
    from django.contrib.auth import login
    from django.http import HttpRequest

    request = HttpRequest()
    request.META = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "journeymap-bench"}
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    request.session.save()
    return request.session.session_key


def _board(out: dict[str, Any], key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One board from the default journey template, with `notes` notes added through the services
    (`bulk_notes` more bulk-created for page boards) and `edits` edits of its first note."""
    from boards import services
    from boards.journey_templates import DEFAULT_TEMPLATE
    from boards.models import MicroInteraction, Note, NoteKind, Phase, Scenario
    from workshops.models import Membership, Persona, Workshop

    writer = Membership.objects.select_related("user").get(pk=out["writers"][0]["member"])
    scenario = services.create_scenario(
        actor=writer, workshop=Workshop.objects.get(pk=out["workshop"]), title=f"Bench board {key}",
        persona=Persona.objects.get(pk=out["persona"]), template_key=DEFAULT_TEMPLATE,
    )
    phases = list(Phase.objects.filter(scenario=scenario).order_by("order"))
    mis = list(MicroInteraction.objects.filter(phase__scenario=scenario).select_related("phase")
               .order_by("phase__order", "order"))
    containers = [(mi.phase_id, mi.pk) for mi in mis] + [(p.pk, None) for p in phases]
    kinds = NoteKind.values
    for i in range(spec.get("notes", 0)):
        phase_id, mi_id = containers[i % len(containers)]
        services.add_note(
            actor=writer, scenario=scenario, phase=Phase.objects.get(pk=phase_id),
            micro_interaction=MicroInteraction.objects.get(pk=mi_id) if mi_id else None,
            kind=kinds[i % len(kinds)], text=f"Seed note {i}: the client waits at the door while the advisor finds the watch.",
        )
    bulk = spec.get("bulk_notes", 0)
    if bulk:
        authors = list(Membership.objects.filter(team_id=out["team"]).values_list("pk", flat=True)[:50])
        orders: dict[tuple[int, int | None], int] = {}
        rows = []
        for i in range(bulk):
            phase_id, mi_id = containers[i % len(containers)]
            order = orders.get((phase_id, mi_id), 1000)
            orders[(phase_id, mi_id)] = order + 1
            rows.append(Note(
                scenario=scenario, phase_id=phase_id, micro_interaction_id=mi_id, author_id=authors[i % len(authors)],
                kind=kinds[i % len(kinds)], order=order,
                text=f"Page note {i}: the client asks whether the strap can be changed in the boutique.",
            ))
        Note.objects.bulk_create(rows, batch_size=500)
    notes = list(Note.objects.filter(scenario=scenario).order_by("pk").values("pk", "version"))
    if spec.get("edits", 0) and notes:
        note = Note.objects.get(pk=notes[0]["pk"])
        for i in range(spec["edits"]):
            note = services.edit_note(actor=writer, note=note, text=f"History edit {i}", kind=note.kind,
                                      version=note.version)
        notes[0]["version"] = note.version
    return {
        "id": scenario.pk,
        "last_seq": Scenario.objects.values_list("last_seq", flat=True).get(pk=scenario.pk),
        "notes": [{"id": n["pk"], "version": n["version"]} for n in notes][: spec.get("keep_notes", 200)],
        "note_count": Note.objects.filter(scenario=scenario).count(),
        "containers": containers,
    }
