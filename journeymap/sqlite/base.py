"""Django's SQLite backend, with one writing transaction at a time per process, queued in Python.

SQLite lets one transaction write at a time. With `BEGIN IMMEDIATE` a second writer waits for the
lock in SQLite's busy handler, which sleeps and polls (1, 2, 5, 10 … 100 ms between tries): under
a burst of writes the lock is free most of the time while the writers sleep, every write waits
longer than the one before, and a busy board falls behind for good. Here the writers of this
process queue on a lock of their own and start the moment the previous transaction ends. SQLite's
busy timeout still covers writers of other processes (a management command).
"""

from __future__ import annotations

import threading

from django.db.backends.sqlite3 import base

_writer = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writer = False

    def _start_transaction_under_autocommit(self) -> None:
        timeout = self.settings_dict["OPTIONS"].get("timeout", 5)
        if not _writer.acquire(timeout=timeout):
            raise self.Database.OperationalError("database is locked (waited for this process's writers)")
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            _writer.release()
            raise
        self._holds_writer = True

    def _release_writer(self) -> None:
        if self._holds_writer:
            self._holds_writer = False
            _writer.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()
