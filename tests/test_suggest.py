"""Which criteria a document may serve (`verifier.suggest`): generated documents read by the
extractors, and the labelled fields of real documents (../shared/realdocs)."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.models.document import nfc
from kiemchung.models.fields import DocType, DocumentFields, Field, Provenance
from kiemchung.verifier.ruleset import Level, load_ruleset
from kiemchung.verifier.suggest import FLOOR, suggest_criteria
from samples.render import render_pdf
from tests.helpers import SHARED, absent, plan_spec, spec_of

HUE = load_ruleset("hue-2024")


def fields_of(doc_type: DocType | None, subject: str | None,
              type_name: str | None = None) -> DocumentFields:
    def given(value):
        return None if value is None else Field(value, 1.0, Provenance(1, None, ""))
    return DocumentFields(doc_type=given(doc_type), subject=given(subject),
                          type_name=given(type_name))


def asked_types(criterion_id: str) -> set[str]:
    evidence = HUE.criterion(criterion_id).evidence
    return {str(t) for c in (evidence.document if evidence else [])
            if c.check == "doc_type_is" for t in c.params.get("types", [])}


@pytest.mark.parametrize(("spec", "best"), [
    (plan_spec(dt.date(2024, 1, 15)), "2.1"),
    (spec_of(DocType.QUYET_DINH, dt.date(2024, 2, 1),
             subject="Kiện toàn Ban Chỉ đạo chuyển đổi số huyện Phú Vang"), "1.1"),
])
def test_generated_documents_get_their_criterion_first(spec, best):
    # In another thread: reading signatures runs an asyncio loop, and a browser test's may be
    # running in this one.
    with ThreadPoolExecutor(1) as worker:
        inspection = worker.submit(inspect_bytes, render_pdf(spec), "generated.pdf").result()
    found = suggest_criteria(HUE, Level.HUYEN, inspection.fields)
    assert found and found[0].criterion == best, found
    assert found[0].title == HUE.criterion(best).name
    assert all(FLOOR <= s.score <= 1 for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert "chuyển đổi số" in found[0].reason and found[0].reason == nfc(found[0].reason)


def test_the_type_decides_between_criteria():
    subject = "Chuyển đổi số huyện Phú Vang năm 2024"
    plan = suggest_criteria(HUE, "huyen", fields_of(DocType.KE_HOACH, subject))
    assert [s.criterion for s in plan][:2] == ["2.1", "2.2"]     # 2.2 takes several types
    notice = suggest_criteria(HUE, "huyen", fields_of(DocType.THONG_BAO, subject))
    assert "2.1" not in {s.criterion for s in notice}
    # Only criteria of the level, backed by documents.
    xa = {c.id for c in HUE.criteria(Level.XA) if c.backed_by == "documents"}
    assert {s.criterion for s in suggest_criteria(HUE, "xa", fields_of(
        DocType.KE_HOACH, subject))} <= xa


def test_nothing_read_suggests_nothing():
    assert suggest_criteria(HUE, "huyen", fields_of(None, None)) == []
    unrelated = fields_of(DocType.TO_TRINH, "Về việc đổi tên Câu lạc bộ Mô tô Thể thao tỉnh")
    assert suggest_criteria(HUE, "so", unrelated) == []


def test_real_documents_labelled_fields():
    labels_path = SHARED / "realdocs" / "labels.json"
    if not labels_path.exists():
        absent(f"{labels_path} is not there")
    labels = json.loads(labels_path.read_text("utf-8"))["files"]
    known = {t.value for t in DocType}
    for label in labels:
        doc_type = DocType(label["doc_type"]) if label["doc_type"] in known else None
        fields = fields_of(doc_type, label["subject"], label.get("type_printed"))
        # None of these real documents is about digital transformation: the right type
        # alone never makes a suggestion.
        assert suggest_criteria(HUE, "so", fields) == [], label["file"]
        # Ranked without a floor, a criterion that asks for the document's type comes first
        # whenever there is one.
        ranked = suggest_criteria(HUE, "so", fields, floor=0)
        asking = [s.criterion for s in ranked if doc_type and doc_type.value in
                  asked_types(s.criterion)]
        if asking:
            assert doc_type.value in asked_types(ranked[0].criterion), (label["file"], ranked[:3])
    # The same plan's subject made about digital transformation is suggested for 2.1.
    plan = next(label for label in labels if label["doc_type"] == "ke_hoach")
    about_dti = fields_of(DocType.KE_HOACH, plan["subject"] + " và chuyển đổi số")
    assert suggest_criteria(HUE, "so", about_dti)[0].criterion == "2.1"
