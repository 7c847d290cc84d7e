"""What later revisions did to a signed revision: per-revision lines, form values, words with
boxes, rendered pages; on generated evidence really signed with the demo PKI."""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY

from kiemchung.extractors.changes import RevisionHistory
from kiemchung.extractors.signatures import TrustStore, read_signatures
from kiemchung.models.document import BBox
from kiemchung.models.signatures import ChangedWord, SignatureStatus
from samples import attacks
from samples.pki import DemoPKI
from samples.sign import add_crl, add_document_timestamp, sign_pdf, sign_person_and_agency

SIGNED_AT = dt.datetime(2024, 3, 5, 9, 30, tzinfo=attacks.VN_TZ)


@pytest.fixture(scope="module")
def pki() -> DemoPKI:
    return DemoPKI.create("changes")


@pytest.fixture(scope="module")
def trust(pki) -> TrustStore:
    return TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))


@pytest.fixture(scope="module")
def evidence():
    return attacks.evidence(seed=4)        # a one-page plan


@pytest.fixture(scope="module")
def person(pki):
    return pki.person("Hoàng Thị Lan", "Sở Nội vụ", "CCCD:046123456789")


@pytest.fixture(scope="module")
def agency(pki):
    return pki.agency("Sở Nội vụ", "Ủy ban nhân dân tỉnh Thừa Thiên Huế", "MST:3300654321")


# Visible signature boxes (PDF points, origin bottom-left) in the signer block of page 1.
PERSON_BOX = (330, 90, 540, 140)
AGENCY_BOX = (300, 40, 510, 90)


def test_whole_file_signature_has_no_change_report(evidence, person, trust):
    (report,) = read_signatures(sign_pdf(evidence[0], person, signing_time=SIGNED_AT), trust)
    assert report.coverage == "ENTIRE_FILE" and report.changes is None
    assert report.to_json()["changes"] is None


def test_validation_data_and_timestamps_are_harmless(evidence, person, pki, trust):
    signed = sign_pdf(evidence[0], person, signing_time=SIGNED_AT)
    with_crl = add_crl(signed, pki.make_crl([], this_update=SIGNED_AT))
    stamped = add_document_timestamp(with_crl, pki.tsa(), SIGNED_AT + dt.timedelta(days=1))
    signature, timestamp = read_signatures(stamped, trust)
    assert signature.status == SignatureStatus.VALID and timestamp.status == SignatureStatus.VALID
    assert signature.changes.later_revisions == (
        "revision 3: validation data (DSS/LTV) added (harmless)",
        "revision 4: document timestamp added (harmless)")
    assert not signature.changes.changes_content and signature.changes.summary == ""


def test_changed_words_have_page_box_and_kind(evidence, person, trust):
    number = evidence[1].number
    seq, rest = number.split("/", 1)
    forged = f"{int(seq) + 1}/{rest}"
    signed = sign_pdf(evidence[0], person, signing_time=SIGNED_AT)
    (report,) = read_signatures(attacks.change_text(signed, number, forged), trust)
    assert report.status == SignatureStatus.MODIFIED
    removed, added = report.changes.changed_words
    assert (removed.kind, removed.text, removed.page) == ("removed", number, 1)
    assert (added.kind, added.text, added.page) == ("added", forged, 1)
    assert isinstance(removed.bbox, BBox)
    # The forged number sits where the signed one was (top-left origin, points).
    assert abs(added.bbox.x0 - removed.bbox.x0) < 3 and abs(added.bbox.y0 - removed.bbox.y0) < 6
    assert removed.bbox.y1 < 150                          # the header of page 1
    assert report.changes.changed_pages == (1,)


def test_changes_serialise_to_json(evidence, person, trust):
    signed = sign_pdf(evidence[0], person, signing_time=SIGNED_AT)
    (report,) = read_signatures(attacks.add_free_text(signed, "Đã sửa"), trust)
    data = json.loads(json.dumps(report.to_json(), ensure_ascii=False))
    changes = data["changes"]
    assert data["status"] == "modified" and data["modified_after_signing"]
    assert changes["changed_pages"] == [1]
    assert {"page": 1, "text": "Đã", "kind": "added"}.items() <= \
        changes["changed_words"][0].items()
    assert len(changes["changed_words"][0]["bbox"]) == 4
    assert any("not harmless" in line for line in changes["later_revisions"])


def test_changed_word_is_frozen():
    word = ChangedWord(1, "15/03/2024", BBox(1, 2, 3, 4), "added")
    with pytest.raises(AttributeError):
        word.text = "x"
    assert word.to_json() == {"page": 1, "text": "15/03/2024", "bbox": [1, 2, 3, 4],
                              "kind": "added"}


def test_later_visible_signatures_are_harmless(evidence, person, agency, trust):
    # As Decree 30 e-documents are signed: both signatures stamp visible text ("Ký bởi: …").
    signed = sign_person_and_agency(evidence[0], person, agency, signing_time=SIGNED_AT,
                                    person_box=PERSON_BOX, agency_box=AGENCY_BOX)
    first, second = read_signatures(signed, trust)
    assert [first.status, second.status] == [SignatureStatus.VALID] * 2
    assert first.changes.later_revisions == ("revision 3: signature added (harmless)",)
    assert not first.changes.changes_content and first.changes.summary == ""


def test_changed_words_leave_out_later_signature_appearances(evidence, person, agency, trust):
    number = evidence[1].number
    seq, rest = number.split("/", 1)
    forged = f"{int(seq) + 1}/{rest}"
    signed = sign_pdf(evidence[0], person, signing_time=SIGNED_AT)
    altered = attacks.change_text(signed, number, forged)
    stamped = sign_pdf(altered, agency, field_name="Signature2", box=AGENCY_BOX,
                       signing_time=SIGNED_AT + dt.timedelta(days=1))
    first, second = read_signatures(stamped, trust)
    assert first.status == SignatureStatus.MODIFIED and second.status == SignatureStatus.VALID
    assert first.reason == f"page 1 text changed after signing: '{number}' → '{forged}'"
    assert [w.text for w in first.changes.changed_words] == [number, forged]
    assert first.changes.later_revisions[-1] == "revision 4: signature added (harmless)"


def test_shared_review_agrees_with_pyhanko(evidence, person, agency, pki, trust):
    # The file's revisions are reviewed once for all signatures; what pyHanko concludes for
    # each signed revision must not change by it.
    form = attacks.with_form_field(evidence[0])
    signed = sign_person_and_agency(form, person, agency, signing_time=SIGNED_AT)
    with_crl = add_crl(signed, pki.make_crl([], this_update=SIGNED_AT))
    for pdf in (attacks.change_form_value(signed), attacks.add_free_text(signed), with_crl):
        reader = PdfFileReader(BytesIO(pdf))
        history = RevisionHistory(pdf, reader)
        last = reader.xrefs.total_revisions - 1
        lines = [history.revision(index).line for index in range(2, last + 1)]
        for signed_revision in range(1, last):
            fresh = DEFAULT_DIFF_POLICY.review_file(PdfFileReader(BytesIO(pdf)), signed_revision)
            for _ in range(2):      # the second time from what the history remembers
                shared = history.diff_policy.review_file(reader, signed_revision)
                assert type(shared) is type(fresh)
                assert str(shared) == str(fresh) if isinstance(fresh, Exception) \
                    else shared == fresh
        assert lines == [history.revision(index).line for index in range(2, last + 1)]
