"""A live server process for browser tests and benchmarks: started, stopped, restarted like a real one."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app under gunicorn, as production runs it, on a SQLite file of its own."""

    def __init__(self, instance: Path, port: int, database_url: str | None = None, workers: int = 1,
                 app_spec: str = "webapp:create_app()", env: dict[str, str] | None = None):
        """`app_spec` is gunicorn's APP_MODULE (tests.fault_app's for the fault switch); `env` adds variables."""
        self.instance, self.port, self.database_url, self.workers = instance, port, database_url, workers
        self.app_spec, self.env = app_spec, dict(env or {})
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.log = open(instance / "server.log", "ab")

    def start(self) -> None:
        """Start the server and wait until /healthz answers."""
        env = dict(os.environ, INSTANCE_DIR=str(self.instance), PYTHONDONTWRITEBYTECODE="1")
        env.update(self.env)
        env.pop("DATABASE_URL", None)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", self.app_spec, "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--threads", "8", "--worker-class", "gthread", "--graceful-timeout", "2"],
            cwd=ROOT, env=env, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.instance / 'server.log'}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)  # polling a process we started, not waiting on a browser
        raise RuntimeError("server did not come up")

    def stop(self) -> None:
        """Stop the server process: the phone's network is gone."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def close(self) -> None:
        """Stop the server and close its log."""
        self.stop()
        self.log.close()

    def office_session(self, username: str = "office", password: str = "demo") -> requests.Session:
        """Sign in over HTTP (as the office, by default), to look at what the server stored."""
        s = requests.Session()
        page = s.get(self.url + "/login").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        reply = s.post(self.url + "/login", data={"username": username, "password": password, "csrf_token": token})
        assert reply.ok and "/login" not in reply.url
        s.headers["X-CSRFToken"] = re.search(r'name="csrf-token" content="([^"]+)"', reply.text).group(1)
        return s

    def register_device(self, username: str, password: str = "demo") -> tuple[str, str]:
        """Sign in and register a device over HTTP; return (device_id, token)."""
        import uuid

        s = self.office_session(username, password)
        reply = s.post(self.url + "/api/v1/devices", json={"device_id": str(uuid.uuid4()), "label": "bench"})
        reply.raise_for_status()
        return reply.json()["device_id"], reply.json()["token"]

    def events_for(self, code: str) -> list[dict]:
        """Return what the office sees for one bin."""
        return self.office_session().get(self.url + "/api/v1/events", params={"bin_code": code}).json()["events"]
