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
}

COUNT_OUTCOMES = {
    "recorded": _l("recorded"),
    "confirmed": _l("confirmed"),
    "discrepancy": _l("differs from the last count"),
    "recount": _l("recount"),
}

EXCEPTION_CODES = {
    "count_discrepancy": _l("Count differs from a recent count"),
    "unknown_bin": _l("Unknown bin"),
    "clock_suspect": _l("Device clock suspect"),
    "location_conflict": _l("Bin was not where the device saw it"),
    "negative_stock": _l("More pieces moved than the bin held"),
    "unparsable": _l("Unreadable record"),
    "unknown_type": _l("Unknown kind of record"),
    "invalid_payload": _l("Record with invalid data"),
    "forbidden": _l("Role may not record this"),
    "unknown_actor": _l("Person not signed on this device"),
    "id_collision": _l("Two records with one id"),
    "seq_collision": _l("Two records with one sequence number"),
    "seq_out_of_range": _l("Sequence number far beyond the device's records"),
    "handler_error": _l("Server error while applying"),
    "wrong_device": _l("Record from another device"),
    "signature_unverified": _l("Signature not verified"),
    "signer_not_allowed": _l("Signer's role may not sign this"),
}


def role_name(role: str) -> str:
    """Return the translated name of a role."""
    return str(ROLE_NAMES.get(role, role))


def local_name(thing) -> str:
    """Return a thing's name in the current language (things with name_zh and name_en)."""
    if thing is None:
        return ""
    return thing.name_zh if str(get_locale()).startswith("zh") else thing.name_en
