"""Every string a person reads exists in Simplified Chinese and English."""

from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def test_every_message_is_translated_to_chinese():
    catalogue = load(ROOT / "webapp/translations/zh_Hans_CN/LC_MESSAGES/messages.po")
    template = load(ROOT / "webapp/translations/messages.pot")
    missing = [m.id for m in template if m.id and not (catalogue.get(m.id) and catalogue.get(m.id).string)]
    assert not missing, f"untranslated: {missing}"
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy


def test_the_template_has_every_string_in_the_code():
    """`make messages` was run after the last string change."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "now.pot"
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                        str(ROOT / "webapp/babel.cfg"), "-k", "_l", "-o", str(out), "."],
                       cwd=ROOT, check=True, capture_output=True)
        now = {m.id for m in load(out) if m.id}
    kept = {m.id for m in load(ROOT / "webapp/translations/messages.pot") if m.id}
    assert now <= kept, f"run `make messages` and translate: {sorted(now - kept)}"
