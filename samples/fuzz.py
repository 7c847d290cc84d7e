"""Fuzzing the entry point: whatever the bytes, `inspect_bytes` returns an Inspection or raises
a KiemchungError (one clear line for the user), never another exception.

    python -m samples.fuzz CRASH_DIR [--minutes 10] [--engine atheris|hypothesis]

With atheris installed (`pip install atheris`; `make fuzz` does it) the run is coverage-guided:
libFuzzer mutates a seed corpus of generated evidence (a signed plan, a scan, images, and the
small hostile files of samples/hostile.py), guided by the Python code it reaches in pyHanko,
Pillow and the extractors (MuPDF, being C, is not instrumented). An input that raises
anything else, runs out of memory (over 2 GB) or takes more than two minutes is saved in
CRASH_DIR. Without atheris, hypothesis mutates the same seeds (`mutated_inputs`, also used by
tests/test_fuzz.py) for the time given, and saves each falsifying input there.

Replay a saved input with: python -m samples.fuzz --replay CRASH_DIR/crash-…
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, Verbosity, given, seed, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from samples import hostile

FUZZ_OCR_DPI = 50          # the property is about exceptions, not OCR quality: render coarsely
RSS_LIMIT_MB = 2048
INPUT_TIMEOUT_S = 120
BATCH = 50                 # hypothesis examples per seed
MAX_LEN = 512 * 1024       # libFuzzer's largest input: twice the largest seed
# Bytes worth inserting into a PDF: structure keywords and numbers that break offsets, lengths
# and counts.
TOKENS = (b"obj", b"endobj", b"stream", b"endstream", b"<<", b">>", b"[", b"]", b" R ", b"0",
          b"-1", b"4294967296", b"99999999999", b"/Length 0", b"/Filter /FlateDecode",
          b"/Kids [1 0 R]", b"/Count 1000000", b"/ByteRange [0 0 0 0]", b"xref", b"trailer",
          b"startxref", b"%%EOF", b"(", b")", b"\\", b"\x00", b"\xff")
# Where a mutation matters most: the file's structure rather than its font and image data.
LANDMARK = re.compile(rb"\d+ \d+ obj|endobj|stream|xref|trailer|startxref|/Length|/ByteRange|"
                      rb"/Contents|/Kids|/Count|/Parent|/Filter|/Size|/Prev|/Root|/Type|IHDR|IDAT")


# -- the property ----------------------------------------------------------------------------

def inspect_or_refuse(data: bytes) -> None:
    """The property: an Inspection or a KiemchungError; anything else propagates."""
    from kiemchung.extractors.pipeline import inspect_bytes
    from kiemchung.models.errors import KiemchungError

    try:
        inspect_bytes(data, "fuzz.pdf", ocr_dpi=FUZZ_OCR_DPI)
    except KiemchungError:
        pass


# -- seeds -----------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def seeds() -> dict[str, bytes]:
    """Small valid and hostile inputs to start from."""
    return {
        "signed.pdf": hostile.signed_evidence(),
        "text.pdf": hostile.text_pdf(pages=2),
        "scan.png": _scan_image("PNG"),
        "scan.tif": _scan_image("TIFF"),
        "page_tree_loop.pdf": hostile.page_tree_loop(),
        "form_cycle.pdf": hostile.form_cycle(),
        "broken_xref.pdf": hostile.broken_xref(),
        "encrypted_owner.pdf": hostile.owner_password_only(),
    }


def _scan_image(kind: str) -> bytes:
    """A small grey 'scan' with one line of print and a red ring, like a seal."""
    image = Image.new("RGB", (320, 120), (246, 244, 238))
    draw = ImageDraw.Draw(image)
    draw.text((10, 20), "UBND XA PHU MY  So: 15/KH-UBND", fill=(20, 20, 20))
    draw.ellipse((220, 30, 300, 110), outline=(200, 30, 40), width=4)
    out = io.BytesIO()
    image.save(out, kind, dpi=(150, 150))
    return out.getvalue()


# -- mutations (hypothesis) ------------------------------------------------------------------

def _landmarks(data: bytes) -> list[int]:
    return [m.start() for m in LANDMARK.finditer(data)] or [0]


@st.composite
def mutated_inputs(draw, max_mutations: int = 6) -> bytes:
    """One seed with a few byte-level mutations: flip, insert, delete, overwrite, truncate,
    splice (a chunk of the file copied elsewhere), half of them at structural landmarks."""
    data = bytearray(draw(st.sampled_from(sorted(seeds().items())))[1])
    landmarks = _landmarks(bytes(data))
    for _ in range(draw(st.integers(1, max_mutations))):
        size = len(data)
        if not size:
            break
        offset = draw(st.one_of(st.integers(0, size - 1),
                                # draw() runs the strategy now, in this iteration.
                                st.sampled_from(landmarks).map(
                                    lambda o: min(o, size - 1))))  # noqa: B023
        kind = draw(st.sampled_from(("flip", "insert", "delete", "overwrite", "truncate",
                                     "splice")))
        if kind == "flip":
            data[offset] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[offset:offset] = draw(st.one_of(st.sampled_from(TOKENS),
                                                 st.binary(min_size=1, max_size=16)))
        elif kind == "delete":
            del data[offset:offset + draw(st.integers(1, 256))]
        elif kind == "overwrite":
            chunk = draw(st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=8)))
            data[offset:offset + len(chunk)] = chunk
        elif kind == "truncate":
            del data[offset:]
        else:
            source = draw(st.integers(0, size - 1))
            data[offset:offset] = data[source:source + draw(st.integers(1, 4096))]
    return bytes(data)


# -- engines ---------------------------------------------------------------------------------

def fuzz_with_hypothesis(crash_dir: Path, seconds: float) -> int:
    """Batches of hypothesis examples, each batch from another seed, until the time is up.
    Returns the number of falsifying inputs saved."""
    found = 0
    deadline = time.monotonic() + seconds
    batch = 0
    while time.monotonic() < deadline:
        failing: list[bytes] = []

        @seed(batch)
        @settings(max_examples=BATCH, deadline=None, database=None, verbosity=Verbosity.quiet,
                  suppress_health_check=list(HealthCheck))
        @given(mutated_inputs())
        def run(data: bytes) -> None:
            try:
                inspect_or_refuse(data)
            except Exception:
                # The last one is the shrunk example hypothesis replays; run() is called in
                # this same iteration, so it sees this iteration's list.
                failing.append(data)  # noqa: B023
                raise

        try:
            run()
        except Exception as exc:   # noqa: BLE001 — what the run is looking for
            found += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"{_save(crash_dir, failing[-1])}: {type(exc).__name__}: {str(exc)[:200]} "
                  f"({Path(where.filename).name}:{where.lineno})", file=sys.stderr)
        batch += 1
        print(f"{batch * BATCH} inputs, {found} crash(es)", file=sys.stderr)
    return found


def fuzz_with_atheris(crash_dir: Path, seconds: float) -> int:
    """libFuzzer through atheris. libFuzzer stops at the first crash, so each run is a child
    process, started again on the grown corpus until the time is up. Returns the number of
    crashes saved."""
    corpus = Path(tempfile.mkdtemp(prefix="kiemchung-fuzz-corpus-"))
    for name, data in seeds().items():
        (corpus / name).write_bytes(data)
    deadline = time.monotonic() + seconds
    runs = 0
    while (left := deadline - time.monotonic()) > 5:
        runs += 1
        subprocess.run([sys.executable, "-m", "samples.fuzz", "--atheris-run", str(corpus),
                        str(crash_dir), str(int(left))], check=False)
    found = len(list(crash_dir.glob("crash-*")) + list(crash_dir.glob("oom-*"))
                + list(crash_dir.glob("timeout-*")))
    print(f"{runs} libFuzzer run(s); {found} input(s) in {crash_dir}", file=sys.stderr)
    return found


def _atheris_run(corpus: Path, crash_dir: Path, seconds: int) -> None:
    import atheris
    import spacy  # noqa: F401 — big and not under test: imported before instrumenting
    with atheris.instrument_imports(include=["extractors", "models", "pyhanko", "PIL"]):
        import kiemchung.extractors.pipeline  # noqa: F401 — instrumented for coverage
    argv = [sys.argv[0], str(corpus), f"-max_total_time={seconds}",
            f"-artifact_prefix={crash_dir}{os.sep}", f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-timeout={INPUT_TIMEOUT_S}", f"-max_len={MAX_LEN}"]
    atheris.Setup(argv, inspect_or_refuse)
    atheris.Fuzz()


def _save(crash_dir: Path, data: bytes) -> Path:
    crash_dir.mkdir(parents=True, exist_ok=True)
    path = crash_dir / f"crash-{random.getrandbits(48):012x}"
    path.write_bytes(data)
    return path


def replay(path: Path) -> int:
    inspect_or_refuse(path.read_bytes())
    print(f"{path}: no crash (an Inspection or a KiemchungError)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("crash_dir", type=Path, nargs="?", help="where failing inputs go")
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget (10)")
    parser.add_argument("--engine", choices=("atheris", "hypothesis"),
                        help="default: atheris when installed, else hypothesis")
    parser.add_argument("--replay", type=Path, help="run one saved input and stop")
    parser.add_argument("--atheris-run", nargs=3, help=argparse.SUPPRESS)   # one child run
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if args.replay:
        return replay(args.replay)
    if args.atheris_run:
        corpus, crash_dir, seconds = args.atheris_run
        _atheris_run(Path(corpus), Path(crash_dir), int(seconds))
        return 0
    if args.crash_dir is None:
        parser.error("CRASH_DIR is required")
    args.crash_dir.mkdir(parents=True, exist_ok=True)
    engine = args.engine or ("atheris" if _has_atheris() else "hypothesis")
    print(f"fuzzing with {engine} for {args.minutes:g} min; crashes go to {args.crash_dir}",
          file=sys.stderr)
    fuzz = fuzz_with_atheris if engine == "atheris" else fuzz_with_hypothesis
    return 1 if fuzz(args.crash_dir, args.minutes * 60) else 0


def _has_atheris() -> bool:
    try:
        import atheris  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    sys.exit(main())
