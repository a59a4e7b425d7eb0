"""A fault switch in front of the real app, for browser tests: a server that fails the way real ones do.

It lives only under tests/ (not in the installed package), so production cannot turn it on.
`create_app()` returns `webapp.create_app()` wrapped in `FaultMiddleware`, which reads the
current fault, per request, from the JSON file named by the environment variable
SHOPFLOOR_FAULT_FILE: the test process changes it (`FaultSwitch.set`) while gunicorn runs.
Run it with one worker: request counts ("after", "every") are kept in the worker's memory.

Faults apply to requests whose path starts with "prefix" (default "/api/v1/sync/push"):
- {"mode": "none"}: pass everything through.
- {"mode": "503", "retry_after": 2}: answer 503 (with Retry-After when given) without calling the app.
- {"mode": "401"}: answer 401 `sign_in_again`, as for an expired device token.
- {"mode": "drop_after_commit"}: run the app to the end (the push commits), then close the
  connection without a response.
- {"mode": "flap", "every": 2}: drop the connection of every `every`-th request (the 1st, the
  3rd, … for 2) before the app sees it; the others pass.
- {"mode": "delay", "ms": 3000}: wait, then pass through.
- {"mode": "cut_upload", "at": 0.5, "prefix": "/api/v1/blobs/"}: a resumable upload's connection
  dies once the server has received `at` of the whole file: the PATCH whose chunk spans that point
  reaches the app with its body cut there (the socket is shut down as the cut is read, so the
  app sees the end of the stream, as from a phone that lost the network mid-upload), and no
  answer goes back. Other requests pass.
Any fault may also say {"after": n}: the first n matching requests pass untouched; and
{"times": n}: it acts on n requests at most, then everything passes.

A test can also deploy another build: SHOPFLOOR_STATIC_DIR names a folder of static files (a
copy of webapp/static with a file changed is a new build) for the app to serve instead.

Every request a fault acts on is appended to "<fault file>.log" (JSON lines) for the test to read.
Dropping: gunicorn's gthread worker answers 500 when a WSGI app raises before any body byte is
written (even after start_response), so a drop shuts the socket down first (gunicorn puts it
in the environ) and raises ConnectionResetError, which gunicorn takes for a client that went away.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FAULT_FILE_ENV = "SHOPFLOOR_FAULT_FILE"
STATIC_DIR_ENV = "SHOPFLOOR_STATIC_DIR"
DEFAULT_PREFIX = "/api/v1/sync/push"
APP_SPEC = "tests.fault_app:create_app()"


class FaultMiddleware:
    """WSGI middleware that fails matching requests as the fault file says."""

    def __init__(self, app: Callable, fault_file: str | os.PathLike[str]):
        self.app = app
        self.fault_file = Path(fault_file)
        self.log_file = Path(f"{fault_file}.log")
        self.lock = threading.Lock()
        self.current = ""  # the fault file's text the counter belongs to
        self.count = 0

    def fault(self) -> tuple[dict[str, Any], str]:
        try:
            text = self.fault_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"mode": "none"}, ""
        return json.loads(text), text

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        fault, text = self.fault()
        mode = fault.get("mode", "none")
        path = environ.get("PATH_INFO", "")
        if mode == "none" or not path.startswith(fault.get("prefix", DEFAULT_PREFIX)):
            return self.app(environ, start_response)
        cut = self.upload_cut(environ, float(fault.get("at", 0.5))) if mode == "cut_upload" else None
        if mode == "cut_upload" and cut is None:
            return self.app(environ, start_response)  # not the chunk that spans the cut
        with self.lock:
            if text != self.current:  # a new fault: count from zero
                self.current, self.count = text, 0
            self.count += 1
            n = self.count - int(fault.get("after", 0))
        if n <= 0 or ("times" in fault and n > int(fault["times"])):
            return self.app(environ, start_response)
        if mode == "flap" and (n - 1) % int(fault.get("every", 2)):
            return self.app(environ, start_response)
        self.record(mode, path, n, **(cut or {}))
        if mode == "503":
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            return self.answer(environ, start_response, "503 Service Unavailable", "unavailable", headers)
        if mode == "401":
            return self.answer(environ, start_response, "401 Unauthorized", "sign_in_again", {})
        if mode == "delay":
            threading.Event().wait(int(fault.get("ms", 3000)) / 1000)
            return self.app(environ, start_response)
        if mode == "flap":
            self.drop(environ)
        if mode == "cut_upload":
            environ["wsgi.input"] = CutStream(environ, cut["passed"])
            body = self.app(environ, lambda *args, **kwargs: lambda data: None)
            try:
                for _ in body:  # whatever the app made of the cut chunk, nobody is there to hear it
                    pass
            finally:
                close = getattr(body, "close", None)
                if close:
                    close()
            self.drop(environ)
        if mode == "drop_after_commit":
            body = self.app(environ, lambda *args, **kwargs: lambda data: None)
            try:
                for _ in body:  # the whole response is made: the push has committed
                    pass
            finally:
                close = getattr(body, "close", None)
                if close:
                    close()
            self.drop(environ)
        raise ValueError(f"unknown fault mode {mode!r}")

    @staticmethod
    def upload_cut(environ, at: float) -> dict[str, int] | None:
        """Where a PATCH chunk is cut: None unless it spans `at` of the whole upload."""
        try:
            offset = int(environ.get("HTTP_UPLOAD_OFFSET", ""))
            length = int(environ.get("HTTP_UPLOAD_LENGTH", ""))
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        point = int(length * at)
        if environ.get("REQUEST_METHOD") != "PATCH" or not offset <= point < offset + size:
            return None
        return {"offset": offset, "length": length, "passed": point - offset}

    def record(self, mode: str, path: str, n: int, **details: int) -> None:
        line = json.dumps({"t": int(time.time() * 1000), "mode": mode, "path": path, "n": n, **details})
        with self.lock, self.log_file.open("a", encoding="utf-8") as log:
            log.write(line + "\n")

    @staticmethod
    def answer(environ, start_response, status: str, code: str, headers: dict[str, str]) -> list[bytes]:
        environ["wsgi.input"].read()  # keep the connection's stream in step
        body = json.dumps({"error": code, "message": f"fault switch: {status}"}).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                *headers.items()])
        return [body]

    @staticmethod
    def drop(environ) -> None:
        """End the connection with no response at all, as a network that went away does."""
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionResetError(errno.ECONNRESET, "fault switch: connection dropped")


class CutStream:
    """A request body that ends after `passed` bytes, with the connection shut down right there."""

    def __init__(self, environ, passed: int):
        self.stream, self.environ, self.left = environ["wsgi.input"], environ, passed

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.stream.read(self.left if size is None or size < 0 else min(size, self.left))
        self.left -= len(data)
        if self.left <= 0 or not data:
            self.left = 0
            sock = self.environ.get("gunicorn.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return data


def create_app():
    """The real app behind the fault switch (SHOPFLOOR_FAULT_FILE must be set)."""
    from webapp import create_app as real_create_app
    from webapp.config import Config

    config = Config()
    if os.environ.get(STATIC_DIR_ENV):
        config.STATIC_DIR = os.environ[STATIC_DIR_ENV]
    app = real_create_app(config)
    app.wsgi_app = FaultMiddleware(app.wsgi_app, os.environ[FAULT_FILE_ENV])
    return app


class FaultSwitch:
    """The test's side: set the fault a running server applies, and read what it did."""

    def __init__(self, fault_file: Path):
        self.fault_file = fault_file
        self.log_file = Path(f"{fault_file}.log")
        self.generation = 0

    @property
    def env(self) -> dict[str, str]:
        return {FAULT_FILE_ENV: str(self.fault_file)}

    def set(self, mode: str, **options: Any) -> None:
        """Apply a fault from the next request on (atomically: a request never reads half a file)."""
        self.generation += 1  # the same fault set again counts from zero again
        temporary = self.fault_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"mode": mode, "generation": self.generation, **options}), encoding="utf-8")
        os.replace(temporary, self.fault_file)

    def clear(self) -> None:
        self.set("none")

    def hits(self, mode: str | None = None) -> list[dict[str, Any]]:
        """The requests a fault acted on, oldest first."""
        if not self.log_file.exists():
            return []
        lines = self.log_file.read_text(encoding="utf-8").splitlines()
        return [hit for hit in map(json.loads, lines) if mode is None or hit["mode"] == mode]
