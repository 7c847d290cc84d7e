"""Known attacks on signed PDFs, built with the project's generator and validated for real:
none may ever come out `valid`, and the reason must say what happened."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pytest
from pyhanko.pdf_utils.generic import TextStringObject, pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from kiemchung.extractors.signatures import TrustStore, read_signatures
from kiemchung.models.signatures import SignatureStatus
from samples import attacks
from samples.pki import DemoPKI
from samples.sign import make_signer, sign_pdf

SIGNED_AT = dt.datetime(2024, 3, 5, 9, 30, tzinfo=attacks.VN_TZ)
NOT_VALID = {SignatureStatus.MODIFIED, SignatureStatus.INVALID, SignatureStatus.MALFORMED}


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return DemoPKI.create("attacks")


@pytest.fixture(scope="module")
def trust(pki) -> TrustStore:
    return TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))


@pytest.fixture(scope="module")
def evidence():
    return attacks.evidence(seed=2)


@pytest.fixture(scope="module")
def signed(evidence, pki) -> bytes:
    return attacks.sign_evidence(evidence[0], pki, SIGNED_AT)


@pytest.fixture(scope="module")
def shadow_signed(evidence, pki) -> bytes:
    return attacks.sign_evidence(attacks.shadow_prepare(evidence[0]), pki, SIGNED_AT)


def statuses(reports) -> list[SignatureStatus]:
    return [r.status for r in reports]


def test_untouched_documents_are_valid(signed, shadow_signed, evidence, pki, trust):
    # The prepared shadow document and a form with a filled field are valid as signed:
    # the attacks below are what makes them fail.
    form = attacks.sign_evidence(attacks.with_form_field(evidence[0]), pki, SIGNED_AT)
    for pdf in (signed, shadow_signed, form):
        reports = read_signatures(pdf, trust)
        assert statuses(reports) == [SignatureStatus.VALID] * 2
        assert reports[0].changes.later_revisions == ("revision 3: signature added (harmless)",)
        assert not reports[0].changes.changes_content


def test_incremental_saving_changes_page_text(signed, evidence, trust):
    number = evidence[1].number                                   # e.g. "197/KH-STTTT"
    seq, rest = number.split("/", 1)
    forged = f"{int(seq) + 1}/{rest}"
    reports = read_signatures(attacks.change_text(signed, number, forged), trust)
    assert statuses(reports) == [SignatureStatus.MODIFIED] * 2
    for report in reports:
        assert report.intact and report.valid and report.modified_after_signing
        assert report.reason == f"page 1 text changed after signing: '{number}' → '{forged}'"
        assert report.changes.changed_pages == (1,)
        assert any("(not harmless)" in line for line in report.changes.later_revisions)


def test_signature_wrapping_byte_range_widened(signed, trust):
    person, agency = read_signatures(attacks.wrap_byte_range(signed), trust)
    assert agency.status == SignatureStatus.INVALID and not agency.intact
    assert "altered" in agency.reason
    assert person.status == SignatureStatus.MODIFIED


def test_signature_wrapping_signed_part_moved(signed, trust):
    reports = read_signatures(attacks.move_signed_content(signed), trust)
    assert reports and set(statuses(reports)) <= NOT_VALID
    assert SignatureStatus.VALID not in statuses(reports)
    assert any(r.status == SignatureStatus.MALFORMED and
               ("wrapping" in r.reason or "cannot be read" in r.reason) for r in reports)


def test_signature_wrapping_gap_holds_injected_bytes(signed, trust):
    # The same move, but the file's own xref still reads: the gap check names it.
    match = attacks.last_byte_range(signed)
    _, len1, start2, len2 = (int(v) for v in match.group(1).split())
    padded = signed[:start2] + b"\n%injected\n" + signed[start2:]
    values = f"[0 {len1} {start2 + 11} {len2}]".encode()
    forged = attacks.set_byte_range(padded, match, values)
    reports = read_signatures(forged, trust)
    assert SignatureStatus.VALID not in statuses(reports)
    assert any("signature wrapping" in r.reason or "cannot be read" in r.reason
               for r in reports)


@pytest.mark.parametrize("variant, words", [
    ("empty_contents", "empty /Contents"),
    ("zero_contents", "all zeros"),
    ("no_byte_range", "no /ByteRange"),
    ("zero_byte_range", "[0, 0, 0, 0]"),
    ("negative_byte_range", "negative"),
    ("overlapping_byte_range", "overlapping"),
    ("byte_range_past_eof", "past the end of the file"),
])
def test_universal_signature_forgery(signed, trust, variant, words):
    person, forged = read_signatures(attacks.forge(signed, variant), trust)
    assert forged.status == SignatureStatus.MALFORMED and not forged.valid
    assert words in forged.reason
    # The person's genuine signature is untouched by an edit inside the agency's signature.
    assert person.status == SignatureStatus.VALID


@pytest.mark.parametrize("attack, expected", [
    (attacks.shadow_hide,
     f"page 1 text changed after signing: added '{attacks.HIDDEN_TEXT}'"),
    (attacks.shadow_overlay, "page 1 text changed after signing: added"),
    (attacks.shadow_replace_font,
     "page 1 text changed after signing: '150.000.000' → '950.000.000'"),
    (attacks.shadow_replace_page, "page 1 text changed after signing"),
])
def test_shadow_attacks(shadow_signed, trust, attack, expected):
    reports = read_signatures(attack(shadow_signed), trust)
    assert statuses(reports) == [SignatureStatus.MODIFIED] * 2
    for report in reports:
        # pyHanko's difference analysis itself refuses the update, not only our comparison.
        assert report.modification_level == "OTHER"
        assert report.reason.startswith(expected)
        assert report.changes.changed_pages == (1,)


def test_annotation_added_after_signing(signed, trust):
    reports = read_signatures(attacks.add_free_text(signed), trust)
    assert statuses(reports) == [SignatureStatus.MODIFIED] * 2
    assert all("Số: 99/KH-UBND" in r.reason and "after signing" in r.reason for r in reports)


def test_form_value_changed_after_signing(evidence, pki, trust):
    form = attacks.sign_evidence(attacks.with_form_field(evidence[0]), pki, SIGNED_AT)
    reports = read_signatures(attacks.change_form_value(form), trust)
    # pyHanko accepts it as form filling; for evidence it is a change all the same.
    assert [r.modification_level for r in reports] == ["FORM_FILLING"] * 2
    assert statuses(reports) == [SignatureStatus.MODIFIED] * 2
    for report in reports:
        assert report.changes.changed_fields == (attacks.FORM_FIELD,)
        assert report.reason == \
            "form field 'kinh_phi' changed after signing: '150.000.000' → '950.000.000'"
        assert "revision 4: form field values changed: kinh_phi (not harmless)" in \
            report.changes.later_revisions


def test_form_value_changed_by_the_update_that_adds_a_signature(evidence, pki, trust):
    # The new value rides in the same revision as the second signature, which pyHanko
    # accepts as form filling: the person's signature must still come out modified.
    person = pki.person("Nguyễn Văn An", "Sở Thông tin và Truyền thông", "CCCD:079123456789")
    agency = pki.agency("Sở Thông tin và Truyền thông", "Ủy ban nhân dân tỉnh Thừa Thiên Huế",
                        "MST:3300123456")
    once = sign_pdf(attacks.with_form_field(evidence[0]), person, signing_time=SIGNED_AT)
    writer = IncrementalPdfFileWriter(BytesIO(once))
    (ref,) = [ref for ref in writer.root["/AcroForm"]["/Fields"]
              if ref.get_object().get("/T") == attacks.FORM_FIELD]
    ref.get_object()[pdf_name("/V")] = TextStringObject("950.000.000")
    writer.mark_update(ref)
    output = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Signature2"),
                              signer=make_signer(agency), output=BytesIO())
    first, second = read_signatures(output.getvalue(), trust)
    assert first.modification_level == "FORM_FILLING"
    assert first.status == SignatureStatus.MODIFIED
    assert first.reason == \
        "form field 'kinh_phi' changed after signing: '150.000.000' → '950.000.000'"
    assert first.changes.later_revisions == (
        "revision 3: signature added; form field values changed: kinh_phi (not harmless)",)
    assert second.status == SignatureStatus.VALID and second.coverage == "ENTIRE_FILE"


def test_second_signature_over_altered_first_revision(evidence, pki, trust):
    person, agency = read_signatures(attacks.sign_over_altered(evidence[0], pki, SIGNED_AT),
                                     trust)
    assert person.status == SignatureStatus.INVALID and not person.intact
    assert "altered" in person.reason
    # The agency really signed those bytes; its report says what it covers.
    assert agency.status == SignatureStatus.VALID
    assert "covers earlier signature(s) that do not verify: Signature1" in agency.reason


# -- issue 11: tolerance for real files must not let attacks through ---------------------------

def test_a_change_hidden_under_a_later_signature_is_still_modified(signed, evidence, pki,
                                                                    trust):
    number = evidence[1].number
    seq, rest = number.split("/", 1)
    forged = f"{int(seq) + 1}/{rest}"
    other = pki.person("Trần Văn Bình", "Sở Thông tin và Truyền thông", "CCCD:079000000002")
    data = attacks.change_under_new_signature(signed, number, forged, other,
                                              SIGNED_AT + dt.timedelta(hours=1))
    person, agency, cover = read_signatures(data, trust)
    assert person.status == agency.status == SignatureStatus.MODIFIED
    assert not person.fields_added_after_certification
    # The cover signature signs the altered file as it found it: valid for that.
    assert cover.status == SignatureStatus.VALID


def test_a_file_rewritten_after_signing_is_never_valid_and_says_why(signed, trust):
    reports = read_signatures(attacks.rewrite_whole_file(signed), trust)
    assert reports and SignatureStatus.VALID not in statuses(reports)
    assert any(r.rewritten and r.reason.startswith("the file was saved again after it was "
                                                   "signed") for r in reports)
    # Who signed is still read from the signature value.
    assert {r.signer_name for r in reports} >= {"Nguyễn Văn An"}


def test_a_refused_sha1_policy_never_turns_an_attack_valid(signed, evidence, trust):
    from kiemchung.models.signatures import SignaturePolicy
    number = evidence[1].number
    forged = attacks.change_text(signed, number, number.replace("/", "-", 1))
    for policy in (SignaturePolicy(), SignaturePolicy(allow_sha1=False)):
        assert SignatureStatus.VALID not in statuses(read_signatures(forged, trust, policy))
