"""The faster pyHanko reading (`extractors/pyhanko_reading.py`) changes nothing pyHanko reads:
every object of real signed files and of the attack suite's files comes out the same both
ways, and every signature report (status and reason) too."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader

from kiemchung.extractors import pyhanko_reading
from kiemchung.extractors.signatures import TrustStore, load_trust, read_signatures
from samples import attacks
from samples.pki import DemoPKI
from samples.sign import sign_pdf
from tests.helpers import SHARED, absent

SIGNED_AT = dt.datetime(2024, 3, 5, 9, 30, tzinfo=attacks.VN_TZ)
REAL_FILES = sorted((SHARED / "realdocs" / "files").glob("*.pdf"))
REAL_SIGNED = [p for p in REAL_FILES if b"/ByteRange" in p.read_bytes()]


@contextmanager
def pyhanko_alone() -> Iterator[None]:
    pyhanko_reading.uninstall()
    try:
        yield
    finally:
        pyhanko_reading.install()


def shape(obj, *, exact_arrays: bool = True) -> tuple:
    """An object as data: type, value and container reference, all the way down. A revision's
    view of an array is exactly pyHanko's ArrayObject; as first read, an array of numbers may
    be of a subclass (`exact_arrays=False` lets it be)."""
    ref = repr(getattr(obj, "container_ref", None))
    if isinstance(obj, generic.ArrayObject):
        kind = type(obj).__name__ if exact_arrays else "array"
        return (kind, ref, tuple(shape(item, exact_arrays=exact_arrays) for item in obj))
    if isinstance(obj, generic.DictionaryObject):
        return (type(obj).__name__, ref,
                tuple((k, shape(v, exact_arrays=exact_arrays)) for k, v in obj.items()))
    value = "null" if isinstance(obj, generic.NullObject) else repr(obj)
    return (type(obj).__name__, value, ref)


def every_object(data: bytes) -> dict:
    """Each object of each revision, as pyHanko's strict and lenient readers see it, and the
    paths that reach each reference of a revision (the map its difference analysis walks the
    revision for, made before any object of it is read)."""
    seen: dict = {}
    for strict in (True, False):
        try:
            reader = PdfFileReader(BytesIO(data), strict=strict)
        except PdfReadError as exc:
            seen[strict] = ("unreadable", str(exc))
            continue
        for revision in range(reader.xrefs.total_revisions):
            fresh = PdfFileReader(BytesIO(data), strict=strict).get_historical_resolver(revision)
            try:
                fresh._load_reverse_xref_cache()
                seen[strict, revision, "paths"] = fresh._indirect_object_access_cache
            except Exception as exc:   # noqa: BLE001 — the failure must be the same too
                seen[strict, revision, "paths"] = (type(exc).__name__, str(exc))
            resolver = reader.get_historical_resolver(revision)
            for ref in reader.xrefs.explicit_refs_in_revision(revision):
                try:
                    seen[strict, revision, ref.idnum] = shape(
                        resolver(generic.Reference(ref.idnum, ref.generation)))
                except Exception as exc:   # noqa: BLE001 — the failure must be the same too
                    seen[strict, revision, ref.idnum] = (type(exc).__name__, str(exc))
    return seen


def reports(data: bytes, trust: TrustStore) -> list[tuple]:
    """What a signature report says, the reading-independent parts only."""
    return [(r.field_name, r.status, r.reason, r.modification_level, r.coverage,
             dataclasses.astuple(r.changes) if r.changes else None)
            for r in read_signatures(data, trust)]


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return DemoPKI.create("pyhanko-reading")


@pytest.fixture(scope="module")
def attack_files(pki) -> dict[str, bytes]:
    """The attack suite's documents: signed, then altered in each way it knows."""
    pdf, spec = attacks.evidence(seed=3)
    signed = attacks.sign_evidence(pdf, pki, SIGNED_AT)
    number = spec.number
    shadow = attacks.sign_evidence(attacks.shadow_prepare(pdf), pki, SIGNED_AT)
    form = attacks.sign_evidence(attacks.with_form_field(pdf), pki, SIGNED_AT)
    files = {
        "signed": signed,
        "changed text": attacks.change_text(signed, number, number.replace("/", "-", 1)),
        "free text": attacks.add_free_text(signed),
        "wrapped byte range": attacks.wrap_byte_range(signed),
        "moved content": attacks.move_signed_content(signed),
        "shadow hide": attacks.shadow_hide(shadow),
        "shadow overlay": attacks.shadow_overlay(shadow),
        "shadow font": attacks.shadow_replace_font(shadow),
        "shadow page": attacks.shadow_replace_page(shadow),
        "form value": attacks.change_form_value(form),
        "hybrid xref": sign_pdf(attacks.hybrid_xref(pdf), pki.person(
            "Nguyễn Văn An", "Sở Thông tin và Truyền thông", "CCCD:079123456789"),
            signing_time=SIGNED_AT, strict=False),
        "whole file rewritten": attacks.rewrite_whole_file(signed),
        "signed over altered": attacks.sign_over_altered(pdf, pki, SIGNED_AT),
    }
    files.update({f"USF {v}": attacks.forge(signed, v) for v in attacks.USF_VARIANTS})
    return files


@pytest.mark.parametrize("path", REAL_SIGNED or [None],
                         ids=lambda p: p.name[:24] if p else "no-real-files")
def test_real_signed_files_read_the_same(path):
    if path is None:
        absent(f"no signed real document in {SHARED / 'realdocs' / 'files'}")
    data = path.read_bytes()
    trust = load_trust([SHARED / "trust"])
    fast, fast_reports = every_object(data), reports(data, trust)
    with pyhanko_alone():
        assert every_object(data) == fast
        assert reports(data, trust) == fast_reports


def test_attack_files_read_the_same(attack_files, pki):
    trust = TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))
    fast = {name: (every_object(d), reports(d, trust)) for name, d in attack_files.items()}
    with pyhanko_alone():
        pyhanko = {name: (every_object(d), reports(d, trust)) for name, d in attack_files.items()}
    for name in attack_files:
        assert fast[name] == pyhanko[name], name
    # The attacks are still caught: none of the altered files is all valid.
    assert all(status.value == "valid" for _, status, *_ in fast["signed"][1])
    assert not any(all(status.value == "valid" for _, status, *_ in fast[name][1])
                   for name in attack_files if name not in ("signed", "hybrid xref"))


ODD_OBJECTS = [
    b"[1 2 3]", b"[]", b"[ 0[777 0]2 3 250 4[333 555] ]", b"[-1 +2 .5 5. -0.25]",
    b"[1 2 0 R]", b"[1 %comment\n 2]", b"[1,2]", b"[1.2.3]", b"[--5]", b"[1 [2 [3]] 4]",
    b"[1 2", b"[/Name 1]", b"<48656c6c6f>", b"<48 65\n6c 6C 6f>", b"<486>", b"<>",
    b"<48 %c\n65>", b"<4G>", b"<4865", b"<FEFF00410042>",
]


@pytest.mark.parametrize("raw", ODD_OBJECTS, ids=lambda raw: raw.decode("latin-1"))
def test_odd_objects_read_as_pyhanko_reads_them(raw):
    def read() -> tuple:
        stream = BytesIO(raw + b" endobj")
        try:
            obj = generic.read_object(stream, generic.Reference(7, 0))
            return shape(obj, exact_arrays=False), stream.tell()
        except Exception as exc:   # noqa: BLE001
            return type(exc).__name__, str(exc)

    fast = read()
    with pyhanko_alone():
        assert read() == fast


def pdf_with_object(raw: bytes) -> bytes:
    """A one-revision PDF whose catalog refers to object 3, written as `raw`."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R /X 3 0 R >>",
               b"<< /Type /Pages /Kids [] /Count 0 >>", raw]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@pytest.mark.parametrize("raw", [raw for raw in ODD_OBJECTS if raw.startswith(b"[")]
                         + [b"[1][2]", b"[1 2]]", b"[[1] 2", b"[1 2] 3 0 R"],
                         ids=lambda raw: raw.decode("latin-1"))
def test_odd_indirect_arrays_map_as_pyhanko_maps_them(raw):
    # An indirect array of numbers is left unread by the walk: the odd ones must not be.
    data = pdf_with_object(raw)
    fast = every_object(data)
    with pyhanko_alone():
        assert every_object(data) == fast
