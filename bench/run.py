"""Benchmarks with their own command (`make bench`): figures the targets in the README are held to.

- shell: bytes of the floor shell (the scan page, CSS, every module and vendored library the
  page loads), raw and gzipped; target ≤ 100 KB gzipped (a QR decoder is counted apart).
- bin_page: server time of GET /b/<code> with 20,000 bins on SQLite (p50, p95); target p95 ≤ 30 ms.
"""

from __future__ import annotations

import argparse
import gzip
import posixpath
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.config import TestConfig  # noqa: E402
from webapp.domain.label_codes import mint  # noqa: E402
from webapp.extensions import db  # noqa: E402


def make_app(folder: Path):
    """An app on a fresh SQLite file with the demo plant."""
    app = create_app(TestConfig(database_url=f"sqlite:///{folder / 'bench.sqlite3'}", instance=folder))
    with app.app_context():
        upgrade()
        from webapp.services import demo

        demo.load()
    return app


def sign_in(client, username: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    reply = client.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
    assert reply.status_code == 303


def bench_shell(app) -> dict:
    """Sum what a phone downloads to show the floor: the page and everything it loads."""
    client = app.test_client()
    sign_in(client, "clerk")
    html = client.get("/scan").data
    urls = set(re.findall(rb'(?:src|href)="(/static/[^"]+\.(?:js|css))"', html))
    pending, seen = [u.decode() for u in urls], set()
    raw = gz = 0
    parts = [html]
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        body = client.get(url).data
        parts.append(body)
        if url.endswith(".js"):  # follow module imports
            for spec in re.findall(rb'(?:import|from)\s*["\'](\.{1,2}/[^"\']+)["\']', body):
                base = url.rsplit("/", 1)[0]
                target = f"{base}/{spec.decode()}"
                pending.append(posixpath.normpath(target))
    for body in parts:
        raw += len(body)
        gz += len(gzip.compress(body, 9))
    return {"files": len(seen) + 1, "raw_kb": round(raw / 1024, 1), "gzip_kb": round(gz / 1024, 1),
            "target_gzip_kb": 100}


def bench_bin_page(app, bins: int, requests: int) -> dict:
    """Time GET /b/<code> in the app (server time, no network) with `bins` bins in the database."""
    from webapp.models import Bin, Location, WorkOrder

    with app.app_context():
        have = db.session.execute(select(db.func.count(Bin.id))).scalar()
        loc = db.session.execute(select(Location.id)).scalars().first()
        order = db.session.execute(select(WorkOrder)).scalars().first()
        now = datetime.now(UTC)
        rows = [{"code": mint(n), "status": "active", "version": 1, "disputed": False, "location_id": loc,
                 "location_since": now, "work_order_id": order.id, "product_id": order.product_id,
                 "quantity": 50, "created_at": now} for n in range(have + 1, bins + 1)]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Bin), rows[start:start + 5000])
        db.session.commit()
    client = app.test_client()
    sign_in(client, "clerk")
    codes = [mint(n) for n in range(1, bins + 1, max(1, bins // requests))][:requests]
    for code in codes[:20]:  # warm up
        client.get(f"/b/{code}")
    times = []
    for code in codes:
        start = time.perf_counter()
        response = client.get(f"/b/{code}")
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    times.sort()
    return {"bins": bins, "requests": len(times), "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 2), "target_p95_ms": 30}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        print("shell:", bench_shell(app), flush=True)
        print("bin_page:", bench_bin_page(app, args.bins, args.requests), flush=True)
        with app.app_context():
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
