"""Sign-in and the signed-in user, with the user read by one statement built once per process.

Every request and every websocket reads its signed-in user. Django's `ModelBackend.get_user`
compiles that read's SQL on every request (`_default_manager.get(pk=…)`), which costs about five
times what running it costs (journeymap.joined). `Backend` signs in as `ModelBackend` does, and
reads the user with a `JoinedRead`.

`ModelBackend` stays listed after it in `AUTHENTICATION_BACKENDS` only for the sessions signed
in before `Backend` was: a session names the backend that signed it in, and Django answers a
session whose backend is no longer listed as signed out. `Backend` never lets `ModelBackend`
check a password again: a sign-in it refuses stops there (Django's documented `PermissionDenied`).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError

from journeymap.joined import JoinedRead

User = get_user_model()
_USER = JoinedRead(User, "u", (), "{u}.id = %s")


class Backend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            raise PermissionDenied  # refused: no later backend checks the password again
        return user

    def get_user(self, user_id):
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        found = _USER.read([pk])
        user = found["u"] if found else None
        return user if user is not None and self.user_can_authenticate(user) else None
