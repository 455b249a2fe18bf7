"""The server log: an expected refusal is one line, not a traceback."""

from __future__ import annotations

import logging

from django.urls import reverse


def test_it_logs_a_refused_request_in_one_line_without_a_traceback(board, as_participant, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = as_participant.post(reverse("session-stage", args=[board.pk]), {"stage": "voting"})
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == f"Forbidden (Permission denied): /boards/{board.pk}/session/stage/"
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_it_keeps_the_traceback_of_a_server_error(caplog):
    from journeymap.logging import ForbiddenWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /",
                                   None, sys.exc_info())
    record.status_code = 500
    assert ForbiddenWithoutTraceback().filter(record) and record.exc_info is not None
