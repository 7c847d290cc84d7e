"""Criterion verdicts on generated, really signed evidence, with the Huế 2024 rule set."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json

import pytest

from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.fields import DocType
from kiemchung.models.verdicts import CheckStatus, VerdictStatus
from kiemchung.verifier.evaluate import EvaluationContext, evaluate_criterion
from kiemchung.verifier.ruleset import Level, load_ruleset
from samples.attacks import change_text
from samples.content import AGENCIES
from samples.pki import DemoPKI
from samples.render import render_pdf
from samples.sign import VN_TZ, sign_as_printed, sign_person_and_agency
from tests.helpers import PHU_VANG, UNIT, YEAR, kiemchung, plan_spec, signed, spec_of

SO_TTTT = next(a for a in AGENCIES if a.unit_name == "Sở Thông tin và Truyền thông")


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset("hue-2024")


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("verify-tests")


@pytest.fixture(scope="module")
def trust(pki):
    return TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))


def steering_decision_spec(issued: dt.date):
    """A decision establishing the steering committee (the generator picks the kind by seed)."""
    for seed in range(40):
        spec = spec_of(DocType.QUYET_DINH, issued, seed=seed)
        if "truong_ban" in spec.extra:
            return spec
    raise AssertionError("no steering-committee decision among the seeds")


def inspected(data: bytes, name: str, trust):
    return inspect_bytes(data, name, trust=trust)


def verdict(ruleset, criterion, files, *, level="huyen", unit=UNIT, context=None):
    return evaluate_criterion(ruleset, criterion, level, unit, YEAR, files, context=context)


def named(v, name, status=None):
    found = [c for c in v.checks if c.name == name and (status is None or c.status == status)]
    assert found, f"no {name} {status or ''} in {[(c.name, c.status.value) for c in v.checks]}"
    return found[0]


# -- 2.1 annual plan -------------------------------------------------------------------------

def test_plan_issued_in_january_gets_full_points(ruleset, pki, trust):
    v = verdict(ruleset, "2.1", [inspected(signed(plan_spec(dt.date(2024, 1, 15)), pki),
                                           "kh.pdf", trust)])
    assert v.status == VerdictStatus.PASS
    assert v.points == v.max_points == ruleset.criterion("2.1").points[Level.HUYEN] == 10
    assert named(v, "issued_in_month").passed


def test_plan_issued_in_march_gets_half(ruleset, pki, trust):
    v = verdict(ruleset, "2.1", [inspected(signed(plan_spec(dt.date(2024, 3, 20)), pki),
                                           "kh.pdf", trust)])
    assert v.status == VerdictStatus.PARTIAL and (v.points, v.max_points) == (5, 10)
    assert "20/03/2024" in named(v, "issued_in_month", CheckStatus.FAIL).message


def test_plan_for_another_year_gets_nothing(ruleset, pki, trust):
    v = verdict(ruleset, "2.1", [inspected(signed(plan_spec(dt.date(2023, 1, 16)), pki),
                                           "kh-2023.pdf", trust)])
    assert v.status == VerdictStatus.FAIL and v.points == 0
    assert "2023" in named(v, "plan_for_year", CheckStatus.FAIL).message


def test_plan_for_the_year_issued_the_december_before_needs_review(ruleset, pki, trust):
    v = verdict(ruleset, "2.1", [inspected(signed(plan_spec(dt.date(2023, 12, 27), year=2024),
                                                  pki), "kh-som.pdf", trust)])
    assert v.status == VerdictStatus.NEEDS_REVIEW and v.points == 0
    assert "December" in named(v, "plan_for_year", CheckStatus.NEEDS_REVIEW).message


def test_plan_issued_after_the_data_window_gets_nothing(ruleset, pki, trust):
    v = verdict(ruleset, "2.1", [inspected(signed(plan_spec(dt.date(2024, 11, 25)), pki),
                                           "kh-muon.pdf", trust)])
    assert v.status == VerdictStatus.FAIL and v.points == 0
    assert named(v, "issued_before", CheckStatus.FAIL).page == 1


def test_unsigned_plan_fails_with_the_reason(ruleset, trust):
    v = verdict(ruleset, "2.1", [inspected(render_pdf(plan_spec(dt.date(2024, 1, 15))),
                                           "kh.pdf", trust)])
    assert v.status == VerdictStatus.FAIL and v.points == 0
    assert "no digital signature" in named(v, "digitally_signed", CheckStatus.FAIL).message


def test_plan_altered_after_signing_fails_with_the_reason(ruleset, pki, trust):
    spec = plan_spec(dt.date(2024, 1, 15))
    altered = change_text(signed(spec, pki), spec.number, "99/KH-UBND")
    v = verdict(ruleset, "2.1", [inspected(altered, "kh-sua.pdf", trust)])
    assert v.status == VerdictStatus.FAIL and v.points == 0
    message = named(v, "digitally_signed", CheckStatus.FAIL).message
    assert "modified" in message or "altered" in message


def test_signature_of_someone_else_needs_review_naming_both(ruleset, pki, trust):
    spec = plan_spec(dt.date(2024, 1, 15))
    other = pki.person("Lê Văn Khác", UNIT, "CCCD:046099000111", units=(UNIT,))
    seal = pki.agency(UNIT, UNIT, "MST:3300999999")
    data = sign_person_and_agency(render_pdf(spec), other, seal,
                                  signing_time=dt.datetime(2024, 1, 15, 9, 30, tzinfo=VN_TZ))
    v = verdict(ruleset, "2.1", [inspected(data, "kh.pdf", trust)])
    assert v.status == VerdictStatus.NEEDS_REVIEW and v.points == 0
    message = named(v, "signature_matches_signer", CheckStatus.NEEDS_REVIEW).message
    assert "Lê Văn Khác" in message and spec.signer_name in message


# -- 1.2 steering-committee meetings ---------------------------------------------------------

@pytest.fixture(scope="module")
def meeting_notices(pki, trust):
    first = spec_of(DocType.THONG_BAO, dt.date(2024, 4, 10), seed=1)
    second = spec_of(DocType.THONG_BAO, dt.date(2024, 9, 20), seed=3)
    second_signed = signed(second, pki)
    return (inspected(signed(first, pki), "tb-1.pdf", trust),
            inspected(second_signed, "tb-2.pdf", trust),
            inspected(change_text(second_signed, second.number, "88/TB-UBND"), "tb-2-sua.pdf",
                      trust))


def test_one_meeting_gets_half(ruleset, meeting_notices):
    v = verdict(ruleset, "1.2", [meeting_notices[0]])
    assert v.status == VerdictStatus.PARTIAL and (v.points, v.max_points) == (5, 10)
    assert named(v, "count_at_least", CheckStatus.FAIL).file == "tb-1.pdf"


def test_two_meetings_get_full_points(ruleset, meeting_notices):
    v = verdict(ruleset, "1.2", list(meeting_notices[:2]))
    assert v.status == VerdictStatus.PASS and v.points == 10


def test_an_altered_notice_is_left_out_and_the_other_still_counts(ruleset, meeting_notices):
    v = verdict(ruleset, "1.2", [meeting_notices[0], meeting_notices[2]])
    assert v.status == VerdictStatus.PARTIAL and v.points == 5
    assert named(v, "digitally_signed", CheckStatus.FAIL).file == "tb-2-sua.pdf"


def test_the_same_notice_twice_is_one_meeting(ruleset, meeting_notices):
    v = verdict(ruleset, "1.2", [meeting_notices[0], meeting_notices[0]])
    assert v.points == 5
    assert named(v, "distinct_file", CheckStatus.FAIL).file == "tb-1.pdf"


# -- 1.1 steering committee ------------------------------------------------------------------

def test_decision_naming_the_head_as_truong_ban_passes(ruleset, pki, trust):
    spec = steering_decision_spec(dt.date(2024, 2, 1))
    v = verdict(ruleset, "1.1", [inspected(signed(spec, pki), "qd.pdf", trust)])
    assert v.status == VerdictStatus.PASS and v.points == 5
    assert spec.extra["truong_ban"][0] in named(v, "head_is_truong_ban").message


def test_decision_naming_a_deputy_as_truong_ban_fails(ruleset, pki, trust):
    spec = steering_decision_spec(dt.date(2024, 2, 1))
    name, title = spec.extra["truong_ban"]
    body = tuple(line.replace(f"{name}, {title}, Trưởng ban",
                              f"{name}, Phó {title[0].lower()}{title[1:]}, Trưởng ban")
                 for line in spec.body)
    assert body != spec.body
    deputy = dataclasses.replace(spec, body=body)
    v = verdict(ruleset, "1.1", [inspected(signed(deputy, pki), "qd.pdf", trust)])
    assert v.status == VerdictStatus.FAIL and v.points == 0
    message = named(v, "head_is_truong_ban", CheckStatus.FAIL).message
    assert name in message and "deputy" in message


# -- applicability, platform data, no evidence, reuse ---------------------------------------

def test_training_summons_at_so_level_is_not_applicable(ruleset, pki, trust):
    assert Level.SO not in ruleset.criterion("4.5").points
    spec = spec_of(DocType.GIAY_TRIEU_TAP, dt.date(2024, 5, 6), agency=SO_TTTT)
    v = verdict(ruleset, "4.5", [inspected(signed(spec, pki), "gtt.pdf", trust)], level="so",
                unit=SO_TTTT.unit_name)
    assert v.status == VerdictStatus.NOT_APPLICABLE and v.max_points == 0
    assert v.to_json()["max_points"] == 0


def test_platform_backed_criterion_needs_review_with_its_points(ruleset):
    platform = next(c for c in ruleset.criteria(Level.HUYEN) if c.backed_by == "platform")
    v = verdict(ruleset, platform.id, [])
    assert v.status == VerdictStatus.NEEDS_REVIEW
    assert (v.points, v.max_points) == (0, platform.points[Level.HUYEN])
    assert "not verifiable from a file" in v.checks[0].message


def test_no_evidence_fails(ruleset):
    v = verdict(ruleset, "2.1", [])
    assert v.status == VerdictStatus.FAIL
    assert named(v, "evidence_present", CheckStatus.FAIL).message == "no evidence file"


def test_a_file_reused_for_another_unit_fails(ruleset, meeting_notices):
    notice = meeting_notices[0]
    seen = frozenset({(notice.text.sha256, "UBND huyện Phong Điền", "1.2"),
                      (notice.text.sha256, UNIT, "1.2")})
    v = verdict(ruleset, "1.2", [notice], context=EvaluationContext(seen=seen))
    assert v.status == VerdictStatus.FAIL
    assert "UBND huyện Phong Điền" in named(v, "not_reused", CheckStatus.FAIL).message


def test_every_check_names_file_and_page(ruleset, meeting_notices, pki, trust):
    verdicts = [verdict(ruleset, "1.2", list(meeting_notices)),
                verdict(ruleset, "2.1", [inspected(signed(plan_spec(dt.date(2024, 3, 1)), pki),
                                                   "kh.pdf", trust)])]
    for v in verdicts:
        for c in v.checks:
            assert c.file and c.page, c
        data = v.to_json()
        assert {"criterion", "status", "points", "max_points", "checks"} <= data.keys()
        assert all({"name", "status", "message", "file", "page"} <= c.keys()
                   for c in data["checks"])


# -- the command line ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evidence_folder(tmp_path_factory, pki):
    folder = tmp_path_factory.mktemp("verify")
    pki.write_trust_dir(folder / "trust")
    plan = folder / "units" / UNIT / "2.1" / "kế hoạch.pdf"
    plan.parent.mkdir(parents=True)
    plan.write_bytes(signed(plan_spec(dt.date(2024, 1, 15)), pki))
    other = next(a for a in AGENCIES if a.unit_name == "UBND huyện Phong Điền")
    late = folder / "units" / other.unit_name / "2.1" / "kế hoạch.pdf"
    late.parent.mkdir(parents=True)
    late_spec = spec_of(DocType.KE_HOACH, dt.date(2024, 3, 20), agency=other,
                        subject="Chuyển đổi số huyện Phong Điền năm 2024")
    late.write_bytes(signed(late_spec, pki))
    return folder


def test_verify_prints_the_contract(evidence_folder):
    plan = evidence_folder / "units" / UNIT / "2.1" / "kế hoạch.pdf"
    result = kiemchung("verify", "--ruleset", "hue-2024", "--criterion", "2.1", "--level",
                       "huyen", "--year", "2024", "--unit", UNIT, "--trust-root",
                       str(evidence_folder / "trust"), "--json", str(plan))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["criterion"], data["status"], data["points"], data["max_points"]) == \
        ("2.1", "pass", 10, 10)
    assert all(c["file"] == str(plan) and c["page"] for c in data["checks"])


def test_verify_human_view_and_bad_input(evidence_folder):
    plan = evidence_folder / "units" / UNIT / "2.1" / "kế hoạch.pdf"
    result = kiemchung("verify", "--criterion", "2.1", "--level", "huyen", "--year", "2024",
                       str(plan))
    assert result.returncode == 0, result.stderr
    assert "digitally_signed" in result.stdout
    for args in (["--criterion", "9.99", "--level", "huyen", "--year", "2024", str(plan)],
                 ["--criterion", "2.1", "--level", "tinh", "--year", "2024", str(plan)],
                 ["--criterion", "2.1", "--level", "xa", "--year", "2024", "missing.pdf"],
                 ["--ruleset", "nowhere-2030", "--criterion", "2.1", "--level", "xa", "--year",
                  "2024", str(plan)]):
        bad = kiemchung("verify", *args)
        assert bad.returncode != 0 and bad.stdout == ""
        assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_rulesets_and_criteria_list_the_discrepancies():
    listing = kiemchung("rulesets")
    assert listing.returncode == 0 and "hue-2024" in listing.stdout
    table = kiemchung("criteria", "hue-2024", "--level", "so")
    assert table.returncode == 0 and "total" in table.stdout and "2.1" in table.stdout


def test_score_ranks_units_and_writes_the_report(evidence_folder, tmp_path):
    report = tmp_path / "report.csv"
    result = kiemchung("score", str(evidence_folder / "units"), "--ruleset", "hue-2024",
                       "--year", "2024", "--trust-root", str(evidence_folder / "trust"),
                       "--out", str(report))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(report.open(encoding="utf-8-sig")))
    plans = {r["unit"]: r for r in rows if r["criterion"] == "2.1"}
    assert plans[UNIT]["points"] == "10" and plans[UNIT]["rank"] == "1"
    assert plans["UBND huyện Phong Điền"]["points"] == "5"
    assert plans["UBND huyện Phong Điền"]["rank"] == "2"


def test_score_writes_a_workbook(evidence_folder, tmp_path):
    from openpyxl import load_workbook

    report = tmp_path / "report.xlsx"
    result = kiemchung("score", str(evidence_folder / "units"), "--year", "2024", "--level",
                       "huyen", "--trust-root", str(evidence_folder / "trust"), "--out",
                       str(report))
    assert result.returncode == 0, result.stderr
    units = list(load_workbook(report)["units"].iter_rows(values_only=True))
    assert units[0][:3] == ("unit", "level", "rank")
    assert [row[0] for row in units[1:]] == [UNIT, "UBND huyện Phong Điền"]


def test_score_from_a_manifest_csv(evidence_folder, tmp_path):
    manifest = evidence_folder / "manifest.csv"
    manifest.write_text("unit,level,criterion,file\n"
                        f"{UNIT},huyen,2.1,units/{UNIT}/2.1/kế hoạch.pdf\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    result = kiemchung("score", str(manifest), "--year", "2024", "--trust-root",
                       str(evidence_folder / "trust"), "--out", str(report))
    assert result.returncode == 0, result.stderr
    plans = [r for r in csv.DictReader(report.open(encoding="utf-8-sig"))
             if r["criterion"] == "2.1"]
    assert [(r["unit"], r["points"]) for r in plans] == [(UNIT, "10")]


def test_a_manifest_pointing_outside_its_folder_is_refused(evidence_folder, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"unit,criterion,file\n{UNIT},2.1,../../etc/passwd\n", encoding="utf-8")
    result = kiemchung("score", str(manifest), "--year", "2024")
    assert result.returncode != 0 and "outside" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_electronic_copy_signed_by_the_agency_alone_is_accepted(ruleset, pki, trust):
    from samples.sign import make_e_copy, sign_pdf

    spec = plan_spec(dt.date(2024, 1, 15))
    copy = make_e_copy(render_pdf(spec), spec, pki, at=dt.datetime(2024, 1, 16, 9, tzinfo=VN_TZ))
    v = verdict(ruleset, "2.1", [inspected(copy, "kh-sao-y.pdf", trust)])
    assert v.status == VerdictStatus.PASS
    assert "electronic copy (SAO Y)" in named(v, "digitally_signed").message
    # The same agency signature on a document that is no copy: a person must look.
    seal = pki.agency(PHU_VANG.unit_name, "Ủy ban nhân dân tỉnh Thừa Thiên Huế", "MST:1")
    alone = sign_pdf(render_pdf(spec), seal, signing_time=dt.datetime(2024, 1, 15, 9,
                                                                      tzinfo=VN_TZ))
    v = verdict(ruleset, "2.1", [inspected(alone, "kh-mot-chu-ky.pdf", trust)])
    assert v.status == VerdictStatus.NEEDS_REVIEW
    assert "neither a copy" in named(v, "digitally_signed", CheckStatus.NEEDS_REVIEW).message


# -- real-style signatures (issue 11) ----------------------------------------------------------

def test_a_real_style_province_plan_passes_and_is_not_a_districts_own(ruleset, pki, trust):
    # As the provincial e-office signs: SHA-1 digests, and the agency's certificate named with
    # its province ("Sở Thông tin và Truyền thông tỉnh Thừa Thiên Huế", O "UBND tỉnh …")
    # while the header prints "SỞ THÔNG TIN VÀ TRUYỀN THÔNG" under "UBND TỈNH THỪA THIÊN HUẾ".
    spec = spec_of(DocType.KE_HOACH, dt.date(2024, 1, 15), agency=SO_TTTT,
                   subject="Chuyển đổi số năm 2024")
    data = sign_as_printed(render_pdf(spec), spec, pki, md_algorithm="sha1",
                           province_named_agency=True)
    files = [inspected(data, "kh.pdf", trust)]
    assert files[0].signatures[1].signer_name.endswith("tỉnh Thừa Thiên Huế")
    own = verdict(ruleset, "2.1", files, level="so", unit="Sở Thông tin và Truyền thông")
    assert own.status == VerdictStatus.PASS, own.summary
    assert own.points == own.max_points == 10
    assert "SHA-1 digest accepted" in named(own, "digitally_signed").message
    assert named(own, "signature_matches_issuer").passed
    # The same plan handed in by a district, with or without the unit named.
    for unit in (UNIT, None):
        handed = verdict(ruleset, "2.1", files, level="huyen", unit=unit)
        assert handed.status == VerdictStatus.FAIL and handed.points == 0, handed.summary
        assert "not the own evidence of a district unit" in \
            named(handed, "issuer_is_unit", CheckStatus.FAIL).message


def test_the_rule_sets_signature_settings_reach_the_check(ruleset, pki, trust):
    spec = plan_spec(dt.date(2024, 1, 15))
    person = pki.person(spec.signer_name, UNIT, "CCCD:046000000002", units=(UNIT,))
    from samples.sign import sign_pdf
    once = sign_pdf(render_pdf(spec), person,
                    signing_time=dt.datetime(2024, 1, 15, 9, 0, tzinfo=VN_TZ))
    files = [inspected(once, "kh.pdf", trust)]
    default = verdict(ruleset, "2.1", files)
    assert "signatures.person_only = review" in named(default, "digitally_signed").message
    assert default.needs_review
    accepting = ruleset.model_copy(update={"signatures": ruleset.signatures.model_copy(
        update={"person_only": "accept"})})
    accepted = verdict(accepting, "2.1", files)
    assert named(accepted, "digitally_signed").passed
    assert "signatures.person_only = accept" in named(accepted, "digitally_signed").message
