"""domain/ and sync/ stay free of Flask, so their rules run anywhere (and in these tests)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("sync/**/*.py"), *ROOT.glob("webapp/domain/**/*.py")])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_flask_import(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            assert not name.split(".")[0].startswith("flask"), f"{path.name} imports {name}"
        if "sync" in path.relative_to(ROOT).parts[:1]:
            for name in names:
                assert not name.startswith("webapp"), f"sync must not know the app: {path.name} imports {name}"


def test_there_is_something_to_check():
    assert len(FILES) >= 8


# Read models: what pages show. They may use the one bin lookup (services/bins.py) and the log
# (services/records.py), never an area's write side (its handlers and event types).
READ_MODELS = ["webapp/services/bins.py", "webapp/services/records.py", "webapp/services/office.py"]
WRITE_SIDE = {"webapp.services.counting", "webapp.services.moving", "webapp.services.sync_service", "webapp.areas",
              "webapp.services.review"}


@pytest.mark.parametrize("path", READ_MODELS)
def test_read_models_never_import_write_handlers(path):
    tree = ast.parse((ROOT / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            assert not imported & WRITE_SIDE, f"{path} imports {sorted(imported & WRITE_SIDE)}"
        elif isinstance(node, ast.Import):
            assert not {a.name for a in node.names} & WRITE_SIDE, path


def test_every_area_module_declares_its_area():
    """Each write module the registry is built from ends with an AREA (webapp/areas.py lists them)."""
    text = (ROOT / "webapp/areas.py").read_text()
    for module in ("counting", "moving", "review"):
        assert f"{module}.AREA" in text
        assert "\nAREA = Area(" in (ROOT / f"webapp/services/{module}.py").read_text()
