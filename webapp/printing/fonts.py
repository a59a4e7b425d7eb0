"""The label font: Noto Sans CJK SC from PyPI, a font named in LABEL_FONT, or a system CJK font.

Labels carry Chinese plant, workshop and bin-type names, so the font must have CJK glyphs.
The runtime never needs root: the `noto-cjk-sans-otc` wheel (a dependency) ships Google's
NotoSansCJK-Regular.ttc byte for byte (the same file as Debian's fonts-noto-cjk). The font is
loaded once per process; PDF text is drawn from its glyph outlines (fontTools reads CFF and
TrueType alike), PNG and ZPL text with Pillow (FreeType) from the same file and face.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.pens.basePen import BasePen
from fontTools.ttLib import TTFont
from PIL import ImageFont

log = logging.getLogger(__name__)

ENV = "LABEL_FONT"  # a TTF, OTF or TTC path; "path#N" picks face N of a collection
PREFERRED_FAMILY = "Noto Sans CJK SC"
SYSTEM_FONTS = (  # Debian/Ubuntu fonts-noto-cjk, Fedora, Arch, macOS, Windows
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


class LabelFontMissing(RuntimeError):
    """No font with Chinese glyphs was found; labels would print empty boxes."""


def _packaged() -> Path | None:
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return None
    path = Path(str(FONT_PATH))
    return path if path.is_file() else None


def _face_index(path: Path) -> int:
    """Return the face of a collection to use: Noto Sans CJK SC if present, else the first."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        names = [str(face["name"].getDebugName(1) or "") for face in collection.fonts]
    finally:
        collection.close()
    for wanted in (PREFERRED_FAMILY, " SC"):
        for i, name in enumerate(names):
            if wanted in name and "Mono" not in name:
                return i
    return 0


def locate() -> tuple[Path, int]:
    """Return the font file and face to print labels with, or raise LabelFontMissing."""
    named = os.environ.get(ENV, "").strip()
    if named:
        path_text, _, index = named.partition("#")
        path = Path(path_text).expanduser()
        if not path.is_file():
            raise LabelFontMissing(f"{ENV}={named}: no such font file")
        return path, int(index) if index else _face_index(path)
    for candidate in (_packaged(), *map(Path, SYSTEM_FONTS)):
        if candidate is not None and candidate.is_file():
            return candidate, _face_index(candidate)
    raise LabelFontMissing(
        "No CJK font for labels: `pip install noto-cjk-sans-otc` (a dependency of Shopfloor), "
        f"or set {ENV} to a TTF/OTF/TTC file with Chinese glyphs."
    )


class _PathPen(BasePen):
    """Collect a glyph outline as PDF path operators in font units (quadratic curves become cubic)."""

    def __init__(self, glyph_set):
        super().__init__(glyph_set)
        self.ops: list[str] = []

    def _moveTo(self, pt):
        self.ops.append(f"{pt[0]:g} {pt[1]:g} m")

    def _lineTo(self, pt):
        self.ops.append(f"{pt[0]:g} {pt[1]:g} l")

    def _curveToOne(self, p1, p2, p3):
        self.ops.append(f"{p1[0]:g} {p1[1]:g} {p2[0]:g} {p2[1]:g} {p3[0]:g} {p3[1]:g} c")

    def _closePath(self):
        self.ops.append("h")


@dataclass(frozen=True)
class Glyph:
    """One glyph: its name, advance and outline as PDF path operators, all in font units."""

    name: str
    advance: int
    path: str


class LabelFont:
    """A loaded font: metrics and outlines (fontTools) and Pillow faces, shared by every renderer."""

    def __init__(self, path: Path, index: int = 0) -> None:
        self.path, self.index = path, index
        self._font = TTFont(str(path), fontNumber=index, lazy=True)
        self._cmap = self._font.getBestCmap()
        self._glyph_set = self._font.getGlyphSet()
        self.units = self._font["head"].unitsPerEm
        os2 = self._font["OS/2"]
        self.cap_height = (getattr(os2, "sCapHeight", 0) or int(self.units * 0.7)) / self.units  # in em
        self.ascent = os2.sTypoAscender / self.units
        self.descent = -os2.sTypoDescender / self.units
        self.family = str(self._font["name"].getDebugName(1))
        self._glyphs: dict[str, Glyph] = {}
        self._loading = threading.Lock()  # fontTools reads the file lazily: one reader at a time

    def has(self, char: str) -> bool:
        """Say whether the font has a glyph for `char`."""
        return ord(char) in self._cmap

    def missing(self, text: str) -> set[str]:
        """Return the characters of `text` the font cannot draw (they would print as empty boxes)."""
        return {c for c in text if not c.isspace() and ord(c) not in self._cmap}

    def glyph(self, char: str) -> Glyph:
        """Return the glyph for a character (the .notdef box when the font lacks it)."""
        name = self._cmap.get(ord(char), ".notdef")
        found = self._glyphs.get(name)
        return found if found is not None else self._load(name)

    def notdef(self) -> Glyph:
        """Return the font's missing-glyph box."""
        return self._glyphs.get(".notdef") or self._load(".notdef")

    def _load(self, name: str) -> Glyph:
        with self._loading:
            if name not in self._glyphs:
                source = self._glyph_set[name]
                pen = _PathPen(self._glyph_set)
                source.draw(pen)
                self._glyphs[name] = Glyph(name, source.width, " ".join(pen.ops))
            return self._glyphs[name]

    def width(self, text: str) -> float:
        """Return the advance width of `text` in em."""
        return sum(self.glyph(c).advance for c in text) / self.units

    @lru_cache(maxsize=64)  # noqa: B019 (one font object per process)
    def pillow(self, size_px: int) -> ImageFont.FreeTypeFont:
        """Return the Pillow face at a pixel size (same file and face as the outlines)."""
        return ImageFont.truetype(str(self.path), size_px, index=self.index)


@lru_cache(maxsize=1)
def label_font() -> LabelFont:
    """Return the label font, loaded once per process."""
    path, index = locate()
    font = LabelFont(path, index)
    log.info("label font: %s (face %d, %s)", path, index, font.family)
    return font
