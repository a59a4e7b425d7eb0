"""`make test`: install what the suites need, run them on SQLite, then the integration suite on PostgreSQL.

Debian's chromium, postgresql, nodejs and npm are installed when missing and running as root;
otherwise this says exactly what to install. The PostgreSQL server is a throwaway
one in a temporary folder, started and stopped here.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
APT_PACKAGES = ["chromium", "postgresql", "fonts-noto-cjk", "nodejs", "npm"]


def pg_bin() -> Path | None:
    """Return the folder of the newest installed PostgreSQL server binaries."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def ensure_system_packages() -> None:
    """Install Debian's chromium, postgresql, nodejs and npm when missing (as root), else say how."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append("chromium")
    if pg_bin() is None:
        missing.append("postgresql")
    if not glob.glob("/usr/share/fonts/opentype/noto/NotoSansCJK*"):
        missing.append("fonts-noto-cjk")
    missing += [package for tool, package in (("node", "nodejs"), ("npm", "npm")) if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"make test needs Debian packages: sudo apt-get install -y {' '.join(missing)}")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd: list[str]) -> list[str]:
    """Run a server command as the postgres user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def pytest(args: list[str], env: dict[str, str]) -> int:
    """Run pytest with the project's venv."""
    cmd = [sys.executable, "-m", "pytest", *args]
    print("\n$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def with_postgres(run) -> int:
    """Start a throwaway PostgreSQL server, call `run(database_url)`, stop and delete it."""
    binaries = pg_bin()
    data = Path(tempfile.mkdtemp(prefix="shopfloor-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "cwd": data}  # postgres cannot enter our folder
    subprocess.run(as_postgres([str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                "--no-sync", "-E", "UTF8"]), check=True, **quiet)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                str(data / "server.log"), "-w", "start"]), check=True, **quiet)
    try:
        subprocess.run(as_postgres([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                                    "postgres", "shopfloor_test"]), check=True, **quiet)
        return run(f"postgresql+psycopg://postgres@127.0.0.1:{port}/shopfloor_test")
    finally:
        subprocess.run(as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       **quiet)
        shutil.rmtree(data, ignore_errors=True)


def main() -> int:
    """Run every suite; exit non-zero if any fails."""
    ensure_system_packages()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("DATABASE_URL", None)
    extra = sys.argv[1:]
    status = pytest(["tests/unit", "tests/integration", "tests/browser", *extra], env)
    pg_status = with_postgres(
        lambda url: pytest(["tests/integration", "-p", "no:cacheprovider", *extra], dict(env, TEST_DATABASE_URL=url))
    )
    print(f"\nSQLite suites: {'passed' if status == 0 else 'FAILED'}; "
          f"PostgreSQL integration suite: {'passed' if pg_status == 0 else 'FAILED'}", flush=True)
    return status or pg_status


if __name__ == "__main__":
    sys.exit(main())
