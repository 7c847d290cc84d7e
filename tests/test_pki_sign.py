"""The demo PKI and the signer of generated documents, checked with cryptography, PyMuPDF and
pyHanko's own validator (no mocks)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from io import BytesIO

import pymupdf
import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from samples.pki import INTERMEDIATE_NAME, ROOT_NAME, DemoPKI
from samples.sign import (
    add_document_timestamp,
    sign_pdf,
    sign_person_and_agency,
    to_asn1_cert,
)

UTC = dt.timezone.utc
VN = dt.timezone(dt.timedelta(hours=7))
SIGNED_AT = dt.datetime(2024, 3, 5, 9, 30, tzinfo=VN)
PERSON = "Nguyễn Thị Hồng Nhung"
AGENCY = "Sở Thông tin và Truyền thông"
PROVINCE = "Ủy ban nhân dân tỉnh Thừa Thiên Huế"


def simple_pdf(text: str = "KE HOACH Chuyen doi so nam 2024") -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), text)
    return doc.tobytes()


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return DemoPKI.create("tests")


@pytest.fixture(scope="module")
def person(pki):
    return pki.person(PERSON, AGENCY, ("CCCD:079123456789", "CMND:191234567"),
                      units=("Phòng Chuyển đổi số",), locality="Huế")


@pytest.fixture(scope="module")
def agency(pki):
    return pki.agency(AGENCY, PROVINCE, "MNS:1234567", locality="Thừa Thiên Huế")


def validation_context(pki: DemoPKI, *, with_intermediate: bool = True,
                       moment: dt.datetime | None = None) -> ValidationContext:
    others = [to_asn1_cert(pki.intermediate.cert)] if with_intermediate else []
    return ValidationContext(trust_roots=[to_asn1_cert(pki.root.cert)], other_certs=others,
                             allow_fetching=False, moment=moment)


def embedded(pdf: bytes):
    return PdfFileReader(BytesIO(pdf)).embedded_signatures


# -- the PKI ---------------------------------------------------------------------------------

def test_chain_verifies_with_cryptography(pki, person, agency):
    pki.root.cert.verify_directly_issued_by(pki.root.cert)
    pki.intermediate.cert.verify_directly_issued_by(pki.root.cert)
    for identity in (person, agency):
        identity.cert.verify_directly_issued_by(pki.intermediate.cert)
        assert identity.chain == (pki.intermediate.cert, pki.root.cert)
    assert pki.root.common_name == ROOT_NAME
    assert pki.intermediate.common_name == INTERMEDIATE_NAME


def test_person_subject_is_vietnamese_style(person):
    subject = person.cert.subject
    assert person.common_name == PERSON
    assert unicodedata.is_normalized("NFC", person.common_name)
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.USER_ID)] == \
        ["CCCD:079123456789", "CMND:191234567"]
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == AGENCY
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == \
        "Phòng Chuyển đổi số"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]._type == _ASN1Type.UTF8String
    usage = person.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign


def test_agency_subject_names_the_agency(agency):
    subject = agency.cert.subject
    assert agency.common_name == AGENCY
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == PROVINCE
    assert subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "Thừa Thiên Huế"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "MNS:1234567"


def test_bmp_string_subject_round_trips(pki):
    identity = pki.person(PERSON, AGENCY, "CCCD:079123456789", bmp=True)
    cn = identity.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
    assert cn._type == _ASN1Type.BMPString
    reparsed = x509.load_der_x509_certificate(identity.cert.public_bytes(Encoding.DER))
    assert reparsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == PERSON
    # BMPString is tag 0x1E in DER.
    assert b"\x1e" + bytes([len(PERSON) * 2]) in identity.cert.tbs_certificate_bytes


def test_same_seed_same_keys():
    first, second = DemoPKI.create("seed-a"), DemoPKI.create("seed-a")
    a, b = first.person(PERSON, AGENCY, "CCCD:1"), second.person(PERSON, AGENCY, "CCCD:1")
    assert a.cert.public_key() == b.cert.public_key() and a.serial == b.serial
    assert first.root.cert.public_key() == second.root.cert.public_key()
    other = DemoPKI.create("seed-b")
    assert other.root.cert.public_key() != first.root.cert.public_key()


def test_validity_windows_and_self_signed(pki):
    expired = pki.person(PERSON, AGENCY, "CCCD:2", validity=(
        dt.datetime(2019, 1, 1, tzinfo=UTC), dt.datetime(2021, 1, 1, tzinfo=UTC)))
    assert expired.cert.not_valid_after_utc == dt.datetime(2021, 1, 1, tzinfo=UTC)
    own = pki.person(PERSON, AGENCY, "CCCD:3", self_signed=True)
    assert own.cert.issuer == own.cert.subject and own.chain == ()
    own.cert.verify_directly_issued_by(own.cert)


def test_crl_is_signed_by_the_intermediate_and_lists_serials(pki, person):
    crl = pki.make_crl([person.serial], revocation_date=dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert crl.is_signature_valid(pki.intermediate.cert.public_key())
    assert crl.issuer == pki.intermediate.cert.subject
    revoked = crl.get_revoked_certificate_by_serial_number(person.serial)
    assert revoked is not None
    assert revoked.revocation_date_utc == dt.datetime(2024, 1, 1, tzinfo=UTC)


def test_write_trust_dir(pki, tmp_path):
    folder = pki.write_trust_dir(tmp_path / "trust")
    root = x509.load_pem_x509_certificate((folder / "root.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((folder / "intermediate.pem").read_bytes())
    assert root == pki.root.cert and inter == pki.intermediate.cert


# -- signing ---------------------------------------------------------------------------------

def test_one_signature_opens_in_pymupdf_and_validates(pki, person):
    signed = sign_pdf(simple_pdf(), person, field_name="Signature1", signing_time=SIGNED_AT)
    doc = pymupdf.open(stream=signed, filetype="pdf")
    fields = [w for w in doc[0].widgets() if w.field_type == pymupdf.PDF_WIDGET_TYPE_SIGNATURE]
    assert [w.field_name for w in fields] == ["Signature1"]

    (sig,) = embedded(signed)
    status = validate_pdf_signature(sig, validation_context(pki))
    assert status.intact and status.valid and status.trusted
    assert status.signer_reported_dt == SIGNED_AT.astimezone(UTC)
    assert status.signing_cert.subject.native["common_name"] == PERSON


def test_person_then_agency_both_valid(pki, person, agency):
    signed = sign_person_and_agency(simple_pdf(), person, agency, signing_time=SIGNED_AT)
    doc = pymupdf.open(stream=signed, filetype="pdf")
    assert sorted(w.field_name for w in doc[0].widgets()) == ["Signature1", "Signature2"]

    first, second = embedded(signed)
    for sig, name in ((first, PERSON), (second, AGENCY)):
        status = validate_pdf_signature(sig, validation_context(pki))
        assert status.intact and status.valid and status.trusted, status.summary()
        assert status.docmdp_ok
        assert status.signing_cert.subject.native["common_name"] == name
    # The person's signature is followed by the agency's: a signing update, not tampering.
    assert validate_pdf_signature(first, validation_context(pki)).modification_level.name \
        == "FORM_FILLING"


def test_embedding_only_the_signer_certificate(pki, person):
    signed = sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT, embed_chain=False)
    (sig,) = embedded(signed)
    signed_data: cms.SignedData = sig.signed_data
    assert len(signed_data["certificates"]) == 1
    # Trusted only when the validator holds the intermediate itself.
    assert validate_pdf_signature(sig, validation_context(pki)).trusted
    assert not validate_pdf_signature(
        sig, validation_context(pki, with_intermediate=False)).trusted


def test_visible_signature_shows_decree_30_text(person):
    signed = sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT, box=(300, 80, 540, 140))
    text = pymupdf.open(stream=signed, filetype="pdf")[0].get_text()
    assert f"Ký bởi: {PERSON}" in text
    assert "Thời gian ký: 05.03.2024 09:30:00 +07:00" in text


def test_signature_and_document_timestamps(pki, person):
    tsa = pki.tsa()
    signed = sign_pdf(simple_pdf(), person, signing_time=SIGNED_AT, tsa=tsa)
    stamped = add_document_timestamp(signed, tsa, SIGNED_AT + dt.timedelta(days=1))
    sig, doc_ts = embedded(stamped)
    status = validate_pdf_signature(sig, validation_context(pki))
    assert status.trusted and status.timestamp_validity.trusted
    assert status.timestamp_validity.timestamp == (SIGNED_AT + dt.timedelta(seconds=1)) \
        .astimezone(UTC)
    ts_status = validate_pdf_timestamp(doc_ts, validation_context(pki))
    assert ts_status.intact and ts_status.valid and ts_status.trusted
    assert ts_status.timestamp == (SIGNED_AT + dt.timedelta(days=1)).astimezone(UTC)
