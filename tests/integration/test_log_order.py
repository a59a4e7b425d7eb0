"""State is a pure function of the log: any arrival order, and a rebuild from the log, give the same bins."""

import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from sync import schema
from webapp.extensions import db
from webapp.models import Bin, Count

T0 = int(time.time() * 1000) - 6 * 3600 * 1000

records = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from([40, 42]), st.integers(0, 5 * 60), st.integers(0, 1)),
    min_size=1, max_size=12,
)


def snapshot(app):
    with app.app_context():
        bins = {b.code: (b.quantity, b.disputed, b.last_counted_at)
                for b in db.session.execute(select(Bin)).scalars()}
        outcomes = dict(db.session.execute(select(Count.event_id, Count.outcome)).all())
        db.session.remove()
    return bins, outcomes


def reset(app):
    with app.app_context():
        for table in (schema.exceptions, schema.events, schema.quarantine):
            db.session.execute(delete(table))
        db.session.execute(delete(Count))
        db.session.execute(update(schema.devices).values(acked_through_seq=0))
        db.session.execute(update(Bin).values(quantity=50, disputed=False, last_counted_at=None))
        db.session.commit()
        db.session.remove()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=records, arrival=st.randoms(use_true_random=False))
def test_any_arrival_order_and_a_rebuild_give_the_same_state(app, signed_in_device, plant, data, arrival):
    if not hasattr(app, "_devices"):
        app._devices = [signed_in_device("clerk"), signed_in_device("keeper")]
    reset(app)
    devices = app._devices
    per_device: dict[int, list] = {0: [], 1: []}
    for bin_index, quantity, minute, device_index in data:
        per_device[device_index].append((T0 + minute * 60_000, plant["codes"][bin_index], quantity))
    events = []
    for index, device in enumerate(devices):
        for seq, (at, code, quantity) in enumerate(sorted(per_device[index]), start=1):
            events.append((device, {"id": str(uuid.uuid4()), "device_id": device.id, "seq": seq,
                                    "type": "bin.counted", "v": 2, "occurred_at": at, "actor_id": device.user.id,
                                    "payload": {"bin_code": code, "quantity": quantity, "unit": "pcs"},
                                    "attachments": []}))
    arrival.shuffle(events)
    for device, event in events:
        reply = device.push([event], sent_at=int(time.time() * 1000))
        assert reply.json["results"][0]["status"] == "stored", reply.json
    incremental = snapshot(app)

    from webapp.services.rebuild import rebuild_counts

    with app.app_context():
        assert rebuild_counts() == len(events)
        db.session.remove()
    assert snapshot(app) == incremental


def decisions(app):
    """Each event's flags and each exception's state, as the office sees them."""
    with app.app_context():
        e, x = schema.events.c, schema.exceptions.c
        flags = {row.id: sorted(f["code"] for f in row.exceptions)
                 for row in db.session.execute(select(e.id, e.exceptions))}
        open_ = sorted((row.code, row.event_id, row.resolved_at is None, row.resolution_event_id or "")
                       for row in db.session.execute(select(x.code, x.event_id, x.resolved_at,
                                                            x.resolution_event_id)))
        db.session.remove()
    return flags, open_


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=records, arrival=st.randoms(use_true_random=False), sizes=st.lists(st.integers(1, 6), min_size=12))
def test_a_batch_decides_exactly_as_its_events_one_at_a_time(app, signed_in_device, plant, data, arrival, sizes):
    """Ingest stores a batch with set-based statements; flags, outcomes and bins match event-by-event ingest."""
    if not hasattr(app, "_devices"):
        app._devices = [signed_in_device("clerk"), signed_in_device("keeper")]
    devices = app._devices
    per_device: dict[int, list] = {0: [], 1: []}
    for bin_index, quantity, minute, device_index in data:
        per_device[device_index].append((T0 + minute * 60_000, plant["codes"][bin_index], quantity))
    queues = []
    for index, device in enumerate(devices):
        queues.append([(device, {"id": str(uuid.uuid4()), "device_id": device.id, "seq": seq,
                                 "type": "bin.counted", "v": 2, "occurred_at": at, "actor_id": device.user.id,
                                 "payload": {"bin_code": code, "quantity": quantity, "unit": "pcs"},
                                 "attachments": []})
                       for seq, (at, code, quantity) in enumerate(sorted(per_device[index]), start=1)])
    batches = []  # each device sends its queue in seq order, in batches; the devices interleave
    sizes = iter(sizes)
    while any(queues):
        queue = arrival.choice([q for q in queues if q])
        size = next(sizes, 1)
        batches.append(queue[:size])
        del queue[:size]

    results = []
    for one_by_one in (True, False):
        reset(app)
        for batch in batches:
            pushes = [[event] for event in batch] if one_by_one else [batch]
            for events in pushes:
                reply = batch[0][0].push([e for _, e in events])  # no sent_at: effective time = device time
                assert [r["status"] for r in reply.json["results"]] == ["stored"] * len(events), reply.json
        results.append((snapshot(app), decisions(app)))
    assert results[0] == results[1]
