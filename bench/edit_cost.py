"""`python -m bench.edit_cost`: what one note edit costs the server, in process, with no clients.

A fresh database gets the demo board (SQLite in a temporary folder; PostgreSQL with --pg-url, and
Redis with --redis-url, as in scale-out). The demo facilitator signs in, and Django's test client
posts note edits as the board's edit dialog does (an htmx POST with the note's version and a
request id; the test client does not check CSRF), from a thread beside a running event loop, as the
server runs a request's view (the publish to Redis then goes through that loop). It prints how
many SQL statements one edit makes (with --sql, the statements themselves) and the median time of
an edit. With --callgrind it also counts the instructions of an edit with valgrind's callgrind:
unlike time, the count repeats run after run, whatever else the machine is doing, so two versions
of the code compare on any machine (`valgrind` must be installed; it runs the edits about 50
times slower).

    .venv/bin/python -m bench.edit_cost --callgrind
    .venv/bin/python -m bench.edit_cost --callgrind --pg-url postgres://postgres@127.0.0.1:5432/postgres \\
        --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from bench.servers import drop_database, fresh_database
from tests.live_server import BASE_DIR, base_environment

DATABASE = "journeymap_edit_cost"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=None, help="timed edits (default 200; 20 with --callgrind)")
    parser.add_argument("--warm-up", type=int, default=20, help="edits before measuring (default 20)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per edit with valgrind")
    parser.add_argument("--sql", action="store_true", help="print the SQL statements of one edit")
    parser.add_argument("--callgrind-out", default="", help="with --callgrind: keep callgrind's output here")
    parser.add_argument("--pg-url", default="", help="PostgreSQL server (a fresh database is made and dropped)")
    parser.add_argument("--redis-url", default="", help="Redis, with --pg-url")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args)
        return
    if args.callgrind and shutil.which("valgrind") is None:
        sys.exit("--callgrind needs valgrind (apt-get install valgrind)")
    edits = args.edits or (20 if args.callgrind else 200)
    with tempfile.TemporaryDirectory(prefix="jm-edit-cost-") as tmp:
        env = {**base_environment(), "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(40),
               "SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", "ALLOWED_HOSTS": "testserver"}
        if args.pg_url:
            env["DATABASE_URL"] = fresh_database(args.pg_url, DATABASE)
            if args.redis_url:
                env["REDIS_URL"] = args.redis_url
        else:
            env["SQLITE_PATH"] = str(Path(tmp) / "edit-cost.sqlite3")
        command = [sys.executable, "-m", "bench.edit_cost", "--child", "--edits", str(edits),
                   "--warm-up", str(args.warm_up), *(["--sql"] if args.sql else [])]
        out = Path(args.callgrind_out or Path(tmp) / "callgrind.out")
        if args.callgrind:
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                       *command, "--callgrind"]
        try:
            subprocess.run(command, cwd=BASE_DIR, env=env, check=True,
                           stderr=subprocess.DEVNULL if args.callgrind else None)
        finally:
            if args.pg_url:
                drop_database(args.pg_url, DATABASE)
        if args.callgrind:
            totals = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
            print(f"instructions per edit: {int(totals.group(1)) / edits / 1e6:.2f} M (callgrind, {edits} edits)")


def measure(args: argparse.Namespace) -> None:
    """In the child: set up the demo, edit, print."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeymap.settings")
    import django
    from asgiref.sync import sync_to_async

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from boards.models import Note
    from workshops import demo
    from workshops.models import Membership, Role

    call_command("migrate", verbosity=0)
    call_command("load_demo", force=True, verbosity=0, stdout=io.StringIO())  # a throwaway database
    note = (  # the first note on the demo's live board
        Note.objects.select_related("scenario__workshop").filter(scenario__title=demo.SCENARIO_TITLE).order_by("pk").first()
    )
    facilitator = Membership.objects.select_related("user").filter(
        team_id=note.scenario.workshop.team_id, role=Role.FACILITATOR).first()
    client = Client()
    client.force_login(facilitator.user)
    url = f"/notes/{note.pk}/edit/"
    version = note.version

    def edit(i: int) -> None:
        nonlocal version
        # Form-encoded, as htmx posts (the test client would send multipart/form-data).
        body = urlencode({"text": f"Waited for the advisor, take {i}", "kind": note.kind, "version": version,
                          "request_id": str(uuid.uuid4())})
        r = client.post(url, body, content_type="application/x-www-form-urlencoded", HTTP_HX_REQUEST="true")
        assert r.status_code == 204, r.status_code
        version += 1

    def run() -> tuple[list[str], list[float]]:
        for i in range(args.warm_up):
            edit(i)
        with CaptureQueriesContext(connection) as queries:
            edit(-1)
        statements = [q["sql"] for q in queries]  # now: the next request empties the log
        times = []
        if args.callgrind:
            subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
        for i in range(args.edits):
            started = time.perf_counter()
            edit(i)
            times.append(time.perf_counter() - started)
        if args.callgrind:
            subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
        return statements, times

    async def in_a_request_thread() -> tuple[list[str], list[float]]:
        # As under the server: the view runs in a thread beside a running event loop, so the
        # channel layer's publish (with Redis) goes through that loop, not a loop of its own.
        return await sync_to_async(run, thread_sensitive=True)()

    vendor = connection.vendor
    connection.close()  # the request thread opens its own
    statements, times = asyncio.run(in_a_request_thread())
    print(f"database: {vendor}; SQL statements per edit: {len(statements)}")
    if args.sql:
        print("\n".join(f"  {i}. {sql}" for i, sql in enumerate(statements, 1)))
    print(f"time per edit: {statistics.median(times) * 1000:.2f} ms (median of {args.edits}"
          f"{', under valgrind' if args.callgrind else ''})")


if __name__ == "__main__":
    main()
