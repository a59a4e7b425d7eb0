"""Label printing speed (`make bench-labels`): labels per second for 1,000 labels.

- PDF on A4 sheets (a4-24, 42 pages) and on 50 x 30 mm thermal labels (1,000 pages);
- ZPL for 50 x 30 mm at 203 dpi.

Target: ≥ 200 labels/s for PDF (a WeasyPrint label stack does about 6). Every label has a
Chinese workshop name, its English name and a bin type, like the demo plant's. Wall-clock and
CPU time are both reported: on a shared machine the CPU figure is the steadier one. The
font is loaded (once per process) before timing; its load time is reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from webapp.domain.label_codes import mint  # noqa: E402
from webapp.printing import Label, render  # noqa: E402
from webapp.printing.fonts import label_font  # noqa: E402

CASES = [("a4-24", "pdf"), ("50x30", "pdf"), ("50x30", "zpl")]
TARGET = 200


def batch(count: int, base: str) -> list[Label]:
    """Return `count` labels as a plant would print them."""
    return [Label(mint(n), f"{base}/b/{mint(n)}", "机加工车间", "Machining shop", "铁框 steel crate")
            for n in range(1, count + 1)]


def measure(labels: list[Label], layout: str, fmt: str, runs: int) -> tuple[float, float, int]:
    """Return the median wall and CPU labels per second over `runs`, and the output's size in bytes."""
    wall, cpu, size = [], [], 0
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        output = render(labels, layout, fmt)
        wall.append(len(labels) / (time.perf_counter() - started))
        cpu.append(len(labels) / (time.process_time() - started_cpu))
        size = sum(len(f) for f in output.files)
    return statistics.median(wall), statistics.median(cpu), size


def main() -> int:
    """Print labels per second for each case; exit 1 if a PDF case misses the target on CPU time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--public-url", default="https://shopfloor.plant.example")
    args = parser.parse_args()

    started = time.perf_counter()
    font = label_font()
    print(f"font: {font.path.name} face {font.index} ({font.family}), loaded in {time.perf_counter() - started:.2f} s")
    labels = batch(args.count, args.public_url)
    missed = False
    print(f"{'case':<14} {'labels/s (wall)':>16} {'labels/s (CPU)':>15} {'output':>10}")
    for layout, fmt in CASES:
        wall, cpu, size = measure(labels, layout, fmt, args.runs)
        print(f"{layout + ' ' + fmt:<14} {wall:>16.0f} {cpu:>15.0f} {size / 1e6:>8.2f} MB")
        missed |= fmt == "pdf" and cpu < TARGET
    print(f"target: PDF ≥ {TARGET} labels/s: {'missed' if missed else 'met'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
