"""The plant's default checklists and defect catalogue, installed once (`flask quality-defaults`, the demo).

One checklist per kind of inspection, after seed 002 第四篇: size, workmanship, materials,
pressing and packaging for the first piece, mid-production and final checks; the order's
requirements for the pre-production sample; the delivery list for a material receipt; the sealed
sample for a shipment sample. A product gets its own checklist (with its dimensions) by adding
a template with its product: it wins over the plant's for that kind.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from webapp.models import DefectType, InspectionTemplate


def _check(key: str, zh: str, en: str, group: str) -> dict[str, Any]:
    return {"key": key, "label_zh": zh, "label_en": en, "group": group, "type": "check",
            "nominal": None, "minus": None, "plus": None, "unit": None}


def measure(key: str, zh: str, en: str, nominal: str, minus: str, plus: str, unit: str = "mm",
            group: str = "size") -> dict[str, Any]:
    """A measured characteristic: nominal − minus to nominal + plus is in tolerance."""
    return {"key": key, "label_zh": zh, "label_en": en, "group": group, "type": "measure",
            "nominal": nominal, "minus": minus, "plus": plus, "unit": unit}


_PRODUCTION = [
    _check("size", "尺寸符合图纸", "Size as on the drawing", "size"),
    _check("workmanship", "做工（毛刺、划伤、焊接）", "Workmanship (burrs, scratches, welds)", "workmanship"),
    _check("materials", "材料与规格一致", "Material as specified", "materials"),
    _check("pressing", "压制/成型", "Pressing / forming", "pressing"),
    _check("packaging", "包装与标识", "Packaging and marking", "packaging"),
]
DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {"code": "STD-FIRST", "kind": "first_piece", "name_zh": "首件首扎检验", "name_en": "First piece / first bundle",
     "units": 3, "items": _PRODUCTION[:4]},
    {"code": "STD-MID", "kind": "mid_production", "name_zh": "中期检验", "name_en": "Mid-production check",
     "units": 5, "items": _PRODUCTION},
    {"code": "STD-FINAL", "kind": "final", "name_zh": "尾查（AQL 抽检）", "name_en": "Final inspection (AQL)",
     "units": 1, "items": _PRODUCTION},
    {"code": "STD-PPS", "kind": "pre_production_sample", "name_zh": "产前样核对", "name_en": "Pre-production sample",
     "units": 1, "items": [
         _check("pattern", "款式/版型与订单一致", "Pattern as the order requires", "workmanship"),
         _check("size", "尺寸与订单一致", "Size as the order requires", "size"),
         _check("materials", "材料与订单一致", "Materials as the order requires", "materials"),
         _check("workmanship", "做工", "Workmanship", "workmanship")]},
    {"code": "STD-MAT", "kind": "material_receipt", "name_zh": "物料核对", "name_en": "Material receipt check",
     "units": 1, "items": [
         _check("quantity", "数量与送货单一致（无短缺）", "Quantity as on the delivery list (no shortage)", "quantity"),
         _check("width", "门幅/规格", "Width / specification", "size"),
         _check("faults", "面料/材料瑕疵", "Fabric / material faults", "materials"),
         _check("marking", "标识与批号", "Marking and batch number", "packaging")]},
    {"code": "STD-SHIP", "kind": "shipment_sample", "name_zh": "船样核对", "name_en": "Shipment sample check",
     "units": 1, "items": [
         _check("sealed", "与封样一致", "Matches the sealed sample", "workmanship"),
         _check("size", "尺寸", "Size", "size"),
         _check("packaging", "包装、唛头", "Packaging and shipping marks", "packaging")]},
]
DEFAULT_DEFECTS: list[dict[str, Any]] = [
    {"code": "D-CRACK", "name_zh": "裂纹", "name_en": "Crack", "default_class": "critical"},
    {"code": "D-MATERIAL", "name_zh": "用错材料", "name_en": "Wrong material", "default_class": "critical"},
    {"code": "D-SIZE", "name_zh": "尺寸超差", "name_en": "Out of size", "default_class": "major"},
    {"code": "D-BURR", "name_zh": "毛刺", "name_en": "Burr", "default_class": "minor"},
    {"code": "D-SCRATCH", "name_zh": "划伤", "name_en": "Scratch", "default_class": "minor"},
    {"code": "D-RUST", "name_zh": "锈蚀", "name_en": "Rust", "default_class": "major"},
    {"code": "D-WELD", "name_zh": "焊接不良", "name_en": "Poor weld", "default_class": "major"},
    {"code": "D-PACK", "name_zh": "包装破损/标识错误", "name_en": "Damaged packing / wrong marking",
     "default_class": "minor"},
]


def install_defaults(session) -> int:
    """Add the plant's default checklists and defect types that are missing; return how many were added."""
    have_t = set(session.execute(select(InspectionTemplate.code)).scalars())
    have_d = set(session.execute(select(DefectType.code)).scalars())
    added = [InspectionTemplate(active=True, **t) for t in DEFAULT_TEMPLATES if t["code"] not in have_t]
    added += [DefectType(**d) for d in DEFAULT_DEFECTS if d["code"] not in have_d]
    session.add_all(added)
    session.flush()
    return len(added)


class ItemsInvalid(ValueError):
    """A checklist's text has a line that is not an item: its number (from 1) and the line."""

    def __init__(self, line: int, text: str) -> None:
        super().__init__(line, text)
        self.line, self.text = line, text


def items_text(items: list[dict[str, Any]]) -> str:
    """A checklist's items as the admin page edits them: one a line (see `parse_items`)."""
    lines = []
    for i in items:
        fields = [i["key"], i["label_zh"], i["label_en"], i["group"]]
        if i["type"] == "measure":
            fields += [i["nominal"], i["minus"], i["plus"], i.get("unit") or ""]
        lines.append(" | ".join(fields))
    return "\n".join(lines)


def parse_items(text: str) -> list[dict[str, Any]]:
    """Read checklist items, one a line: `key | 中文 | English | group` (checked pass/fail), or with
    `| nominal | minus | plus | unit` after the group (measured). Raise ItemsInvalid naming a bad line."""
    items, keys = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        ok = len(parts) in (4, 7, 8) and re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", parts[0]) is not None and all(
            0 < len(p) <= 120 for p in parts[1:3]) and parts[3] in InspectionTemplate.GROUPS and parts[0] not in keys
        if ok and len(parts) > 4:
            numbers = [_decimal(p) for p in parts[4:7]]
            ok = all(n is not None for n in numbers) and numbers[1] >= 0 and numbers[2] >= 0  # type: ignore[operator]
        if not ok:
            raise ItemsInvalid(number, line)
        keys.add(parts[0])
        if len(parts) == 4:
            items.append(_check(parts[0], parts[1], parts[2], parts[3]))
        else:
            items.append(measure(parts[0], parts[1], parts[2], parts[4], parts[5], parts[6],
                                 parts[7] if len(parts) == 8 and parts[7] else "mm", parts[3]))
    if not items:
        raise ItemsInvalid(0, "")
    return items


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() and len(text) <= 16 else None
