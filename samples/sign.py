"""Sign generated PDFs the way Vietnamese e-documents are signed (Decree 30/2020).

An e-document carries the competent person's signature first, then the issuing agency's
signature (its "seal"), each as an incremental update. Signatures use the classic
adbe.pkcs7.detached subfilter with a signingTime signed attribute, as the Government CA's
tools do, and the signing time is set by the caller so tests can sign "in the past".

Real files also carry what this module can add: SHA-1 digests (`md_algorithm="sha1"`, as the
provincial e-office tools still sign in 2025), the drafter's initials (`sign_initials`, ký
nháy), the gazette centre's signature on what it publishes (`add_gazette_signature`), agency
certificates named with their province (`province_named_agency=True`: CN "Sở Thông tin và
Truyền thông tỉnh Thừa Thiên Huế", O "UBND tỉnh Thừa Thiên Huế"), and timestamp tokens from
an authority certified by another root than the signers' (`separate_tsa`, as the Government
TSA "Máy chủ cấp dấu thời gian 01" is certified by the first-generation root).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import tempfile
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pymupdf
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from samples.pki import DemoPKI, Identity
from samples.spec import DocumentSpec

VN_TZ = dt.timezone(dt.timedelta(hours=7))
# Fonts with Vietnamese glyphs for visible signature text; the first one found is used.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _to_asn1_key(identity: Identity) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(identity.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def make_signer(identity: Identity, *, embed_chain: bool = True) -> signers.SimpleSigner:
    """A pyHanko signer from in-memory material; without the chain only the signer's own
    certificate is embedded, as many real PDFs do."""
    chain = [to_asn1_cert(c) for c in identity.chain] if embed_chain else []
    return signers.SimpleSigner(
        signing_cert=to_asn1_cert(identity.cert),
        signing_key=_to_asn1_key(identity),
        cert_registry=SimpleCertificateStore.from_certs(chain),
        embed_roots=embed_chain,
    )


def make_timestamper(tsa: Identity, at: dt.datetime) -> DummyTimeStamper:
    """An in-process RFC 3161 authority answering with a fixed time (no network)."""
    return DummyTimeStamper(
        tsa_cert=to_asn1_cert(tsa.cert), tsa_key=_to_asn1_key(tsa),
        certs_to_embed=SimpleCertificateStore.from_certs([to_asn1_cert(c) for c in tsa.chain]),
        fixed_dt=at)


def signature_text(identity: Identity, signing_time: dt.datetime) -> str:
    """The text the Government CA's tools stamp: `Ký bởi: … Cơ quan: … Thời gian ký: …`."""
    subject = identity.cert.subject
    orgs = [str(a.value) for a in subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    local = signing_time.astimezone(VN_TZ)
    lines = [f"Ký bởi: {identity.common_name}"]
    if orgs:
        lines.append(f"Cơ quan: {orgs[0]}")
    lines.append(f"Thời gian ký: {local:%d.%m.%Y %H:%M:%S} +07:00")
    return "\n".join(lines)


def appearance_pdf(text: str, width: float, height: float) -> bytes:
    """A one-page PDF of the signature text, drawn by MuPDF, which lays out Vietnamese
    correctly (pyHanko's own text stamps mis-space glyphs of embedded TrueType fonts)."""
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    font = next((p for p in FONT_CANDIDATES if p.exists()), None)
    font_args: dict[str, Any] = {"fontname": "vnsans", "fontfile": str(font)} if font else {}
    rect = pymupdf.Rect(2, 2, width - 2, height - 2)
    # The largest size at which the text fits; MuPDF writes nothing when it does not fit.
    for size in (9, 8, 7, 6, 5, 4):
        if page.insert_textbox(rect, text, fontsize=size, color=(1, 0, 0), **font_args) >= 0:
            break
    return doc.tobytes(garbage=3, deflate=True)


async def _sign(pdf_bytes: bytes, identity: Identity, *, field_name: str,
                signing_time: dt.datetime, embed_chain: bool,
                stamp_style: StaticStampStyle | None, timestamper: DummyTimeStamper | None,
                box: tuple[int, int, int, int] | None, page: int, strict: bool,
                claimed_time: dt.datetime, md_algorithm: str) -> bytes:
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm=md_algorithm)
    field_spec = fields.SigFieldSpec(sig_field_name=field_name, on_page=page - 1, box=box)
    pdf_signer = signers.PdfSigner(meta, make_signer(identity, embed_chain=embed_chain),
                                   new_field_spec=field_spec, stamp_style=stamp_style,
                                   timestamper=timestamper)
    writer = IncrementalPdfFileWriter(BytesIO(pdf_bytes), strict=strict)
    # PdfSigner.sign_pdf always signs "now"; the session's clock is what feeds both the
    # signingTime attribute and /M, so the same steps are run with the clock set.
    session = pdf_signer.init_signing_session(writer)
    session.system_time = signing_time
    validation_info = await session.perform_presign_validation(writer)
    reserved = await session.estimate_signature_container_size(validation_info)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
    digest, output = tbs.digest_tbs_document(output=BytesIO())
    signed = await tbs.perform_signature(
        document_digest=digest.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=claimed_time))
    await signed.post_signature_processing(output)
    assert isinstance(output, BytesIO)   # the stream given above: pyHanko writes into it
    return output.getvalue()


def sign_pdf(pdf_bytes: bytes, identity: Identity, *, field_name: str = "Signature1",
             signing_time: dt.datetime | None = None, embed_chain: bool = True,
             box: tuple[int, int, int, int] | None = None, page: int = 1,
             visible_text: str | None = None,
             embed_crl: x509.CertificateRevocationList | None = None,
             tsa: Identity | None = None, strict: bool = True,
             claimed_time: dt.datetime | None = None, md_algorithm: str = "sha256") -> bytes:
    """Append one signature. `box` (x0, y0, x1, y1 in PDF points, origin bottom-left) makes it
    visible; `embed_crl` adds a CRL to the document security store in a later update; `tsa`
    adds a signature timestamp token issued one second after `signing_time`; `strict=False`
    signs files that only a lenient parser reads, as some real tools do. `claimed_time` puts
    another time into the signingTime attribute than /M (tools that mislabel local time)."""
    signing_time = signing_time or dt.datetime.now(VN_TZ)
    if signing_time.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    with tempfile.TemporaryDirectory() as tmp:
        stamp_style = None
        if box:
            # pyHanko imports a static appearance from a file, not from bytes.
            text = visible_text or signature_text(identity, signing_time)
            appearance = Path(tmp) / "appearance.pdf"
            appearance.write_bytes(appearance_pdf(text, box[2] - box[0], box[3] - box[1]))
            stamp_style = StaticStampStyle.from_pdf_file(str(appearance), border_width=0)
        signed = asyncio.run(_sign(pdf_bytes, identity, field_name=field_name,
                                   signing_time=signing_time, embed_chain=embed_chain,
                                   stamp_style=stamp_style, box=box, page=page,
                                   strict=strict, md_algorithm=md_algorithm,
                                   claimed_time=claimed_time or signing_time,
                                   timestamper=make_timestamper(
                                       tsa, signing_time + dt.timedelta(seconds=1))
                                   if tsa else None))
    if embed_crl is not None:
        signed = add_crl(signed, embed_crl)
    return signed


def add_crl(pdf_bytes: bytes, crl: x509.CertificateRevocationList) -> bytes:
    """Put a CRL into the document security store (/DSS) as an incremental update."""
    stream = BytesIO(pdf_bytes)
    der = crl.public_bytes(serialization.Encoding.DER)
    DocumentSecurityStore.add_dss(stream, sig_contents=None,
                                  crls=[asn1_crl.CertificateList.load(der)], force_write=True)
    return stream.getvalue()


def add_document_timestamp(pdf_bytes: bytes, tsa: Identity, at: dt.datetime, *,
                           field_name: str = "DocTimeStamp1") -> bytes:
    """Append a document timestamp (/DocTimeStamp) as an incremental update."""
    stamper = signers.PdfTimeStamper(make_timestamper(tsa, at), field_name=field_name)
    output = stamper.timestamp_pdf(IncrementalPdfFileWriter(BytesIO(pdf_bytes)), "sha256",
                                   output=BytesIO())
    return output.getvalue()


def sign_person_and_agency(pdf_bytes: bytes, person: Identity, agency: Identity, *,
                           signing_time: dt.datetime | None = None,
                           agency_delay: dt.timedelta = dt.timedelta(minutes=5),
                           embed_chain: bool = True,
                           person_box: tuple[int, int, int, int] | None = None,
                           agency_box: tuple[int, int, int, int] | None = None,
                           page: int = 1, md_algorithm: str = "sha256",
                           tsa: Identity | None = None) -> bytes:
    """The competent person signs, then the agency (seal) signs a few minutes later."""
    signing_time = signing_time or dt.datetime.now(VN_TZ) - agency_delay
    once = sign_pdf(pdf_bytes, person, field_name="Signature1", signing_time=signing_time,
                    embed_chain=embed_chain, box=person_box, page=page,
                    md_algorithm=md_algorithm, tsa=tsa)
    return sign_pdf(once, agency, field_name="Signature2",
                    signing_time=signing_time + agency_delay, embed_chain=embed_chain,
                    box=agency_box, page=page, md_algorithm=md_algorithm, tsa=tsa)


def _place_of(superior: str) -> str:
    """"UBND TỈNH THỪA THIÊN HUẾ" → "tỉnh Thừa Thiên Huế", as certificates write it."""
    words = superior.split()
    for kind in ("TỈNH", "THÀNH PHỐ", "HUYỆN", "THỊ XÃ", "QUẬN"):
        text = " ".join(words)
        if f" {kind} " in f" {text} ":
            rest = text.split(f"{kind} ", 1)[1]
            return f"{kind.lower()} {rest.title()}"
    return superior.title()


def agency_identity(spec: DocumentSpec, pki: DemoPKI, *,
                    province_named: bool = False) -> Identity:
    """The issuing agency's seal certificate. With `province_named`, as the Government CA
    issues them to provincial departments: CN names the agency with its province and O is
    the province's UBND, while the header prints the agency under its superior line."""
    agency = spec.agency
    uid = f"MST:{zlib.crc32(agency.unit_name.encode()) % 10**10:010d}"
    if province_named and agency.superior:
        place = _place_of(agency.superior)
        return pki.agency(f"{agency.unit_name} {place}", f"UBND {place}", uid)
    return pki.agency(agency.unit_name, agency.superior or agency.unit_name, uid)


def separate_tsa(seed: str = "kiemchung-tsa") -> tuple[DemoPKI, Identity]:
    """A time-stamping authority under a root of its own, not the signers' root: validators
    trust its tokens only once that root is imported too."""
    root = DemoPKI.create(seed)
    return root, root.tsa("kiemchung Demo Máy chủ cấp dấu thời gian")


def sign_as_printed(pdf_bytes: bytes, spec: DocumentSpec, pki: DemoPKI, *,
                    signing_time: dt.datetime | None = None, embed_chain: bool = True,
                    md_algorithm: str = "sha256", province_named_agency: bool = False,
                    tsa: Identity | None = None) -> bytes:
    """Sign as a Decree 30 e-document: the printed signer, then the issuing agency's seal."""
    agency = spec.agency
    person = pki.person(spec.signer_name, agency.unit_name,
                        f"CCCD:0{zlib.crc32(spec.signer_name.encode()) % 10**11:011d}",
                        units=(agency.unit_name,))
    seal = agency_identity(spec, pki, province_named=province_named_agency)
    at = signing_time or dt.datetime.combine(spec.issue_date, dt.time(9, 30), VN_TZ)
    return sign_person_and_agency(pdf_bytes, person, seal, signing_time=at,
                                  embed_chain=embed_chain, md_algorithm=md_algorithm, tsa=tsa)


# Where the real tools draw them (PDF points, origin bottom-left, A4): the drafter's initials
# small on the left beside "Nơi nhận", the gazette stamp across the top of page 1.
INITIALS_BOX = (90, 150, 150, 170)
GAZETTE_BOX = (330, 795, 560, 835)
GAZETTE_NAME = "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC"


def sign_initials(pdf_bytes: bytes, pki: DemoPKI, name: str, unit: str, *,
                  signing_time: dt.datetime, page: int = 1,
                  md_algorithm: str = "sha256") -> bytes:
    """The drafter's or checker's initials (ký nháy): a person's certificate, another person
    than the printed signer, in a small widget on the left."""
    drafter = pki.person(name, unit, f"CCCD:0{zlib.crc32(name.encode()) % 10**11:011d}",
                         units=(unit,))
    return sign_pdf(pdf_bytes, drafter, field_name="Initials", signing_time=signing_time,
                    box=INITIALS_BOX, page=page, visible_text=" ",
                    md_algorithm=md_algorithm)


def add_gazette_signature(pdf_bytes: bytes, pki: DemoPKI, province_ubnd: str, *,
                          at: dt.datetime, md_algorithm: str = "sha256") -> bytes:
    """The provincial gazette centre's signature on what it publishes: its stamp (name,
    e-mail, time) across the top of page 1, as the Quảng Ngãi e-gazette copies show."""
    centre = pki.agency(GAZETTE_NAME, f"{province_ubnd.upper()}, VĂN PHÒNG",
                        f"MST:{zlib.crc32(province_ubnd.encode()) % 10**10:010d}")
    local = at.astimezone(VN_TZ)
    text = f"{GAZETTE_NAME}\nttcbth@kiemchung.invalid\n{local:%d.%m.%Y %H:%M:%S} +07:00"
    return sign_pdf(pdf_bytes, centre, field_name="Gazette", signing_time=at,
                    box=GAZETTE_BOX, visible_text=text, md_algorithm=md_algorithm)


def make_e_copy(pdf_bytes: bytes, spec: DocumentSpec, pki: DemoPKI, *, kind: str = "SAO Y",
                at: dt.datetime | None = None) -> bytes:
    """An electronic copy (Decree 30, appendix I part II): the copy form, the copying agency and
    the signing time stand as text at the top right of page 1, signed by the agency alone."""
    from samples.render import font_file

    agency = spec.agency
    at = at or dt.datetime.combine(spec.issue_date, dt.time(14, 0), VN_TZ) + dt.timedelta(days=1)
    doc = pymupdf.open(stream=pdf_bytes)
    page = doc[0]
    page.insert_font(fontname="copy", fontfile=font_file("R"))
    lines = (kind, agency.unit_name, at.isoformat(timespec="seconds"))
    for row, text in enumerate(lines):
        page.insert_text((page.rect.width - 200, 16 + 11 * row), text, fontname="copy",
                         fontsize=10 if row else 11)
    seal = agency_identity(spec, pki)
    return sign_pdf(doc.tobytes(), seal, field_name="CopySignature", signing_time=at)


# --- e-office issuance (issue 10): the number and the day stamped in widget appearances -------

def stamp_appearance_pdf(text: str, width: float, height: float, *, baseline: float,
                         x: float = 2.0, size: float = 13.0, italic: bool = False) -> bytes:
    """A one-page PDF showing `text` in the page's serif face at `baseline` (from the top):
    what an e-office draws in a widget to fill the blank of `Số:` or of `ngày`."""
    from samples.render import font_file

    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    style = "I" if italic else "R"
    page.insert_font(fontname="stamp", fontfile=font_file(style))
    page.insert_text((x, baseline), text, fontname="stamp", fontsize=size)
    return doc.tobytes(garbage=3, deflate=True)


def mark_appearance_pdf(kind: str, width: float, height: float, *, seed: int,
                        text: str = "") -> bytes:
    """The image of a visible signature: "signature" (blue handwriting-like strokes) or
    "seal" (the agency's red round seal with `text` inside)."""
    import random as _random

    rng = _random.Random(seed)
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    shape = page.new_shape()
    if kind == "seal":
        c = pymupdf.Point(width / 2, height / 2)
        r = min(width, height) / 2 - 2
        shape.draw_circle(c, r)
        shape.draw_circle(c, r * 0.68)
        shape.finish(color=(0.8, 0.1, 0.15), width=1.6)
        shape.commit()
        font = next((p for p in FONT_CANDIDATES if p.exists()), None)
        args: dict[str, Any] = {"fontname": "vnsans", "fontfile": str(font)} if font else {}
        box = pymupdf.Rect(c.x - r * 0.62, c.y - r * 0.3, c.x + r * 0.62, c.y + r * 0.4)
        for size in (6, 5, 4, 3):
            if page.insert_textbox(box, text, fontsize=size, color=(0.8, 0.1, 0.15),
                                   align=1, **args) >= 0:
                break
    else:
        x, y = width * 0.15, height * 0.6
        for _ in range(rng.randint(5, 8)):
            nx, ny = x + width * rng.uniform(0.06, 0.12), height * rng.uniform(0.2, 0.8)
            shape.draw_bezier((x, y), (x + width * rng.uniform(-0.1, 0.15), height *
                                       rng.uniform(0.0, 1.0)),
                              (nx - width * rng.uniform(-0.1, 0.15), height *
                               rng.uniform(0.0, 1.0)), (nx, ny))
            x, y = nx, ny
        shape.finish(color=(0.1, 0.2, 0.65), width=1.4, closePath=False)
        shape.commit()
    return doc.tobytes(garbage=3, deflate=True)


def sign_with_appearance(pdf_bytes: bytes, identity: Identity, appearance: bytes, *,
                         box: tuple[int, int, int, int], field_name: str,
                         signing_time: dt.datetime, page: int = 1,
                         embed_chain: bool = True) -> bytes:
    """Append one visible signature whose widget shows the one-page PDF `appearance`
    (`box`: x0, y0, x1, y1 in PDF points, origin bottom-left)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "appearance.pdf"   # pyHanko imports appearances from files
        path.write_bytes(appearance)
        # No margins: the appearance is drawn at its own size, where the blanks are.
        from pyhanko.pdf_utils import layout as hanko_layout
        style = StaticStampStyle.from_pdf_file(
            str(path), border_width=0, background_layout=hanko_layout.SimpleBoxLayoutRule(
                x_align=hanko_layout.AxisAlignment.ALIGN_MIN,
                y_align=hanko_layout.AxisAlignment.ALIGN_MIN,
                margins=hanko_layout.Margins.uniform(0)))
        return asyncio.run(_sign(pdf_bytes, identity, field_name=field_name,
                                 signing_time=signing_time, embed_chain=embed_chain,
                                 stamp_style=style, timestamper=None, box=box, page=page,
                                 strict=True, claimed_time=signing_time, md_algorithm="sha256"))


GAZETTE_CENTRE = "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC"


def _pdf_box(bbox, page_height: float) -> tuple[int, int, int, int]:
    """A top-left-origin box as the integer bottom-left-origin box a signature field takes."""
    return (math.floor(bbox[0]), math.floor(page_height - bbox[3]), math.ceil(bbox[2]),
            math.ceil(page_height - bbox[1]))


def _short_name(name: str) -> str:
    """Whole words within the 64 bytes a certificate's name attribute may hold."""
    while len(name.encode()) > 64:
        name = name.rsplit(" ", 1)[0].rstrip(",")
    return name


def sign_e_office(pdf_bytes: bytes, spec: DocumentSpec, layout, pki: DemoPKI, *,
                  signing_time: dt.datetime | None = None, gazette: bool = False,
                  seed: int = 0) -> bytes:
    """Issue a document as a provincial e-office does: the person signs (blue signature), the
    agency signs (red seal over its left third), then the agency signs twice more at issuance,
    each widget drawing into the blanks of page 1 the number's digits and the day; a gazette
    centre may add its copy signature with its "Ký bởi … Thời gian ký" text at the top right.
    `layout` is the render Layout (the blanks and the signature box)."""
    from samples.render import PAGE_H

    agency = spec.agency
    unit = _short_name(agency.unit_name)
    person = pki.person(spec.signer_name, unit,
                        f"CCCD:0{zlib.crc32(spec.signer_name.encode()) % 10**11:011d}",
                        units=(unit,))
    seal = pki.agency(unit, _short_name(agency.superior or unit),
                      f"MST:{zlib.crc32(agency.unit_name.encode()) % 10**10:010d}")
    at = signing_time or dt.datetime.combine(spec.issue_date, dt.time(9, 30), VN_TZ)
    sig = layout.signature_bbox
    cx = (sig.x0 + sig.x1) / 2
    person_box = (cx - 60, sig.y0 + 4, cx + 60, sig.y1 - 4)
    out = sign_with_appearance(
        pdf_bytes, person, mark_appearance_pdf("signature", 120, person_box[3] - person_box[1],
                                               seed=seed),
        box=_pdf_box(person_box, PAGE_H), field_name="Signature1", signing_time=at,
        page=layout.signer_page)
    seal_box = (cx - 95, sig.y0 - 8, cx - 15, sig.y0 + 72)
    out = sign_with_appearance(
        out, seal, mark_appearance_pdf("seal", 80, 80, seed=seed, text=agency.name),
        box=_pdf_box(seal_box, PAGE_H), field_name="Signature2",
        signing_time=at + dt.timedelta(minutes=5), page=layout.signer_page)
    issued = at + dt.timedelta(minutes=20)
    for i, (text, bbox, italic) in enumerate((
            (layout.number_digits, layout.number_digits_bbox, False),
            (layout.day_text, layout.day_bbox, True)), start=3):
        # The widget is wider than the digits, as real ones; the text sits on the baseline.
        top_left = (bbox.x0 - 3, bbox.y0 - 4,
                    bbox.x0 - 3 + max(45.0, bbox.x1 - bbox.x0 + 12), bbox.y1 + 4)
        box = _pdf_box(top_left, PAGE_H)
        top = PAGE_H - box[3]                # the widget's top edge, from the page top
        appearance = stamp_appearance_pdf(text, box[2] - box[0], box[3] - box[1],
                                          baseline=bbox.y1 - 3.5 - top, x=bbox.x0 - box[0],
                                          italic=italic)
        out = sign_with_appearance(out, seal, appearance, box=box, field_name=f"Signature{i}",
                                   signing_time=issued + dt.timedelta(seconds=i))
    if gazette:
        centre = pki.agency(GAZETTE_CENTRE, "Văn phòng UBND tỉnh",
                            f"MST:{zlib.crc32(GAZETTE_CENTRE.encode()) % 10**10:010d}")
        when = at + dt.timedelta(days=1, hours=2)
        out = sign_pdf(out, centre, field_name="Signature5", signing_time=when,
                       box=(388, int(PAGE_H) - 56, 574, int(PAGE_H) - 8), page=1)
    return out
