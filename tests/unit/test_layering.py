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
