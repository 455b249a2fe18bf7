"""The session engine of the scale-out set-up: Django's database sessions, each read by one
statement built once per process (journeymap.joined) rather than a query compiled on every
request. Everything else, writing included, is Django's `db` engine.

The embedded set-up reads sessions from the process's cache (`cached_db`) and does not use it.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from journeymap.joined import JoinedRead

_SESSION = JoinedRead(Session, "s", (), "{s}.session_key = %s AND {s}.expire_date > %s")


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        found = _SESSION.read([self.session_key, now])
        if found is None:
            self._session_key = None
            return None
        return found["s"]
