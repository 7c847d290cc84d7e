"""Scans read only where the fields stand, and read whole when a check needs the whole text.

A three-page plan, printed, signed, stamped on its last page and scanned at 300 dpi: real
rendering, real seal detection, real Tesseract. Read for the fields, page 1 is OCR'd down to its
header band, page 2 not at all, page 3 from a little above the seal; the fields come out as
when every page is read. A criterion requiring a phrase that stands only in page 2's body gets
the file read whole, and passes. Read whole after, the rest of each page is OCR'd and what was
read for the fields kept: the pages read as when each is OCR'd whole at once.
"""

from __future__ import annotations

import datetime as dt
import random
import textwrap

import pymupdf
import pytest
from rapidfuzz import fuzz

from kiemchung.checks.text import find_phrase
from kiemchung.extractors.ocr import ocr_page
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.regions import ABOVE_MARKS, HEADER_SHARE, OVERLAP
from kiemchung.models.fields import DocType
from kiemchung.verifier.evaluate import EvaluationContext, evaluate_criterion
from kiemchung.verifier.ruleset import load_ruleset_file
from samples.content import AGENCIES, make_spec
from samples.render import render_pdf_with_layout
from samples.scan import scan_pages, to_image_pdf

UNIT = "UBND huyện Phú Vang"
EDGE = 6      # points: a line cut by an area's edge, its box straightened with the page
FIELDS = ("doc_type", "number", "issue_date", "place", "issuer", "subject", "signer")


@pytest.fixture(scope="module")
def plan():
    agency = next(a for a in AGENCIES if a.unit_name == UNIT)
    spec = make_spec(random.Random(35), DocType.KE_HOACH, agency=agency,    # 3 pages
                     issue_date=dt.date(2024, 1, 12))
    pdf, layout = render_pdf_with_layout(spec)
    return spec, to_image_pdf(scan_pages(pdf, layout, dpi=300, seed=35), 300)


@pytest.fixture(scope="module")
def readings(plan):
    _spec, data = plan
    partial = inspect_bytes(data, "kế hoạch (scan).pdf")
    return partial, inspect_bytes(data, "kế hoạch (scan).pdf", whole_text=True,
                                  read_in_part=partial)


def test_only_the_header_band_and_the_signer_area_are_ocrd(readings):
    partial, whole = readings
    assert len(partial.text.pages) == 3 and partial.text.partial and not whole.text.partial
    first, middle, last = partial.text.pages
    assert all(page.partial for page in partial.text.pages)
    assert first.lines
    assert max(line.bbox.y1 for line in first.lines) <= first.height * HEADER_SHARE + EDGE
    assert middle.lines == () and whole.text.pages[1].lines
    seal_top = min(s.bbox.y0 for s in partial.marks.seals_on(3))
    assert last.lines and min(line.bbox.y0 for line in last.lines) >= seal_top - ABOVE_MARKS - EDGE
    assert partial.to_json()["page_sources"][1]["partial"] is True


def test_the_fields_are_those_of_the_whole_reading(plan, readings):
    spec, _data = plan
    partial, whole = readings
    assert partial.fields.value("number") == spec.number
    assert partial.fields.value("issue_date") == spec.issue_date
    assert partial.fields.value("signer").name == spec.signer_name
    assert {f: partial.to_json()[f] for f in FIELDS} == {f: whole.to_json()[f] for f in FIELDS}


def test_read_whole_after_the_rest_is_read_once_and_what_was_read_kept(plan, readings):
    _spec, data = plan
    partial, whole = readings
    first = partial.text.pages[0]
    above_the_rest = [line for line in first.lines
                      if line.bbox.y1 < first.height * HEADER_SHARE - OVERLAP]
    assert above_the_rest and all(line in whole.text.pages[0].lines for line in above_the_rest)
    with pymupdf.open(stream=data) as doc:
        for page, read in zip(doc, whole.text.pages, strict=True):
            at_once = ocr_page(page, read.number)
            assert fuzz.ratio(read.text, at_once.text) >= 97, read.number
            assert abs(len(read.lines) - len(at_once.lines)) <= 2, read.number   # none twice


def test_a_phrase_of_the_body_has_the_file_read_whole(tmp_path, readings):
    partial, whole = readings
    # Six words of page 2 that appear nowhere in what was read for the fields.
    phrase = next(p for line in whole.text.pages[1].lines
                  if len(words := line.text.split()) >= 6
                  and find_phrase(partial, p := " ".join(words[:6])) is None)
    rules = tmp_path / "body-phrase.yaml"
    rules.write_text(textwrap.dedent(f"""\
        id: body-phrase
        name: "a phrase of the body"
        province: "(test)"
        source: {{number: "T", date: 2024-01-01, issuer: "(test)", title: "(test)"}}
        levels: [huyen]
        scoring: {{formula: sum}}
        allow_scans: true
        indices:
          - id: "1"
            name: "one"
            criteria:
              - id: "1.1"
                name: "the plan says it"
                requirement: "the plan says it"
                evidence_text: "a plan"
                points: {{huyen: 10}}
                backed_by: documents
                evidence:
                  document:
                    - {{check: doc_type_is, types: [ke_hoach]}}
                    - {{check: mentions, phrases: ["{phrase}"], where: any}}
                  score: {{tiers: [{{share: 1.0, checks: []}}]}}
                  allow_scans: true
        """), encoding="utf-8")
    ruleset = load_ruleset_file(rules)
    judged_on_what_was_read = evaluate_criterion(ruleset, "1.1", "huyen", UNIT, 2024, [partial])
    assert judged_on_what_was_read.status.value == "fail"
    asked = []

    def read_whole(inspection):
        asked.append(inspection.file)
        return whole

    verdict = evaluate_criterion(ruleset, "1.1", "huyen", UNIT, 2024, [partial],
                                 context=EvaluationContext(read_whole=read_whole))
    assert asked == [partial.file]
    assert verdict.status.value == "pass", verdict.to_json()
    mention = next(c for c in verdict.checks if c.name == "mentions")
    assert mention.page == 2 and "page 2" in mention.message
