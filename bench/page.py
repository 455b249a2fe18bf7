"""The board page measured server-side, inside a server's environment:

    manage.py shell -c "from bench import page; page.main({...})"

For each board: GET /boards/<id>/ through Django's test client (the whole middleware stack, no
network): `warmup` times unmeasured, then one GET timed after emptying the process's kept note
fragments (as after a restart: every note is rendered), then `repeat` timed GETs (median
reported), then one GET under CaptureQueriesContext for the SQL query count. Prints
`BENCH-JSON <json>`.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any


def main(spec: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from boards import render

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=spec["username"]))
    results = {}
    for key, board_id in spec["boards"].items():
        path = f"/boards/{board_id}/"
        for _ in range(spec.get("warmup", 2)):
            client.get(path)
        render._fragments.clear()
        t0 = time.perf_counter()
        client.get(path)
        first = time.perf_counter() - t0
        times = []
        size = 0
        for _ in range(spec.get("repeat", 7)):
            t0 = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
            size = len(response.content)
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        results[key] = {
            "median_ms": statistics.median(times) * 1000,
            "first_ms": first * 1000,
            "min_ms": min(times) * 1000,
            "queries": len(queries.captured_queries),
            "bytes": size,
        }
    print("BENCH-JSON " + json.dumps(results))
