"""A signed-in HTTP client for a live server, standard library only: what a phone's browser does
when it posts a note, without a browser."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid


class Member:
    def __init__(self, base_url: str, username: str, password: str = "journeymap", timeout: float = 10) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        self.post("/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token})
        if "sessionid" not in self.cookies():
            raise RuntimeError(f"could not sign in as {username}")

    def cookies(self) -> dict[str, str]:
        return {c.name: c.value for c in self.jar}

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=self.timeout) as r:
            return r.read().decode()

    def post(self, path: str, data: dict, *, htmx: bool = False) -> int:
        """POST a form; return the status (errors are statuses, not exceptions)."""
        headers = {"X-CSRFToken": self.cookies().get("csrftoken", ""), "Referer": self.base_url + "/"}
        if htmx:
            headers["HX-Request"] = "true"
        request = urllib.request.Request(
            self.base_url + path, data=urllib.parse.urlencode(data, doseq=True).encode(), headers=headers
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def add_note(self, scenario_id: int, phase_id: int, text: str, request_id: str | None = None) -> int:
        return self.post(
            f"/boards/{scenario_id}/notes/",
            {"phase": phase_id, "kind": "observation", "text": text, "request_id": request_id or str(uuid.uuid4())},
            htmx=True,
        )
