"""Sign generated PDFs the way Vietnamese e-documents are signed (Decree 30/2020).

An e-document carries the competent person's signature first, then the issuing agency's
signature (its "seal"), each as an incremental update. Signatures use the classic
adbe.pkcs7.detached subfilter with a signingTime signed attribute, as the Government CA's
tools do, and the signing time is set by the caller so tests can sign "in the past".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import zlib
from io import BytesIO
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
import pymupdf
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
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
    orgs = [a.value for a in subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
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
    font_args = {"fontname": "vnsans", "fontfile": str(font)} if font else {}
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
                           page: int = 1) -> bytes:
    """The competent person signs, then the agency (seal) signs a few minutes later."""
    signing_time = signing_time or dt.datetime.now(VN_TZ) - agency_delay
    once = sign_pdf(pdf_bytes, person, field_name="Signature1", signing_time=signing_time,
                    embed_chain=embed_chain, box=person_box, page=page)
    return sign_pdf(once, agency, field_name="Signature2",
                    signing_time=signing_time + agency_delay, embed_chain=embed_chain,
                    box=agency_box, page=page)


def sign_as_printed(pdf_bytes: bytes, spec: DocumentSpec, pki: DemoPKI, *,
                    signing_time: dt.datetime | None = None, embed_chain: bool = True) -> bytes:
    """Sign as a Decree 30 e-document: the printed signer, then the issuing agency's seal."""
    agency = spec.agency
    person = pki.person(spec.signer_name, agency.unit_name,
                        f"CCCD:0{zlib.crc32(spec.signer_name.encode()) % 10**11:011d}",
                        units=(agency.unit_name,))
    seal = pki.agency(agency.unit_name, agency.superior or agency.unit_name,
                      f"MST:{zlib.crc32(agency.unit_name.encode()) % 10**10:010d}")
    at = signing_time or dt.datetime.combine(spec.issue_date, dt.time(9, 30), VN_TZ)
    return sign_person_and_agency(pdf_bytes, person, seal, signing_time=at,
                                  embed_chain=embed_chain)


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
    seal = pki.agency(agency.unit_name, agency.superior or agency.unit_name,
                      f"MST:{zlib.crc32(agency.unit_name.encode()) % 10**10:010d}")
    return sign_pdf(doc.tobytes(), seal, field_name="CopySignature", signing_time=at)
