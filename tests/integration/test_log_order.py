"""State is a pure function of the log: any arrival order, and a rebuild from the log, give the same bins."""

import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from sync import schema
from sync.flags import flags_of
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
        stored = flags_of(db.session, db.session.execute(select(e.id)).scalars())
        flags = {event_id: sorted(f["code"] for f in stored.get(event_id, []))
                 for event_id in db.session.execute(select(e.id)).scalars()}
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


PLACES = ["L-OP10", "L-OP20", "WAIT-1"]
MOVE_FLAGS = {"location_conflict", "unknown_bin", "clock_suspect"}
# A count or a move: (kind, bin 0-2 (3: a bin the server does not know, moves only), minute, device, what)
counts_and_moves = st.lists(st.one_of(
    st.tuples(st.just("count"), st.integers(0, 2), st.integers(0, 240), st.integers(0, 1), st.sampled_from([40, 42])),
    st.tuples(st.just("move"), st.integers(0, 3), st.integers(0, 240), st.integers(0, 1),
              st.tuples(st.sampled_from(PLACES), st.sampled_from([*PLACES, None]),
                        st.sampled_from([None, 30, 41, 45, 60]))),
), min_size=1, max_size=14)


def reset_bins(app):
    """Empty the log and put every bin back where it started: at the first station, 50 pieces, never moved."""
    from webapp.models import Location, Transfer

    reset(app)
    with app.app_context():
        db.session.execute(delete(Transfer).where(Transfer.event_id.is_not(None)))
        start = db.session.execute(select(Location.id).where(Location.code == PLACES[0])).scalar_one()
        db.session.execute(update(Bin).values(location_id=start, location_since=None, version=1))
        if db.session.execute(select(Location).where(Location.code == "WAIT-1")).first() is None:
            db.session.add(Location(code="WAIT-1", kind="waiting", name_zh="待料区", name_en="Waiting area"))
        db.session.commit()
        db.session.remove()


def floor_log(devices, plant, data) -> list[tuple]:
    """Number each device's records in time order, as a phone does; return (device, event) pairs."""
    per_device: dict[int, list] = {0: [], 1: []}
    for kind, bin_index, minute, device_index, what in data:
        per_device[device_index].append((T0 + minute * 60_000, kind, bin_index, what))
    events = []
    codes = [*plant["codes"], "ZZ-404"]
    for index, device in enumerate(devices):
        for seq, (at, kind, bin_index, what) in enumerate(sorted(per_device[index], key=lambda r: r[0]), start=1):
            if kind == "count":
                type_, v, payload = "bin.counted", 2, {"bin_code": codes[bin_index], "quantity": what, "unit": "pcs"}
            else:
                to, seen, quantity = what
                type_, v, payload = "bin.moved", 1, {"bin_code": codes[bin_index], "to_location": to,
                                                     "seen_location": seen, "seen_version": 1}
                if quantity is not None:
                    payload["quantity"] = quantity
            events.append((device, {"id": str(uuid.uuid4()), "device_id": device.id, "seq": seq, "type": type_,
                                    "v": v, "occurred_at": at, "actor_id": device.user.id, "payload": payload,
                                    "attachments": []}))
    return events


def push_in_batches(events, arrival, sizes):
    """Push in the given order, runs of one device's events together (of random sizes), as devices do."""
    sizes = iter(sizes)
    i = 0
    while i < len(events):
        device, size = events[i][0], next(sizes, 1)
        batch = [events[i]]
        while len(batch) < size and i + len(batch) < len(events) and events[i + len(batch)][0] is device:
            batch.append(events[i + len(batch)])
        i += len(batch)
        reply = device.push([e for _, e in batch])  # no sent_at: effective time = device time, in every run
        assert [r["status"] for r in reply.json["results"]] == ["stored"] * len(batch), reply.json["results"]


def floor_state(app, flags_kept):
    """Bins (version excluded), count outcomes, transfers, each event's flags of `flags_kept`, open conflicts."""
    from webapp.models import Transfer

    with app.app_context():
        bins = {b.code: (b.location.code if b.location else None, b.location_since, b.quantity, b.disputed,
                         b.last_counted_at) for b in db.session.execute(select(Bin)).scalars()}
        outcomes = dict(db.session.execute(select(Count.event_id, Count.outcome)).all())
        slips = {t.event_id: (t.from_location.code if t.from_location else None, t.to_location.code, t.kind)
                 for t in db.session.execute(select(Transfer).where(Transfer.event_id.is_not(None))).scalars()}
        e, x = schema.events.c, schema.exceptions.c
        stored = flags_of(db.session, db.session.execute(select(e.id)).scalars())
        flags = {event_id: sorted(f["code"] for f in stored.get(event_id, []) if f["code"] in flags_kept)
                 for event_id in db.session.execute(select(e.id)).scalars()}
        open_ = sorted((row.code, row.event_id) for row in db.session.execute(
            select(x.code, x.event_id).where(x.resolved_at.is_(None), x.code.in_(flags_kept))))
        db.session.remove()
    return bins, outcomes, slips, flags, open_


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=counts_and_moves, arrival=st.randoms(use_true_random=False),
       sizes=st.lists(st.integers(1, 4), min_size=14))
def test_counts_and_moves_in_any_arrival_order_give_the_state_of_the_log(app, signed_in_device, plant, data,
                                                                         arrival, sizes):
    """Where bins are, what they hold, their disputes, their transfers and the move flags follow the log.

    Not compared: `count_discrepancy`, which goes on the count that arrives second (whichever it
    is in the log), and `negative_stock`, which a count arriving after a later move does not
    re-judge (see the next test).
    """
    if not hasattr(app, "_devices"):
        app._devices = [signed_in_device("clerk"), signed_in_device("keeper")]
    events = floor_log(app._devices, plant, data)
    in_log_order = sorted(events, key=lambda de: (de[1]["occurred_at"], de[1]["device_id"], de[1]["seq"]))
    shuffled = list(events)
    arrival.shuffle(shuffled)
    states = []
    for order, batch_sizes in ((in_log_order, []), (shuffled, sizes)):
        reset_bins(app)
        push_in_batches(order, arrival, batch_sizes)
        states.append(floor_state(app, MOVE_FLAGS))
    assert states[0] == states[1]

    from webapp.services.rebuild import rebuild_counts

    with app.app_context():
        rebuild_counts()
        db.session.remove()
    assert floor_state(app, MOVE_FLAGS) == states[1]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=counts_and_moves, arrival=st.randoms(use_true_random=False))
def test_moves_after_the_counts_judge_negative_stock_by_the_log(app, signed_in_device, plant, data, arrival):
    """Counts earlier in the log than every move, each kind arriving in any order: every move flag follows the log."""
    if not hasattr(app, "_devices"):
        app._devices = [signed_in_device("clerk"), signed_in_device("keeper")]
    data = [(kind, b, minute if kind == "count" else 241 + minute, d, what) for kind, b, minute, d, what in data]
    events = floor_log(app._devices, plant, data)
    in_log_order = sorted(events, key=lambda de: (de[1]["occurred_at"], de[1]["device_id"], de[1]["seq"]))
    counts = [de for de in events if de[1]["type"] == "bin.counted"]
    moves = [de for de in events if de[1]["type"] == "bin.moved"]
    arrival.shuffle(counts)
    arrival.shuffle(moves)
    states = []
    for order in (in_log_order, counts + moves):
        reset_bins(app)
        push_in_batches(order, arrival, [])
        states.append(floor_state(app, MOVE_FLAGS | {"negative_stock"}))
    assert states[0] == states[1]
