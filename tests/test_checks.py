"""Checks one by one: on generated evidence (real signatures), and on model objects built
directly where the fact is what matters (an OCR'd page, a seal found)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from kiemchung.checks import EvidenceContext, QualifyingSet, Scope, UnknownCheckError, run_check
from kiemchung.checks.text import Match, compare_agencies, compare_person_names
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.document import BBox, DocumentText, Line, Page, TextSource, Word
from kiemchung.models.fields import DocType, DocumentFields
from kiemchung.models.inspection import Inspection
from kiemchung.models.marks import AuthenticityMarks, SealMark
from kiemchung.models.verdicts import CheckResult, CheckStatus, Verdict, VerdictStatus
from kiemchung.verifier.ruleset import RuleSet
from kiemchung.verifier.scoring import score_units
from samples.content import AGENCIES, make_spec
from samples.pki import DemoPKI
from samples.render import render_pdf
from samples.sign import VN_TZ, sign_as_printed, sign_pdf

UNIT = "UBND huyện Phú Vang"
PHU_VANG = next(a for a in AGENCIES if a.unit_name == UNIT)


def scope(**kw) -> Scope:
    values = dict(criterion="2.1", level="huyen", unit=UNIT, year=2024,
                  window=(dt.date(2024, 1, 1), dt.date(2024, 11, 15)))
    return Scope(**{**values, **kw})


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("check-tests")


@pytest.fixture(scope="module")
def trust(pki):
    return TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))


def plan(issued: dt.date, **kw):
    return make_spec(random.Random(4), DocType.KE_HOACH, agency=PHU_VANG, issue_date=issued,
                     subject=f"Chuyển đổi số huyện Phú Vang năm {kw.pop('year', 2024)}", **kw)


@pytest.fixture(scope="module")
def signed_plan(pki, trust):
    spec = plan(dt.date(2024, 1, 15))
    return spec, inspect_bytes(sign_as_printed(render_pdf(spec), spec, pki), "kh.pdf",
                               trust=trust)


def run(name, inspection, params=None, **scope_kw) -> CheckResult:
    return run_check(name, EvidenceContext(inspection, scope(**scope_kw)), params)


# -- comparing names ---------------------------------------------------------------------------

@pytest.mark.parametrize("printed", ["ỦY BAN NHÂN DÂN HUYỆN PHÚ VANG",
                                     "UỶ BAN NHÂN DÂN HUYỆN PHÚ VANG", "UBND huyện Phú Vang",
                                     "Phú Vang"])
def test_the_unit_is_recognised_however_it_is_written(printed):
    assert compare_agencies(printed, UNIT).match == Match.SAME


@pytest.mark.parametrize("printed", ["ỦY BAN NHÂN DÂN HUYỆN PHÚ LỘC", "UBND xã Phú Mỹ",
                                     "SỞ Y TẾ"])
def test_another_unit_is_not_taken_for_it(printed):
    assert compare_agencies(printed, UNIT).match != Match.SAME


def test_a_certificate_name_in_ascii_is_the_same_person():
    match = compare_person_names("NGUYEN VAN AN", "Nguyễn Văn An")
    assert match.match == Match.SAME and "diacritics" in match.note
    assert compare_person_names("Nguyễn Văn Án", "Nguyễn Văn An").match != Match.DIFFERENT
    assert compare_person_names("Lê Thị Hoa", "Nguyễn Văn An").match == Match.DIFFERENT


# -- the registry ----------------------------------------------------------------------------

def test_unknown_checks_and_parameters_are_refused(signed_plan):
    _, inspection = signed_plan
    with pytest.raises(UnknownCheckError):
        run("no_such_check", inspection)
    with pytest.raises(UnknownCheckError, match="unknown parameter"):
        run("doc_type_is", inspection, {"types": ["ke_hoach"], "typo": 1})
    with pytest.raises(UnknownCheckError, match="missing parameter"):
        run("issued_in_month", inspection)


# -- document checks on a signed plan --------------------------------------------------------

def test_checks_on_a_good_plan_pass_with_provenance(signed_plan):
    spec, inspection = signed_plan
    for name, params in [("doc_type_is", {"types": ["ke_hoach"]}), ("issuer_is_unit", None),
                         ("issued_in_month", {"month": 1}), ("issued_before", {"date": "01-31"}),
                         ("issued_within_window", None), ("issued_in_year", None),
                         ("plan_for_year", None), ("digitally_signed", None),
                         ("signature_matches_signer", None), ("signature_matches_issuer", None),
                         ("signing_time_consistent", None), ("file_readable", None),
                         ("mentions", {"phrases": ["chuyển đổi số"], "where": "subject"})]:
        result = run(name, inspection, params)
        assert result.status == CheckStatus.PASS, (name, result.message)
        assert result.name == name and result.file == "kh.pdf" and result.page
    assert run("issuer_is_unit", inspection).span == "ỦY BAN NHÂN DÂN HUYỆN PHÚ VANG"


def test_doc_type_and_issuer_mismatches_fail(signed_plan):
    _, inspection = signed_plan
    assert run("doc_type_is", inspection, {"types": ["quyet_dinh"]}).failed
    assert run("issuer_is_unit", inspection, unit="UBND huyện Phong Điền").failed
    assert run("issuer_is_unit", inspection, unit=None).status == CheckStatus.NOT_APPLICABLE


def test_mentions_tolerates_an_ocr_slip_but_not_another_phrase(signed_plan):
    _, inspection = signed_plan
    assert run("mentions", inspection, {"phrases": ["chuyễn đổi số"], "where": "subject"}).passed
    assert run("mentions", inspection, {"phrases": ["an toàn thông tin"],
                                        "where": "subject"}).failed


def test_a_plan_issued_in_late_december_for_the_year_needs_review(pki, trust):
    spec = plan(dt.date(2023, 12, 27), year=2024)
    inspection = inspect_bytes(render_pdf(spec), "kh.pdf", trust=trust)
    result = run("plan_for_year", inspection)
    assert result.status == CheckStatus.NEEDS_REVIEW and "27/12/2023" in result.message


def test_date_checks_do_not_judge_by_an_unsure_issue_date(signed_plan):
    # A handwritten day read again as digits (extractors/written_digits.py) stays unsure: the
    # date checks ask a person rather than pass or fail on it.
    _, inspection = signed_plan
    date = inspection.fields.issue_date
    unsure = dataclasses.replace(date, confidence=0.25)
    doubtful = dataclasses.replace(inspection, fields=dataclasses.replace(
        inspection.fields, issue_date=unsure))
    for name, params in [("issued_in_month", {"month": 1}), ("issued_before", {"date": "01-31"}),
                         ("issued_within_window", None), ("issued_in_year", None)]:
        assert run(name, inspection, params).passed
        result = run(name, doubtful, params)
        assert result.status == CheckStatus.NEEDS_REVIEW, name
        assert "15/01/2024" in result.message and "0.25" in result.message
        assert result.page == date.provenance.page


def test_signer_rank(signed_plan):
    spec, inspection = signed_plan
    head = run("signer_rank", inspection, {"rank": "head"})
    deputy = run("signer_rank", inspection, {"rank": "deputy"})
    if spec.signer_title.startswith("PHÓ"):
        assert head.failed and deputy.passed
    elif spec.authority in ("TL.", "TUQ."):
        assert head.failed and deputy.failed
    else:
        assert head.passed and deputy.passed


def test_signing_long_after_the_issue_date_needs_review_with_the_gap(pki, trust):
    spec = plan(dt.date(2024, 1, 15))
    late = sign_as_printed(render_pdf(spec), spec, pki,
                           signing_time=dt.datetime(2024, 3, 1, 9, 0, tzinfo=VN_TZ))
    result = run("signing_time_consistent", inspect_bytes(late, "kh.pdf", trust=trust))
    assert result.status == CheckStatus.NEEDS_REVIEW and "46 days after" in result.message


def test_a_personal_signature_without_the_agency_seal_needs_review(pki, trust):
    spec = plan(dt.date(2024, 1, 15))
    person = pki.person(spec.signer_name, UNIT, "CCCD:046000000001", units=(UNIT,))
    once = sign_pdf(render_pdf(spec), person,
                    signing_time=dt.datetime(2024, 1, 15, 9, 0, tzinfo=VN_TZ))
    result = run("digitally_signed", inspect_bytes(once, "kh.pdf", trust=trust))
    assert result.status == CheckStatus.NEEDS_REVIEW and "agency" in result.message


def test_an_untrusted_signature_fails_naming_why(signed_plan):
    spec, _ = signed_plan
    pki = DemoPKI.create("nobody-trusts-this")
    data = sign_as_printed(render_pdf(spec), spec, pki)
    result = run("digitally_signed", inspect_bytes(data, "kh.pdf", trust=TrustStore()))
    assert result.failed and "untrusted" in result.message


def test_not_reused_looks_at_the_batch(signed_plan):
    _, inspection = signed_plan
    sha = inspection.text.sha256
    assert run("not_reused", inspection, seen=frozenset({(sha, UNIT, "2.1")})).passed
    reused = run("not_reused", inspection, seen=frozenset({(sha, UNIT, "2.2")}))
    assert reused.failed and "2.2" in reused.message


# -- steering committee ------------------------------------------------------------------------

def test_head_is_truong_ban_reads_the_member_list(pki, trust):
    spec = next(s for s in (make_spec(random.Random(seed), DocType.QUYET_DINH, agency=PHU_VANG,
                                      issue_date=dt.date(2024, 2, 1)) for seed in range(40))
                if "truong_ban" in s.extra)
    name, title = spec.extra["truong_ban"]
    good = inspect_bytes(render_pdf(spec), "qd.pdf", trust=trust)
    result = run("head_is_truong_ban", good)
    assert result.passed and name in result.message and result.page == 1
    other = dataclasses.replace(spec, body=tuple(
        line.replace(f"{title}, Trưởng ban", "Bí thư Đảng ủy, Trưởng ban") for line in spec.body))
    assert run("head_is_truong_ban", inspect_bytes(render_pdf(other), "qd.pdf", trust=trust)
               ).status == CheckStatus.NEEDS_REVIEW


# -- scans and OCR, from model objects ------------------------------------------------------

def ocr_inspection(confidence: float, seal: bool) -> Inspection:
    words = tuple(Word(w, BBox(72 + 40 * i, 100, 108 + 40 * i, 112), confidence)
                  for i, w in enumerate("KẾ HOẠCH chuyển đổi số".split()))
    page = Page(1, 595, 842, TextSource.OCR, (Line(words),))
    marks = AuthenticityMarks(seals=(SealMark(1, BBox(300, 600, 400, 700), 0.2, 0.9, 0.9),)
                              if seal else ())
    return Inspection("scan.png", DocumentText("scan.png", "ab" * 32, (page,), kind="image"),
                      DocumentFields(), (), marks)


def test_scans_count_only_where_allowed_and_sealed():
    sealed, bare = ocr_inspection(0.9, True), ocr_inspection(0.9, False)
    assert run("scan_with_seal", sealed, allow_scans=True).passed
    assert run("scan_with_seal", bare, allow_scans=True).failed
    assert run("scan_with_seal", sealed, allow_scans=False).failed
    assert run("digitally_signed", sealed, allow_scans=True).status == \
        CheckStatus.NOT_APPLICABLE
    assert run("digitally_signed", sealed, allow_scans=False).failed


def test_low_ocr_confidence_needs_review():
    assert run("file_readable", ocr_inspection(0.4, False)).status == CheckStatus.NEEDS_REVIEW
    assert run("file_readable", ocr_inspection(0.9, False)).passed


# -- set checks --------------------------------------------------------------------------------

def test_count_and_last_meeting_over_the_qualifying_set(pki, trust):
    notices = [inspect_bytes(render_pdf(make_spec(random.Random(1), DocType.THONG_BAO,
                                                  agency=PHU_VANG, issue_date=day)),
                             f"tb-{day:%m%d}.pdf", trust=trust)
               for day in (dt.date(2024, 4, 2), dt.date(2024, 11, 20))]
    both = QualifyingSet(tuple(notices), scope())
    assert run_check("count_at_least", both, {"n": 2}).passed
    late = run_check("last_before", both, {"date": "11-15"})
    assert late.failed and late.file == "tb-1120.pdf" and "20/11/2024" in late.message
    assert run_check("last_before", QualifyingSet(tuple(notices[:1]), scope()),
                     {"date": "11-15"}).passed
    assert run_check("count_at_least", QualifyingSet((), scope()), {"n": 1}).failed


# -- verdicts and scoring ----------------------------------------------------------------------

def test_verdict_status_follows_its_points():
    base = dict(criterion="2.1", level="huyen", unit=UNIT, year=2024)
    assert Verdict(**base, points=10, max_points=10).status == VerdictStatus.PASS
    assert Verdict(**base, points=5, max_points=10).status == VerdictStatus.PARTIAL
    assert Verdict(**base, points=0, max_points=10).status == VerdictStatus.FAIL
    assert Verdict(**base, points=0, max_points=0).status == VerdictStatus.NOT_APPLICABLE
    assert Verdict(**base, points=5, max_points=10, needs_review=True).status == \
        VerdictStatus.NEEDS_REVIEW
    assert Verdict(**base, points=5.0, max_points=10).to_json()["points"] == 5


def scoring_ruleset(formula: str, not_applicable: str) -> RuleSet:
    criterion = lambda cid, pts: {  # noqa: E731
        "id": cid, "name": cid, "points": {"huyen": pts}, "backed_by": "platform"}
    return RuleSet.model_validate({
        "id": "t", "name": "t", "province": "t", "levels": ["huyen"],
        "source": {"number": "1/QĐ-UBND", "date": "2024-01-01", "issuer": "t"},
        "scoring": {"formula": formula, "not_applicable": not_applicable,
                    "bands": [{"name": "Tốt", "min_share": 0.8}, {"name": "Khá",
                                                                   "min_share": 0.65},
                              {"name": "Yếu", "min_share": 0}]},
        "indices": [{"id": "1", "name": "1",
                     "criteria": [criterion("1.1", 10), criterion("1.2", 30)]}]})


def verdicts(points: dict[str, tuple[float, float]]) -> list[Verdict]:
    return [Verdict(criterion=c, level="huyen", unit=None, year=2024, points=p, max_points=m)
            for c, (p, m) in points.items()]


def test_percent_of_applicable_leaves_out_what_does_not_apply():
    totals = score_units(scoring_ruleset("percent_of_applicable", "excluded"), {
        ("A", "huyen"): verdicts({"1.1": (10, 10), "1.2": (0, 0)}),      # exempt from 1.2
        ("B", "huyen"): verdicts({"1.1": (5, 10), "1.2": (30, 30)}),
        ("C", "huyen"): verdicts({"1.1": (0, 10), "1.2": (0, 30)})})
    by_unit = {t.unit: t for t in totals}
    assert by_unit["A"].total == 100 and by_unit["B"].total == 87.5 and by_unit["C"].total == 0
    assert [by_unit[u].rank for u in "ABC"] == [1, 2, 3]
    assert [by_unit[u].band for u in "ABC"] == ["Tốt", "Tốt", "Yếu"]


def test_best_of_others_and_tied_ranks():
    totals = score_units(scoring_ruleset("sum", "best_of_others"), {
        ("A", "huyen"): verdicts({"1.1": (10, 10), "1.2": (0, 0)}),      # exempt: best other
        ("B", "huyen"): verdicts({"1.1": (5, 10), "1.2": (20, 30)}),
        ("C", "huyen"): verdicts({"1.1": (10, 10), "1.2": (15, 30)})})
    by_unit = {t.unit: t for t in totals}
    assert by_unit["A"].total == 30 and by_unit["A"].maximum == 40
    assert by_unit["B"].total == by_unit["C"].total == 25
    assert (by_unit["A"].rank, by_unit["B"].rank, by_unit["C"].rank) == (1, 2, 2)


# -- who signed what, and the rule set's settings (issue 11) ---------------------------------

SO_TTTT = next(a for a in AGENCIES if a.unit_name == "Sở Thông tin và Truyền thông")
SIGNED_ON = dt.datetime(2024, 1, 15, 9, 0, tzinfo=VN_TZ)


def province_plan(issued: dt.date = dt.date(2024, 1, 15)):
    return make_spec(random.Random(4), DocType.KE_HOACH, agency=SO_TTTT, issue_date=issued,
                     subject="Chuyển đổi số năm 2024")


@pytest.fixture(scope="module")
def person_only(pki, trust):
    spec = plan(dt.date(2024, 1, 15))
    person = pki.person(spec.signer_name, UNIT, "CCCD:046000000001", units=(UNIT,))
    once = sign_pdf(render_pdf(spec), person, signing_time=SIGNED_ON)
    return inspect_bytes(once, "kh.pdf", trust=trust)


def test_person_only_signatures_follow_the_rule_set_and_say_its_value(person_only):
    default = run("digitally_signed", person_only)
    assert default.status == CheckStatus.NEEDS_REVIEW
    assert "person_only = review" in default.message and "agency" in default.message
    accepted = run("digitally_signed", person_only, {"person_only": "accept"})
    assert accepted.passed and "person_only = accept" in accepted.message
    refused = run("digitally_signed", person_only, {"person_only": "refuse"})
    assert refused.failed and "person_only = refuse" in refused.message


def test_sha1_counts_with_a_note_unless_the_rule_set_asks_for_a_strong_digest(pki, trust):
    spec = plan(dt.date(2024, 1, 15))
    data = sign_as_printed(render_pdf(spec), spec, pki, md_algorithm="sha1")
    inspection = inspect_bytes(data, "kh.pdf", trust=trust)
    assert [s.status.value for s in inspection.signatures] == ["valid", "valid"]
    result = run("digitally_signed", inspection)
    assert result.passed and "SHA-1 digest accepted" in result.message
    strict = run("digitally_signed", inspection, {"strong_digest": True})
    assert strict.failed and "SHA1 digest" in strict.message and "strong digest" in strict.message


def test_initials_and_the_gazette_signature_are_told_apart(pki, trust):
    from kiemchung.models.signatures import SignatureRole
    from samples.sign import add_gazette_signature, sign_initials
    spec = plan(dt.date(2024, 1, 15))
    data = sign_as_printed(render_pdf(spec), spec, pki)
    data = sign_initials(data, pki, "Lê Văn Tuệ", UNIT,
                         signing_time=SIGNED_ON + dt.timedelta(minutes=20))
    data = add_gazette_signature(data, pki, "UBND tỉnh Thừa Thiên Huế",
                                 at=SIGNED_ON + dt.timedelta(days=2))
    inspection = inspect_bytes(data, "kh.pdf", trust=trust)
    roles = [s.role for s in inspection.signatures]
    assert roles == [SignatureRole.SIGNER, SignatureRole.AGENCY, SignatureRole.INITIALS,
                     SignatureRole.COPY], [s.role_basis for s in inspection.signatures]
    assert [s.status.value for s in inspection.signatures] == ["valid"] * 4
    signed = run("digitally_signed", inspection)
    assert signed.passed and "also signed by TRUNG TÂM CÔNG BÁO VÀ TIN HỌC" in signed.message
    # The printed signer is compared with the signer's certificate, not the drafter's.
    assert run("signature_matches_signer", inspection).passed
    assert run("signature_matches_issuer", inspection).passed
    # The gazette signed two days later: the issue is timed by the signer.
    assert run("signing_time_consistent", inspection).passed


def test_a_gazette_signature_alone_is_a_published_copy_not_the_issuers(pki, trust):
    from samples.sign import add_gazette_signature
    spec = plan(dt.date(2024, 1, 15))
    data = add_gazette_signature(render_pdf(spec), pki, "UBND tỉnh Thừa Thiên Huế",
                                 at=SIGNED_ON + dt.timedelta(days=1))
    inspection = inspect_bytes(data, "kh.pdf", trust=trust)
    result = run("digitally_signed", inspection)
    assert result.status == CheckStatus.NEEDS_REVIEW and "published copy" in result.message
    assert run("signature_matches_issuer", inspection).status == CheckStatus.NOT_APPLICABLE
    assert run("signing_time_consistent", inspection).status == CheckStatus.NOT_APPLICABLE


def test_initials_alone_are_not_the_signers_signature(pki, trust):
    from samples.sign import sign_initials
    spec = plan(dt.date(2024, 1, 15))
    data = sign_initials(render_pdf(spec), pki, "Lê Văn Tuệ", UNIT, signing_time=SIGNED_ON)
    inspection = inspect_bytes(data, "kh.pdf", trust=trust)
    assert run("digitally_signed", inspection).status == CheckStatus.NEEDS_REVIEW
    matches = run("signature_matches_signer", inspection)
    assert matches.status == CheckStatus.NOT_APPLICABLE and "initials" in matches.message


@pytest.fixture(scope="module")
def province_named(pki, trust):
    spec = province_plan()
    data = sign_as_printed(render_pdf(spec), spec, pki, province_named_agency=True)
    return inspect_bytes(data, "kh.pdf", trust=trust)


def test_an_agency_certificate_named_with_its_province_matches_the_header(province_named):
    agency = province_named.signatures[1]
    assert agency.signer_name == "Sở Thông tin và Truyền thông tỉnh Thừa Thiên Huế"
    assert agency.signer_org == "UBND tỉnh Thừa Thiên Huế"
    result = run("signature_matches_issuer", province_named, level="so",
                 unit="Sở Thông tin và Truyền thông")
    assert result.passed and "with its place" in result.message


def test_the_provinces_plan_is_not_a_districts_own_even_without_a_unit(province_named):
    for unit in (UNIT, None):
        result = run("issuer_is_unit", province_named, level="huyen", unit=unit)
        assert result.failed and "province body" in result.message, result.message
    assert run("issuer_is_unit", province_named, level="so",
               unit="Sở Thông tin và Truyền thông").passed


def test_issuer_names_match_across_real_naming(pki):
    from kiemchung.checks.document import issuer_tier
    from kiemchung.checks.signatures import issuer_match
    from kiemchung.extractors.signatures import read_signatures

    def report(name: str, org: str):
        seal = pki.agency(name, org, "MST:0000000001")
        data = sign_pdf(render_pdf(plan(dt.date(2024, 1, 15))), seal, signing_time=SIGNED_ON)
        return read_signatures(data, TrustStore())[0]

    ubnd = report("Ủy ban nhân dân huyện Phú Vang", "UBND tỉnh Thừa Thiên Huế")
    assert issuer_match(ubnd, "UBND HUYỆN PHÚ VANG", None)            # UBND, case
    # A steering committee signs with its UBND's agency certificate.
    assert "parent body" in issuer_match(ubnd, "BAN CHỈ ĐẠO CHUYỂN ĐỔI SỐ",
                                         "ỦY BAN NHÂN DÂN HUYỆN PHÚ VANG")
    assert issuer_match(ubnd, "UBND HUYỆN PHONG ĐIỀN", None) is None
    other_province = report("Sở Thông tin và Truyền thông tỉnh Quảng Nam", "UBND tỉnh Quảng Nam")
    assert issuer_match(other_province, "SỞ THÔNG TIN VÀ TRUYỀN THÔNG",
                        "UBND TỈNH THỪA THIÊN HUẾ") is None
    assert issuer_tier("SỞ Y TẾ", "UBND TỈNH THỪA THIÊN HUẾ") == "province"
    assert issuer_tier("PHÒNG VĂN HÓA VÀ THÔNG TIN", "UBND HUYỆN PHÚ VANG") == "district"
    assert issuer_tier("UBND XÃ PHONG HIỀN", "UBND HUYỆN PHONG ĐIỀN") == "commune"
    assert issuer_tier("UBND THỊ XÃ HƯƠNG THỦY", None) == "district"
