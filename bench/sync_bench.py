"""Sync ingest benchmark (`make bench-sync`): events stored per second through the real push endpoint.

For SQLite and PostgreSQL: batches of 200 `bin.counted` events pushed by one device through
gunicorn, beside a plain bulk insert of the same rows into the same database (the ceiling),
then 20 devices pushing at once (p50/p95 latency, errors). `--mix handover` measures transfer
slips instead: four people's phones push slips opened and signed four times, one in ten short
and explained by the operator (events per second over all four devices' pushes). `--mix inspection`
measures inspections: an inspector's phone pushes inspections started, five units measured against
the half-shaft's first-piece checklist (sizes and pass/fail), two defects with a photo and its
markup, and completed, 20 inspections (180 events) a push.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from functools import partial
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_server import LiveServer, free_port  # noqa: E402
from webapp.domain.label_codes import mint  # noqa: E402


BINS = 2000  # bins on the floor in the benchmark plant (the demo's 40 and more)
MIX = {"mix": "floor"}


def events(device_id: str, first_seq: int, n: int) -> list[dict]:
    """Counts as a floor makes them: bin after bin, mostly agreeing with the last count, 1 in 100 not.

    With `--mix stress`, 200 counts go round the demo's 40 bins with numbers that disagree, so
    nearly every count raises or settles a discrepancy (the worst case for the rules).
    """
    now = int(time.time() * 1000)
    out = []
    for i in range(n):
        seq = first_seq + i
        if MIX["mix"] == "stress":
            code, quantity = mint(1 + seq % 40), 40 + (i % 7)
        else:
            number = 1 + seq % BINS
            code, quantity = mint(number), 40 + number % 7 + (1 if seq % 100 == 0 else 0)
        out.append({"id": str(uuid.uuid4()), "device_id": device_id, "seq": seq, "type": "bin.counted", "v": 2,
                    "occurred_at": now - 1000, "payload": {"bin_code": code, "quantity": quantity, "unit": "pcs"},
                    "attachments": []})
    return out


def add_bins(database_url: str) -> None:
    """Put BINS bins on the floor (the demo has 40)."""
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, func, insert, select

    from webapp.models import Bin

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    table = Bin.__table__
    with engine.begin() as conn:
        have = conn.execute(select(func.count()).select_from(table)).scalar()
        if have >= BINS:
            return
        conn.execute(insert(table), [
            {"code": mint(n), "status": "active", "quantity": 40 + n % 7, "disputed": False, "version": 1,
             "created_at": datetime.now(UTC)} for n in range(have + 1, BINS + 1)])
    engine.dispose()


def prepare(instance: Path, database_url: str | None) -> None:
    env = dict(os.environ, INSTANCE_DIR=str(instance))
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    add_bins(database_url or f"sqlite:///{instance / 'shopfloor.sqlite3'}")


def push_rate(server: LiveServer, batches: int) -> float:
    device_id, token = server.register_device("clerk")
    headers = {"Authorization": f"Bearer {token}"}
    s = requests.Session()
    start = time.perf_counter()
    for b in range(batches):
        reply = s.post(server.url + "/api/v1/sync/push", headers=headers, timeout=120,
                       json={"device_id": device_id, "events": events(device_id, 1 + b * 200, 200)})
        assert reply.status_code == 200 and reply.json()["acked_through_seq"] == (b + 1) * 200, reply.text[:300]
    return batches * 200 / (time.perf_counter() - start)


def _signatures(opened: list[dict], hashes: list[str], signature: str, step: str, short: bool = False
                ) -> list[tuple[str, dict]]:
    """One step's signatures of a round's slips; `short`: one in ten is 2 pieces short."""
    return [("transfer.signed", {"transfer_id": p["transfer_id"], "step": step, "content_hash": h,
                                 "quantity": 38 if short and i % 10 == 0 else 40, "signature_sha256": signature,
                                 **({"verdict": "pass"} if step == "inspector" else {})})
            for i, (p, h) in enumerate(zip(opened, hashes, strict=True))]


def handover_rate(server: LiveServer, rounds: int, slips: int = 50) -> float:
    """Push `rounds` rounds of `slips` handovers: the clerk opens and signs, then inspector, operator, receiver sign.

    Each person pushes from a phone of their own (their step's signatures in one batch per
    round); one slip in ten is 2 pieces short at the receiver, and the operator explains it.
    """
    from webapp.domain.transfers import content_hash, slip_content

    people = {role: server.register_device(role) for role in ("clerk", "inspector", "operator", "receiver")}
    seqs = dict.fromkeys(people, 0)
    s = requests.Session()
    total, start = 0, time.perf_counter()
    signature = "ab" * 32  # the drawn PNG's digest (the blob itself is not part of ingest)

    def push(role: str, payloads: list[tuple[str, dict]]) -> None:
        device_id, token = people[role]
        now = int(time.time() * 1000)
        batch = []
        for kind, payload in payloads:
            seqs[role] += 1
            batch.append({"id": str(uuid.uuid4()), "device_id": device_id, "seq": seqs[role], "type": kind, "v": 1,
                          "occurred_at": now - 1000 + seqs[role], "payload": payload, "attachments": []})
        reply = s.post(server.url + "/api/v1/sync/push", headers={"Authorization": f"Bearer {token}"}, timeout=120,
                       json={"device_id": device_id, "events": batch})
        assert reply.status_code == 200 and all(r["status"] == "stored" for r in reply.json()["results"]), \
            reply.text[:500]

    for r in range(rounds):
        opened = []
        for i in range(slips):
            n = 1 + (r * slips + i) % BINS
            opened.append({"transfer_id": str(uuid.uuid4()), "bin_codes": [mint(n)], "to": {"area": "warehouse"},
                           "quantity": 40})
        hashes = [content_hash(slip_content(p)) for p in opened]
        signed = partial(_signatures, opened, hashes, signature)

        clerk = [x for p, sig in zip(opened, signed("clerk"), strict=True) for x in (("transfer.opened", p), sig)]
        rounds_ = [("clerk", clerk), ("inspector", signed("inspector")), ("operator", signed("operator")),
                   ("receiver", signed("receiver", short=True))]
        explained = [("transfer.explained", {"transfer_id": p["transfer_id"], "explanation": "2 cracked"})
                     for i, p in enumerate(opened) if i % 10 == 0]
        for role, payloads in [*rounds_, ("operator", explained)]:
            push(role, payloads)
            total += len(payloads)
    return total / (time.perf_counter() - start)


def inspection_rate(server: LiveServer, rounds: int, per_push: int = 20) -> float:
    """Push `rounds` batches of `per_push` inspections (started, 5 units measured, 2 defects, completed)."""
    device_id, token = server.register_device("inspector")
    s = requests.Session()
    seq, total, start = 0, 0, time.perf_counter()
    photo, signature = "cd" * 32, "ab" * 32
    markup = [{"photo": photo, "shapes": [{"kind": "circle", "x": 0.5, "y": 0.5, "r": 0.1},
                                          {"kind": "arrow", "x1": 0.1, "y1": 0.1, "x2": 0.4, "y2": 0.4}]}]
    for _round in range(rounds):
        payloads: list[tuple[str, dict]] = []
        for i in range(per_push):
            uid = str(uuid.uuid4())
            payloads.append(("inspection.started", {"inspection_id": uid, "kind": "first_piece",
                                                    "work_order": "WO-2611-001", "operation": "OP10",
                                                    "template": "HS-01-FIRST", "units": 5}))
            payloads += [("inspection.measured", {"inspection_id": uid, "unit": u, "values": {
                "length": f"{419.8 + 0.1 * u:.1f}", "diameter": f"{37.97 + 0.01 * u:.2f}", "workmanship": "pass",
                "materials": "pass", "pressing": "pass"}}) for u in range(1, 6)]
            payloads += [("inspection.defect_recorded", {
                "inspection_id": uid, "defect_id": str(uuid.uuid4()), "class": cls, "type": kind, "count": 1,
                "location": "flange", "photos": [photo], "markup": markup})
                for cls, kind in (("minor", "D-BURR"), ("major", "D-SIZE"))]
            payloads.append(("inspection.completed", {"inspection_id": uid, "verdict": "fail" if i % 5 else "pass",
                                                      "signature_sha256": signature}))
        now = int(time.time() * 1000)
        batch = []
        for kind, payload in payloads:
            seq += 1
            batch.append({"id": str(uuid.uuid4()), "device_id": device_id, "seq": seq, "type": kind, "v": 1,
                          "occurred_at": now - 1000 + seq % 1000, "payload": payload, "attachments": []})
        reply = s.post(server.url + "/api/v1/sync/push", headers={"Authorization": f"Bearer {token}"}, timeout=120,
                       json={"device_id": device_id, "events": batch})
        assert reply.status_code == 200 and all(x["status"] == "stored" for x in reply.json()["results"]), \
            reply.text[:500]
        total += len(batch)
    return total / (time.perf_counter() - start)


def bulk_rate(instance: Path, database_url: str | None, batches: int) -> float:
    """Insert the same rows straight into sync_events, 200 per transaction: the ceiling."""
    from sqlalchemy import create_engine, insert

    from sync import schema
    from sync.db import configure_sqlite
    from sync.envelope import parse_envelope

    url = database_url or f"sqlite:///{instance / 'shopfloor.sqlite3'}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    configure_sqlite(engine)
    device_id = str(uuid.uuid4())
    now = int(time.time() * 1000)
    with engine.begin() as conn:
        conn.execute(insert(schema.devices).values(id=device_id, user_id=1, label="bulk", registered_at=now,
                                                   acked_through_seq=0))
    start = time.perf_counter()
    for b in range(batches):
        rows = []
        for raw in events(device_id, 1 + b * 200, 200):
            env = parse_envelope(raw)
            rows.append({"id": env.id, "device_id": device_id, "seq": env.seq, "type": env.type, "v": env.v,
                         "occurred_at": env.occurred_at, "received_at": now, "effective_at": env.occurred_at,
                         "actor_id": 1, "payload": env.payload, "payload_hash": env.hash, "attachments": [],
                         "subject": f"bin:{env.payload['bin_code']}", "exceptions": [], "build": "bench"})
        with engine.begin() as conn:
            conn.execute(insert(schema.events), rows)
    rate = batches * 200 / (time.perf_counter() - start)
    engine.dispose()
    return rate


def concurrent(server: LiveServer, devices: int, batch: int) -> dict:
    registered = [server.register_device("clerk") for _ in range(devices)]
    barrier, latencies, errors = threading.Barrier(devices), [], []

    def run(i):
        device_id, token = registered[i]
        barrier.wait()
        start = time.perf_counter()
        try:
            reply = requests.post(server.url + "/api/v1/sync/push", timeout=120,
                                  headers={"Authorization": f"Bearer {token}"},
                                  json={"device_id": device_id, "events": events(device_id, 1, batch)})
            if reply.status_code != 200:
                errors.append(reply.status_code)
        except requests.RequestException as exc:
            errors.append(repr(exc))
        latencies.append((time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {"devices": devices, "events_each": batch, "errors": len(errors),
            "p50_ms": round(statistics.median(latencies)), "p95_ms": round(latencies[int(0.95 * len(latencies)) - 1])}


def run_on(name: str, database_url: str | None, batches: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        prepare(instance, database_url)
        server = LiveServer(instance, free_port(), database_url=database_url, workers=2)
        server.start()
        try:
            if MIX["mix"] == "handover":
                rate = handover_rate(server, batches)
                print(f"{name}: handover mix {rate:.0f} events/s (slips opened, signed four times, 1 in 10 "
                      f"short and explained)", flush=True)
                return
            if MIX["mix"] == "inspection":
                rate = inspection_rate(server, batches)
                print(f"{name}: inspection mix {rate:.0f} events/s (started, 5 units measured, 2 defects with "
                      f"photo markup, completed)", flush=True)
                return
            push = push_rate(server, batches)
            ceiling = bulk_rate(instance, database_url, batches)
            print(f"{name}: push {push:.0f} events/s, bulk insert {ceiling:.0f} rows/s, "
                  f"ratio {push / ceiling:.0%} (target >= 70%)", flush=True)
            print(f"{name}: 20 devices at once: {concurrent(server, 20, 50)}", flush=True)
        finally:
            server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--mix", choices=["floor", "stress", "handover", "inspection"], default="floor")
    args = parser.parse_args()
    MIX["mix"] = args.mix
    print(f"mix: {args.mix}", flush=True)
    if args.only != "postgresql":
        run_on("sqlite", None, args.batches)
    if args.only != "sqlite":
        from tests.run import with_postgres

        with_postgres(lambda url: run_on("postgresql", url, args.batches) or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
