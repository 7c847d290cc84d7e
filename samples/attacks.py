"""Known attacks on signed PDFs, and awkward but honest signing variants, built on generated
evidence so the validator can be tested against them.

Attacks (after Mladenov et al. 2019, "1 Trillion Dollar Refund", and Mainka et al. 2021,
"Shadow Attacks"):
- incremental saving: page text changed in an update appended after signing;
- signature wrapping: /ByteRange rewritten to cover appended content, or the signed second
  part moved so that new bytes sit inside the excluded gap;
- universal signature forgery: /Contents empty or zeros, /ByteRange missing, [0 0 0 0],
  negative, overlapping or past the end of the file;
- shadow hide / replace / hide-and-replace: content prepared before signing (an optional
  content group switched off, an empty overlay XObject, a base-14 font) is revealed or
  swapped by an update after signing, or the page's content stream object is replaced;
- an annotation added, or a form value changed, after signing;
- a second signature over a first revision altered in place.

Variants that are not attacks: SHA-1 digests, a certificate without nonRepudiation, local
time labelled as UTC in signingTime, and Word-style hybrid-reference files.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import tempfile
import zlib
from io import BytesIO
from pathlib import Path

import pymupdf
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from kiemchung.models.fields import DocType
from samples.content import make_spec
from samples.pki import (
    DEFAULT_CRL_URL,
    DEFAULT_VALIDITY,
    DemoPKI,
    Identity,
    derive_key,
    derive_serial,
    subject_name,
)
from samples.render import font_file, render_pdf
from samples.sign import sign_pdf, sign_person_and_agency
from samples.spec import DocumentSpec

VN_TZ = dt.timezone(dt.timedelta(hours=7))
SHADOW_LINE = "Kinh phi thuc hien: 150.000.000 dong"      # base-14 font: ASCII only
SHADOW_POINT = (72, 806)                                    # bottom margin of page 1
HIDDEN_TEXT = "Ke hoach nay da bi thu hoi"


# -- documents -------------------------------------------------------------------------------

def evidence(seed: int = 2, doc_type: DocType = DocType.KE_HOACH) -> tuple[bytes, DocumentSpec]:
    """A generated evidence document and its spec."""
    spec = make_spec(random.Random(seed), doc_type)
    return render_pdf(spec), spec


def sign_evidence(pdf: bytes, pki: DemoPKI, at: dt.datetime, *,
                  person: Identity | None = None, agency: Identity | None = None) -> bytes:
    """Person then agency, as a Decree 30 e-document."""
    person = person or pki.person("Nguyễn Văn An", "Sở Thông tin và Truyền thông",
                                  "CCCD:079123456789")
    agency = agency or pki.agency("Sở Thông tin và Truyền thông",
                                  "Ủy ban nhân dân tỉnh Thừa Thiên Huế", "MST:3300123456")
    return sign_person_and_agency(pdf, person, agency, signing_time=at)


def pyhanko_update(pdf: bytes, change) -> bytes:
    """Apply `change(writer)` as an incremental update."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    change(writer)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def mupdf_update(pdf: bytes, change) -> bytes:
    """Apply `change(doc)` with MuPDF and save it as an incremental update, as desktop
    editors do."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        doc = pymupdf.open(path)
        change(doc)
        doc.save(path, incremental=True, encryption=pymupdf.mupdf.PDF_ENCRYPT_KEEP)
        doc.close()
        return path.read_bytes()


# -- incremental saving attack ---------------------------------------------------------------

def change_text(signed: bytes, old: str, new: str, page: int = 0) -> bytes:
    """Redact `old` on a page and write `new` in its place, in an update after signing."""
    def edit(doc: pymupdf.Document) -> None:
        target = doc[page]
        (rect,) = target.search_for(old)[:1]
        target.add_redact_annot(rect)
        target.apply_redactions(images=pymupdf.mupdf.PDF_REDACT_IMAGE_NONE,
                                graphics=pymupdf.mupdf.PDF_REDACT_LINE_ART_NONE)
        target.insert_text((rect.x0, rect.y1 - rect.height * 0.22), new,
                           fontsize=rect.height * 0.86, fontname="vnserif",
                           fontfile=font_file("R"))
    return mupdf_update(signed, edit)


def add_free_text(signed: bytes, text: str = "Số: 99/KH-UBND") -> bytes:
    def edit(writer: IncrementalPdfFileWriter) -> None:
        annot = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name("/FreeText"),
            pdf_name("/Rect"): generic.ArrayObject(
                map(generic.NumberObject, (72, 600, 300, 630))),
            pdf_name("/Contents"): generic.TextStringObject(text),
            pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
        })
        page_ref, _ = writer.find_page_for_modification(0)
        writer.register_annotation(page_ref, writer.add_object(annot))
    return mupdf_update(pyhanko_update(signed, edit), _regenerate_free_text)


def _regenerate_free_text(doc: pymupdf.Document) -> None:
    # pyHanko writes no appearance stream; MuPDF draws one, as a viewer saving would.
    for annot in doc[0].annots(types=[pymupdf.mupdf.PDF_ANNOT_FREE_TEXT]):
        annot.update()


# -- signature wrapping ----------------------------------------------------------------------

BYTE_RANGE = re.compile(rb"/ByteRange\s*\[([^\]]*)\]\s*")


def last_byte_range(pdf: bytes) -> re.Match:
    return list(BYTE_RANGE.finditer(pdf))[-1]


def set_byte_range(pdf: bytes, match: re.Match, text: bytes | None) -> bytes:
    """Rewrite one /ByteRange entry in place, keeping the file length (padding spaces)."""
    replacement = b"" if text is None else b"/ByteRange " + text
    width = match.end() - match.start()
    if len(replacement) > width:
        raise ValueError("replacement /ByteRange does not fit")
    return pdf[:match.start()] + replacement.ljust(width) + pdf[match.end():]


def wrap_byte_range(signed: bytes) -> bytes:
    """Append page content, then widen the last signature's /ByteRange to cover it."""
    changed = pyhanko_update(signed, _add_content_stream)
    match = last_byte_range(changed)
    _, len1, start2, _ = (int(v) for v in match.group(1).split())
    values = f"[0 {len1} {start2} {len(changed) - start2}]".encode()
    return set_byte_range(changed, match, values)


def move_signed_content(signed: bytes) -> bytes:
    """Move the last signature's second signed part behind injected objects, and point
    /ByteRange at its new place (the signed bytes themselves are unchanged)."""
    match = last_byte_range(signed)
    _, len1, start2, len2 = (int(v) for v in match.group(1).split())
    injected = b"\n999 0 obj\n<</Length 40>>stream\nBT /helv 11 Tf 72 700 Td (DA SUA) Tj ET\n" \
        b"endstream\nendobj\n"
    values = f"[0 {len1} {start2 + len(injected)} {len2}]".encode()
    moved = signed[:start2] + injected + signed[start2:start2 + len2]
    return set_byte_range(moved, match, values)


def _add_content_stream(writer: IncrementalPdfFileWriter) -> None:
    stream = generic.StreamObject(stream_data=b"BT /helv 11 Tf 72 700 Td (DA SUA) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream))


# -- universal signature forgery -------------------------------------------------------------

USF_VARIANTS = ("empty_contents", "zero_contents", "no_byte_range", "zero_byte_range",
                "negative_byte_range", "overlapping_byte_range", "byte_range_past_eof")


def forge(signed: bytes, variant: str) -> bytes:
    """Rewrite the last signature's /Contents or /ByteRange in place (same file length)."""
    match = last_byte_range(signed)
    _, len1, start2, len2 = (int(v) for v in match.group(1).split())
    if variant in ("empty_contents", "zero_contents"):
        hex_start, hex_end = len1 + 1, start2 - 1           # inside <…>
        if variant == "empty_contents":
            body = b"<>" + b" " * (hex_end - hex_start)
            return signed[:len1] + body + signed[start2:]
        return signed[:hex_start] + b"0" * (hex_end - hex_start) + signed[hex_end:]
    values = {
        "no_byte_range": None,
        "zero_byte_range": b"[0 0 0 0]",
        "negative_byte_range": f"[0 {len1} {start2} -{len2}]".encode(),
        "overlapping_byte_range": f"[0 {start2 + 10} {start2} {len2}]".encode(),
        "byte_range_past_eof": f"[0 {len1} {start2} {len2 + 4096}]".encode(),
    }[variant]
    return set_byte_range(signed, match, values)


# -- shadow attacks --------------------------------------------------------------------------

def shadow_prepare(pdf: bytes) -> bytes:
    """Before signing: a hidden optional content group (a white box and a notice over the
    title, switched off), an empty overlay XObject on top of the page, and a line of text
    in a base-14 font. None of it changes what the signer sees."""
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    page = doc[0]
    ocg = doc.add_ocg("Shadow", on=False)
    box = pymupdf.Rect(60, 180, 540, 260)
    page.draw_rect(box, color=None, fill=(1, 1, 1), oc=ocg)
    page.insert_text((72, 225), HIDDEN_TEXT, fontsize=16, fontname="helv", oc=ocg)
    page.insert_text(SHADOW_POINT, SHADOW_LINE, fontsize=10, fontname="helv")
    out = doc.tobytes(garbage=0, deflate=True)
    # The overlay: a Form XObject that draws nothing yet, painted last on page 1.
    def add_overlay(writer: IncrementalPdfFileWriter) -> None:
        overlay = writer.add_object(generic.StreamObject({
            pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 595, 842))),
        }, stream_data=b""))
        resources = generic.DictionaryObject({pdf_name("/XObject"): generic.DictionaryObject(
            {pdf_name("/Shadow0"): overlay})})
        draw = writer.add_object(generic.StreamObject(stream_data=b"q /Shadow0 Do Q"))
        writer.add_stream_to_page(0, draw, resources=resources)
    # Rewritten as one revision, as an authoring tool would write it.
    return _flatten(pyhanko_update(out, add_overlay))


def _flatten(pdf: bytes) -> bytes:
    return pymupdf.open(stream=pdf, filetype="pdf").tobytes(garbage=1, deflate=True)


def shadow_hide(signed: bytes) -> bytes:
    """Switch the hidden optional content group on in an update."""
    def edit(writer: IncrementalPdfFileWriter) -> None:
        properties = writer.root["/OCProperties"]
        default = properties["/D"]
        ocgs = properties["/OCGs"]
        default[pdf_name("/OFF")] = generic.ArrayObject()
        default[pdf_name("/ON")] = generic.ArrayObject(ocgs)
        writer.update_container(default)
        writer.update_root()
    return pyhanko_update(signed, edit)


def _overlay_ref(writer: IncrementalPdfFileWriter) -> generic.Reference:
    page = writer.root["/Pages"]["/Kids"][0]
    return page["/Resources"]["/XObject"].raw_get("/Shadow0")


def shadow_overlay(signed: bytes) -> bytes:
    """Give the empty overlay XObject content (a white box and new text) in an update."""
    def edit(writer: IncrementalPdfFileWriter) -> None:
        ref = _overlay_ref(writer)
        old = ref.get_object()
        assert isinstance(old, generic.DictionaryObject)   # the overlay's form XObject
        content = (b"q 1 g 60 560 480 60 re f Q BT /F1 16 Tf 72 590 Td "
                   b"(Ke hoach nay da bi thu hoi) Tj ET")
        font = generic.DictionaryObject({
            pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica")})
        new = generic.StreamObject({
            pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): old["/BBox"],
            pdf_name("/Resources"): generic.DictionaryObject({pdf_name("/Font"):
                generic.DictionaryObject({pdf_name("/F1"): font})}),
        }, stream_data=content)
        writer.objects[(ref.generation, ref.idnum)] = new
    return pyhanko_update(signed, edit)


def shadow_replace_font(signed: bytes) -> bytes:
    """Replace the base-14 font object with one whose encoding draws '1' as '9'."""
    def edit(writer: IncrementalPdfFileWriter) -> None:
        page = writer.root["/Pages"]["/Kids"][0]
        fonts = page["/Resources"]["/Font"]
        for name in list(fonts):
            font = fonts[name]
            if font.get("/BaseFont") != "/Helvetica":
                continue
            font[pdf_name("/Encoding")] = generic.DictionaryObject({
                pdf_name("/Type"): pdf_name("/Encoding"),
                pdf_name("/BaseEncoding"): pdf_name("/WinAnsiEncoding"),
                pdf_name("/Differences"): generic.ArrayObject(
                    [generic.NumberObject(49), pdf_name("/nine")]),
            })
            raw = fonts.raw_get(name)
            if isinstance(raw, generic.IndirectObject):
                writer.mark_update(raw)
            else:
                writer.update_container(fonts)
            return
        raise ValueError("no Helvetica font on page 1: run shadow_prepare before signing")
    return pyhanko_update(signed, edit)


def shadow_replace_page(signed: bytes) -> bytes:
    """Hide-and-replace: overwrite page 1's content stream objects with other content."""
    def edit(writer: IncrementalPdfFileWriter) -> None:
        page = writer.root["/Pages"]["/Kids"][0]
        contents = page.raw_get("/Contents")
        refs = list(contents.get_object()) if isinstance(contents.get_object(),
                                                         generic.ArrayObject) else [contents]
        fonts = page["/Resources"]["/Font"]
        helv = next(name for name in fonts if fonts[name].get("/BaseFont") == "/Helvetica")
        replacement = (f"BT {helv} 20 Tf 72 760 Td (QUYET DINH THU HOI KE HOACH) Tj ET"
                       ).encode()
        for index, ref in enumerate(refs):
            data = replacement if index == 0 else b""
            writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(
                stream_data=data)
    return pyhanko_update(signed, edit)


# -- form fields -----------------------------------------------------------------------------

FORM_FIELD = "kinh_phi"


def with_form_field(pdf: bytes, value: str = "150.000.000") -> bytes:
    """A filled text field on page 1, as fillable templates have."""
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    widget = pymupdf.Widget()
    widget.field_type = pymupdf.mupdf.PDF_WIDGET_TYPE_TEXT
    widget.field_name = FORM_FIELD
    widget.field_value = value
    widget.rect = pymupdf.Rect(380, 790, 540, 808)
    widget.text_fontsize = 10
    doc[0].add_widget(widget)
    return doc.tobytes(garbage=0, deflate=True)


def change_form_value(signed: bytes, value: str = "950.000.000") -> bytes:
    """New /V and appearance for the field: what pyHanko calls legitimate form filling."""
    def edit(writer: IncrementalPdfFileWriter) -> None:
        for ref in writer.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if field.get("/T") != FORM_FIELD:
                continue
            x0, y0, x1, y1 = (float(v) for v in field["/Rect"])
            font = generic.DictionaryObject({
                pdf_name("/Type"): pdf_name("/Font"), pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica")})
            appearance = writer.add_object(generic.StreamObject({
                pdf_name("/Type"): pdf_name("/XObject"), pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject(
                    map(generic.FloatObject, (0, 0, x1 - x0, y1 - y0))),
                pdf_name("/Resources"): generic.DictionaryObject({pdf_name("/Font"):
                    generic.DictionaryObject({pdf_name("/Helv"): font})}),
            }, stream_data=f"/Tx BMC q BT /Helv 10 Tf 2 5 Td ({value}) Tj ET Q EMC".encode()))
            field[pdf_name("/V")] = generic.TextStringObject(value)
            field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): appearance})
            writer.mark_update(ref)
            return
        raise ValueError(f"no field {FORM_FIELD}: run with_form_field before signing")
    return pyhanko_update(signed, edit)


# -- altered revision under a later signature ------------------------------------------------

def sign_over_altered(pdf: bytes, pki: DemoPKI, at: dt.datetime) -> bytes:
    """The person signs; a page-1 text run of the signed revision is altered in place (same
    length); then the agency signs the altered file."""
    person = pki.person("Nguyễn Văn An", "Sở Thông tin và Truyền thông", "CCCD:079123456789")
    agency = pki.agency("Sở Thông tin và Truyền thông", "Ủy ban nhân dân tỉnh Thừa Thiên Huế",
                        "MST:3300123456")
    # Uncompressed content, so a glyph can be changed without re-encoding the stream.
    plain = pymupdf.open(stream=pdf, filetype="pdf").tobytes(expand=255)
    once = sign_pdf(plain, person, signing_time=at)
    run = re.search(rb"<([0-9a-fA-F]{8,})>", once)
    assert run is not None   # the page's text is shown as hex glyph codes
    digits = bytearray(run.group(1))
    digits[3] = ord("1") if digits[3] != ord("1") else ord("2")
    altered = once[:run.start(1)] + bytes(digits) + once[run.end(1):]
    return sign_pdf(altered, agency, field_name="Signature2",
                    signing_time=at + dt.timedelta(minutes=5))


# -- signing variants (not attacks) ----------------------------------------------------------

def sign_variant(pdf: bytes, identity: Identity, *, signing_time: dt.datetime,
                 claimed_time: dt.datetime | None = None, md_algorithm: str = "sha256",
                 tsa: Identity | None = None, field_name: str = "Signature1",
                 strict: bool = True) -> bytes:
    """Sign at `signing_time` (the /M entry and the timestamp token, if `tsa`) while the
    signingTime attribute says `claimed_time`, with any digest algorithm."""
    return sign_pdf(pdf, identity, field_name=field_name, signing_time=signing_time,
                    claimed_time=claimed_time, md_algorithm=md_algorithm, tsa=tsa,
                    strict=strict)


def local_time_as_utc(moment: dt.datetime) -> dt.datetime:
    """What tools that write local time labelled as UTC put into signingTime."""
    local = moment.astimezone(VN_TZ)
    return local.replace(tzinfo=dt.timezone.utc)


def digital_signature_only(pki: DemoPKI, name: str, org: str) -> Identity:
    """A person certificate with digitalSignature but without nonRepudiation."""
    label = f"ds-only|{name}|{org}"
    key = derive_key(pki.seed, "ee|" + label)
    ca = pki.intermediate
    cert = (x509.CertificateBuilder()
            .subject_name(subject_name(name, org=org))
            .issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(derive_serial(pki.seed, "ee|" + label))
            .not_valid_before(DEFAULT_VALIDITY[0]).not_valid_after(DEFAULT_VALIDITY[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.key.public_key()), critical=False)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(DEFAULT_CRL_URL)],
                relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return Identity(cert, key, (ca.cert, pki.root.cert))


# -- hybrid-reference files ------------------------------------------------------------------

def hybrid_xref(pdf: bytes) -> bytes:
    """Rewrite a PDF the way Word's "Save as PDF" does: a classic xref table for the plain
    objects plus an /XRefStm cross-reference stream for the objects packed in an object
    stream."""
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    root = int(doc.pdf_catalog())
    count = doc.xref_length()
    packed, plain = [], []
    for xref in range(1, count):
        source = doc.xref_object(xref, compressed=True)
        if doc.xref_is_stream(xref) or xref == root:
            plain.append(xref)
        elif source and source != "null":
            packed.append(xref)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for xref in plain:
        offsets[xref] = len(out)
        source = doc.xref_object(xref, compressed=True)
        out += f"{xref} 0 obj\n".encode()
        if doc.xref_is_stream(xref):
            raw = doc.xref_stream_raw(xref) or b""
            source = re.sub(r"/Length\s+\d+(\s+0\s+R)?", "", source)
            source = source[:-2] + f"/Length {len(raw)}>>" if source.endswith(">>") \
                else source
            out += source.encode("latin-1") + b"\nstream\n" + raw + b"\nendstream"
        else:
            out += source.encode("latin-1")
        out += b"\nendobj\n"
    # The object stream: "id offset" pairs, then the objects.
    bodies = [doc.xref_object(x, compressed=True).encode("latin-1") for x in packed]
    header, data, position = [], bytearray(), 0
    for xref, body in zip(packed, bodies):
        header.append(f"{xref} {position}")
        data += body + b"\n"
        position = len(data)
    head = (" ".join(header) + "\n").encode()
    objstm_id, xrefstm_id = count, count + 1
    content = zlib.compress(head + bytes(data))
    offsets[objstm_id] = len(out)
    out += (f"{objstm_id} 0 obj\n<</Type/ObjStm/N {len(packed)}/First {len(head)}"
            f"/Filter/FlateDecode/Length {len(content)}>>\nstream\n").encode()
    out += content + b"\nendstream\nendobj\n"
    # The cross-reference stream lists only the packed objects (type 2 entries).
    rows = b"".join(bytes([2]) + objstm_id.to_bytes(4, "big") + index.to_bytes(2, "big")
                    for index in range(len(packed)))
    index_array = " ".join(f"{x} 1" for x in packed)
    xrefstm_offset = len(out)
    out += (f"{xrefstm_id} 0 obj\n<</Type/XRef/Size {count + 2}/W[1 4 2]/Index[{index_array}]"
            f"/Length {len(rows)}>>\nstream\n").encode()
    out += rows + b"\nendstream\nendobj\n"
    offsets[xrefstm_id] = xrefstm_offset
    table_offset = len(out)
    # The table lists the plain objects only (one subsection each), so readers find the
    # packed ones through /XRefStm.
    out += b"xref\n0 1\n0000000000 65535 f\r\n"
    for xref in sorted(offsets):
        out += f"{xref} 1\n{offsets[xref]:010d} 00000 n\r\n".encode()
    out += (f"trailer\n<</Size {count + 2}/Root {root} 0 R/XRefStm {xrefstm_offset}>>\n"
            f"startxref\n{table_offset}\n%%EOF\n").encode()
    return bytes(out)


# -- issue 11: what real files do, done by an attacker -----------------------------------------

def change_under_new_signature(signed: bytes, old: str, new: str, identity: Identity,
                               at: dt.datetime) -> bytes:
    """Change `old` to `new`, then sign again with a visible signature drawn over the changed
    words: text under a later signature's appearance is ignored by the word comparison, so
    only the revision review may catch this."""
    changed = change_text(signed, old, new)
    with pymupdf.open(stream=changed, filetype="pdf") as doc:
        page = doc[0]
        (rect,) = page.search_for(new)[:1]
        height = page.rect.height
    # MuPDF's box (origin top-left) as pyHanko's (origin bottom-left), a little larger.
    box = (int(rect.x0) - 4, int(height - rect.y1) - 4, int(rect.x1) + 4, int(height - rect.y0) + 4)
    return sign_pdf(changed, identity, field_name="Cover", signing_time=at, box=box,
                    visible_text=" ")


def rewrite_whole_file(signed: bytes) -> bytes:
    """Save the signed file again from scratch, as some tools do to add an incoming stamp:
    objects renumbered and packed into compressed object streams, every offset moved."""
    with pymupdf.open(stream=signed, filetype="pdf") as doc:
        return doc.tobytes(garbage=4, deflate=True, use_objstms=1)
