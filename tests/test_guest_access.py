"""Guests: boutique staff join one workshop from a link with a display name only. Their seat
opens that workshop and nothing else of the team; a facilitator can remove them, which answers
403 from then on and closes their board's websocket (4403)."""

from __future__ import annotations

import datetime
import html
import unicodedata

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from boards import services as board_services
from boards.journey_templates import DEFAULT_TEMPLATE
from boards.models import Note
from tests.conftest import client_for
from tests.ws import communicator
from workshops import access, invitations, services
from workshops.models import Action, BusinessFunction, Membership, Role, Workshop

JOINED = {"display_name": "Léa, Geneva boutique", "business_function": "boutique"}


def open_link(facilitator, workshop) -> tuple[Client, str]:
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    phone = Client()
    r = phone.get(reverse("join-link", args=[token]))
    assert r.status_code == 302 and r["Location"] == reverse("join")
    return phone, token


def join(facilitator, workshop, **data) -> tuple[Client, Membership]:
    phone, _ = open_link(facilitator, workshop)
    r = phone.post(reverse("join"), {**JOINED, **data})
    assert r.status_code == 302, r.content.decode()[:2000]
    return phone, Membership.objects.get(user__pk=phone.session["_auth_user_id"])


@pytest.fixture
def other_workshop(team, facilitator, persona) -> Workshop:
    """Another workshop of the same team, with its own board, note and action."""
    workshop = Workshop.objects.create(
        team=team, title="Repairs and after-sales", date=datetime.date(2026, 12, 4)
    )
    board = board_services.create_scenario(
        actor=facilitator,
        workshop=workshop,
        title="A watch back for service",
        persona=persona,
        template_key=DEFAULT_TEMPLATE,
    )
    phase = board.phases.order_by("order").first()
    note = board_services.add_note(
        actor=facilitator,
        scenario=board,
        phase=phase,
        kind="friction",
        text="No news for three weeks",
    )
    action = Action.objects.create(
        workshop=workshop,
        scenario=board,
        title="Send news every week",
        owner=facilitator,
        due_date=datetime.date(2026, 12, 20),
    )
    workshop.test_board, workshop.test_note, workshop.test_action = board, note, action
    return workshop


def post_note(
    client: Client, board, text: str = "She asked for the strap in another size", **headers
):
    phase = board.phases.order_by("order").first()
    return client.post(
        reverse("note-create", args=[board.pk]),
        {"phase": phase.pk, "kind": "observation", "text": text},
        **headers,
    )


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Joining counts against a per-address limit: start every test from an empty count."""
    cache.clear()
    yield
    cache.clear()


# Joining -----------------------------------------------------------------------------------------


def test_it_takes_the_token_out_of_the_address_at_once(facilitator, workshop):
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    phone = Client()
    r = phone.get(reverse("join-link", args=[token]))
    assert r.status_code == 302
    assert r["Location"] == "/join/" and token not in r["Location"]
    assert r["Referrer-Policy"] == "no-referrer"
    assert "no-store" in r["Cache-Control"]
    form = phone.get(r["Location"])
    assert form.status_code == 200
    assert token not in form.content.decode()
    assert "no-store" in form["Cache-Control"]


def test_it_sends_no_referrer_from_a_refused_link(db):
    r = Client().get(reverse("join-link", args=["A" * 43]))
    assert r.status_code == 404
    assert r["Referrer-Policy"] == "no-referrer"


def test_it_keeps_the_join_form_working_under_the_csrf_check(facilitator, workshop):
    """The form page keeps the site's same-origin referrer policy: under no-referrer a browser
    posts the form with `Origin: null`, which the CSRF check refuses."""
    phone = Client(enforce_csrf_checks=True)
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    phone.get(reverse("join-link", args=[token]))
    page = phone.get(reverse("join"))
    assert page["Referrer-Policy"] == "same-origin"
    csrf = page.context["csrf_token"]
    refused = phone.post(
        reverse("join"), {**JOINED, "csrfmiddlewaretoken": csrf}, HTTP_ORIGIN="null"
    )
    assert refused.status_code == 403
    joined = phone.post(
        reverse("join"), {**JOINED, "csrfmiddlewaretoken": csrf}, HTTP_ORIGIN="http://testserver"
    )
    assert joined.status_code == 302


def test_it_asks_only_for_a_name_and_a_business_function(facilitator, workshop):
    phone, _ = open_link(facilitator, workshop)
    page = phone.get(reverse("join")).content.decode()
    form = page.split('id="join-form"', 1)[1].split("</form>", 1)[0]
    fields = {
        name
        for name in ("display_name", "business_function", "password", "username")
        if f'name="{name}"' in form
    }
    assert fields == {"display_name", "business_function"}
    assert 'maxlength="40"' in form
    assert '<option value="boutique" selected>' in form
    assert "First visit to delivery" in page


def test_it_makes_a_guest_scoped_to_the_workshop_and_signs_them_in(facilitator, workshop, board):
    phone, _ = open_link(facilitator, workshop)
    r = phone.post(
        reverse("join"),
        {"display_name": "  Léa \u202e Geneva  ", "business_function": "clienteling"},
    )
    assert r.status_code == 302
    assert r["Location"] == reverse("board", args=[board.pk])  # its only board
    guest = Membership.objects.select_related("user").get(workshop=workshop)
    assert guest.display_name == "Léa Geneva"
    assert (
        guest.role == Role.PARTICIPANT and guest.business_function == BusinessFunction.CLIENTELING
    )
    assert guest.team_id == workshop.team_id and guest.revoked_at is None
    assert guest.is_guest and guest.invitation is not None
    assert not guest.user.has_usable_password()
    assert guest.user.username.startswith("guest-")
    assert int(phone.session["_auth_user_id"]) == guest.user.pk
    assert phone.session["_auth_user_backend"] == "journeymap.auth.Backend"
    assert "journeymap.join" not in phone.session
    assert phone.get(r["Location"]).status_code == 200


def test_it_lands_on_the_workshop_page_when_it_has_no_single_board(facilitator, workshop):
    _, guest = join(facilitator, workshop)
    phone = client_for(guest)
    assert phone.get(reverse("home"))["Location"] == reverse("workshop-detail", args=[workshop.pk])


def test_it_leaves_no_token_in_the_database_after_joining(facilitator, workshop):
    from tests.test_invitations import everything_in_the_database

    phone, token = open_link(facilitator, workshop)
    phone.post(reverse("join"), JOINED)
    assert token not in everything_in_the_database()


def test_it_explains_a_name_that_cleans_to_nothing(facilitator, workshop):
    phone, _ = open_link(facilitator, workshop)
    r = phone.post(
        reverse("join"), {"display_name": "\u202e\u200b\u2066 \t", "business_function": "boutique"}
    )
    assert r.status_code == 422
    assert "Type the name the others will see" in html.unescape(r.content.decode())
    assert not Membership.objects.filter(workshop=workshop).exists()


def test_it_refuses_a_name_too_long(facilitator, workshop):
    phone, _ = open_link(facilitator, workshop)
    r = phone.post(reverse("join"), {"display_name": "L" * 41, "business_function": "boutique"})
    assert r.status_code == 422
    assert "Keep your name under 40 characters" in r.content.decode()


def test_it_asks_a_guest_for_a_name_no_one_here_goes_by(facilitator, participant, workshop):
    join(facilitator, workshop, display_name="Nadia")
    for taken in ("Nadia", "  nadia ", "NADIA", "Sam", "Fiona"):  # a guest's, a team member's
        phone, _ = open_link(facilitator, workshop)
        r = phone.post(reverse("join"), {**JOINED, "display_name": taken})
        assert r.status_code == 422, taken
        page = html.unescape(r.content.decode())
        assert f"Someone here already goes by “{taken.strip()}”" in page
        assert f'value="{taken}"' in page  # what they typed stays, to add to it
    assert list(workshop.guests.values_list("display_name", flat=True)) == ["Nadia"]
    _, other = join(facilitator, workshop, display_name="Nadia B.")
    assert other.display_name == "Nadia B."


def test_it_frees_the_name_of_a_removed_guest_or_another_workshops(facilitator, workshop, other_workshop):
    _, gone = join(facilitator, workshop, display_name="Nadia")
    services.revoke_guest(actor=facilitator, membership=gone)
    join(facilitator, other_workshop, display_name="Marco")
    _, back = join(facilitator, workshop, display_name="Nadia")
    _, marco = join(facilitator, workshop, display_name="Marco")
    assert back.display_name == "Nadia" and marco.display_name == "Marco"


def test_it_asks_for_the_link_again_without_one(db):
    r = Client().get(reverse("join"))
    assert r.status_code == 404
    assert "Open your invitation link again" in r.content.decode()
    assert Client().post(reverse("join"), JOINED).status_code == 404


def test_it_sends_a_member_who_opens_the_link_to_the_workshop(facilitator, participant, workshop):
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    client = client_for(participant)
    client.get(reverse("join-link", args=[token]))
    r = client.get(reverse("join"))
    assert r.status_code == 302 and r["Location"] == reverse("workshop-detail", args=[workshop.pk])
    assert not workshop.guests.exists()


# Scope: one workshop -----------------------------------------------------------------------------


def test_it_lets_a_guest_see_and_post_on_their_board(facilitator, workshop, board):
    phone, guest = join(facilitator, workshop)
    assert phone.get(reverse("workshop-detail", args=[workshop.pk])).status_code == 200
    assert phone.get(reverse("board", args=[board.pk])).status_code == 200
    r = post_note(phone, board)
    assert r.status_code == 302
    assert Note.objects.filter(author=guest, scenario=board).count() == 1


def test_it_tells_a_guest_their_calendar_feed_is_of_their_workshop(facilitator, workshop, participant):
    phone, _ = join(facilitator, workshop)
    page = phone.get(reverse("my-actions")).content.decode()
    assert f"All the actions of {html.escape(workshop.title)}</label>" in page and "All the team&#x27;s actions" not in page
    page = client_for(participant).get(reverse("my-actions")).content.decode()
    assert "All the team&#x27;s actions</label>" in page


def test_it_hides_everything_else_of_the_team_from_a_guest(
    facilitator, workshop, board, other_workshop, team, persona
):
    phone, guest = join(facilitator, workshop)
    other_board = other_workshop.test_board
    hidden = [
        reverse("workshop-detail", args=[other_workshop.pk]),
        reverse("workshop-summary", args=[other_workshop.pk]),
        reverse("board", args=[other_board.pk]),
        reverse("note-edit", args=[other_workshop.test_note.pk]),
        reverse("action-detail", args=[other_workshop.test_action.pk]),
        reverse("team-detail", args=[team.pk]),
        reverse("team-actions", args=[team.pk]),
        reverse("persona-list", args=[team.pk]),
        reverse("invitation-list", args=[other_workshop.pk]),
    ]
    for url in hidden:
        assert phone.get(url).status_code == 404, url
    assert post_note(phone, other_board).status_code == 404
    assert not Note.objects.filter(author=guest).exists()
    home = phone.get(reverse("home"))
    assert home.status_code == 302 and home["Location"] == reverse("board", args=[board.pk])


def test_it_lists_only_the_guests_workshop_for_them(facilitator, workshop, other_workshop):
    _, guest = join(facilitator, workshop)
    assert list(access.visible_workshops(guest.user)) == [workshop]
    assert set(access.visible_workshops(facilitator.user)) == {workshop, other_workshop}


def test_it_keeps_guests_off_the_team_page_and_out_of_team_settings(facilitator, workshop, team):
    _, guest = join(facilitator, workshop)
    page = client_for(facilitator).get(reverse("team-detail", args=[team.pk])).content.decode()
    assert f'id="member-{guest.pk}"' not in page
    r = client_for(facilitator).get(reverse("member-edit", args=[team.pk, guest.pk]))
    assert r.status_code == 404
    with pytest.raises(ValidationError):
        services.update_member(
            actor=facilitator,
            membership=guest,
            display_name="Léa",
            role=Role.FACILITATOR,
            business_function="boutique",
        )


def test_it_lets_no_guest_start_a_team(facilitator, workshop):
    phone, _ = join(facilitator, workshop)
    assert phone.get(reverse("team-new")).status_code == 403


def test_it_hides_team_links_from_a_guest_on_the_workshop_page(facilitator, workshop, team):
    phone, _ = join(facilitator, workshop)
    page = phone.get(reverse("workshop-detail", args=[workshop.pk])).content.decode()
    assert reverse("team-detail", args=[team.pk]) not in page
    assert reverse("persona-list", args=[team.pk]) not in page
    assert 'id="guests"' not in page


def test_it_lets_the_websocket_in_for_the_guests_board_only(
    facilitator, workshop, board, other_workshop
):
    _, guest = join(facilitator, workshop)
    assert access.board_membership(guest.user, board.pk) == guest
    assert access.board_membership(guest.user, other_workshop.test_board.pk) is None
    assert access.board_membership(facilitator.user, other_workshop.test_board.pk) == facilitator


# Removing a guest --------------------------------------------------------------------------------


def test_it_lists_the_guests_on_the_workshop_page(as_facilitator, facilitator, workshop):
    _, guest = join(facilitator, workshop)
    page = as_facilitator.get(reverse("workshop-detail", args=[workshop.pk])).content.decode()
    row = page.split(f'id="guest-{guest.pk}"', 1)[1].split("</li>", 1)[0]
    assert "Léa, Geneva boutique" in row and "Boutique &amp; retail" in row
    assert reverse("guest-revoke", args=[workshop.pk, guest.pk]) in row


def test_it_answers_403_to_a_removed_guest(facilitator, workshop, board):
    phone, guest = join(facilitator, workshop)
    r = client_for(facilitator).post(reverse("guest-revoke", args=[workshop.pk, guest.pk]))
    assert r.status_code == 302
    guest.refresh_from_db()
    assert guest.revoked_at is not None
    for url in (
        reverse("board", args=[board.pk]),
        reverse("workshop-detail", args=[workshop.pk]),
        reverse("home"),
    ):
        assert phone.get(url).status_code == 403, url
    r = post_note(phone, board)
    assert r.status_code == 403
    assert "withdrawn" in r.content.decode()
    r = post_note(phone, board, HTTP_HX_REQUEST="true")
    assert r.status_code == 403
    assert not Note.objects.filter(author=guest).exists()
    assert access.board_membership(guest.user, board.pk) is None
    page = (
        client_for(facilitator).get(reverse("workshop-detail", args=[workshop.pk])).content.decode()
    )
    assert "Removed" in page.split(f'id="guest-{guest.pk}"', 1)[1].split("</li>", 1)[0]


def test_it_does_not_let_a_removed_guest_join_again_from_the_same_browser(facilitator, workshop):
    phone, guest = join(facilitator, workshop)
    services.revoke_guest(actor=facilitator, membership=guest)
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    phone.get(reverse("join-link", args=[token]))
    r = phone.post(reverse("join"), JOINED)
    assert r.status_code == 403
    assert workshop.guests.count() == 1


def test_it_removes_guests_only(facilitator, participant):
    with pytest.raises(ValidationError):
        services.revoke_guest(actor=facilitator, membership=participant)


@pytest.mark.parametrize("who,status", [("participant", 403), ("manager", 403), ("outsider", 404)])
def test_it_lets_only_the_facilitators_remove_a_guest(request, facilitator, workshop, who, status):
    _, guest = join(facilitator, workshop)
    client = client_for(request.getfixturevalue(who))
    assert client.post(reverse("guest-revoke", args=[workshop.pk, guest.pk])).status_code == status
    assert Client().post(reverse("guest-revoke", args=[workshop.pk, guest.pk])).status_code == 302
    guest.refresh_from_db()
    assert guest.revoked_at is None
    with pytest.raises(PermissionDenied):
        services.revoke_guest(actor=request.getfixturevalue(who), membership=guest)


def test_it_does_not_let_a_guest_remove_another(facilitator, workshop):
    first, guest = join(facilitator, workshop)
    _, other = join(facilitator, workshop, display_name="Marco")
    assert first.post(reverse("guest-revoke", args=[workshop.pk, other.pk])).status_code == 403
    with pytest.raises(PermissionDenied):
        services.revoke_guest(actor=guest, membership=other)


@pytest.mark.django_db(transaction=True)
def test_it_closes_a_removed_guests_websocket_with_4403(facilitator, workshop, board):
    _, guest = join(facilitator, workshop)
    comm = communicator(board.pk, guest, since=board.last_seq)
    again = communicator(board.pk, guest, since=0)

    async def run():
        connected, _ = await comm.connect()
        assert connected
        await comm.receive_from(timeout=3)  # the guest's private panel, then presence
        await database_sync_to_async(services.revoke_guest)(actor=facilitator, membership=guest)
        while True:
            message = await comm.receive_output(timeout=3)
            if message["type"] == "websocket.close":
                break
        assert message == {"type": "websocket.close", "code": 4403}
        connected, _ = await again.connect()
        assert connected
        assert await again.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}

    async_to_sync(run)()


# Display names -----------------------------------------------------------------------------------

BIDI_AND_INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u200b\u200d\ufeff\x00\x1b\x7f"


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("  Léa   Martin ", "Léa Martin"),
        ("Léa\nGeneva\tboutique", "Léa Geneva boutique"),
        ("\u202eadmin\u202c", "admin"),
        ("Zoë\u2066 \u2069K", "Zoë K"),
        ("Jose\u0301", "José"),  # combined into one character
        ("Ma\u00a0Ling", "Ma Ling"),
        ("a" + "\u0301" * 30, "á" + "\u0301" * 3),  # stacked marks capped
    ],
)
def test_it_cleans_display_names(raw, clean):
    assert invitations.clean_display_name(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", BIDI_AND_INVISIBLE, "\n\t\r"])
def test_it_refuses_names_that_clean_to_nothing(raw):
    with pytest.raises(ValidationError) as exc:
        invitations.clean_display_name(raw)
    assert "Type the name the others will see" in exc.value.message_dict["display_name"][0]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=120))
def test_it_never_lets_a_control_or_format_character_through(raw):
    try:
        name = invitations.clean_display_name(raw)
    except ValidationError:
        return
    assert 1 <= len(name) <= invitations.DISPLAY_NAME_MAX
    assert name == name.strip() and "  " not in name
    assert not any(
        unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} for c in name
    )
    assert not any(c.isspace() and c != " " for c in name)
    assert invitations.clean_display_name(name) == name  # cleaning twice changes nothing


@given(
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30),
    st.sampled_from(BIDI_AND_INVISIBLE),
)
def test_it_reads_the_same_with_or_without_bidi_and_invisible_marks(raw, mark):
    try:
        expected = invitations.clean_display_name(raw)
    except ValidationError:
        return
    assert invitations.clean_display_name(mark + raw + mark) == expected


def test_it_counts_the_guests_who_still_have_access(facilitator, workshop):
    join(facilitator, workshop, display_name="Inès")
    _, gone = join(facilitator, workshop, display_name="Marco")
    page = client_for(facilitator).get(reverse("workshop-detail", args=[workshop.pk])).content.decode()
    assert '<span class="count" title="with access now">2</span></h2>' in page
    services.revoke_guest(actor=facilitator, membership=gone)
    page = client_for(facilitator).get(reverse("workshop-detail", args=[workshop.pk])).content.decode()
    assert '<span class="count" title="with access now">1</span> <span class="muted small">· 1 removed</span>' in page
