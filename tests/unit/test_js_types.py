"""The device JavaScript type-checks: TypeScript's tsc on its JSDoc (jsconfig.json, jsconfig.workers.json).

TypeScript is a test tool only, installed from package-lock.json into node_modules/ by `npm ci`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "package-lock.json"
INSTALLED = ROOT / "node_modules" / ".package-lock.json"  # npm writes it after every install
TSC = ROOT / "node_modules" / ".bin" / "tsc"


@pytest.fixture(scope="module")
def tsc() -> Path:
    """TypeScript as package-lock.json pins it, installed again when the lock file is newer."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the JavaScript type check needs {' and '.join(missing)}: apt-get install -y nodejs npm "
                    "(make test does this as root)", pytrace=False)
    if not INSTALLED.exists() or INSTALLED.stat().st_mtime < LOCK.stat().st_mtime:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}{done.stderr}"
    return TSC


@pytest.mark.parametrize("config", ["jsconfig.json", "jsconfig.workers.json"])
def test_tsc_finds_no_type_errors(tsc, config):
    done = subprocess.run([str(tsc), "-p", config], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"tsc -p {config}:\n{done.stdout}{done.stderr}"
