"""The demo plant: three workshops, a five-step route, parts, orders, 40 bins, two weeks of history."""

from __future__ import annotations

import io
import random
import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlalchemy import func, insert, select

from sync import schema
from sync.ingest import ingest_push
from webapp.domain import signing
from webapp.domain.label_codes import mint
from webapp.domain.roles import Role
from webapp.extensions import db
from webapp.models import (
    Bin, BinLabel, InspectionTemplate, Location, Operation, Plant, Product, Route, RouteStep, Setting, Signature,
    SlipBook, SpecGroup, StaffBadge, Transfer, User, WorkOrder, Workshop,
)
from webapp.models.types import from_ms
from webapp.services import blobs, checklists
from webapp.services.devices import actor_roles, now_ms
from webapp.areas import registry

DAY_MS = 24 * 3600 * 1000
DEMO_PIN = "1357"  # every demo person's signing PIN (shown on the demo sign-in page)

USERS = {
    Role.CLERK: ("王芳 Wang Fang", "W1"),
    Role.INSPECTOR: ("李强 Li Qiang", None),
    Role.OPERATOR: ("张伟 Zhang Wei", "W2"),
    Role.RECEIVER: ("刘洋 Liu Yang", "W3"),
    Role.OFFICE: ("陈静 Chen Jing", None),
    Role.DIRECTOR: ("赵磊 Zhao Lei", "W2"),
    Role.KEEPER: ("孙丽 Sun Li", None),
    Role.FOLLOWER: ("周敏 Zhou Min", None),
    Role.ACCOUNTANT: ("吴霞 Wu Xia", "W2"),
    Role.ADMIN: ("管理员 Admin", None),
}

OPERATIONS = [  # code, Chinese, English, workshop
    ("OP10", "下料", "Cutting", "W1"),
    ("OP20", "车削", "Turning", "W2"),
    ("OP30", "热处理", "Heat treatment", "W2"),
    ("OP40", "磨削", "Grinding", "W2"),
    ("OP50", "装配", "Assembly", "W3"),
]


def is_empty() -> bool:
    """Say whether the database has no plant yet (first run)."""
    return db.session.execute(select(func.count(Plant.id))).scalar() == 0


def load(seed: int = 7, password: str = "demo", timezone: str = "Asia/Shanghai") -> None:
    """Fill an empty database with the demo plant and two weeks of plausible history."""
    rng = random.Random(seed)
    signature = _drawn_signature()  # first: storing a blob commits on its own
    plant = Plant(code="DEMO", name_zh="华东传动件厂", name_en="East China Driveline Works")
    db.session.add(plant)
    workshops = {
        code: Workshop(plant=plant, code=code, name_zh=zh, name_en=en)
        for code, zh, en in [("W1", "下料车间", "Cutting shop"), ("W2", "机加工车间", "Machining shop"),
                             ("W3", "装配车间", "Assembly shop")]
    }
    db.session.add_all(workshops.values())
    users = {}
    for role, (name, _ws) in USERS.items():
        user = User(username=role.value, display_name=name, role=role.value)
        user.set_password(password)
        users[role] = user
    db.session.add_all(users.values())
    db.session.flush()
    for role, (_name, ws) in USERS.items():
        if ws:
            users[role].workshop_id = workshops[ws].id
    # Everyone can sign on someone else's device at once: a staff badge each (print the cards
    # under People) and the demo PIN.
    for user in users.values():
        badge = signing.new_badge(user.id)
        db.session.add(StaffBadge(user_id=user.id, code=badge.code, secret=badge.secret,
                                  issued_at=int(time.time() * 1000)))
        user.pin_salt = signing.new_salt()
        user.pin_key, user.pin_set_at = signing.pin_key(DEMO_PIN, user.pin_salt), int(time.time() * 1000)

    ops = [Operation(code=c, name_zh=zh, name_en=en, workshop=workshops[w]) for c, zh, en, w in OPERATIONS]
    db.session.add_all(ops)
    locations = [Location(code=f"L-{o.code}", kind="operation", operation=o, workshop=o.workshop,
                          name_zh=f"{o.name_zh}工位", name_en=f"{o.name_en} station") for o in ops]
    waiting = Location(code="WAIT-W2", kind="waiting", workshop=workshops["W2"], name_zh="机加工待料区",
                       name_en="Machining waiting area")
    store = Location(code="WH-FG", kind="warehouse", name_zh="成品库", name_en="Finished goods store")
    db.session.add_all([*locations, waiting, store])

    route = Route(code="R-SHAFT", name_zh="轴类工艺路线", name_en="Shaft route")
    db.session.add(route)
    states = [("棒料", "Bar stock"), ("粗车件", "Rough-turned part"), ("热处理件", "Heat-treated part"),
              ("精磨件", "Ground part"), ("成品", "Finished part")]
    for i, (op, (zh, en)) in enumerate(zip(ops, states, strict=True), start=1):
        db.session.add(RouteStep(route=route, position=i, operation=op, state_name_zh=zh, state_name_en=en))
    group = SpecGroup(code="SG-HS", name_zh="半轴类（易混）", name_en="Half-shaft family (easily mixed up)")
    products = [
        Product(code="HS-01", name_zh="半轴", name_en="Half-shaft", spec_group=group, route=route),
        Product(code="HH-01", name_zh="半轴壳", name_en="Half-shaft housing", spec_group=group, route=route),
        Product(code="GR-01", name_zh="齿轮轴", name_en="Gear shaft", route=route),
    ]
    db.session.add_all(products)
    today = date.today()
    orders = [
        WorkOrder(number="WO-2611-001", product=products[0], quantity=800, due_date=today + timedelta(days=6),
                  customer="江淮汽车 JAC Motors", status="in_progress"),
        WorkOrder(number="WO-2611-002", product=products[1], quantity=2500, due_date=today + timedelta(days=12),
                  customer="一汽解放 FAW Jiefang", status="in_progress"),
        WorkOrder(number="WO-2611-003", product=products[2], quantity=6000, due_date=today + timedelta(days=21),
                  customer="潍柴动力 Weichai Power", status="in_progress"),
    ]
    db.session.add_all(orders)
    db.session.add_all([Setting(key="aql", value="2.5"), Setting(key="inspection_level", value="II"),
                        Setting(key="demo_mode", value="1")])
    db.session.add_all([SlipBook(kind=k, owner=w, prefix=f"{'RK' if k == 'entry' else 'CK'}-{w}-")
                        for w in workshops for k in ("entry", "issue")])
    db.session.flush()

    places = [*locations, waiting, store]
    now = now_ms()
    bins = []
    for n in range(1, 41):
        code = mint(n)
        b = Bin(code=code, bin_type="铁框 steel crate" if n % 3 else "塑料箱 plastic tote",
                workshop_id=workshops["W2" if n % 3 else "W1"].id, created_at=from_ms(now - 30 * DAY_MS))
        if n <= 34:  # six bins stand empty
            order = orders[n % 3]
            place = places[rng.randrange(len(places))]
            b.work_order, b.product = order, order.product
            b.location = place
            b.location_since = from_ms(now - rng.randrange(1, 5 * 24) * 3600 * 1000)
            b.quantity = rng.choice([40, 50, 60, 80, 100, 120])
        bins.append(b)
        db.session.add(b)
        db.session.add(BinLabel(code=code, bin=b, minted_at=from_ms(now - 30 * DAY_MS)))
    db.session.flush()
    _history(rng, users, bins, ops, locations, now, timezone)
    _open_work(users, bins, ops, locations, now)
    _quality(users, bins, now, signature)
    db.session.commit()


def _open_work(users, bins, ops, locations, now) -> None:
    """What is under way this shift: slips waiting for their signatures, inspections not yet finished."""
    loc_by_op = {loc.operation_id: loc for loc in locations}
    at_operations = [b for b in bins if b.location is not None and b.location.kind == "operation"
                     and b.location.operation_id != ops[-1].id]
    for number, b in enumerate(at_operations[:3], start=9001):
        nxt = ops[next(i for i, o in enumerate(ops) if o.id == b.location.operation_id) + 1]
        opened = from_ms(now - (20 + 25 * (number - 9001)) * 60_000)
        t = Transfer(number=f"ZX-{number:05d}", kind="next_operation", status="open", bin=b,
                     work_order=b.work_order, product=b.product, part_name=b.product.name_zh,
                     from_location=b.location, to_location=loc_by_op[nxt.id], quantity=b.quantity,
                     created_by=users[Role.CLERK].id, created_at=opened)
        db.session.add(t)
        db.session.add(Signature(transfer=t, step="clerk", user_id=users[Role.CLERK].id, quantity=b.quantity,
                                 signed_at=opened))


def _quality(users, bins, now, signature: str) -> None:
    """Checklists and the defect catalogue; the half-shaft's own first-piece checklist with its sizes; an order
    mostly packed (its final inspection is offered); a first piece passed: recorded through ingest."""
    checklists.install_defaults(db.session)
    half_shaft = next(b.product for b in bins if b.product is not None and b.product.code == "HS-01")
    db.session.add(InspectionTemplate(
        code="HS-01-FIRST", product=half_shaft, kind="first_piece", name_zh="半轴首件",
        name_en="Half-shaft first piece", units=3, active=True, items=[
            checklists.measure("length", "总长", "Overall length", "420.0", "0.5", "0.5"),
            checklists.measure("diameter", "轴径", "Shaft diameter", "38.00", "0.05", "0.05"),
            *checklists.DEFAULT_TEMPLATES[0]["items"][1:]]))
    db.session.flush()
    order = next(b.work_order for b in bins if b.work_order is not None and b.work_order.number == "WO-2611-001")
    device_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "shopfloor:demo:inspector-phone"))
    start = now - 3 * DAY_MS
    db.session.execute(insert(schema.devices).values(
        id=device_id, user_id=users[Role.INSPECTOR].id, label="Demo inspector phone", registered_at=start,
        acked_through_seq=0, last_seen_at=now, kind="demo"))
    db.session.execute(insert(schema.device_users).values(device_id=device_id, user_id=users[Role.INSPECTOR].id,
                                                          first_seen_at=start))
    records: list[tuple[int, str, dict]] = [
        (start, "packing.recorded", {"work_order": order.number, "cartons": 14, "per_carton": 50})]
    # The orders in production passed their first pieces at every operation of their route (the half-shaft's
    # measured on its own checklist, the others checked on the plant's).
    orders = {b.work_order.number: b.work_order for b in bins if b.work_order is not None}
    at = start
    for number, wo in sorted(orders.items()):
        for step in (wo.product.route.steps if wo.product.route else []):
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"shopfloor:demo:first-piece:{number}:{step.operation.code}"))
            measured = {"length": "420.1", "diameter": "38.01"} if wo.product.code == "HS-01" else {"size": "pass"}
            at += 10 * 60_000
            records += [
                (at, "inspection.started", {"inspection_id": uid, "kind": "first_piece", "work_order": number,
                                            "operation": step.operation.code, "units": 1}),
                (at + 60_000, "inspection.measured", {"inspection_id": uid, "unit": 1, "values": {
                    **measured, "workmanship": "pass", "materials": "pass"}}),
                (at + 120_000, "inspection.completed", {"inspection_id": uid, "verdict": "pass",
                                                        "signature_sha256": signature}),
            ]
    stored = next((b for b in bins if b.location is not None and b.location.kind == "warehouse"), None)
    if stored is not None:  # a final inspection under way on a bin in the store (GB/T 2828.1, II: 120 is F, n 20)
        records.append((now - 40 * 60_000, "inspection.started", {
            "inspection_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "shopfloor:demo:final")), "kind": "final",
            "work_order": stored.work_order.number, "bin_code": stored.code, "lot_size": 120}))
    events = [{"id": str(uuid.uuid4()), "device_id": device_id, "seq": seq, "type": kind, "v": 1, "occurred_at": at,
               "actor_id": users[Role.INSPECTOR].id, "payload": payload, "attachments": []}
              for seq, (at, kind, payload) in enumerate(records, start=1)]
    ingest_push(db.session, registry, device_id=device_id, raw_events=events, now_ms=now, build="demo", sent_at=now,
                actor_role=actor_roles(device_id))


def _drawn_signature() -> str:
    """A signature drawn as a stroke on a white pad, stored as a blob: the demo's inspector signs with it."""
    image = Image.new("RGB", (360, 120), "white")
    ImageDraw.Draw(image).line([(20, 90), (70, 30), (110, 85), (160, 35), (210, 80), (260, 40), (330, 70)],
                               fill="black", width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    out.seek(0)
    return blobs.store_upload(out)


def _history(rng, users, bins, ops, locations, now, timezone) -> None:
    """Two weeks of completed transfers and counts, written through the real ingest path."""
    number = 0
    loc_by_op = {loc.operation_id: loc for loc in locations}
    for b in bins:
        if b.location is None or b.location.kind != "operation":
            continue
        op_index = next(i for i, o in enumerate(ops) if o.id == b.location.operation_id)
        if op_index == 0:
            continue
        number += 1
        at = b.location_since
        t = Transfer(number=f"ZX-{number:05d}", kind="next_operation", status="complete", bin=b,
                     work_order=b.work_order, product=b.product, part_name=b.product.name_zh,
                     from_location=loc_by_op[ops[op_index - 1].id], to_location=b.location,
                     quantity=b.quantity, quantity_in=b.quantity, created_by=users[Role.CLERK].id,
                     created_at=at - timedelta(minutes=50), completed_at=at)
        db.session.add(t)
        for i, step in enumerate(("clerk", "inspector", "operator", "receiver")):
            db.session.add(Signature(transfer=t, step=step, user_id=users[Role(step)].id, quantity=b.quantity,
                                     signed_at=at - timedelta(minutes=40 - 10 * i)))
    db.session.flush()

    device_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "shopfloor:demo:clerk-phone"))
    start = now - 15 * DAY_MS
    db.session.execute(insert(schema.devices).values(
        id=device_id, user_id=users[Role.CLERK].id, label="Demo clerk phone", registered_at=start,
        acked_through_seq=0, last_seen_at=now, kind="demo"))  # made by the server: no client may claim it
    for role in (Role.CLERK, Role.KEEPER, Role.INSPECTOR):
        db.session.execute(insert(schema.device_users).values(
            device_id=device_id, user_id=users[role].id, first_seen_at=start))
    events = []
    # Counts happen on the day shift, 08:00-17:00 in the plant's time zone.
    today = datetime.now(ZoneInfo(timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(14, 0, -1):
        midnight = int((today - timedelta(days=day)).timestamp() * 1000)
        for b in rng.sample([b for b in bins if b.quantity], 6):
            at = midnight + rng.randrange(8 * 3600, 17 * 3600) * 1000
            actor = users[rng.choice([Role.CLERK, Role.CLERK, Role.KEEPER])]
            events.append((at, actor.id, {"bin_code": b.code, "quantity": b.quantity}))
    # One disagreement the office has to look at: two counts ten minutes apart.
    disputed = bins[4]
    at = now - 2 * 3600 * 1000
    events.append((at, users[Role.CLERK].id, {"bin_code": disputed.code, "quantity": disputed.quantity}))
    events.append((at + 600_000, users[Role.KEEPER].id,
                   {"bin_code": disputed.code, "quantity": disputed.quantity - 3, "note": "少 3 件? 3 short?"}))
    events.sort(key=lambda e: e[0])
    roles = actor_roles(device_id)
    for seq, (at, actor_id, payload) in enumerate(events, start=1):
        event = {"id": str(uuid.uuid4()), "device_id": device_id, "seq": seq, "type": "bin.counted", "v": 1,
                 "occurred_at": at, "actor_id": actor_id, "payload": payload, "attachments": []}
        ingest_push(db.session, registry, device_id=device_id, raw_events=[event], now_ms=at + 30_000,
                    build="demo", sent_at=at + 30_000, actor_role=roles)
