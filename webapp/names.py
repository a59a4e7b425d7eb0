"""Translated names of roles, places and outcomes, for templates."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

ROLE_NAMES = {
    "clerk": _l("Transfer clerk"),
    "inspector": _l("Inspector"),
    "operator": _l("Operator"),
    "receiver": _l("Receiver"),
    "office": _l("Statistician"),
    "director": _l("Workshop director"),
    "keeper": _l("Warehouse keeper"),
    "accountant": _l("Workshop accountant"),
    "follower": _l("Order follower"),
    "admin": _l("Administrator"),
}

LOCATION_KINDS = {
    "operation": _l("At an operation"),
    "waiting": _l("Waiting area"),
    "warehouse": _l("Warehouse"),
    "empty": _l("Empty / not placed"),
}

TRANSFER_KINDS = {
    "next_operation": _l("To the next operation"),
    "waiting": _l("To a waiting area"),
    "warehouse": _l("Into the warehouse"),
    "return": _l("Returned"),
}

INSPECTION_KINDS = {
    "first_piece": _l("First-piece inspection"),
    "mid_production": _l("Mid-production inspection"),
    "final": _l("Final inspection (AQL sampling)"),
    "pre_production_sample": _l("Pre-production sample"),
    "material_receipt": _l("Material receipt check"),
    "shipment_sample": _l("Shipment sample"),
}

INSPECTION_STATUSES = {
    "open": _l("Under way"),
    "passed": _l("Passed"),
    "failed": _l("Failed"),
}

DEFECT_CLASSES = {
    "critical": _l("Critical"),
    "major": _l("Major"),
    "minor": _l("Minor"),
}

SEVERITIES = {
    "normal": _l("Normal inspection"),
    "tightened": _l("Tightened inspection"),
    "reduced": _l("Reduced inspection"),
    "discontinued": _l("Inspection discontinued"),
}

STEP_NAMES = {
    "clerk": _l("Transfer clerk: quantity"),
    "inspector": _l("Inspector: quality"),
    "operator": _l("Upstream operator: releases"),
    "receiver": _l("Downstream receiver: accepts"),
}

VERDICTS = {"pass": _l("Pass"), "fail": _l("Fail")}

SLIP_STATUSES = {
    "open": _l("Waiting for signatures"),
    "discrepancy": _l("Quantity differs: waiting for an explanation"),
    "refused": _l("Refused"),
    "complete": _l("Complete"),
}

SIGNATURE_STATES = {
    "valid": _l("valid"),
    "void": _l("void: the slip changed after it"),
    "out_of_order": _l("out of order"),
    "replaced": _l("replaced by a later signature"),
    "pending": _l("slip not received yet"),
}

VERIFICATIONS = {
    "device_user": _l("signed in on this device"),
    "badge_pin": _l("badge and PIN"),
    "unverified": _l("not verified"),
}

COUNT_OUTCOMES = {
    "recorded": _l("recorded"),
    "confirmed": _l("confirmed"),
    "discrepancy": _l("differs from the last count"),
    "recount": _l("recount"),
}


def role_name(role: str) -> str:
    """Return the translated name of a role."""
    return str(ROLE_NAMES.get(role, role))


def local_name(thing) -> str:
    """Return a thing's name in the current language (things with name_zh and name_en)."""
    if thing is None:
        return ""
    if isinstance(thing, dict):  # a place or a product as the API shows it
        return thing["name_zh"] if str(get_locale()).startswith("zh") else thing["name_en"]
    return thing.name_zh if str(get_locale()).startswith("zh") else thing.name_en


def step_name(step: str) -> str:
    """Return the translated name of a slip's step."""
    return str(STEP_NAMES.get(step, step))


def verdict_name(verdict: str) -> str:
    """Return the translated name of an inspector's verdict."""
    return str(VERDICTS.get(verdict, verdict))
