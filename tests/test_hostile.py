"""Hostile files at the entry points (samples/hostile.py): each ends in a normal inspection or
one clear InputFileError, in bounded memory and time.

Every case runs in a forked child with a capped address space, so that a regression fails
here instead of hanging the suite or exhausting the machine; the child reports its peak
resident memory, which must stay under PEAK_RSS_MB.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import resource
import traceback
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pytest

from kiemchung.extractors.limits import MAX_PAGES
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.models.document import nfc
from kiemchung.models.errors import InputFileError, KiemchungError
from samples import hostile
from samples.pki import DemoPKI
from samples.sign import sign_pdf
from tests.helpers import kiemchung

PEAK_RSS_MB = 1024
ADDRESS_SPACE = 4 << 30   # a memory regression fails with MemoryError, not the OOM killer
HANG_SECONDS = 120        # far above any case's cost: only a hang reaches it


@dataclass(frozen=True)
class Outcome:
    kind: str                 # "inspection", "error" (a KiemchungError) or "crash"
    message: str = ""
    error_class: str = ""
    pages: int = 0
    text: str = ""
    errors: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()
    text_source: str = ""
    peak_mb: float = 0.0


def _inspect_in_child(sender, data: bytes, name: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    try:
        result = inspect_bytes(data, name)
        outcome = Outcome("inspection", pages=len(result.text.pages),
                          text="\n".join(p.text for p in result.text.pages),
                          errors=result.text.errors,
                          signatures=tuple(s.status.value for s in result.signatures),
                          text_source=result.to_json()["text_source"])
    except KiemchungError as error:
        outcome = Outcome("error", message=error.message, error_class=type(error).__name__)
    except BaseException:   # noqa: BLE001 — what the test is looking for
        outcome = Outcome("crash", message=traceback.format_exc())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sender.send(replace(outcome, peak_mb=peak))


def inspect_isolated(data: bytes, name: str = "evidence.pdf") -> Outcome:
    """`inspect_bytes(data, name)` in a forked child; fails the test on a hang or a death."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_inspect_in_child, args=(sender, data, name))
    child.start()
    sender.close()
    try:
        if not receiver.poll(HANG_SECONDS):
            pytest.fail(f"{name}: no answer within {HANG_SECONDS} s")
        outcome = receiver.recv()
    except EOFError:
        child.join()
        pytest.fail(f"{name}: the inspecting process died (exit code {child.exitcode})")
    finally:
        if child.is_alive():
            child.kill()
        child.join()
    assert outcome.kind != "crash", outcome.message
    assert outcome.peak_mb < PEAK_RSS_MB, f"{name}: peak RSS {outcome.peak_mb:.0f} MB"
    return outcome


# -- refused with one clear line -------------------------------------------------------------

BOMB = (r"no page of the PDF can be read; page 1: more than 64 MB of drawing instructions "
        r"once decompressed \(a decompression bomb\): not read")
DAMAGED_TREE = (r"damaged PDF: its catalog or page tree cannot be read, so no page can be "
                r"shown: get a complete copy")
NOT_SUPPORTED = "PDF, PNG, JPEG or TIFF"

REFUSED = {
    "empty": (hostile.empty, r"the file is empty \(0 bytes\)"),
    "plain_text": (hostile.plain_text, rf"a text file, not a {NOT_SUPPORTED} file"),
    "html": (hostile.html_page, rf"an HTML page, not a {NOT_SUPPORTED} file"),
    "docx": (hostile.docx_header,
             rf"a ZIP or Office file \(\.docx, \.xlsx …\), not a {NOT_SUPPORTED} file: "
             r"export it to PDF"),
    "gif": (hostile.gif_image, rf"an image format that is not supported: use {NOT_SUPPORTED}"),
    "pdf_header_then_garbage": (hostile.pdf_header_then_garbage,
                                r"damaged PDF that cannot be opened \([^)]+\): get a complete "
                                r"copy from where it came from"),
    "encrypted": (hostile.encrypted, r"the PDF is password-protected \(encrypted\); provide a "
                                     r"copy without a password"),
    "nested_arrays": (hostile.deeply_nested, DAMAGED_TREE),
    "nested_dicts": (lambda: hostile.deeply_nested(kind="dict"), DAMAGED_TREE),
    "xref_prev_loop": (hostile.xref_prev_loop, DAMAGED_TREE),
    "nested_in_page": (lambda: hostile.deeply_nested(where="page"),
                       r"no page of the PDF can be read; page 1: the page cannot be read "
                       r"\(objects nested too deeply\)"),
    "many_pages": (hostile.many_pages,
                   rf"the PDF has 5000 pages, more than the {MAX_PAGES} one evidence file may "
                   r"have: split it and submit the part that is evidence"),
    "content_stream_bomb": (hostile.content_stream_bomb, BOMB),
    "form_bomb": (hostile.form_bomb, BOMB),
    "huge_image_pdf": (hostile.huge_image_pdf,
                       r"no page of the PDF can be read; page 1: an image on the page is "
                       r"100000 × 100000 pixels \(10,000 megapixels, over the limit of 80\): "
                       r"too large to render"),
    "huge_inline_image_pdf": (lambda: hostile.huge_inline_image_pdf(20_000, 20_000),
                              r"no page of the PDF can be read; page 1: the page cannot be "
                              r"read \(Overly large image\)"),
    "huge_page": (hostile.huge_page, r"no page of the PDF can be read; page 1: the page is "
                                     r"508 × 508 cm, too large to render"),
    "huge_png": (hostile.huge_png, r"the image has 10,000 megapixels, over the limit of 80: "
                                   r"scan the page again at 300 dpi"),
    "large_png": (lambda: hostile.huge_png(10_000, 9_000),
                  r"the image is 10000 × 9000 pixels \(90 megapixels, over the limit of 80\): "
                  r"scan the page again at 300 dpi"),
    "huge_tiff": (hostile.huge_tiff, r"the image has 10,000 megapixels, over the limit of 80"),
    "many_frames_tiff": (hostile.many_frames_tiff,
                         rf"the image file has 3000 pages, more than the {MAX_PAGES} one "
                         r"evidence file may have"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_with_one_clear_line(case):
    make, pattern = REFUSED[case]
    outcome = inspect_isolated(make(), f"{case}.pdf")
    assert outcome.kind == "error" and outcome.error_class == "InputFileError", outcome
    assert re.fullmatch(rf"{case}\.pdf: {pattern}.*", outcome.message), outcome.message
    assert "\n" not in outcome.message and "code=" not in outcome.message


@pytest.fixture(scope="module")
def signed() -> bytes:
    return hostile.signed_evidence()


@pytest.mark.parametrize("fraction,expected", [
    (0.0005, r"damaged PDF that cannot be opened \(.+\): get a complete copy .*"),
    (0.1, r"damaged or truncated PDF: none of its 1 page\(s\) can be read: get a complete .*"),
    (0.75, r"damaged or truncated PDF: none of its 1 page\(s\) can be read: get a complete .*"),
])
def test_a_signed_pdf_cut_short_is_refused(signed, fraction, expected):
    with pytest.raises(InputFileError) as raised:
        inspect_bytes(hostile.truncated(signed, fraction), "cut.pdf")
    assert re.fullmatch(rf"cut\.pdf: {expected}", raised.value.message), raised.value.message


def test_a_signed_pdf_cut_near_its_end_is_read_as_repaired(signed):
    outcome = inspect_isolated(hostile.truncated(signed, 0.999), "cut.pdf")
    assert outcome.kind == "inspection" and "KẾ HOẠCH" in outcome.text
    assert outcome.errors[0].startswith("the PDF is damaged or truncated")
    assert "malformed" in outcome.signatures     # the last signature lost its end


# -- read normally, with page errors where pages fail ----------------------------------------

def test_owner_password_only_opens_as_usual():
    outcome = inspect_isolated(hostile.owner_password_only())
    assert outcome.kind == "inspection" and outcome.errors == ()
    assert nfc(hostile.PAGE_TEXT) in outcome.text


def test_a_broken_xref_table_is_rebuilt_and_said():
    outcome = inspect_isolated(hostile.broken_xref())
    assert outcome.kind == "inspection" and outcome.pages == 2
    assert outcome.text.count(nfc(hostile.PAGE_TEXT)) == 2
    assert outcome.errors == ("the PDF is damaged or truncated (no end marker or a broken "
                              "cross-reference table); it was repaired and may be incomplete",)


def test_a_page_tree_loop_leaves_the_real_page_and_names_the_loop():
    outcome = inspect_isolated(hostile.page_tree_loop())
    assert outcome.kind == "inspection" and "Loop" in outcome.text
    assert outcome.errors and all(e.endswith("the page cannot be read (cycle in page tree)")
                                  for e in outcome.errors)


@pytest.mark.parametrize("make", [hostile.field_tree_loop, hostile.form_cycle,
                                  hostile.metadata_bomb],
                         ids=["field_tree_loop", "form_cycle", "metadata_bomb"])
def test_loops_and_bombs_nothing_needs_are_harmless(make):
    outcome = inspect_isolated(make())
    assert outcome.kind == "inspection" and outcome.errors == () and outcome.signatures == ()
    assert outcome.text.strip()


def test_a_page_of_many_drawings_is_rendered_not_listed():
    outcome = inspect_isolated(hostile.drawing_bomb(150_000))   # 3 MB of instructions
    assert outcome.kind == "inspection" and outcome.errors == ()
    assert outcome.text_source == "ocr"      # drawings and no text: a page for OCR


def test_a_poster_size_page_is_ocr_d_at_a_lower_resolution():
    outcome = inspect_isolated(hostile.huge_page(side=3370))     # A0's long side, squared
    assert outcome.kind == "inspection" and outcome.errors == ()
    assert outcome.text_source == "ocr"


def test_an_inline_image_too_large_for_mupdf_leaves_a_blank_page():
    outcome = inspect_isolated(hostile.huge_inline_image_pdf())    # 100000 × 100000
    assert outcome.kind == "inspection" and outcome.errors == () and outcome.text == ""


def test_an_image_just_under_the_pixel_limit_is_read_within_memory():
    outcome = inspect_isolated(hostile.large_png(), "scan.png")    # 72 megapixels
    assert outcome.kind == "inspection" and outcome.pages == 1 and outcome.errors == ()


def test_a_tiff_whose_pages_loop_is_read_once():
    outcome = inspect_isolated(hostile.tiff_frame_loop(), "loop.tif")
    assert outcome.kind == "inspection" and outcome.pages == 2 and outcome.errors == ()


def test_a_bomb_appended_after_signing_loses_its_page_and_breaks_the_signature():
    pki = DemoPKI.create("hostile")
    person = pki.person("Nguyễn Văn An", "UBND xã Phú Mỹ", "CCCD:079123456789")
    signed = sign_pdf(hostile.text_pdf(pages=2), person)
    outcome = inspect_isolated(hostile.bomb_after_signing(signed, size=100 << 20))
    assert outcome.kind == "inspection" and outcome.pages == 2
    assert outcome.errors == ("page 1: more than 64 MB of drawing instructions once "
                              "decompressed (a decompression bomb): not read",)
    assert "trang 2" in outcome.text and outcome.signatures == ("modified",)


# -- names -----------------------------------------------------------------------------------

HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


@pytest.mark.parametrize("name", hostile.AWKWARD_NAMES, ids=range(len(hostile.AWKWARD_NAMES)))
def test_any_file_name_is_kept_and_shown_on_one_line(name):
    assert inspect_bytes(hostile.text_pdf(), name).file == name
    with pytest.raises(InputFileError) as raised:
        inspect_bytes(b"", name)
    message = raised.value.message
    assert message.endswith(": the file is empty (0 bytes)") and len(message) < 200
    assert not {unicodedata.category(ch) for ch in message} & HIDDEN, ascii(message)
    assert message == nfc(message)
    if name.isprintable() and len(name) < 100:
        assert message.startswith(nfc(name))


# -- through the command line ----------------------------------------------------------------

CLI_REFUSED = ("html", "nested_arrays", "many_pages", "content_stream_bomb", "huge_png")
CLI_NAME = "kế hoạch\nđã ký \u202efdp.pdf"      # a newline and a bidi override


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Every command-line case, run two at a time (each run starts a Python)."""
    folder = tmp_path_factory.mktemp("hostile-cli")
    jobs = {}
    for case in CLI_REFUSED:
        path = folder / f"{case}.pdf"
        path.write_bytes(REFUSED[case][0]())
        jobs[case] = ("inspect", "--json", str(path))
    loop = folder / "loop.pdf"
    loop.write_bytes(hostile.page_tree_loop())
    jobs["page_tree_loop"] = ("inspect", "--json", str(loop))
    odd = folder / CLI_NAME
    odd.write_bytes(b"")
    jobs["odd_name"] = ("inspect", str(odd))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(kiemchung, *args) for case, args in jobs.items()}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", CLI_REFUSED)
def test_the_command_line_prints_one_line_and_exits_2(cli_runs, case):
    result = cli_runs[case]
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.fullmatch(rf"kiemchung: .*{case}\.pdf: {REFUSED[case][1]}.*", lines[0]), lines[0]


def test_the_command_line_json_stays_clean_when_mupdf_complains(cli_runs):
    result = cli_runs["page_tree_loop"]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)            # nothing but the object on standard output
    assert data["pages"] == 3 and any("cycle in page tree" in e for e in data["errors"])


def test_the_command_line_shows_an_odd_name_escaped_on_one_line(cli_runs):
    result = cli_runs["odd_name"]
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "kế hoạch\\x0ađã ký \\u202efdp.pdf: the file is empty" in result.stderr
