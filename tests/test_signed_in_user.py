"""The signed-in user and the session, each read by one statement built once per process
(journeymap/auth.py, journeymap/sessions.py), as Django's ModelBackend and database sessions
read them."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, authenticate, get_user_model, login
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.models import Session
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from journeymap import sessions
from journeymap.auth import Backend
from tests.conftest import PASSWORD

User = get_user_model()


def values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_it_reads_the_user_as_the_orm_does(facilitator, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = Backend().get_user(str(facilitator.user.pk))  # a session keeps the id as a string
    orm = User.objects.get(pk=facilitator.user.pk)
    assert type(user) is User and values(user) == values(orm)
    assert timezone.is_aware(user.date_joined) and user.is_active is True
    assert not user._state.adding and user._state.db == "default"


def test_it_reads_no_user_for_an_unknown_a_malformed_or_an_inactive_id(facilitator, django_assert_num_queries):
    backend = Backend()
    with django_assert_num_queries(1):
        assert backend.get_user("999999") is None
    with django_assert_num_queries(0):
        assert backend.get_user("not-a-number") is None
    User.objects.filter(pk=facilitator.user.pk).update(is_active=False)
    assert backend.get_user(str(facilitator.user.pk)) is None


def test_it_signs_in_through_the_form_with_the_journeymap_backend(facilitator, workshop):
    client = Client()
    response = client.post(reverse("login"), {"username": "fiona", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "journeymap.auth.Backend"
    page = client.get(reverse("workshop-detail", args=[workshop.pk]))
    assert page.status_code == 200 and page.context["user"] == facilitator.user


def test_it_checks_a_wrong_password_once(facilitator, django_assert_num_queries):
    failures = []

    def record(sender, credentials, **kwargs):
        failures.append(credentials["username"])

    user_login_failed.connect(record)
    try:
        # One read of the user by name: ModelBackend, listed after, is not asked again.
        with django_assert_num_queries(1):
            assert authenticate(username="fiona", password="not the password") is None
    finally:
        user_login_failed.disconnect(record)
    assert failures == ["fiona"]
    assert authenticate(username="fiona", password=PASSWORD) == facilitator.user


def test_it_keeps_a_session_signed_in_by_django_model_backend(facilitator, workshop):
    """Sessions made before journeymap.auth.Backend name ModelBackend: they stay signed in."""
    client = Client()
    client.force_login(facilitator.user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("workshop-detail", args=[workshop.pk]))
    assert response.status_code == 200 and response.context["user"] == facilitator.user


def test_it_signs_out_a_session_whose_password_changed(facilitator, workshop):
    client = Client()
    client.force_login(facilitator.user)
    facilitator.user.set_password("a new password for fiona")
    facilitator.user.save()
    response = client.get(reverse("workshop-detail", args=[workshop.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def signed_in_session(user) -> sessions.SessionStore:
    request = HttpRequest()
    request.session = sessions.SessionStore()
    login(request, user, backend="journeymap.auth.Backend")
    request.session.save()
    return request.session


def test_it_reads_a_database_session_in_one_statement(facilitator, django_assert_num_queries):
    saved = signed_in_session(facilitator.user)
    store = sessions.SessionStore(saved.session_key)
    with django_assert_num_queries(1):
        data = store.load()
    assert data == sessions.SessionStore(saved.session_key).decode(
        Session.objects.get(session_key=saved.session_key).session_data
    )
    assert data[BACKEND_SESSION_KEY] == "journeymap.auth.Backend"
    assert store.session_key == saved.session_key


def test_it_reads_no_session_once_expired_or_unknown(facilitator):
    saved = signed_in_session(facilitator.user)
    assert sessions.SessionStore(saved.session_key).load() != {}
    Session.objects.filter(pk=saved.session_key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    expired = sessions.SessionStore(saved.session_key)
    assert expired.load() == {} and expired.session_key is None
    unknown = sessions.SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None


@pytest.fixture
def database_sessions(settings):
    settings.SESSION_ENGINE = "journeymap.sessions"


def test_it_serves_requests_from_database_sessions(database_sessions, facilitator, outsider, workshop):
    client = Client()
    assert client.post(reverse("login"), {"username": "fiona", "password": PASSWORD}).status_code == 302
    assert Session.objects.filter(pk=client.cookies["sessionid"].value).exists()
    assert client.get(reverse("workshop-detail", args=[workshop.pk])).context["user"] == facilitator.user
    client.post(reverse("logout"))
    assert client.get(reverse("workshop-detail", args=[workshop.pk])).status_code == 302
    stranger = Client()
    stranger.force_login(outsider.user)
    assert stranger.get(reverse("workshop-detail", args=[workshop.pk])).status_code == 404
