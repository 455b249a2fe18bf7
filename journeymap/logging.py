"""Logging filters."""

from __future__ import annotations

import logging


class ForbiddenWithoutTraceback(logging.Filter):
    """A 403 is the app refusing on purpose (someone from another team, a guest whose seat was
    removed, a participant trying a facilitator's control): Django's one line ("Forbidden
    (Permission denied): /boards/3/") says so. Its traceback would read like a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
