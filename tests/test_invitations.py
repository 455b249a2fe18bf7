"""Invitation links: random tokens stored only as hashes (and a seed the server's key turns back
into the token), scoped to one workshop, expiring; facilitators make, show again, replace and
withdraw them, with their QR code."""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for
from workshops import invitations, services
from workshops.models import Invitation, Workshop

LINK = re.compile(r"https?://[^\"'<>\s]+/join/([A-Za-z0-9_-]{43})/")


def make(facilitator, workshop, hours: int = 24) -> tuple[Invitation, str]:
    return services.create_invitation(actor=facilitator, workshop=workshop, hours=hours)


def link_in(page: str) -> str:
    match = LINK.search(page)
    assert match, "no join link on the page"
    return match.group(1)


def everything_in_the_database() -> str:
    """Every value of every row of every table, as one string."""
    values: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            values.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(values)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Joining counts against a per-address limit: start every test from an empty count."""
    cache.clear()
    yield
    cache.clear()


# Tokens ------------------------------------------------------------------------------------------


def test_it_makes_tokens_of_256_random_bits(facilitator, workshop):
    tokens = {make(facilitator, workshop)[1] for _ in range(20)}
    assert len(tokens) == 20
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
        assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 bits, at least 128 required


def test_it_stores_only_the_hash_of_the_token(facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    invitation.refresh_from_db()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in everything_in_the_database()


def test_it_needs_the_servers_key_to_make_a_token_from_its_seed(facilitator, workshop, settings):
    invitation, token = make(facilitator, workshop)
    invitation.refresh_from_db()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", invitation.token_seed) and invitation.token_seed != token
    assert invitations.shown_token(invitation) == token
    settings.SECRET_KEY = "another key, as in a copy of the database on another server"
    assert invitations.shown_token(invitation) is None
    assert invitations.find(token).usable  # the link itself still works


def test_it_scopes_a_token_to_its_workshop(facilitator, workshop, team):
    other = Workshop.objects.create(
        team=team, title="Repairs and after-sales", date=datetime.date(2026, 12, 4)
    )
    _, token = make(facilitator, other)
    found = invitations.find(token)
    assert found.usable and found.invitation.workshop == other
    assert found.invitation.workshop != workshop


@pytest.mark.parametrize("token", ["", "short", "x" * 43 + "/", "é" * 43, "A" * 43])
def test_it_finds_nothing_for_a_malformed_or_unknown_token(db, token):
    assert invitations.find(token) == invitations.UNKNOWN


def test_it_lets_the_facilitator_choose_the_expiry(facilitator, workshop):
    before = timezone.now()
    invitation, _ = make(facilitator, workshop, hours=4)
    assert (
        before + datetime.timedelta(hours=4)
        <= invitation.expires_at
        <= timezone.now() + datetime.timedelta(hours=4)
    )
    default, _ = services.create_invitation(actor=facilitator, workshop=workshop)
    assert default.expires_at - default.created == datetime.timedelta(hours=24)


@pytest.mark.parametrize("hours", [0, -1, 7 * 24 + 1])
def test_it_refuses_an_expiry_out_of_bounds(facilitator, workshop, hours):
    with pytest.raises(ValidationError):
        make(facilitator, workshop, hours=hours)


# Expiry, revocation, rotation ----------------------------------------------------------------------


def test_it_refuses_an_expired_link_with_410(facilitator, workshop):
    invitation, token = make(facilitator, workshop, hours=1)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    r = Client().get(reverse("join-link", args=[token]))
    assert r.status_code == 410
    assert "This invitation has expired" in r.content.decode()
    assert "Ask the facilitator for a new one" in r.content.decode()
    assert r["Referrer-Policy"] == "no-referrer"


def test_it_refuses_a_revoked_link_with_410(facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    r = client_for(facilitator).post(reverse("invitation-revoke", args=[invitation.pk]))
    assert r.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    r = Client().get(reverse("join-link", args=[token]))
    assert r.status_code == 410
    assert "This invitation was withdrawn" in r.content.decode()


def test_it_rotates_a_link_so_the_old_one_dies(facilitator, workshop):
    invitation, old = make(facilitator, workshop)
    r = client_for(facilitator).post(reverse("invitation-rotate", args=[invitation.pk]))
    assert r.status_code == 200
    new = link_in(r.content.decode())
    assert new != old
    invitation.refresh_from_db()
    assert invitation.token_hash == invitations.hash_token(new)
    gone = Client().get(reverse("join-link", args=[old]))
    assert gone.status_code == 404
    assert "This invitation link doesn't work" in html.unescape(gone.content.decode())
    assert Client().get(reverse("join-link", args=[new])).status_code == 302
    assert new not in everything_in_the_database()


def test_it_keeps_the_expiry_when_it_rotates(facilitator, workshop):
    invitation, _ = make(facilitator, workshop, hours=4)
    rotated, _ = services.rotate_invitation(actor=facilitator, invitation=invitation)
    assert rotated.expires_at == invitation.expires_at


def test_it_does_not_rotate_a_withdrawn_or_expired_link(facilitator, workshop):
    withdrawn, _ = make(facilitator, workshop)
    services.revoke_invitation(actor=facilitator, invitation=withdrawn)
    with pytest.raises(ValidationError):
        services.rotate_invitation(actor=facilitator, invitation=withdrawn)
    expired, _ = make(facilitator, workshop)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    r = client_for(facilitator).post(reverse("invitation-rotate", args=[expired.pk]), follow=True)
    assert "This link has expired: create a new invitation instead." in r.content.decode()


def test_it_kills_a_pending_join_when_the_link_is_rotated(facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    phone = Client()
    assert phone.get(reverse("join-link", args=[token])).status_code == 302
    services.rotate_invitation(actor=facilitator, invitation=invitation)
    r = phone.post(reverse("join"), {"display_name": "Léa", "business_function": "boutique"})
    assert r.status_code == 404
    assert workshop.guests.count() == 0


def test_it_kills_a_pending_join_when_the_link_is_withdrawn(facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    phone = Client()
    phone.get(reverse("join-link", args=[token]))
    services.revoke_invitation(actor=facilitator, invitation=invitation)
    r = phone.post(reverse("join"), {"display_name": "Léa", "business_function": "boutique"})
    assert r.status_code == 410
    assert "withdrawn" in r.content.decode()
    assert workshop.guests.count() == 0


def close(facilitator, workshop) -> None:
    services.update_workshop(actor=facilitator, workshop=workshop, title=workshop.title, date=workshop.date,
                             status="closed", follows_up=None)


def test_it_lets_no_one_in_through_a_closed_workshops_link(as_facilitator, facilitator, workshop):
    _, token = make(facilitator, workshop)
    phone = Client()
    assert phone.get(reverse("join-link", args=[token])).status_code == 302  # on the join page
    close(facilitator, workshop)
    r = phone.post(reverse("join"), {"display_name": "Léa", "business_function": "boutique"})
    assert r.status_code == 410
    assert "This workshop is closed" in r.content.decode()
    assert workshop.guests.count() == 0
    r = Client().get(reverse("join-link", args=[token]))
    assert r.status_code == 410
    assert "no longer lets anyone in" in r.content.decode()
    assert "No link is open." in as_facilitator.get(reverse("workshop-detail", args=[workshop.pk])).content.decode()


# The facilitator's page ----------------------------------------------------------------------------


def test_it_shows_a_new_link_with_its_qr_code(as_facilitator, workshop):
    url = reverse("invitation-list", args=[workshop.pk])
    r = as_facilitator.post(url, {"hours": "24"})
    assert r.status_code == 200
    page = r.content.decode()
    token = link_in(page)
    assert Invitation.objects.get().token_hash == invitations.hash_token(token)
    qr = page.split('id="invite-qr"', 1)[1].split("</div>", 1)[0]
    assert "<svg" in qr and "<path" in qr
    assert "style=" not in qr  # CSP: no style attributes
    assert "no-store" in r["Cache-Control"]
    again = as_facilitator.get(url).content.decode()
    assert token not in again and 'id="invite-qr"' not in again
    assert 'id="invitation-' in again


def test_it_shows_an_open_link_again_with_its_qr_code(as_facilitator, facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    listing = as_facilitator.get(reverse("invitation-list", args=[workshop.pk])).content.decode()
    show = reverse("invitation-show", args=[invitation.pk])
    assert f'href="{show}#invite-fresh"' in listing
    r = as_facilitator.get(show)
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    page = r.content.decode()
    assert link_in(page) == token
    assert "<svg" in page.split('id="invite-qr"', 1)[1].split("</div>", 1)[0]
    assert 'aria-current="true"' in page.split(f'id="invitation-{invitation.pk}"', 1)[1].split("</li>", 1)[0]
    # Replaced: the new token shows, the old one nowhere.
    services.rotate_invitation(actor=facilitator, invitation=invitation)
    page = as_facilitator.get(show).content.decode()
    assert link_in(page) != token and token not in page


def test_it_does_not_show_a_closed_link_again(as_facilitator, facilitator, workshop):
    withdrawn, token = make(facilitator, workshop)
    services.revoke_invitation(actor=facilitator, invitation=withdrawn)
    expired, other = make(facilitator, workshop)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    for invitation, t in ((withdrawn, token), (expired, other)):
        r = as_facilitator.get(reverse("invitation-show", args=[invitation.pk]), follow=True)
        page = r.content.decode()
        assert r.redirect_chain == [(reverse("invitation-list", args=[workshop.pk]), 302)]
        assert "This link no longer works" in page and t not in page
        assert f'href="{reverse("invitation-show", args=[invitation.pk])}' not in page


def test_it_asks_to_replace_a_link_it_cannot_show_again(as_facilitator, facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    Invitation.objects.filter(pk=invitation.pk).update(token_seed="")  # made before seeds were kept
    listing = as_facilitator.get(reverse("invitation-list", args=[workshop.pk])).content.decode()
    assert f'href="{reverse("invitation-show", args=[invitation.pk])}' not in listing
    r = as_facilitator.get(reverse("invitation-show", args=[invitation.pk]), follow=True)
    assert "replace it to get a new one" in r.content.decode()
    assert invitations.find(token).usable


def test_it_lists_links_with_their_state(as_facilitator, facilitator, workshop):
    open_link, _ = make(facilitator, workshop)
    withdrawn, _ = make(facilitator, workshop)
    services.revoke_invitation(actor=facilitator, invitation=withdrawn)
    expired, _ = make(facilitator, workshop)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    page = as_facilitator.get(reverse("invitation-list", args=[workshop.pk])).content.decode()

    def row(inv: Invitation) -> str:
        return page.split(f'id="invitation-{inv.pk}"', 1)[1].split("</li>", 1)[0]

    assert "Open" in row(open_link) and "Replace link" in row(open_link)
    assert "Withdrawn" in row(withdrawn) and "Replace link" not in row(withdrawn)
    assert "Expired" in row(expired) and "Withdraw" not in row(expired)


def test_it_shows_the_expiry_choices_and_refuses_others(as_facilitator, workshop):
    url = reverse("invitation-list", args=[workshop.pk])
    page = as_facilitator.get(url).content.decode()
    assert '<option value="24" selected>24 hours</option>' in page
    r = as_facilitator.post(url, {"hours": "5"})
    assert r.status_code == 422
    assert Invitation.objects.count() == 0


def test_it_links_the_workshop_page_to_the_invitations(as_facilitator, workshop, facilitator):
    make(facilitator, workshop)
    page = as_facilitator.get(reverse("workshop-detail", args=[workshop.pk])).content.decode()
    assert reverse("invitation-list", args=[workshop.pk]) in page
    assert "1 link open." in page


# Who may do it -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who,status", [("participant", 403), ("manager", 403), ("outsider", 404)])
def test_it_lets_only_the_facilitators_make_links(request, workshop, who, status):
    client = client_for(request.getfixturevalue(who))
    url = reverse("invitation-list", args=[workshop.pk])
    assert client.get(url).status_code == status
    assert client.post(url, {"hours": "24"}).status_code == status
    assert Invitation.objects.count() == 0


def test_it_sends_anonymous_visitors_to_sign_in(workshop):
    r = Client().post(reverse("invitation-list", args=[workshop.pk]), {"hours": "24"})
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert Invitation.objects.count() == 0


@pytest.mark.parametrize("who,status", [("participant", 403), ("manager", 403), ("outsider", 404)])
def test_it_lets_only_the_facilitators_revoke_or_rotate(
    request, facilitator, workshop, who, status
):
    invitation, token = make(facilitator, workshop)
    client = client_for(request.getfixturevalue(who))
    assert client.post(reverse("invitation-revoke", args=[invitation.pk])).status_code == status
    assert client.post(reverse("invitation-rotate", args=[invitation.pk])).status_code == status
    shown = client.get(reverse("invitation-show", args=[invitation.pk]))
    assert shown.status_code == status and token not in shown.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and invitation.token_hash == invitations.hash_token(token)
    anonymous = Client().post(reverse("invitation-revoke", args=[invitation.pk]))
    assert anonymous.status_code == 302


@pytest.mark.parametrize("who", ["participant", "manager", "outsider"])
def test_it_checks_the_facilitator_in_the_services_too(request, facilitator, workshop, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.create_invitation(actor=actor, workshop=workshop)
    invitation, _ = make(facilitator, workshop)
    with pytest.raises(PermissionDenied):
        services.revoke_invitation(actor=actor, invitation=invitation)
    with pytest.raises(PermissionDenied):
        services.rotate_invitation(actor=actor, invitation=invitation)


def test_it_refuses_the_invitation_pages_to_a_guest(facilitator, workshop):
    invitation, token = make(facilitator, workshop)
    phone = Client()
    phone.get(reverse("join-link", args=[token]))
    phone.post(reverse("join"), {"display_name": "Léa", "business_function": "boutique"})
    guest = workshop.guests.get()
    assert phone.get(reverse("invitation-list", args=[workshop.pk])).status_code == 403
    assert phone.post(reverse("invitation-rotate", args=[invitation.pk])).status_code == 403
    assert phone.get(reverse("invitation-show", args=[invitation.pk])).status_code == 403
    with pytest.raises(PermissionDenied):
        services.create_invitation(actor=guest, workshop=workshop)
