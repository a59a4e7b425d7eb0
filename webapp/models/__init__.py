"""Tables and relationships of the whole floor, one area per file."""

from webapp.models.attachments import Attachment, Blob
from webapp.models.bins import Bin, BinLabel, Count, Stocktake
from webapp.models.orders import WorkOrder
from webapp.models.people import LoginSession, RoleSpan, StaffBadge, User
from webapp.models.plant import Location, Operation, Plant, Product, Route, RouteStep, SpecGroup, Workshop
from webapp.models.quality import (
    Defect, DefectType, Inspection, InspectionLog, InspectionTemplate, PackingRecord, QualityPlan, ReferenceTable,
    ReworkOrder, SamplingSeries, Setting,
)
from webapp.models.transfers import Signature, SlipBook, Transfer, TransferBin, TransferLog, WarehouseSlip

__all__ = [
    "Attachment", "Bin", "BinLabel", "Blob", "Count", "Defect", "DefectType", "Inspection", "InspectionLog",
    "InspectionTemplate", "Location", "LoginSession", "Operation", "PackingRecord", "Plant", "Product", "QualityPlan",
    "ReferenceTable", "ReworkOrder", "RoleSpan", "Route", "RouteStep", "SamplingSeries", "Setting", "Signature",
    "SlipBook", "SpecGroup", "StaffBadge", "Stocktake", "Transfer", "TransferBin", "TransferLog", "User",
    "WarehouseSlip", "WorkOrder", "Workshop",
]
