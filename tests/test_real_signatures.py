"""The real signed documents of ../shared/realdocs, validated with the real Government CA
certificates of ../shared/trust as trust roots (nothing of either is copied into the project).

What a new user meets: SHA-1 digests from the provincial e-office and gazette tools, tokens of
the Government time-stamping service, agency seals added after a certification signature,
files rewritten after signing, and five kinds of signers. None of these may come out
`invalid` or `modified` when they are sound; a real alteration still must.
"""

from __future__ import annotations

import json
from functools import lru_cache
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import find_cms_attribute_iter

from kiemchung.extractors.signatures import (
    TrustStore,
    fingerprint_sha256,
    load_trust,
    read_signatures,
)
from kiemchung.models.signatures import (
    SignaturePolicy,
    SignatureRole,
    SignatureStatus,
    SigningTimeSource,
)
from samples.attacks import change_text
from tests.helpers import SHARED, absent

REALDOCS = SHARED / "realdocs"
TRUST = SHARED / "trust"
G2_ROOT = "RootCA chuyên dùng Chính phủ G2"
# The first-generation Government root that certifies the time-stamping server
# "Máy chủ cấp dấu thời gian 01" (and the pre-G2 signing CA "Co quan chung thuc so Chinh phu").
G1_ROOT = "Co quan chung thuc so chuyen dung Chinh phu (RootCA)"
G1_ROOT_SHA256 = ("F7:BC:89:05:4C:EC:7F:12:73:0D:7B:8C:D3:EB:79:55:"
                  "B1:63:83:50:87:E5:EB:87:3E:DF:B5:84:76:3B:3F:90")

S, A, I, C = (SignatureRole.SIGNER, SignatureRole.AGENCY,  # noqa: E741 - initials of roles
              SignatureRole.INITIALS, SignatureRole.COPY)
# Each signed file's signatures in signing order, by role (read by hand from the labels' notes).
ROLES = {
    "01": [C],                      # the gazette centre alone
    "02": [C],
    "03": [S, A, A, A, C],          # signer, agency ×3 (number, day, seal), gazette
    "04": [A, C], "05": [A, C], "06": [A, C], "07": [A, C],
    "11": [I, A, A, A],             # Lê Văn Tuệ's initials (ký nháy), not the printed signer
    "12": [S, A, A, A], "13": [S, A, A, A], "14": [S, A, A, A],
    "15": [C],                      # the "SAO Y" e-copy of Bộ Công an
    "16": [A], "17": [A, A], "18": [A],
    "20": [S, A],                   # rewritten after signing
    "22": [C],                      # the Government portal's publication
}


def _need_shared() -> None:
    if not (REALDOCS / "labels.json").is_file() or not TRUST.is_dir():
        absent(f"the real documents or CA certificates are not beside the repository "
               f"({SHARED})")


@lru_cache(maxsize=None)
def _labels() -> dict[str, dict]:
    files = json.loads((REALDOCS / "labels.json").read_text(encoding="utf-8"))["files"]
    return {Path(label["file"]).name[:2]: label for label in files}


def _file(key: str) -> bytes:
    return (REALDOCS / _labels()[key]["file"]).read_bytes()


@lru_cache(maxsize=None)
def _trust() -> TrustStore:
    return load_trust([TRUST])


@lru_cache(maxsize=None)
def _reports(key: str, allow_sha1: bool = True):
    return read_signatures(_file(key), _trust(), SignaturePolicy(allow_sha1=allow_sha1))


@pytest.fixture(scope="module", autouse=True)
def shared():
    _need_shared()


def _g1_root_from(data: bytes) -> x509.Certificate:
    """The self-signed root a real token embeds: what the operator must import, after
    comparing its fingerprint with the one the Government CA publishes."""
    reader = PdfFileReader(BytesIO(data), strict=False)
    for _, value, _ in enumerate_sig_fields(reader, filled_status=True):
        signed_data = cms.ContentInfo.load(bytes(value.get_object()["/Contents"]))["content"]
        unsigned = signed_data["signer_infos"][0]["unsigned_attrs"]
        for token in find_cms_attribute_iter(unsigned, "signature_time_stamp_token"):
            for choice in token["content"]["certificates"]:
                cert = choice.chosen
                if cert.self_signed != "no" and cert.subject.native["common_name"] == G1_ROOT:
                    return x509.load_der_x509_certificate(cert.dump())
    raise AssertionError("no first-generation root in the file's tokens")


# -- every signed file -----------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(ROLES))
def test_each_real_signature_has_its_role_and_no_false_failure(key):
    label, reports = _labels()[key], _reports(key)
    assert len(reports) == label["digital_signature_count"]
    assert {r.signer_name for r in reports} == set(label["digital_signers"])
    assert [r.role for r in reports] == ROLES[key], [(r.signer_name, r.role_basis)
                                                     for r in reports]
    for report in reports:
        # SHA-1 alone never makes a signature invalid; later signatures, DSS data and the
        # gazette's signature never make an earlier one modified.
        assert report.status not in (SignatureStatus.INVALID, SignatureStatus.MODIFIED), \
            (report.field_name, report.reason)
        assert report.to_json()["role"] == report.role.value
        assert isinstance(report.to_json()["warnings"], list)
    if label["last_signature_covers_whole_file"]:
        assert reports[-1].coverage == "ENTIRE_FILE"


def test_a_file_saved_again_after_signing_is_never_valid_and_says_so():
    # 20: re-saved to add an incoming stamp; the signatures live only in object streams.
    label = _labels()["20"]
    assert label["signature_byteranges_fit_file"] is False
    reports = _reports("20")
    assert [r.signer_name for r in reports] == ["Đỗ Văn Chung", "SỞ NỘI VỤ"]
    for report in reports:
        assert report.status == SignatureStatus.MALFORMED and report.rewritten
        assert report.reason.startswith("the file was saved again after it was signed: what "
                                        "was signed is no longer in it")
        assert "wrapping" not in report.reason


def test_sound_sha1_signatures_keep_their_status_with_a_warning():
    sha1 = [r for key in ROLES for r in _reports(key) if r.digest_algorithm == "sha1"]
    assert len(sha1) >= 25
    for report in sha1:
        assert "SHA-1 digest (collision-prone)" in report.warnings
        if report.trusted:
            assert report.status == SignatureStatus.VALID
    # The file signed by the Sở Nội vụ of Lâm Đồng: person and agency, all SHA-1, all valid.
    assert [r.status for r in _reports("14")] == [SignatureStatus.VALID] * 4


def test_an_operator_refusing_sha1_gets_indeterminate_not_invalid():
    refused = _reports("14", allow_sha1=False)
    assert [r.status for r in refused] == [SignatureStatus.INDETERMINATE] * 4
    assert all("SHA-1 digest is refused by policy" in r.reason for r in refused)
    # SHA-256 signatures are untouched: the Government portal's publication stays valid.
    assert [r.status for r in _reports("22", allow_sha1=False)] == [SignatureStatus.VALID]


def test_agency_signatures_after_a_certification_signature_are_not_a_modification():
    # 17: the first agency signature certifies the file (DocMDP P=2), the second adds a new
    # signature field, which pyHanko alone reports as a modification.
    first, second = _reports("17")
    assert first.modification_level == "OTHER" and first.fields_added_after_certification
    assert first.status == SignatureStatus.VALID and not first.modified_after_signing
    assert "signature fields added after the certification signature" in first.warnings
    assert second.status == SignatureStatus.VALID


# -- timestamps ------------------------------------------------------------------------------

def test_tokens_certified_by_the_g2_root_give_the_signing_time():
    # "Máy chủ cấp dấu thời gian 02" and "HL01" are certified by rootcag2.crt itself.
    timed = {("03", "Signature5"), ("11", "Signature2"), ("13", "Signature1"),
             ("18", "Signature1"), ("22", "Signature1")}
    for key, field in timed:
        report = next(r for r in _reports(key) if r.field_name == field)
        assert report.signing_time_source == SigningTimeSource.TIMESTAMP, (key, field)
        assert report.signing_time == report.timestamp_time
        assert not report.timestamp_untrusted


def test_tokens_of_the_first_generation_tsa_need_its_root_imported():
    # With only ../shared/trust, tokens of "Máy chủ cấp dấu thời gian 01" are not trusted, and
    # the warning names the root to import.
    data = _file("14")
    for report in _reports("14"):
        assert report.timestamp_untrusted
        # The signer's own claim stands in (these CAdES signatures carry /M only).
        assert report.signing_time_source in (SigningTimeSource.SIGNED_ATTRIBUTE,
                                              SigningTimeSource.M)
        assert f"timestamp token not trusted (TSA certified by {G1_ROOT})" in report.warnings
        assert f"its timestamp token is not trusted (TSA certified by {G1_ROOT})" in \
            report.reason
    # Imported beside the G2 certificates, the same tokens give the signing time.
    root = _g1_root_from(data)
    assert fingerprint_sha256(root) == G1_ROOT_SHA256
    base = _trust()
    trust = TrustStore(roots=base.roots + (root,), intermediates=base.intermediates)
    for report in read_signatures(data, trust):
        assert report.status == SignatureStatus.VALID
        assert report.signing_time_source == SigningTimeSource.TIMESTAMP
        assert report.signing_time == report.timestamp_time
        assert not report.timestamp_untrusted


# -- a real alteration -----------------------------------------------------------------------

def test_a_content_change_to_a_real_signed_file_is_modified_with_the_words():
    original = _file("17")
    forged = change_text(original, "2601/SVHTTDL-QLTDTT", "2602/SVHTTDL-QLTDTT")
    reports = read_signatures(forged, _trust())
    assert [r.status for r in reports] == [SignatureStatus.MODIFIED] * 2
    for report in reports:
        assert report.intact and report.valid and report.modified_after_signing
        assert not report.fields_added_after_certification
        assert report.reason.startswith("page 1 text changed after signing: "
                                        "'2601/SVHTTDL-QLTDTT' → '2602/SVHTTDL-QLTDTT'")
        words = {(w.kind, w.text) for w in report.changes.changed_words}
        assert ("removed", "2601/SVHTTDL-QLTDTT") in words
        assert ("added", "2602/SVHTTDL-QLTDTT") in words
