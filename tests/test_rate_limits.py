"""HTTP rate limits: sign-in per address and per username, joining per address, notes per
person. Past a limit the answer is 429 with a clear message (a toast for htmx).

Each test sets low limits over an hour (so no window ends during a test) and starts from an
empty cache."""

from __future__ import annotations

import html

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from boards.models import Note
from journeymap import ratelimits
from tests.conftest import PASSWORD, client_for
from workshops import services
from workshops.models import Membership

LOW = {
    "login_ip": "3/h",
    "login_username": "2/h",
    "join_ip": "2/h",
    "join_link_ip": "3/h",
    "note_user": "2/h",
}


@pytest.fixture(autouse=True)
def limits(settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATE_LIMITS = LOW
    cache.clear()
    yield
    cache.clear()


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def sign_in(client: Client, username: str, password: str = "wrong-password"):
    return client.post(reverse("login"), {"username": username, "password": password})


def text(response) -> str:
    return html.unescape(response.content.decode())


# Signing in ----------------------------------------------------------------------------------------


def test_it_limits_sign_in_attempts_per_username(participant):
    for address in ("10.0.0.1", "10.0.0.2"):
        assert (
            sign_in(from_address(address), "sam").status_code == 200
        )  # the form again, with its error
    client = from_address("10.0.0.3")
    r = sign_in(client, "SAM ", PASSWORD)  # even the right password, in another spelling
    assert r.status_code == 429
    assert "Too many sign-in attempts. Wait a minute, then try again." in text(r)
    assert r["Retry-After"] == "60"
    assert 'value="SAM' in r.content.decode()  # what they typed stays
    assert "_auth_user_id" not in client.session


def test_it_limits_sign_in_attempts_per_address(participant, other_participant):
    client = from_address("10.0.0.9")
    for username in ("a", "b", "c"):
        assert sign_in(client, username).status_code == 200
    r = sign_in(client, "lea", PASSWORD)
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session
    ok = sign_in(from_address("10.0.0.10"), "lea", PASSWORD)
    assert ok.status_code == 302 and ok["Location"] == reverse("home")


def test_it_leaves_the_sign_in_page_itself_unlimited(db):
    client = from_address("10.0.0.11")
    for _ in range(5):
        assert client.get(reverse("login")).status_code == 200


def test_it_turns_every_limit_off_with_ratelimit_enable(settings, participant):
    settings.RATELIMIT_ENABLE = False
    for _ in range(5):
        assert sign_in(from_address("10.0.0.12"), "sam").status_code == 200


# Joining -------------------------------------------------------------------------------------------


def test_it_limits_joining_per_address(facilitator, workshop):
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    for n in range(2):
        phone = from_address("10.1.0.1")
        phone.get(reverse("join-link", args=[token]))
        assert (
            phone.post(
                reverse("join"), {"display_name": f"Guest {n}", "business_function": "boutique"}
            ).status_code
            == 302
        )
    phone = from_address("10.1.0.1")
    phone.get(reverse("join-link", args=[token]))
    r = phone.post(reverse("join"), {"display_name": "Third", "business_function": "boutique"})
    assert r.status_code == 429
    assert "Too many attempts to join from this network" in text(r)
    assert 'value="Third"' in r.content.decode()
    assert r["Retry-After"] == "60"
    assert workshop.guests.count() == 2
    other = from_address("10.1.0.2")
    other.get(reverse("join-link", args=[token]))
    assert (
        other.post(
            reverse("join"), {"display_name": "Fourth", "business_function": "boutique"}
        ).status_code
        == 302
    )


def test_it_limits_opening_invitation_links_per_address(facilitator, workshop):
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    phone = from_address("10.1.0.3")
    for _ in range(3):
        assert phone.get(reverse("join-link", args=[token])).status_code == 302
    r = phone.get(reverse("join-link", args=["x" * 43]))
    assert r.status_code == 429
    assert r["Referrer-Policy"] == "no-referrer"


# Posting notes ---------------------------------------------------------------------------------------


def post_note(client: Client, board, text: str, url_name: str = "note-create", **headers):
    phase = board.phases.order_by("order").first()
    return client.post(
        reverse(url_name, args=[board.pk]),
        {"phase": phase.pk, "kind": "observation", "text": text},
        **headers,
    )


def test_it_limits_notes_per_person_with_a_toast_for_htmx(participant, other_participant, board):
    client = client_for(participant)
    assert post_note(client, board, "One", HTTP_HX_REQUEST="true").status_code == 200
    assert (
        post_note(client, board, "Two", url_name="note-add", HTTP_HX_REQUEST="true").status_code
        == 204
    )
    r = post_note(client, board, "Three", HTTP_HX_REQUEST="true")
    assert r.status_code == 429
    assert r["HX-Retarget"] == "#toast" and r["HX-Reswap"] == "innerHTML"
    assert "adding notes very fast" in text(r) and "nothing was lost" in text(r)
    assert list(
        Note.objects.filter(author=participant).values_list("text", flat=True).order_by("pk")
    ) == ["One", "Two"]
    assert (
        post_note(
            client_for(other_participant), board, "Someone else's", HTTP_HX_REQUEST="true"
        ).status_code
        == 200
    )


def test_it_limits_notes_per_person_with_a_page_without_htmx(participant, board):
    client = client_for(participant)
    for n in range(2):
        assert post_note(client, board, f"Note {n}").status_code == 302
    r = post_note(client, board, "One too many")
    assert r.status_code == 429
    assert "Please slow down" in text(r) and "adding notes very fast" in text(r)
    assert Note.objects.filter(author=participant).count() == 2


def test_it_counts_a_guests_notes_too(facilitator, workshop, board):
    _, token = services.create_invitation(actor=facilitator, workshop=workshop)
    phone = from_address("10.2.0.1")
    phone.get(reverse("join-link", args=[token]))
    phone.post(reverse("join"), {"display_name": "Léa", "business_function": "boutique"})
    guest = Membership.objects.get(workshop=workshop)
    for n in range(2):
        assert post_note(phone, board, f"Seen {n}", HTTP_HX_REQUEST="true").status_code == 200
    assert post_note(phone, board, "Seen again", HTTP_HX_REQUEST="true").status_code == 429
    assert Note.objects.filter(author=guest).count() == 2


# Behind a reverse proxy --------------------------------------------------------------------------


def test_it_reads_the_address_the_proxy_added():
    factory = RequestFactory()
    request = factory.get(
        "/", REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7"
    )
    assert ratelimits.forwarded_ip(request) == "198.51.100.7"
    forged = factory.get("/", REMOTE_ADDR="172.16.0.2", HTTP_X_FORWARDED_FOR="not an address")
    assert ratelimits.forwarded_ip(forged) == "172.16.0.2"
    assert ratelimits.forwarded_ip(factory.get("/", REMOTE_ADDR="172.16.0.2")) == "172.16.0.2"


def test_it_counts_clients_behind_one_proxy_apart(settings, participant):
    settings.RATELIMIT_IP_META_KEY = "journeymap.ratelimits.forwarded_ip"
    proxy = "172.16.0.2"
    for n in range(3):
        client = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert sign_in(client, f"user{n}").status_code == 200
    same = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.50")
    for username in ("d", "e", "f"):
        assert sign_in(same, username).status_code == 200
    assert sign_in(same, "g").status_code == 429
