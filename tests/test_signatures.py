"""Offline signature validation on PDFs really signed with the demo PKI (no mocks)."""

from __future__ import annotations

import datetime as dt
import re

import pymupdf
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from kiemchung.extractors.signatures import (
    TrustStore,
    fingerprint_sha256,
    load_trust,
    read_signatures,
)
from kiemchung.models.signatures import SignatureReport, SignatureStatus, SigningTimeSource
from samples.attacks import pyhanko_update
from samples.pki import DemoPKI
from samples.sign import add_document_timestamp, sign_pdf, sign_person_and_agency
from tests.helpers import ON_CI, SHARED

UTC = dt.timezone.utc
VN = dt.timezone(dt.timedelta(hours=7))
SIGNED_AT = dt.datetime(2024, 3, 5, 9, 30, tzinfo=VN)
PERSON = "Trần Thị Thu Hằng"
AGENCY = "Sở Thông tin và Truyền thông"
PROVINCE = "Ủy ban nhân dân tỉnh Thừa Thiên Huế"
BODY_HEX = b"4b4520484f414348"          # "KE HOACH" as MuPDF writes it, hex in the TJ operator
SHARED_TRUST = SHARED / "trust"


def simple_pdf() -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "KE HOACH so 15/KH-UBND")
    return doc.tobytes()


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return DemoPKI.create("signatures")


@pytest.fixture(scope="module")
def trust(pki) -> TrustStore:
    return TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))


@pytest.fixture(scope="module")
def person(pki):
    return pki.person(PERSON, AGENCY, "CCCD:079123456789", units=("Văn phòng Sở",))


@pytest.fixture(scope="module")
def agency(pki):
    return pki.agency(AGENCY, PROVINCE, ("MST:3300123456", "MNS:1234567"),
                      locality="Thừa Thiên Huế")


@pytest.fixture(scope="module")
def two_signed(person, agency) -> bytes:
    # Only each signer's own certificate is embedded, as in many real files.
    return sign_person_and_agency(simple_pdf(), person, agency, signing_time=SIGNED_AT,
                                  embed_chain=False)


def only(reports: tuple[SignatureReport, ...]) -> SignatureReport:
    assert len(reports) == 1, reports
    return reports[0]


def add_content_stream(writer: IncrementalPdfFileWriter) -> None:
    stream = generic.StreamObject(stream_data=b"BT /helv 11 Tf 72 700 Td (DA SUA) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(stream))


def add_text_annotation(writer: IncrementalPdfFileWriter) -> None:
    annot = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name("/FreeText"),
        pdf_name("/Rect"): generic.ArrayObject(map(generic.NumberObject, (72, 600, 300, 630))),
        pdf_name("/Contents"): generic.TextStringObject("Số: 99/KH-UBND"),
        pdf_name("/DA"): generic.TextStringObject("/Helv 12 Tf 0 g"),
    })
    page_ref, _ = writer.find_page_for_modification(0)
    writer.register_annotation(page_ref, writer.add_object(annot))


# -- valid, untrusted, invalid, modified -------------------------------------------------------

def test_person_and_agency_are_both_valid(two_signed, trust):
    first, second = read_signatures(two_signed, trust)

    assert (first.field_name, first.signer_name, first.status) == \
        ("Signature1", PERSON, SignatureStatus.VALID)
    assert first.signer_org == f"{AGENCY}, Văn phòng Sở"
    assert first.uids == ("CCCD:079123456789",)
    assert first.modification_level == "FORM_FILLING" and not first.modified_after_signing
    assert (second.signer_name, second.signer_org, second.status) == \
        (AGENCY, PROVINCE, SignatureStatus.VALID)
    assert second.uids == ("MST:3300123456", "MNS:1234567")
    assert second.coverage == "ENTIRE_FILE"
    for report in (first, second):
        assert report.intact and report.valid and report.trusted
        assert report.issuer == "kiemchung Demo CA phục vụ các cơ quan Nhà nước"
        assert report.signing_time_source == SigningTimeSource.SIGNED_ATTRIBUTE
        assert not report.revocation_checked     # no CRL/OCSP in the file: never pretend
        assert "revocation not checked" in report.reason
    assert first.signing_time == SIGNED_AT
    assert second.signing_time == SIGNED_AT + dt.timedelta(minutes=5)


def test_json_uses_contract_names(two_signed, trust):
    data = read_signatures(two_signed, trust)[0].to_json()
    assert {"signer_name", "signer_org", "signing_time", "intact", "trusted", "valid",
            "modified_after_signing", "status"} <= data.keys()
    assert data["status"] == "valid"
    assert dt.datetime.fromisoformat(data["signing_time"]) == SIGNED_AT


def test_without_the_intermediate_the_chain_is_untrusted(two_signed, pki):
    roots_only = TrustStore(roots=(pki.root.cert,))
    assert {r.status for r in read_signatures(two_signed, roots_only)} == \
        {SignatureStatus.UNTRUSTED}


def test_self_signed_is_untrusted(pki, trust):
    own = pki.person(PERSON, AGENCY, "CCCD:079123456789", self_signed=True)
    report = only(read_signatures(sign_pdf(simple_pdf(), own, signing_time=SIGNED_AT), trust))
    assert report.intact and report.valid and not report.trusted
    assert report.status == SignatureStatus.UNTRUSTED
    assert "self-signed" in report.reason


def test_flipped_byte_inside_signed_range_is_invalid(two_signed, trust):
    at = two_signed.index(BODY_HEX) + 1          # "4b" → "4c": still a well-formed file
    assert two_signed[at:at + 1] == b"b"
    tampered = two_signed[:at] + b"c" + two_signed[at + 1:]
    reports = read_signatures(tampered, trust)
    assert [r.status for r in reports] == [SignatureStatus.INVALID] * 2
    assert all(not r.intact for r in reports)
    assert "altered" in reports[0].reason


def test_content_appended_after_signing_is_modified(two_signed, trust):
    changed = pyhanko_update(two_signed, add_content_stream)
    reports = read_signatures(changed, trust)
    assert [r.status for r in reports] == [SignatureStatus.MODIFIED] * 2
    assert all(r.intact and r.valid and r.modified_after_signing for r in reports)
    assert reports[1].modification_level == "OTHER"


def test_annotation_added_after_signing_is_modified(two_signed, trust):
    changed = pyhanko_update(two_signed, add_text_annotation)
    reports = read_signatures(changed, trust)
    assert [r.status for r in reports] == [SignatureStatus.MODIFIED] * 2
    assert "changed after" in reports[1].reason


# -- time, expiry, revocation ----------------------------------------------------------------

def test_expired_at_signing_time(pki, trust):
    old = pki.person(PERSON, AGENCY, "CCCD:1", validity=(
        dt.datetime(2019, 1, 1, tzinfo=UTC), dt.datetime(2022, 1, 1, tzinfo=UTC)))
    report = only(read_signatures(sign_pdf(simple_pdf(), old, signing_time=SIGNED_AT), trust))
    assert report.status == SignatureStatus.EXPIRED and not report.trusted


def test_not_yet_valid_at_signing_time(pki, trust):
    future = pki.person(PERSON, AGENCY, "CCCD:2", validity=(
        dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2029, 1, 1, tzinfo=UTC)))
    report = only(read_signatures(sign_pdf(simple_pdf(), future, signing_time=SIGNED_AT),
                                  trust))
    assert report.status == SignatureStatus.EXPIRED


def test_valid_at_signing_time_although_expired_since(pki, trust):
    # Appraisal happens long after signing; a certificate that has expired since still
    # made a valid signature.
    lapsed = pki.person(PERSON, AGENCY, "CCCD:3", validity=(
        dt.datetime(2023, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)))
    report = only(read_signatures(sign_pdf(simple_pdf(), lapsed, signing_time=SIGNED_AT),
                                  trust))
    assert report.status == SignatureStatus.VALID


def test_revoked_before_signing_with_crl_in_file(pki, trust):
    revoked = pki.person(PERSON, AGENCY, "CCCD:4")
    crl = pki.make_crl([revoked.serial], revocation_date=dt.datetime(2024, 1, 1, tzinfo=UTC),
                       this_update=dt.datetime(2024, 6, 1, tzinfo=UTC))
    signed = sign_pdf(simple_pdf(), revoked, signing_time=SIGNED_AT, embed_crl=crl)
    report = only(read_signatures(signed, trust))
    assert report.status == SignatureStatus.REVOKED
    assert report.revoked and report.revocation_checked
    assert "2024-01-01" in report.reason
    # The CRL arrived in a later update: validation data, not a change to the document.
    assert report.modification_level == "LTA_UPDATES"


def test_clean_crl_counts_as_revocation_checked(pki, person, trust):
    crl = pki.make_crl([], this_update=dt.datetime(2024, 6, 1, tzinfo=UTC))
    signed = sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT, embed_crl=crl)
    report = only(read_signatures(signed, trust))
    assert report.status == SignatureStatus.VALID and report.revocation_checked
    assert not report.revoked


def test_timestamps_give_the_signing_time(pki, person, trust):
    tsa = pki.tsa()
    signed = sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT, tsa=tsa)
    stamped = add_document_timestamp(signed, tsa, SIGNED_AT + dt.timedelta(days=1))
    signature, doc_timestamp = read_signatures(stamped, trust)
    assert signature.status == SignatureStatus.VALID
    assert signature.signing_time_source == SigningTimeSource.TIMESTAMP
    assert signature.signing_time == SIGNED_AT + dt.timedelta(seconds=1)
    assert doc_timestamp.is_timestamp and doc_timestamp.status == SignatureStatus.VALID
    assert doc_timestamp.signing_time == SIGNED_AT + dt.timedelta(days=1)
    assert doc_timestamp.signer_name == "kiemchung Demo TSA"


def test_bmp_string_names_are_decoded(pki, trust):
    identity = pki.person(PERSON, AGENCY, "CCCD:079123456789", bmp=True)
    report = only(read_signatures(sign_pdf(simple_pdf(), identity, signing_time=SIGNED_AT),
                                  trust))
    assert (report.signer_name, report.signer_org) == (PERSON, AGENCY)
    assert report.uids == ("CCCD:079123456789",)


# -- broken input ----------------------------------------------------------------------------

def test_pdf_that_only_parses_leniently(person, trust):
    # A trailer /Size smaller than the highest object number: strict parsing refuses it.
    sloppy = simple_pdf().replace(b"/Size 7", b"/Size 6")
    report = only(read_signatures(sign_pdf(sloppy, person, signing_time=SIGNED_AT,
                                           strict=False), trust))
    assert report.lenient_parse and report.status == SignatureStatus.VALID
    assert "lenient" in report.reason


def test_unsigned_pdf_has_no_reports(trust):
    assert read_signatures(simple_pdf(), trust) == ()


def test_garbage_never_raises(trust):
    assert read_signatures(b"not a pdf at all", trust) == ()
    (report,) = read_signatures(b"%PDF-1.7\n/ByteRange [0 10 20 30]\n%%EOF", trust)
    assert report.status == SignatureStatus.MALFORMED


def test_corrupt_signature_container_is_malformed_for_that_field_only(person, agency, trust):
    # Zero the start of the person's CMS blob (/Contents), then the agency signs on top.
    once = sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT)
    start = once.index(b"/Contents <") + len(b"/Contents <")
    broken = once[:start] + b"0" * 64 + once[start + 64:]
    both = sign_pdf(broken, agency, field_name="Signature2", signing_time=SIGNED_AT)
    first, second = read_signatures(both, trust)
    assert first.status == SignatureStatus.MALFORMED and not first.valid
    assert "could not validate" in first.reason
    assert second.status == SignatureStatus.VALID


def test_status_precedence():
    base = dict(field_name="S", signer_name="A", signer_org=None, uids=(), issuer="CA",
                serial="1", not_before=None, not_after=None, signing_time=None,
                signing_time_source=None, intact=True, valid=True, trusted=False,
                revocation_checked=True, revoked=True, coverage="ENTIRE_FILE",
                modification_level="NONE", modified_after_signing=True, lenient_parse=False,
                docmdp_ok=False, is_timestamp=False, reason="", expired=True)
    assert SignatureReport(**base).status == SignatureStatus.MODIFIED
    assert SignatureReport(**{**base, "intact": False}).status == SignatureStatus.INVALID
    assert SignatureReport(**{**base, "modified_after_signing": False}).status == \
        SignatureStatus.REVOKED
    assert SignatureReport(**{**base, "modified_after_signing": False, "revoked": False}) \
        .status == SignatureStatus.EXPIRED
    assert SignatureReport(**{**base, "modified_after_signing": False, "revoked": False,
                              "expired": False}).status == SignatureStatus.UNTRUSTED
    assert SignatureReport(**{**base, "malformed": True}).status == SignatureStatus.MALFORMED
    sound = {**base, "modified_after_signing": False, "revoked": False, "expired": False,
             "trusted": True}
    assert SignatureReport(**sound).status == SignatureStatus.VALID
    # A refused digest is the last word on an otherwise sound signature, never a worse one.
    assert SignatureReport(**{**sound, "digest_rejected": True}).status == \
        SignatureStatus.INDETERMINATE
    assert SignatureReport(**{**sound, "digest_rejected": True, "trusted": False}).status == \
        SignatureStatus.UNTRUSTED
    assert SignatureReport(**{**sound, "digest_rejected": True, "valid": False}).status == \
        SignatureStatus.INVALID


# -- trust store -----------------------------------------------------------------------------

def published_fingerprints() -> dict[str, str]:
    """file name → SHA-256 fingerprint, from the table in trust/README.md."""
    rows = {}
    for line in (SHARED_TRUST / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", cells[4]):
            rows[cells[0].split()[0]] = cells[4]
    return rows


@pytest.mark.skipif(not (ON_CI or SHARED_TRUST.is_dir()),
                    reason=f"the real CA certificates are not present at {SHARED_TRUST}")
def test_real_vietnamese_ca_certificates_load_with_published_fingerprints():
    expected = published_fingerprints()
    assert len(expected) == 4
    for name, fingerprint in expected.items():
        (cert,) = load_trust([SHARED_TRUST / name]).roots + \
            load_trust([SHARED_TRUST / name]).intermediates
        assert fingerprint_sha256(cert) == fingerprint, name

    store = load_trust([SHARED_TRUST])          # the folder: PEM and DER files together
    roots = {fingerprint_sha256(c) for c in store.roots}
    intermediates = {fingerprint_sha256(c) for c in store.intermediates}
    assert roots == {expected["rootcag2.crt"], expected["vnrca256.crt"]}
    assert intermediates == {expected["cpcag2.crt"], expected["vnpt-ca-sha2.crt"]}
    (gov_ca,) = [c for c in store.intermediates
                 if fingerprint_sha256(c) == expected["cpcag2.crt"]]
    (gov_root,) = [c for c in store.roots if fingerprint_sha256(c) == expected["rootcag2.crt"]]
    gov_ca.verify_directly_issued_by(gov_root)


def test_demo_trust_dir_round_trips(pki, tmp_path, two_signed):
    store = load_trust([pki.write_trust_dir(tmp_path)])
    assert store.roots == (pki.root.cert,) and store.intermediates == (pki.intermediate.cert,)
    assert {r.status for r in read_signatures(two_signed, store)} == {SignatureStatus.VALID}


# -- signing time mislabelled as UTC ---------------------------------------------------------

def test_local_time_labelled_utc_is_corrected_by_the_timestamp(pki, person, trust):
    from samples.attacks import local_time_as_utc, sign_variant
    signed = sign_variant(simple_pdf(), person, signing_time=SIGNED_AT,
                          claimed_time=local_time_as_utc(SIGNED_AT), tsa=pki.tsa())
    report = only(read_signatures(signed, trust))
    assert report.status == SignatureStatus.VALID
    # The timestamp authority answers a second after signing.
    assert dt.timedelta(0) <= report.signing_time - SIGNED_AT <= dt.timedelta(seconds=1)
    assert report.signing_time_source == SigningTimeSource.TIMESTAMP
    assert report.claimed_signing_time == SIGNED_AT + dt.timedelta(hours=7)
    assert report.signing_time_note == "local time labelled as UTC (+7 h)"
    assert "local time labelled as UTC (+7 h)" in report.reason
    assert report.to_json()["signing_time_note"] == "local time labelled as UTC (+7 h)"


def test_local_time_labelled_utc_without_token_keeps_the_claim(person, trust):
    from samples.attacks import local_time_as_utc, sign_variant
    signed = sign_variant(simple_pdf(), person, signing_time=SIGNED_AT,
                          claimed_time=local_time_as_utc(SIGNED_AT))
    report = only(read_signatures(signed, trust))
    assert report.signing_time_source == SigningTimeSource.SIGNED_ATTRIBUTE
    assert report.signing_time == report.claimed_signing_time == \
        SIGNED_AT + dt.timedelta(hours=7)
    assert report.timestamp_time is None
    assert "differ by 7 h" in report.signing_time_note


def test_an_honest_timestamp_has_no_note(pki, person, trust):
    report = only(read_signatures(sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT,
                                           tsa=pki.tsa()), trust))
    assert report.signing_time_note is None


# -- policy ----------------------------------------------------------------------------------

def test_sha1_is_accepted_with_a_warning_by_default_and_indeterminate_when_refused(person,
                                                                                  trust):
    # Provincial e-office and gazette tools still sign with SHA-1 in 2025: by default a sound
    # SHA-1 signature keeps its status, and the weakness is a warning of its own.
    from kiemchung.models.signatures import SignaturePolicy
    from samples.attacks import sign_variant
    signed = sign_variant(simple_pdf(), person, signing_time=SIGNED_AT, md_algorithm="sha1")
    default = only(read_signatures(signed, trust))
    assert default.status == SignatureStatus.VALID and default.digest_algorithm == "sha1"
    assert "SHA-1 digest (collision-prone)" in default.warnings
    assert "SHA-1 digest (collision-prone), accepted by policy" in default.reason
    assert default.to_json()["policy"]["allow_sha1"] is True
    assert "SHA-1 digest (collision-prone)" in default.to_json()["warnings"]
    # Refused by the operator: not `invalid` (the bytes and the cryptography verify), but
    # indeterminate, as EU DSS reports a failed cryptographic constraint.
    refused = only(read_signatures(signed, trust, SignaturePolicy(allow_sha1=False)))
    assert refused.status == SignatureStatus.INDETERMINATE
    assert refused.intact and refused.valid and refused.trusted and refused.digest_rejected
    assert "SHA-1 digest is refused by policy" in refused.reason
    # A SHA-256 signature is untouched by the policy.
    strong = sign_variant(simple_pdf(), person, signing_time=SIGNED_AT)
    assert only(read_signatures(strong, trust, SignaturePolicy(allow_sha1=False))).status \
        == SignatureStatus.VALID


def test_a_refused_sha1_digest_never_hides_a_worse_fault(person, trust):
    from kiemchung.models.signatures import SignaturePolicy
    from samples.attacks import sign_variant
    signed = sign_variant(simple_pdf(), person, signing_time=SIGNED_AT, md_algorithm="sha1")
    at = signed.index(BODY_HEX) + 1               # "4b" → "4c": still a well-formed file
    tampered = signed[:at] + b"c" + signed[at + 1:]
    for policy in (SignaturePolicy(), SignaturePolicy(allow_sha1=False)):
        report = only(read_signatures(tampered, trust, policy))
        assert report.status == SignatureStatus.INVALID and not report.intact


def test_non_repudiation_required_by_policy(pki, person, trust):
    from kiemchung.models.signatures import SignaturePolicy
    from samples.attacks import digital_signature_only
    strict = SignaturePolicy(require_non_repudiation=True)
    lacking = digital_signature_only(pki, "Lê Văn Bình", AGENCY)
    signed = sign_pdf(simple_pdf(), lacking, signing_time=SIGNED_AT)
    assert only(read_signatures(signed, trust)).status == SignatureStatus.VALID
    report = only(read_signatures(signed, trust, strict))
    assert report.status == SignatureStatus.UNTRUSTED and report.key_usage_rejected
    assert "nonRepudiation" in report.reason and "policy" in report.reason
    # The demo person certificates carry nonRepudiation, as the Government CA's do.
    ok = only(read_signatures(sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT), trust,
                              strict))
    assert ok.status == SignatureStatus.VALID


def test_unchecked_revocation_is_recorded_not_decided(two_signed, trust):
    from kiemchung.models.signatures import SignaturePolicy
    first = read_signatures(two_signed, trust, SignaturePolicy(
        accept_unchecked_revocation=False))[0]
    assert first.status == SignatureStatus.VALID and not first.revocation_checked
    assert "policy does not accept unchecked revocation" in first.reason
    assert first.to_json()["policy"]["accept_unchecked_revocation"] is False


# -- hybrid-reference files (Word's "Save as PDF") -------------------------------------------

def test_hybrid_reference_file_validates_leniently(person, trust):
    from io import BytesIO as _BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    from samples.attacks import evidence, hybrid_xref
    hybrid = hybrid_xref(evidence(seed=4)[0])
    strict = PdfFileReader(_BytesIO(hybrid), strict=True)
    assert strict.xrefs.hybrid_xrefs_present     # strict mode reads it, refuses to validate
    signed = sign_pdf(hybrid, person, signing_time=SIGNED_AT, strict=False)
    report = only(read_signatures(signed, trust))
    assert report.lenient_parse and report.status == SignatureStatus.VALID
    assert "lenient" in report.reason
    assert pymupdf.open(stream=signed, filetype="pdf").page_count == 1
