"""Videos for Chromium's fake camera: bin labels as a phone camera would see them, written as Y4M.

Chromium plays a Y4M file as the camera (`--use-file-for-fake-video-capture=FILE.y4m`) and loops
it. The label is drawn by the label printer's own code (webapp.printing, the 60x40 thermal
layout) when it is there, else as a plain QR from the `qrcode` library (level M, quiet zone 4).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT, FPS = 640, 480, 30
PAPER = 255
INK = 0


def label_image(url: str, code: str, width: int = 360) -> Image.Image:
    """Return a greyscale image of the bin label whose QR encodes `url` (about `width` px wide)."""
    try:
        from webapp.printing import Label, render
    except ImportError:  # the printing module not there: a bare QR with the code under it
        return _plain_label(url, width)
    label = Label(code=code, url=url, title="机加工车间", subtitle="Machining shop", bin_type="铁框 steel crate")
    # 60 x 40 mm at 152 dpi is 359 x 239 px: about 5 px per QR module, as a phone sees a label at arm's length.
    png = render([label], "60x40", "png", dpi=round(width / 60 * 25.4)).files[0]
    return Image.open(io.BytesIO(png)).convert("L")


def _plain_label(url: str, width: int) -> Image.Image:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=1)
    qr.add_data(url)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    side = width * 2 // 3
    return image.resize((side, side), Image.Resampling.NEAREST)


def frame(label: Image.Image | None, *, angle: float = 0, ink: int = INK, paper: int = PAPER,
          background: int = 96, corner: bool = False, worn: bool = False) -> Image.Image:
    """Return a 640x480 RGB camera frame: the label centred on a `background` grey, turned `angle` degrees.

    `ink` and `paper` remap the label's black and white (dark grey on mid grey is a faded label in dim
    light); `corner` puts the label in the top left corner instead, outside the scan screen's framing box;
    `worn` puts a glare spot on the QR and blurs and grains the picture (glossy film, a shaky hand).
    """
    canvas = Image.new("L", (WIDTH, HEIGHT), background)
    if label is not None:
        if worn:
            label = _glare(label)
        toned = label.point(lambda v: round(ink + (paper - ink) * v / 255))
        mask = Image.new("L", toned.size, 255)
        if angle:
            toned = toned.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background)
            mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0)
        x, y = (8, 8) if corner else ((WIDTH - toned.width) // 2, (HEIGHT - toned.height) // 2)
        canvas.paste(toned, (x, y), mask)
    if worn:
        canvas = canvas.filter(ImageFilter.GaussianBlur(1.0))
        canvas = Image.blend(canvas, Image.effect_noise(canvas.size, 18), 0.12)
    return canvas.convert("RGB")


def _glare(label: Image.Image) -> Image.Image:
    """Wash out a soft spot a third of the QR's width across, right of its centre (where zxing-cpp finds it)."""
    import zxingcpp

    corners = zxingcpp.read_barcodes(label)[0].position
    xs = [p.x for p in (corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right)]
    ys = [p.y for p in (corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right)]
    side = max(xs) - min(xs)
    cx, cy, r = min(xs) + side * 0.6, (min(ys) + max(ys)) / 2, side * 0.18
    spot = Image.new("L", label.size, 0)
    ImageDraw.Draw(spot).ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    spot = spot.filter(ImageFilter.GaussianBlur(r / 4))
    return Image.composite(Image.new("L", label.size, 250), label, spot)


def write_y4m(path: Path, frames: Iterable[Image.Image], fps: int = FPS) -> Path:
    """Write RGB frames as YUV4MPEG2 (4:2:0, chroma averaged over 2x2 pixels), the format Chromium reads."""
    frames = list(frames)
    width, height = frames[0].size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image in frames:
            y, u, v = image.convert("YCbCr").split()
            half = (width // 2, height // 2)
            out.write(b"FRAME\n")
            out.write(y.tobytes())
            out.write(u.resize(half, Image.Resampling.BOX).tobytes())
            out.write(v.resize(half, Image.Resampling.BOX).tobytes())
    return path


def still(path: Path, image: Image.Image, frames: int = 6) -> Path:
    """Write a video of one still picture (a few frames: the fake camera loops it)."""
    return write_y4m(path, [image] * frames)
