"""The README's screenshots: chosen pages from the browser tests' full-page screenshots
(`build/screenshots/`, `make screenshots` runs the tests first), cut to the top of the page
so that the README stays light."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TAKEN = ROOT / "build" / "screenshots"
KEPT = ROOT / "samples" / "screenshots"
CHOSEN = ("login", "documents-suggestions", "documents-verdict", "documents-view-box",
          "campaigns-matrix", "campaigns-self-assessment", "lists-batch-progress",
          "lists-verdicts", "audit-sample", "admin-trust")
MAX_HEIGHT = 1400


def main() -> int:
    missing = [name for name in CHOSEN if not (TAKEN / f"{name}.png").exists()]
    if missing:
        print(f"not taken (run the browser tests first): {', '.join(missing)}", file=sys.stderr)
        return 1
    KEPT.mkdir(parents=True, exist_ok=True)
    for name in CHOSEN:
        with Image.open(TAKEN / f"{name}.png") as shot:
            top = shot.crop((0, 0, shot.width, min(shot.height, MAX_HEIGHT)))
            top.convert("RGB").quantize(256).save(KEPT / f"{name}.png", optimize=True)
    print(f"{len(CHOSEN)} screenshots in {KEPT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
