"""Offline validation of the digital signatures embedded in a PDF.

Each signature is checked with pyHanko: integrity of the signed bytes, the CMS signature, a
chain to a configured trust root at the signing time, revocation data carried by the file,
and difference analysis of every update appended after signing. Nothing is fetched from the
network. One report per signature field; a signature that cannot be processed becomes a
`malformed` report, never an exception and never `valid`.

The validation time is the signing time (a trusted timestamp if there is one, otherwise the
time the signer claims), as Adobe Reader does by default: evidence is appraised months after
signing, when personal certificates may have expired since. A claimed time is the signer's
word only; `signing_time_source` says which one was used. Some Vietnamese signing tools write
local time into the signingTime attribute labelled as UTC: when a timestamp token shows the
claim to be 7 hours ahead, the token's time is used and the report says so.

A signature that does not cover the whole file gets `changes` (see extractors/changes.py):
what each later revision did, and which form values, words and pages differ from the signed
revision. Form values changed after signing count as a modification here, although pyHanko
calls them legitimate form filling. The revisions of a file are judged once for all its
signatures (`RevisionHistory`), and words and pages are compared only when a later revision
is not harmless. `SignaturePolicy` holds the operator's choices (SHA-1, nonRepudiation) and
its outcome is part of the report and of its reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path

import pymupdf
from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pdf as asn1_pdf  # noqa: F401 — registers Adobe's revocation attribute
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import find_cms_attribute_iter
from pyhanko.sign.validation import (
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    TimestampSignatureStatus,
)
from pyhanko.sign.validation.utils import CMSAlgorithmUsagePolicy
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

from kiemchung.extractors import pyhanko_reading
from kiemchung.extractors.changes import RevisionHistory
from kiemchung.models.document import BBox, nfc
from kiemchung.models.errors import KiemchungError
from kiemchung.models.signatures import (
    HARMLESS_MODIFICATIONS,
    SignaturePolicy,
    SignatureReport,
    SignatureRole,
    SigningTimeSource,
)

pyhanko_reading.install()

# pyHanko logs every failed check with a traceback; the report already carries the reason,
# so without a handler configured by the application those records must not reach stderr.
for _logger in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_logger).addHandler(logging.NullHandler())
log = logging.getLogger(__name__)

SIGNATURE_SUBFILTERS = {"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/PBAD.PAdES"}
TIMESTAMP_SUBFILTERS = {"/ETSI.RFC3161"}
CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".p7b", ".p7c"}
# Real signing certificates carry digitalSignature, nonRepudiation or both; accept either.
SIGNER_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"},
                                       match_all_key_usages=False)
# pyHanko refuses SHA-1 outright, which would make a sound SHA-1 signature look forged. It is
# validated with only MD2/MD5 refused, so that integrity, the CMS signature and the chain are
# judged on their own; whether SHA-1 is acceptable is the policy's separate answer
# (`digest_rejected` → `indeterminate`, or a warning when the policy accepts it).
WEAK_DIGESTS = frozenset({"sha1", "md5", "md2"})
BROKEN_DIGESTS = frozenset({"md5", "md2"})
SHA1_TOLERANT = CMSAlgorithmUsagePolicy.lift_policy(DisallowWeakAlgorithmsPolicy(BROKEN_DIGESTS))
# The known mislabelling: local Vietnamese time (UTC+7) written as UTC.
LOCAL_AS_UTC = dt.timedelta(hours=7)
LOCAL_AS_UTC_TOLERANCE = dt.timedelta(minutes=15)
LOCAL_AS_UTC_NOTE = "local time labelled as UTC (+7 h)"
EXPIRY_PROBLEMS = {AdESIndeterminate.EXPIRED, AdESIndeterminate.NOT_YET_VALID,
                   AdESIndeterminate.OUT_OF_BOUNDS_NO_POE}


# -- trust store -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TrustStore:
    roots: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()

    def fingerprints(self) -> dict[str, str]:
        """SHA-256 fingerprint → subject, for operators to compare with published values."""
        return {fingerprint_sha256(c): c.subject.rfc4514_string()
                for c in self.roots + self.intermediates}


def fingerprint_sha256(cert: x509.Certificate | asn1_x509.Certificate) -> str:
    if isinstance(cert, asn1_x509.Certificate):
        digest = cert.sha256
    else:
        digest = cert.fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def read_certificates(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    try:
        if b"-----BEGIN PKCS7-----" in data:
            return pkcs7.load_pem_pkcs7_certificates(data)
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            return pkcs7.load_der_pkcs7_certificates(data)   # .p7b bundles as published
    except ValueError as exc:
        raise KiemchungError(f"trust file {path} holds no readable certificate: {exc}") from exc


def load_trust(paths: list[Path]) -> TrustStore:
    """Read PEM, DER or PKCS#7 certificate files, or folders of them; self-signed ones become
    roots and the others intermediates (held so PDFs may embed only the signer's cert)."""
    certs: dict[bytes, x509.Certificate] = {}
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in CERT_SUFFIXES)
        elif path.is_file():
            files = [path]
        else:
            raise KiemchungError(f"trust path not found: {path}")
        for file in files:
            for cert in read_certificates(file):
                certs.setdefault(cert.fingerprint(hashes.SHA256()), cert)
    roots = tuple(c for c in certs.values() if _is_self_signed(c))
    intermediates = tuple(c for c in certs.values() if not _is_self_signed(c))
    return TrustStore(roots=roots, intermediates=intermediates)


@functools.lru_cache(maxsize=1024)     # the trust anchors, for every signature of a worker
def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


# -- reading the file ------------------------------------------------------------------------

@dataclass(frozen=True)
class _RevocationData:
    crls: tuple[asn1_crl.CertificateList, ...] = ()
    ocsps: tuple[asn1_ocsp.OCSPResponse, ...] = ()


def _open_reader(pdf_bytes: bytes) -> tuple[PdfFileReader, list, bool]:
    """Strict parse first; real documents from some tools only open leniently. pyHanko's
    strict mode also refuses to validate hybrid-reference files (Word's "Save as PDF": a
    classic xref table plus /XRefStm), so those are read leniently too."""
    try:
        reader = PdfFileReader(BytesIO(pdf_bytes), strict=True)
        if not reader.xrefs.hybrid_xrefs_present:
            return reader, list(enumerate_sig_fields(reader, filled_status=True)), False
    except PdfReadError:
        pass
    reader = PdfFileReader(BytesIO(pdf_bytes), strict=False)
    return reader, list(enumerate_sig_fields(reader, filled_status=True)), True


def _dss_revocation_data(reader: PdfFileReader) -> _RevocationData:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return _RevocationData()
    crls = tuple(asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL))
                 for ref in dss.crls)
    ocsps = tuple(asn1_ocsp.OCSPResponse.load(
        ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE)) for ref in dss.ocsps)
    return _RevocationData(crls, ocsps)


def _cms_revocation_data(sig: EmbeddedPdfSignature) -> _RevocationData:
    """Revocation data inside the CMS: the SignedData crls field and Adobe's signed
    revocation-info attribute."""
    crls, ocsps = [], []
    for choice in sig.signed_data["crls"] or ():
        if choice.name == "crl":
            crls.append(choice.chosen)
    for archival in find_cms_attribute_iter(sig.signer_info["signed_attrs"],
                                            "adobe_revocation_info_archival"):
        crls += list(archival["crl"] or ())
        ocsps += list(archival["ocsp"] or ())
    return _RevocationData(tuple(crls), tuple(ocsps))


def _covers(data: _RevocationData, cert: asn1_x509.Certificate) -> bool:
    """Whether the file carries a CRL from the certificate's issuer or an OCSP answer for it."""
    if any(c["tbs_cert_list"]["issuer"] == cert.issuer for c in data.crls):
        return True
    for response in data.ocsps:
        try:
            answers = response.basic_ocsp_response["tbs_response_data"]["responses"]
        except (ValueError, KeyError, TypeError):
            continue
        if any(a["cert_id"]["serial_number"].native == cert.serial_number for a in answers):
            return True
    return False


def _claimed_time(sig: EmbeddedPdfSignature
                  ) -> tuple[dt.datetime | None, SigningTimeSource | None]:
    for attr in find_cms_attribute_iter(sig.signer_info["signed_attrs"], "signing_time"):
        return attr.native, SigningTimeSource.SIGNED_ATTRIBUTE
    if "/M" in sig.sig_object:
        when = sig.self_reported_timestamp
        return (when, SigningTimeSource.M) if when else (None, None)
    return None, None


def _token_time(signed_data: cms.SignedData) -> dt.datetime | None:
    """genTime of an RFC 3161 token, read before validating it (to pick the validation time)."""
    content = signed_data["encap_content_info"]
    if content["content_type"].native != "tst_info":
        return None
    return content["content"].parsed["gen_time"].native


def _aware(when: dt.datetime) -> dt.datetime:
    # ASN.1 times are UTC; a PDF date without an offset is taken as UTC too.
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _signature_token_time(sig: EmbeddedPdfSignature) -> dt.datetime | None:
    unsigned = sig.signer_info["unsigned_attrs"]
    if not unsigned:
        return None
    for token in find_cms_attribute_iter(unsigned, "signature_time_stamp_token"):
        return _token_time(token["content"])
    return None


def _token_issuer(sig: EmbeddedPdfSignature) -> str | None:
    """CN of the CA that certified the time-stamping authority of the signature's token: an
    untrusted token says which root the operator has not imported (the Government's TSA
    "Máy chủ cấp dấu thời gian 01" is certified by the first-generation Government root)."""
    unsigned = sig.signer_info["unsigned_attrs"]
    if not unsigned:
        return None
    try:
        for token in find_cms_attribute_iter(unsigned, "signature_time_stamp_token"):
            signed_data = token["content"]
            sid = signed_data["signer_infos"][0]["sid"]
            for choice in signed_data["certificates"] or ():
                cert = choice.chosen
                if not isinstance(cert, asn1_x509.Certificate):
                    continue
                if sid.name == "issuer_and_serial_number" and \
                        sid.chosen["serial_number"].native == cert.serial_number and \
                        sid.chosen["issuer"] == cert.issuer:
                    return _common_name(cert.issuer)
                if sid.name == "subject_key_identifier" and \
                        sid.chosen.native == cert.key_identifier:
                    return _common_name(cert.issuer)
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return None


# -- names -----------------------------------------------------------------------------------

def _name_values(name: asn1_x509.Name, attribute: str) -> list[str]:
    """Values of one attribute type, in DN order; asn1crypto decodes UTF8String and BMPString
    alike."""
    values = []
    for rdn in name.chosen:
        for type_and_value in rdn:
            if type_and_value["type"].native == attribute:
                values.append(nfc(str(type_and_value["value"].native)))
    return values


def _common_name(name: asn1_x509.Name) -> str:
    names = _name_values(name, "common_name")
    return names[0] if names else nfc(name.human_friendly)


def _org(name: asn1_x509.Name) -> str | None:
    parts = _name_values(name, "organization_name") + \
        _name_values(name, "organizational_unit_name")
    return ", ".join(parts) or None


# -- validation ------------------------------------------------------------------------------

def _context(trust: TrustStore, moment: dt.datetime, revocation: _RevocationData,
             embedded: list[asn1_x509.Certificate], allow_sha1: bool = True
             ) -> ValidationContext:
    # A fresh context per signature: pyHanko registers each signature's certificates in it.
    # SHA-1 certificate signatures (the first-generation Government CA) follow the policy on
    # SHA-1 digests; refused, such a chain is untrusted.
    return ValidationContext(
        trust_roots=[_asn1(c) for c in trust.roots],
        other_certs=[_asn1(c) for c in trust.intermediates] + embedded,
        moment=moment, best_signature_time=moment,
        weak_hash_algos=set(BROKEN_DIGESTS) if allow_sha1 else set(WEAK_DIGESTS),
        allow_fetching=False, revocation_mode="soft-fail",
        # CRLs published after the signing time still say whether the certificate was
        # revoked before it.
        retroactive_revinfo=True,
        crls=list(revocation.crls), ocsps=list(revocation.ocsps))


def _malformed(field_name: str, reason: str, lenient: bool) -> SignatureReport:
    return SignatureReport(
        field_name=field_name, signer_name="", signer_org=None, uids=(), issuer="", serial="",
        not_before=None, not_after=None, signing_time=None, signing_time_source=None,
        intact=False, valid=False, trusted=False, revocation_checked=False, revoked=False,
        coverage="UNKNOWN", modification_level=None, modified_after_signing=False,
        lenient_parse=lenient, docmdp_ok=None, is_timestamp=False, reason=reason,
        malformed=True)


REWRITTEN_REASON = "the file was saved again after it was signed: what was signed is no " \
    "longer in it"


def _unverifiable(sig_value: generic.DictionaryObject, pdf_bytes: bytes, field_name: str,
                  problem: str, lenient: bool) -> SignatureReport:
    """A signature whose /ByteRange cannot describe this file: `malformed`, never valid, but
    with the certificate it carries, so a reader still sees who signed.

    A signature value that is nowhere in the file's bytes as written (only inside a compressed
    object stream) means the whole file was rewritten by a tool after signing — e.g. to add an
    incoming-mail stamp — not that someone crafted a byte range around injected bytes (in a
    forgery the value stays in the file, where the attacker left it)."""
    report = _malformed(field_name, problem, lenient)
    value = _raw_bytes(sig_value.get("/Contents")).rstrip(b"\0")
    probe = value[:32].hex().encode()
    rewritten = len(probe) == 64 and probe not in pdf_bytes and probe.upper() not in pdf_bytes
    if rewritten:
        # The technical detail stays, without the forgery vocabulary of `problem`.
        byte_range = [str(v) for v in sig_value.get("/ByteRange") or ()]
        detail = f"its /ByteRange [{', '.join(byte_range)}] no longer fits the file of " \
            f"{len(pdf_bytes)} bytes"
        report = replace(report, rewritten=True, reason=f"{REWRITTEN_REASON} ({detail})")
    try:
        signed_data = cms.ContentInfo.load(value)["content"]
        info = signed_data["signer_infos"][0]
        sid = info["sid"]
        certs = [c.chosen for c in signed_data["certificates"] or ()
                 if isinstance(c.chosen, asn1_x509.Certificate)]
        cert = next((c for c in certs if sid.name == "issuer_and_serial_number"
                     and c.serial_number == sid.chosen["serial_number"].native), None)
        if cert is None:
            return report
        claimed = None
        for attr in find_cms_attribute_iter(info["signed_attrs"], "signing_time"):
            claimed = _aware(attr.native)
        validity = cert["tbs_certificate"]["validity"]
        return replace(report, signer_name=_common_name(cert.subject),
                       signer_org=_org(cert.subject),
                       uids=tuple(_name_values(cert.subject, "user_id")),
                       issuer=_common_name(cert.issuer), serial=format(cert.serial_number, "x"),
                       not_before=validity["not_before"].native,
                       not_after=validity["not_after"].native,
                       digest_algorithm=info["digest_algorithm"]["algorithm"].native,
                       claimed_signing_time=claimed, signing_time=claimed,
                       signing_time_source=SigningTimeSource.SIGNED_ATTRIBUTE
                       if claimed else None)
    except Exception:   # noqa: BLE001 — no readable certificate: the reason stands alone
        return report


def _unsupported(field_name: str, subfilter: str, lenient: bool) -> SignatureReport:
    report = _malformed(field_name, f"unsupported signature format {subfilter}", lenient)
    return replace(report, malformed=False, unsupported=True)


def _byte_range_problem(sig_value: generic.DictionaryObject, pdf_bytes: bytes) -> str | None:
    """Why /ByteRange and /Contents cannot describe a real signature over this file, if so.
    Forged signatures (universal signature forgery, signature wrapping) show up here with a
    clearer reason than the parser's error."""
    contents = sig_value.get("/Contents")
    value = _raw_bytes(contents)
    if not value:
        return "empty /Contents: no signature value at all"
    if not value.strip(b"\0"):
        return "/Contents is all zeros: no signature value at all"
    raw = sig_value.get("/ByteRange")
    if raw is None:
        return "no /ByteRange: the signature covers no bytes of the file"
    try:
        values = [int(v) for v in raw]
    except (TypeError, ValueError):
        return "/ByteRange is not a list of numbers"
    if len(values) != 4:
        return f"/ByteRange {values} does not have four numbers"
    start1, len1, start2, len2 = values
    if min(values) < 0:
        return f"/ByteRange {values} has negative values"
    if start1 != 0 or len1 == 0 or len2 == 0:
        return f"/ByteRange {values} does not cover the file from its first byte"
    if start2 < len1:
        return f"/ByteRange {values} has overlapping ranges"
    if start2 + len2 > len(pdf_bytes):
        return f"/ByteRange {values} points past the end of the file ({len(pdf_bytes)} bytes)"
    gap = pdf_bytes[len1:start2]
    if gap[:1] != b"<" or gap[-1:] != b">" or not _is_hex(gap[1:-1]):
        return (f"/ByteRange {values} leaves out bytes that are not the signature value "
                "(signature wrapping)")
    return None


def _raw_bytes(value) -> bytes:
    # An empty "<>" may come back from the parser as a text string.
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    return b"?"   # not a string at all: pyHanko will say why


_HEX_OR_SPACE = re.compile(rb"[0-9a-fA-F \r\n\t]+")


def _is_hex(data: bytes) -> bool:
    return _HEX_OR_SPACE.fullmatch(data) is not None


def _claimed_attribute_time(sig: EmbeddedPdfSignature) -> dt.datetime | None:
    for attr in find_cms_attribute_iter(sig.signer_info["signed_attrs"], "signing_time"):
        return _aware(attr.native)
    return None


def _off_by_local_time(claimed: dt.datetime | None, reference: dt.datetime | None) -> bool:
    """Whether `claimed` is `reference` written as Vietnamese local time labelled UTC."""
    if claimed is None or reference is None:
        return False
    return abs(_aware(claimed) - _aware(reference) - LOCAL_AS_UTC) <= LOCAL_AS_UTC_TOLERANCE


def _m_time(sig: EmbeddedPdfSignature) -> dt.datetime | None:
    """The /M entry alone (pyHanko's self-reported time prefers the CMS attribute)."""
    try:
        return _aware(generic.parse_pdf_date(str(sig.sig_object["/M"]), strict=False))
    except (KeyError, PdfReadError, ValueError, TypeError):
        return None


def _key_usage(cert: asn1_x509.Certificate) -> set[str]:
    value = cert.key_usage_value
    return set(value.native) if value is not None else set()


async def _validate(sig: EmbeddedPdfSignature, trust: TrustStore, dss: _RevocationData,
                    lenient: bool, now: dt.datetime, policy: SignaturePolicy,
                    history: RevisionHistory) -> SignatureReport:
    cert: asn1_x509.Certificate = sig.signer_cert
    is_timestamp = sig.sig_object_type == "/DocTimeStamp"
    claimed, claimed_source = _claimed_time(sig)
    claimed_attribute = None if is_timestamp else _claimed_attribute_time(sig)
    token_time = _token_time(sig.signed_data) if is_timestamp else _signature_token_time(sig)
    # A time in the future proves nothing about the past: validate at "now" then.
    moment = min(_aware(token_time or claimed or now), now)

    cms_data = _cms_revocation_data(sig)
    revocation = _RevocationData(dss.crls + cms_data.crls, dss.ocsps + cms_data.ocsps)
    context = _context(trust, moment, revocation, list(sig.other_embedded_certs),
                       policy.allow_sha1)
    algorithm_policy = SHA1_TOLERANT
    time_note = None
    token_issuer = None
    status: DocumentTimestampStatus | PdfSignatureStatus
    token: TimestampSignatureStatus | None = None   # the signature's own timestamp token
    signing_time: dt.datetime | None
    time_source: SigningTimeSource | None
    if is_timestamp:
        status = await async_validate_pdf_timestamp(sig, validation_context=context,
                                                    diff_policy=history.diff_policy)
        signing_time, time_source = status.timestamp, SigningTimeSource.TIMESTAMP
        token_note = ""
    else:
        status = await async_validate_pdf_signature(sig, signer_validation_context=context,
                                                    key_usage_settings=SIGNER_KEY_USAGE,
                                                    algorithm_policy=algorithm_policy,
                                                    diff_policy=history.diff_policy)
        token = status.timestamp_validity
        if token is not None and token.intact and token.valid and token.trusted:
            signing_time, time_source, token_note = token.timestamp, \
                SigningTimeSource.TIMESTAMP, ""
            if _off_by_local_time(claimed_attribute, token.timestamp):
                time_note = LOCAL_AS_UTC_NOTE
        else:
            signing_time, time_source = claimed, claimed_source
            token_issuer = _token_issuer(sig)
            token_note = ""
            if token is not None:
                token_note = "; its timestamp token is not trusted" + \
                    (f" (TSA certified by {token_issuer})" if token_issuer else "")
            # No trusted token to arbitrate: keep the claim, expose both claims.
            m_time = _m_time(sig)
            if _off_by_local_time(claimed_attribute, m_time) or \
                    _off_by_local_time(m_time, claimed_attribute):
                time_note = "signingTime and /M differ by 7 h: one may be local time " \
                    "labelled as UTC"

    not_before = cert["tbs_certificate"]["validity"]["not_before"].native
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    problem = status.trust_problem_indic
    expired = not (not_before <= moment <= not_after) or problem in EXPIRY_PROBLEMS
    declares_revinfo = bool(cert.crl_distribution_points_value or cert.ocsp_urls)
    revocation_checked = declares_revinfo and _covers(revocation, cert) and \
        (status.revoked or status.trusted)

    digest = str(status.md_algorithm) if status.md_algorithm else None
    # MD2/MD5 never verify (pyHanko refuses them); SHA-1 is refused only by policy.
    digest_rejected = digest == "sha1" and not policy.allow_sha1
    key_usage_rejected = policy.require_non_repudiation and not is_timestamp and \
        "non_repudiation" not in _key_usage(cert)

    level = status.modification_level
    level_name = level.name if level is not None else None
    coverage = status.coverage.name if status.coverage is not None else "UNKNOWN"
    changes = None
    if coverage != "ENTIRE_FILE":
        start2, len2 = int(sig.byte_range[2]), int(sig.byte_range[3])
        try:
            changes = history.changes_after(sig.signed_revision, start2 + len2,
                                            status.diff_result)
        except Exception as exc:   # noqa: BLE001 — the comparison is extra evidence only
            log.debug("change analysis failed: %s", exc)
    modified = level_name not in HARMLESS_MODIFICATIONS or status.docmdp_ok is False or \
        (changes is not None and changes.changes_content)
    # A certification signature allowing form filling and signing (DocMDP P=2/3) strictly
    # permits signing existing fields only; e-office tools add a new field for each later
    # signature, which pyHanko refuses. When every later revision alone is harmless (a
    # signature or validation data added) and nothing a reader sees or the form says
    # differs, the document is as certified: recorded as a fact, not as a modification.
    fields_added_after_certification = bool(
        modified and changes is not None and not changes.changes_content
        and sig.docmdp_level is not None and sig.docmdp_level.value in (2, 3)
        and history.harmless_after(sig.signed_revision))
    if fields_added_after_certification:
        modified = False

    report = SignatureReport(
        field_name=nfc(str(sig.field_name)),
        signer_name=_common_name(cert.subject),
        signer_org=_org(cert.subject),
        uids=tuple(_name_values(cert.subject, "user_id")),
        issuer=_common_name(cert.issuer),
        serial=format(cert.serial_number, "x"),
        not_before=not_before, not_after=not_after,
        signing_time=signing_time, signing_time_source=time_source,
        intact=status.intact, valid=status.valid, trusted=status.trusted,
        revocation_checked=revocation_checked, revoked=status.revoked,
        coverage=coverage, modification_level=level_name, modified_after_signing=modified,
        lenient_parse=lenient, docmdp_ok=status.docmdp_ok, is_timestamp=is_timestamp,
        expired=expired, reason="", changes=changes, digest_algorithm=digest,
        digest_rejected=digest_rejected, key_usage_rejected=key_usage_rejected,
        policy=policy, claimed_signing_time=claimed_attribute,
        timestamp_time=_aware(token_time) if token_time else None,
        signing_time_note=time_note,
        timestamp_untrusted=not is_timestamp and token is not None
        and time_source != SigningTimeSource.TIMESTAMP,
        timestamp_issuer=token_issuer,
        fields_added_after_certification=fields_added_after_certification)
    reason = _reason(report, status, moment, self_signed=cert.self_signed != "no") + token_note
    if time_note:
        reason += f"; {time_note}"
    if lenient:
        reason += "; the PDF only opened with the lenient parser"
    return replace(report, reason=reason)


def _reason(report: SignatureReport, status, moment: dt.datetime, *, self_signed: bool) -> str:
    kind = "document timestamp" if report.is_timestamp else "signature"
    policy = report.policy
    match report.status.value:
        case "invalid":
            if not report.intact:
                return f"the {kind}'s signed bytes were altered (digest mismatch)"
            if report.digest_algorithm in BROKEN_DIGESTS:
                return (f"the {kind} uses the broken {report.digest_algorithm.upper()} digest, "
                        "which is never accepted")
            return f"the {kind}'s cryptographic signature does not verify"
        case "indeterminate":
            return ("intact and trusted, but its SHA-1 digest is refused by policy "
                    "(allow_sha1 is off)")
        case "modified":
            summary = report.changes.summary if report.changes else ""
            if summary.startswith(("page ", "form field ")):
                return summary
            text = (f"the document was changed after this {kind} "
                    f"(modification level {report.modification_level or 'unknown'}, "
                    f"coverage {report.coverage})")
            return f"{text}: {summary}" if summary else text
        case "revoked":
            details = status.revocation_details
            when = details.revocation_date.date().isoformat() if details else "an unknown date"
            whose = "an issuing CA certificate" if details and details.ca_revoked \
                else "the signer's certificate"
            return f"{whose} was revoked on {when}"
        case "expired":
            # Both are read from the certificate, as for every signature reported on.
            assert report.not_before is not None and report.not_after is not None
            return (f"the certificate was not valid at {moment.isoformat()} "
                    f"(valid {report.not_before.date()} to {report.not_after.date()})")
        case "untrusted":
            problem = status.trust_problem_indic
            if report.trusted and report.key_usage_rejected:
                return "the certificate lacks nonRepudiation key usage, required by policy"
            if self_signed:
                return "self-signed certificate, not issued by a trusted CA"
            why = problem.name if problem is not None else "no path"
            return f"no valid chain to a trusted root ({why})"
    anchor = status.validation_path[0].subject if status.validation_path else None
    text = f"{kind} valid; chain to {_common_name(anchor) if anchor else 'a trusted root'}"
    text += f"; time from {report.signing_time_source.value}" \
        if report.signing_time_source else "; no signing time"
    if report.digest_algorithm == "sha1":
        text += "; SHA-1 digest (collision-prone), accepted by policy"
    if not report.revocation_checked:
        text += "; revocation not checked (no revocation data in the file)"
        text += "; policy accepts unchecked revocation" if policy.accept_unchecked_revocation \
            else "; policy does not accept unchecked revocation"
    return text


def _revision(reader: PdfFileReader, sig_value) -> int:
    """The revision that wrote the signature value, to list signatures in signing order."""
    try:
        return reader.xrefs.get_last_change(sig_value.reference)
    except Exception:   # noqa: BLE001 — a direct or dangling value: keep it last
        return 1 << 30


async def async_read_signatures(pdf_bytes: bytes, trust: TrustStore,
                                policy: SignaturePolicy | None = None
                                ) -> tuple[SignatureReport, ...]:
    """The async form of `read_signatures`, for callers already inside an event loop."""
    policy = policy or SignaturePolicy()
    now = dt.datetime.now(dt.timezone.utc)
    try:
        reader, fields, lenient = _open_reader(pdf_bytes)
    except Exception as exc:   # noqa: BLE001 — any parser failure
        if b"/ByteRange" in pdf_bytes:
            return (_malformed("", f"signed PDF whose structure cannot be read: {exc}", True),)
        return ()
    try:
        dss = _dss_revocation_data(reader)
    except Exception:   # noqa: BLE001 — a broken DSS only loses revocation data
        dss = _RevocationData()

    history = RevisionHistory(pdf_bytes, reader)
    reports: list[tuple[int, SignatureReport]] = []
    for name, sig_value, sig_field in fields:
        field_name = nfc(str(name))
        revision = _revision(reader, sig_value)
        try:
            subfilter = str(sig_value.get_object().get("/SubFilter", ""))
            if subfilter not in SIGNATURE_SUBFILTERS | TIMESTAMP_SUBFILTERS:
                reports.append((revision, _unsupported(field_name, subfilter or "(none)",
                                                       lenient)))
                continue
            problem = _byte_range_problem(sig_value.get_object(), pdf_bytes)
            if problem:
                report = _unverifiable(sig_value.get_object(), pdf_bytes, field_name,
                                       problem, lenient)
                reports.append((revision, replace(report, policy=policy)))
                continue
            sig = EmbeddedPdfSignature(reader, sig_field, name)
            reports.append((revision, await _validate(sig, trust, dss, lenient, now, policy,
                                                      history)))
        except Exception as exc:   # noqa: BLE001 — one bad signature never hides the others
            reason = f"could not validate: {type(exc).__name__}: {exc}".strip()
            reports.append((revision, _malformed(field_name, reason[:300], lenient)))
    # In signing order (the revision each signature was added in).
    ordered = [report for _, report in sorted(reports, key=lambda item: item[0])]
    widgets = _widgets(pdf_bytes) if ordered else {}
    return tuple(_placed(report, widgets) for report in _note_broken_predecessors(ordered))


# -- who signed what ------------------------------------------------------------------------

# An e-copy's appearance starts with its form (Decree 30, appendix I part II).
COPY_MARK = re.compile(r"^(?:bản\s+)?(?:sao\s+y|sao\s+lục|trích\s+sao)\b")
# "Ký nháy": a person's small widget left of the signer block (beside "Nơi nhận" or at the
# end of the text), never the signer's signature over the printed name on the right.
INITIALS_MAX_HEIGHT = 40.0


@dataclass(frozen=True)
class _Widget:
    page: int            # 1-based
    box: BBox            # MuPDF coordinates: origin top-left, points
    page_width: float
    text: str            # the words shown in the widget's area, its appearance included


def _widgets(pdf_bytes: bytes) -> dict[str, _Widget]:
    """Where each signature field is drawn and what it shows. The appearance is read by
    drawing the widgets into the page (MuPDF's bake) and taking the words in their box."""
    try:
        doc = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    except Exception:   # noqa: BLE001 — MuPDF refuses the file: no placement, no roles by it
        return {}
    found: dict[str, _Widget] = {}
    with doc:
        try:
            for page in doc.pages():
                for widget in page.widgets() or ():
                    if widget.field_type != pymupdf.mupdf.PDF_WIDGET_TYPE_SIGNATURE or \
                            widget.rect.is_empty:
                        continue
                    r = widget.rect
                    found.setdefault(nfc(widget.field_name or ""), _Widget(
                        page.number + 1, BBox(r.x0, r.y0, r.x1, r.y1), page.rect.width, ""))
            if not found:
                return found
            doc.bake(annots=False, widgets=True)
            for name, widget in found.items():
                b = widget.box
                words = doc[widget.page - 1].get_text(
                    "words", clip=pymupdf.Rect(b.x0, b.y0, b.x1, b.y1), sort=True)
                found[name] = replace(widget, text=nfc(" ".join(w[4] for w in words)))
        except Exception as exc:   # noqa: BLE001 — placement is extra evidence only
            log.debug("signature widgets unreadable: %s", exc)
    return found


def signature_role(report: SignatureReport, widget: _Widget | None
                   ) -> tuple[SignatureRole, str]:
    """The role a signature plays, from its certificate, its appearance and its place."""
    if report.is_timestamp:
        return SignatureRole.OTHER, "a document timestamp"
    if not report.signer_name:
        return SignatureRole.OTHER, "no readable certificate"
    if widget is not None and COPY_MARK.match(widget.text.lower()):
        return SignatureRole.COPY, f"its appearance reads '{widget.text[:20]}'"
    if report.is_publisher_certificate:
        return SignatureRole.COPY, "a publisher's certificate (gazette or portal)"
    if report.is_agency_certificate:
        return SignatureRole.AGENCY, "an agency certificate"
    if widget is not None and widget.box.y1 - widget.box.y0 <= INITIALS_MAX_HEIGHT and \
            (widget.box.x0 + widget.box.x1) / 2 < widget.page_width / 2:
        return SignatureRole.INITIALS, (f"a person's small widget on the left of page "
                                        f"{widget.page} (initials)")
    return SignatureRole.SIGNER, "a person's certificate"


def _placed(report: SignatureReport, widgets: dict[str, _Widget]) -> SignatureReport:
    widget = widgets.get(report.field_name)
    role, basis = signature_role(report, widget)
    if widget is None:
        return replace(report, role=role, role_basis=basis)
    return replace(report, role=role, role_basis=basis, page=widget.page, box=widget.box,
                   appearance_text=widget.text[:200])


def _note_broken_predecessors(reports: list[SignatureReport]) -> list[SignatureReport]:
    """A later signature signs whatever the file held, an altered earlier revision too: it
    stays valid for what it covers, and its reason says what it covers."""
    out: list[SignatureReport] = []
    broken: list[str] = []
    for report in reports:
        if broken and report.status.value == "valid":
            report = replace(report, reason=report.reason + "; it covers earlier signature(s) "
                             f"that do not verify: {', '.join(broken)}")
        if report.status.value in ("invalid", "malformed"):
            broken.append(report.field_name or "(unnamed)")
        out.append(report)
    return out


def read_signatures(pdf_bytes: bytes, trust: TrustStore,
                    policy: SignaturePolicy | None = None) -> tuple[SignatureReport, ...]:
    """One report per signed signature field (document timestamps included), in signing
    order, judged under `policy` (safe defaults). Never raises for a bad signature or a
    broken file."""
    return asyncio.run(async_read_signatures(pdf_bytes, trust, policy))
