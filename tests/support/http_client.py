"""Just enough of a browser for tests and benchmarks that talk to a real server over HTTP:
cookies, form posts (also multipart with one file), redirects followed."""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
import uuid


class Browser:
    def __init__(self, base: str, timeout: float = 300):
        self.base = base
        self.timeout = timeout
        self.last_url = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=self.timeout) as answer:
            self.last_url = answer.url
            return answer.read().decode()

    def post(self, path: str, fields: dict, upload: tuple[str, str, bytes] | None = None) -> str:
        """POST a form; `upload` is (field name, file name, bytes) of one file."""
        if upload is None:
            body = urllib.parse.urlencode(fields).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            boundary = uuid.uuid4().hex
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in fields.items()
            ]
            field, name, data = upload
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            kind = f"multipart/form-data; boundary={boundary}"
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Content-Type": kind}, method="POST"
        )
        with self.opener.open(request, timeout=self.timeout) as answer:
            self.last_url = answer.url
            return answer.read().decode()
