"""Roles on the floor and in the office, and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A person's job in the plant (shared/domain.md, "The people")."""

    CLERK = "clerk"  # 转序员
    INSPECTOR = "inspector"  # 检查员
    OPERATOR = "operator"  # 上道工序操作者
    RECEIVER = "receiver"  # 下道工序车间主任/班长
    OFFICE = "office"  # 统计员
    DIRECTOR = "director"  # 车间主任
    KEEPER = "keeper"  # 保管员
    ACCOUNTANT = "accountant"  # 核算员: fills the workshop's issue slips (§3.7)
    FOLLOWER = "follower"  # 跟单员
    ADMIN = "admin"  # 管理员


ALL_ROLES: frozenset[str] = frozenset(Role)
# Floor users land on the scan screen; office users on the office pages.
FLOOR_ROLES: frozenset[str] = frozenset({Role.CLERK, Role.INSPECTOR, Role.OPERATOR, Role.RECEIVER, Role.KEEPER})
OFFICE_ROLES: frozenset[str] = frozenset({Role.OFFICE, Role.DIRECTOR, Role.FOLLOWER, Role.ACCOUNTANT, Role.ADMIN})


class Can(StrEnum):
    """A capability a route or an event type needs."""

    USE_FLOOR = "use_floor"  # scan screen, bin pages
    COUNT_BIN = "count_bin"
    MOVE_BIN = "move_bin"  # to the next operation, the waiting area or a warehouse
    STOCKTAKE = "stocktake"  # start, count and close a stocktake of an area (盘点, §1.5)
    VIEW_OFFICE = "view_office"
    READ_EVENTS = "read_events"
    SYNC = "sync"  # register a device, push, pull
    REVIEW = "review"  # resolve exceptions and quarantined records
    USE_WAREHOUSE = "use_warehouse"  # entry and issue slips: see them, sign them
    INSPECT = "inspect"  # run inspections: first piece, mid-production, final, the follower's checks
    RECORD_PACKING = "record_packing"  # cartons packed for an order
    OVERRIDE_FIRST_PIECE = "override_first_piece"  # let a transfer go before the first piece passed
    MANAGE_QUALITY = "manage_quality"  # sampling settings, quality plans, checklists, the defect catalogue
    MANAGE_DEVICES = "manage_devices"
    ADMIN = "admin"


CAPABILITIES: dict[Can, frozenset[str]] = {
    Can.USE_FLOOR: ALL_ROLES,
    # Clerks count (stocktakes too), inspectors count samples, keepers count stores;
    # directors and admins may recount a disputed bin.
    Can.COUNT_BIN: frozenset({Role.CLERK, Role.INSPECTOR, Role.KEEPER, Role.DIRECTOR, Role.ADMIN}),
    # Clerks move bins between processes, the waiting area and the warehouse; keepers take
    # bins into and out of their stores (entry and issue slips, §3.4-3.6); admins fix mistakes.
    Can.MOVE_BIN: frozenset({Role.CLERK, Role.KEEPER, Role.ADMIN}),
    # Clerks take part in stocktakes, keepers count their stores, the workshop director counts
    # the workshop; the statistician approves what they found (REVIEW).
    Can.STOCKTAKE: frozenset({Role.CLERK, Role.KEEPER, Role.DIRECTOR, Role.ADMIN}),
    Can.VIEW_OFFICE: OFFICE_ROLES,
    Can.READ_EVENTS: OFFICE_ROLES,
    Can.SYNC: ALL_ROLES,
    # The statistician reviews what was synced; directors and admins may too (§ statistician).
    Can.REVIEW: frozenset({Role.OFFICE, Role.DIRECTOR, Role.ADMIN}),
    # Who fills in, signs or receives a copy of a warehouse slip (§3.4-§3.8).
    Can.USE_WAREHOUSE: frozenset({Role.OFFICE, Role.CLERK, Role.KEEPER, Role.ACCOUNTANT, Role.DIRECTOR,
                                  Role.INSPECTOR, Role.RECEIVER, Role.ADMIN}),
    # QC inspectors in the plant, and order followers inspecting at an outside factory (seed 002 第四篇).
    Can.INSPECT: frozenset({Role.INSPECTOR, Role.FOLLOWER, Role.DIRECTOR, Role.ADMIN}),
    # Whoever packs or counts the packed cartons: the floor's clerks and team leaders, keepers, followers.
    Can.RECORD_PACKING: frozenset({Role.CLERK, Role.RECEIVER, Role.KEEPER, Role.INSPECTOR, Role.FOLLOWER,
                                   Role.DIRECTOR, Role.ADMIN}),
    Can.OVERRIDE_FIRST_PIECE: frozenset({Role.DIRECTOR, Role.ADMIN}),
    Can.MANAGE_QUALITY: frozenset({Role.DIRECTOR, Role.ADMIN}),
    Can.MANAGE_DEVICES: frozenset({Role.ADMIN}),
    Can.ADMIN: frozenset({Role.ADMIN}),
}


def may(role: str | None, capability: Can) -> bool:
    """Say whether a person with `role` has `capability`."""
    return role is not None and role in CAPABILITIES[capability]


def home_for(role: str) -> str:
    """Return the endpoint a role lands on after signing in."""
    return "office.dashboard" if role in OFFICE_ROLES else "floor.scan"
