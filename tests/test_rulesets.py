"""Rule sets as data: every seed province's YAML loads, Huế's table is encoded as printed, the
check vocabulary is the one `checks/` registers, and invalid files are refused with file:line."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import pytest

from kiemchung.verifier.ruleset import (
    RULESET_DIR,
    Level,
    RuleSet,
    RuleSetError,
    available_rulesets,
    load_ruleset,
    load_ruleset_file,
)

# The check names and parameters `checks/` registers (see the rule-set brief).
DOCUMENT_CHECKS = {
    "doc_type_is": {"types", "type_name_contains"},
    "digitally_signed": set(),
    "signature_matches_signer": set(),
    "signature_matches_issuer": set(),
    "signing_time_consistent": set(),
    "issuer_is_unit": set(),
    "issued_within_window": set(),
    "issued_in_year": set(),
    "plan_for_year": set(),
    "mentions": {"phrases", "where"},
    "not_reused": set(),
    "issued_before": {"date"},
}
SCORE_CHECKS = {
    "issued_in_month": {"month"},
    "issued_before": {"date"},
    "head_is_truong_ban": set(),
    "signer_rank": {"rank"},
    "count_at_least": {"n"},
    "last_before": {"date"},
}
ALL_CHECKS = {**DOCUMENT_CHECKS, **SCORE_CHECKS}
DOC_TYPES = {"quyet_dinh", "ke_hoach", "thong_bao", "giay_trieu_tap", "giay_moi", "bao_cao",
             "cong_van", "chi_thi", "huong_dan", "to_trinh"}
MM_DD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")

EXPECTED_IDS = {
    "hue-2024", "vinh-long-2022", "bac-giang-2021", "can-tho-2023", "dak-lak-2022",
    "example-rank-ratio",
}


@pytest.fixture(scope="module")
def rulesets() -> dict[str, RuleSet]:
    return {ruleset_id: load_ruleset(ruleset_id) for ruleset_id in available_rulesets()}


@pytest.fixture(scope="module")
def hue(rulesets) -> RuleSet:
    return rulesets["hue-2024"]


# ---- every file -----------------------------------------------------------------------------

def test_every_yaml_loads_under_its_own_id(rulesets):
    assert set(rulesets) == EXPECTED_IDS
    for ruleset_id, ruleset in rulesets.items():
        assert ruleset.id == ruleset_id
        assert ruleset.levels, ruleset_id
        assert ruleset.notes or ruleset.indices, ruleset_id


def test_yaml_text_is_nfc():
    for path in RULESET_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert unicodedata.is_normalized("NFC", text), path.name


def _criteria_with_levels(ruleset: RuleSet):
    for index in ruleset.indices:
        for criterion in index.criteria:
            yield index, criterion


def test_ids_unique_and_in_table_order(rulesets):
    for ruleset in rulesets.values():
        seen = set()
        for index in ruleset.indices:
            assert index.id not in seen, (ruleset.id, index.id)
            seen.add(index.id)
            for number, criterion in enumerate(index.criteria, 1):
                assert criterion.id == f"{index.id}.{number}", (ruleset.id, criterion.id)
                assert criterion.id not in seen
                seen.add(criterion.id)


def test_criteria_apply_only_to_the_rule_sets_levels(rulesets):
    for ruleset in rulesets.values():
        for _, criterion in _criteria_with_levels(ruleset):
            assert criterion.points, criterion.id
            assert set(criterion.points) <= set(ruleset.levels), (ruleset.id, criterion.id)
        for index in ruleset.indices:
            assert set(index.points) <= set(ruleset.levels), (ruleset.id, index.id)


def _check_params(spec, allowed: dict[str, set[str]], where: str):
    assert spec.check in allowed, f"{where}: unknown check {spec.check!r}"
    params = spec.params
    assert set(params) <= allowed[spec.check], f"{where}: {spec.check} params {sorted(params)}"
    if spec.check == "doc_type_is":
        assert params["types"] and set(params["types"]) <= DOC_TYPES, where
    if spec.check == "mentions":
        assert params["phrases"] and all(isinstance(p, str) and p for p in params["phrases"])
        assert params.get("where", "any") in {"subject", "body", "any"}, where
    if spec.check in {"issued_before", "last_before"}:
        assert MM_DD.match(params["date"]), where
    if spec.check == "issued_in_month":
        assert params["month"] in range(1, 13), where
    if spec.check == "count_at_least":
        assert isinstance(params["n"], int) and params["n"] >= 1, where
    if spec.check == "signer_rank":
        assert params["rank"] in {"head", "deputy"}, where


def test_every_check_in_every_rule_set_is_registered_with_valid_parameters(rulesets):
    from kiemchung.verifier.evaluate import check_problems

    for ruleset in rulesets.values():
        assert check_problems(ruleset) == [], ruleset.id


def test_document_backed_criteria_use_only_registered_checks(rulesets):
    count = 0
    for ruleset in rulesets.values():
        for _, criterion in _criteria_with_levels(ruleset):
            where = f"{ruleset.id} {criterion.id}"
            if criterion.backed_by != "documents":
                assert criterion.evidence is None, where
                continue
            count += 1
            evidence = criterion.evidence
            assert evidence.document, where
            for spec in evidence.document:
                _check_params(spec, DOCUMENT_CHECKS, where)
            names = {spec.check for spec in evidence.document}
            assert {"doc_type_is", "digitally_signed"} <= names, where
            score = evidence.score
            for tier in score.tiers or []:
                for spec in tier.checks:
                    _check_params(spec, ALL_CHECKS, where)
            if score.ratio:
                for spec in score.ratio.numerator:
                    _check_params(spec, ALL_CHECKS, where)
            if score.tiers:
                shares = [tier.share for tier in score.tiers]
                assert shares == sorted(shares, reverse=True), where
            assert evidence.allow_scans == ruleset.allow_scans, where
    assert count == 13         # Huế 11, the example 2


def test_platform_criteria_name_their_platform(rulesets):
    for ruleset in rulesets.values():
        for _, criterion in _criteria_with_levels(ruleset):
            if criterion.backed_by == "platform":
                assert criterion.platform, (ruleset.id, criterion.id)


# ---- Huế, the reference rule set ------------------------------------------------------------

def test_hue_source_window_and_formula(hue):
    assert hue.source.number == "931/QĐ-UBND"
    assert hue.source.date == dt.date(2024, 4, 4)
    assert hue.levels == [Level.SO, Level.HUYEN, Level.XA]
    assert hue.data_window.for_year(2024) == (dt.date(2024, 1, 1), dt.date(2024, 11, 15))
    assert hue.scoring.formula == "percent_of_applicable"
    assert hue.allow_scans is False


def test_hue_has_nine_main_indices_in_table_order(hue):
    assert [index.id for index in hue.indices] == [str(n) for n in range(1, 10)]
    assert [len(index.criteria) for index in hue.indices] == [10, 3, 6, 8, 4, 7, 5, 4, 6]


@pytest.mark.parametrize("level, points, count", [
    (Level.SO, 401, 35), (Level.HUYEN, 675, 53), (Level.XA, 645, 50)])
def test_hue_table_sums_as_printed(hue, level, points, count):
    criteria = hue.criteria(level)
    assert len(criteria) == count
    assert sum(c.points[level] for c in criteria) == points
    assert hue.computed_totals(level).points == points


def test_hue_declared_totals_differ_only_for_so(hue):
    assert hue.declared_totals[Level.SO].points == 391
    assert hue.declared_totals[Level.SO].criteria == 34
    assert (hue.declared_totals[Level.HUYEN].points, hue.declared_totals[Level.HUYEN].criteria) \
        == (675, 53)
    assert (hue.declared_totals[Level.XA].points, hue.declared_totals[Level.XA].criteria) \
        == (645, 50)
    found = hue.discrepancies()
    assert len(found) == 1
    assert "level so" in found[0] and "391" in found[0] and "401" in found[0]
    assert "34 criteria" in found[0] and "35 criteria" in found[0]
    computed, declared = hue.computed_totals(Level.SO), hue.declared_totals[Level.SO]
    assert (computed.points - declared.points, computed.criteria - declared.criteria) == (10, 1)


def test_hue_verbatim_cells(hue):
    assert hue.criterion("1.1").name == "Ban chỉ đạo chuyển đổi số"
    assert hue.criterion("1.1").requirement == "Người đứng đầu đơn vị làm trưởng ban chỉ đạo."
    assert hue.criterion("1.2").evidence_text == "Thông báo kết luận bằng file điện tử có ký số"
    assert hue.criterion("2.1").name == "Ban hành kế hoạch chuyển đổi số hằng năm"
    assert hue.criterion("2.1").requirement == (
        "Văn bản điện tử được ban hành trong tháng 1 hằng năm sẽ đạt tối đa điểm, sau thời gian "
        "trên sẽ đạt 50% số điểm")
    assert hue.criterion("4.5").evidence_text == (
        "Giấy triệu tập bằng văn bản điện tử có ký số và có bản tin trên Trang thông tin điện tử")
    assert hue.criterion("9.6").name == "Số hóa du lịch"


@pytest.mark.parametrize("criterion_id, points", [
    ("1.1", {"so": 5, "huyen": 5, "xa": 5}),
    ("1.2", {"so": 10, "huyen": 10, "xa": 10}),
    ("1.8", {"huyen": 24, "xa": 24}),          # level marks on the following line
    ("2.3", {"huyen": 10}),                    # one mark, evidence cell empty
    ("3.2", {"huyen": 30, "xa": 30}),
    ("4.5", {"huyen": 20, "xa": 20}),          # not applicable at Sở level
    ("6.7", {"huyen": 10}),
    ("9.1", {"so": 10, "huyen": 10}),          # "| 10 | x | x |" then a lone "|"
    ("9.6", {"huyen": 20, "xa": 20}),
])
def test_hue_points_and_levels_of_interpreted_rows(hue, criterion_id, points):
    assert hue.criterion(criterion_id).points == {Level(k): v for k, v in points.items()}


def test_hue_document_backed_criteria_are_the_ones_with_files(hue):
    documents = [c.id for c in hue.criteria() if c.backed_by == "documents"]
    assert documents == ["1.1", "1.2", "2.1", "2.2", "4.1", "4.2", "4.3", "4.5", "6.7", "8.1",
                         "9.6"]
    for criterion in hue.criteria():
        text = (criterion.evidence_text or "").lower()
        if "ký số" in text:
            assert criterion.backed_by == "documents", criterion.id
        if "dữ liệu" in text:
            assert criterion.backed_by == "platform", criterion.id


def _document_params(criterion, check):
    return [spec.params for spec in criterion.evidence.document if spec.check == check]


def test_hue_rule_1_1_steering_committee(hue):
    criterion = hue.criterion("1.1")
    assert _document_params(criterion, "doc_type_is") == [{"types": ["quyet_dinh"]}]
    phrases = [p for params in _document_params(criterion, "mentions") for p in params["phrases"]]
    assert "Ban Chỉ đạo chuyển đổi số" in phrases
    tiers = criterion.evidence.score.tiers
    assert [(t.share, [s.check for s in t.checks]) for t in tiers] == \
        [(1.0, ["head_is_truong_ban"])]


def test_hue_rule_1_2_meeting_notices(hue):
    criterion = hue.criterion("1.2")
    assert _document_params(criterion, "doc_type_is") == [
        {"types": ["thong_bao"], "type_name_contains": "KẾT LUẬN"}]
    tiers = criterion.evidence.score.tiers
    assert [(t.share, [(s.check, s.params) for s in t.checks]) for t in tiers] == [
        (1.0, [("count_at_least", {"n": 2}), ("last_before", {"date": "11-15"})]),
        (0.5, [("count_at_least", {"n": 1})]),
    ]


def test_hue_rule_2_1_annual_plan_tiers(hue):
    criterion = hue.criterion("2.1")
    names = [spec.check for spec in criterion.evidence.document]
    assert {"doc_type_is", "plan_for_year", "digitally_signed"} <= set(names)
    assert _document_params(criterion, "doc_type_is") == [{"types": ["ke_hoach"]}]
    tiers = criterion.evidence.score.tiers
    assert [(t.share, [(s.check, s.params) for s in t.checks]) for t in tiers] == [
        (1.0, [("issued_in_month", {"month": 1})]),
        (0.5, [("issued_in_year", {})]),
    ]
    assert criterion.evidence.allow_scans is False


def test_hue_rule_2_2_directives_counted(hue):
    criterion = hue.criterion("2.2")
    score = criterion.evidence.score
    assert score.tiers is None and score.ratio is None
    assert score.per_document.full_at == 3
    assert score.per_document.note and "3" in criterion.note


def test_hue_rules_for_staff_teams_training_and_reports(hue):
    assert _document_params(hue.criterion("4.1"), "doc_type_is") == [{"types": ["quyet_dinh"]}]
    for criterion_id in ("4.2", "4.3"):
        criterion = hue.criterion(criterion_id)
        assert _document_params(criterion, "doc_type_is") == [{"types": ["quyet_dinh"]}]
        phrases = [p for q in _document_params(criterion, "mentions") for p in q["phrases"]]
        assert "Tổ công nghệ số cộng đồng" in phrases
        assert criterion.evidence.needs_review
    training = hue.criterion("4.5")
    assert Level.SO not in training.points
    assert _document_params(training, "doc_type_is") == [{"types": ["giay_trieu_tap"]}]
    tiers = training.evidence.score.tiers
    assert [(t.share, [(s.check, s.params) for s in t.checks]) for t in tiers] == [
        (1.0, [("count_at_least", {"n": 1})])]
    for criterion_id in ("6.7", "8.1", "9.6"):
        criterion = hue.criterion(criterion_id)
        assert _document_params(criterion, "doc_type_is") == [{"types": ["bao_cao"]}]
        assert "digitally_signed" in [spec.check for spec in criterion.evidence.document]


def test_hue_platform_criteria(hue):
    assert hue.criterion("1.6").platform == "Hue-S"
    assert hue.criterion("1.8").platform == "Hệ thống thông tin nguồn"
    assert hue.criterion("3.6").platform == "IOC"
    assert hue.criterion("1.4").platform == "trang thông tin điện tử"


# ---- the other seeds ------------------------------------------------------------------------

def test_vinh_long_scales_and_not_applicable_rule(rulesets):
    vinh_long = rulesets["vinh-long-2022"]
    assert vinh_long.source.number == "2554/QĐ-UBND"
    assert vinh_long.levels == [Level.SO, Level.HUYEN, Level.XA]
    declared = {level.value: (t.points, t.criteria)
                for level, t in vinh_long.declared_totals.items()}
    assert declared == {"so": (600, 51), "huyen": (1000, 79), "xa": (800, 63)}
    assert vinh_long.scoring.not_applicable == "best_of_others"
    assert vinh_long.scoring.formula == "sum"
    assert any("maximum" in note.lower() for note in vinh_long.notes)
    assert vinh_long.indices == [] and vinh_long.data_window is None
    # no criteria table in the seed: every declared total is reported as not matched
    assert len(vinh_long.discrepancies()) == 3


def test_bac_giang_bands_window_and_index_scales(rulesets):
    bac_giang = rulesets["bac-giang-2021"]
    assert bac_giang.source.number == "2294/QĐ-UBND"
    assert bac_giang.levels == [Level.SO, Level.HUYEN]
    assert [(b.name, b.min_share) for b in bac_giang.scoring.bands] == [
        ("Tốt", 0.8), ("Khá", 0.65), ("Trung bình", 0.5), ("Yếu", 0.0)]
    assert bac_giang.data_window.for_year(2021) == (dt.date(2020, 10, 1), dt.date(2021, 10, 1))
    for family in ("cntt-", "cong-"):
        for level in (Level.SO, Level.HUYEN):
            total = sum(index.points.get(level, 0) for index in bac_giang.indices
                        if index.id.startswith(family))
            assert total == 100, (family, level)
    it_indices = [i for i in bac_giang.indices if i.id.startswith("cntt-")]
    assert sum(Level.SO in i.points for i in it_indices) == 6
    assert sum(Level.HUYEN in i.points for i in it_indices) == 7
    assert bac_giang.criteria() == []


def test_can_tho_accepts_scans_and_requires_explanations(rulesets):
    can_tho = rulesets["can-tho-2023"]
    assert can_tho.allow_scans is True
    assert can_tho.levels == [Level.SO, Level.HUYEN, Level.XA]
    assert can_tho.data_window.for_year(2022) == (dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert any("giải trình" in note for note in can_tho.notes)
    assert any("2088/QĐ-UBND" in note for note in can_tho.notes)
    assert can_tho.indices == []


def test_dak_lak_three_levels_nothing_invented(rulesets):
    dak_lak = rulesets["dak-lak-2022"]
    assert dak_lak.source.number == "2534/QĐ-UBND"
    assert dak_lak.source.date == dt.date(2022, 11, 11)
    assert dak_lak.levels == [Level.SO, Level.HUYEN, Level.XA]
    assert dak_lak.indices == [] and dak_lak.declared_totals == {}
    assert dak_lak.notes


def test_example_rank_ratio(rulesets):
    example = rulesets["example-rank-ratio"]
    assert "example" in example.name.lower() and "example" in " ".join(example.notes).lower()
    committee = example.criterion("1.1").evidence.score.tiers
    assert [(t.share, [(s.check, s.params) for s in t.checks]) for t in committee] == [
        (1.0, [("head_is_truong_ban", {})]),
        (0.5, [("signer_rank", {"rank": "deputy"})]),
    ]
    ratio = example.criterion("1.2").evidence.score.ratio
    assert [(s.check, s.params) for s in ratio.numerator] == [("signer_rank", {"rank": "head"})]


# ---- invalid rule sets are refused with the file and the line ------------------------------

VALID = """\
id: broken
name: "Thử"
province: "Thử"
source:
  number: "1/QĐ-UBND"
  date: 2024-01-02
  issuer: "Ủy ban nhân dân tỉnh"
levels: [huyen]
indices:
  - id: "1"
    name: "Chỉ số chính 1"
    criteria:
      - id: "1.1"
        name: "Kế hoạch"
        points: {huyen: 10}
        evidence:
          document:
            - {check: doc_type_is, types: [ke_hoach]}
          score:
            tiers:
              - share: 1.0
                checks: [{check: issued_in_month, month: 1}]
              - share: 0.5
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path) -> str:
    with pytest.raises(RuleSetError) as caught:
        load_ruleset_file(path)
    return caught.value.message if hasattr(caught.value, "message") else str(caught.value)


def test_the_base_of_the_invalid_cases_is_valid(tmp_path):
    ruleset = load_ruleset_file(_write(tmp_path, VALID))
    assert ruleset.criterion("1.1").evidence.score.tiers[1].share == 0.5


def test_unknown_field_is_refused_at_its_line(tmp_path):
    text = VALID.replace('        name: "Kế hoạch"\n',
                         '        name: "Kế hoạch"\n        pionts_extra: 3\n')
    message = _refused(_write(tmp_path, text))
    assert f"{tmp_path / 'broken.yaml'}:15:" in message
    assert "pionts_extra" in message


def test_missing_required_key_is_refused_at_its_mapping(tmp_path):
    text = VALID.replace('        name: "Kế hoạch"\n', "")
    message = _refused(_write(tmp_path, text))
    # the criterion mapping that lacks `name` starts at line 13
    assert f"{tmp_path / 'broken.yaml'}:13:" in message
    assert "name" in message


def test_share_above_one_is_refused_at_its_line(tmp_path):
    text = VALID.replace("              - share: 0.5\n", "              - share: 1.5\n")
    message = _refused(_write(tmp_path, text))
    assert f"{tmp_path / 'broken.yaml'}:23:" in message
    assert "share" in message


def test_yaml_syntax_error_is_refused_at_its_line(tmp_path):
    text = VALID.replace("levels: [huyen]\n", "levels: [huyen\n")
    message = _refused(_write(tmp_path, text))
    assert str(tmp_path / "broken.yaml") in message
    line = int(re.search(r"broken\.yaml:(\d+):", message).group(1))
    assert 8 <= line <= 9            # PyYAML reports where the flow sequence breaks
    assert "not valid YAML" in message


def test_score_with_two_kinds_is_refused(tmp_path):
    text = VALID.replace("          score:\n",
                         "          score:\n            per_document: {full_at: 2}\n")
    message = _refused(_write(tmp_path, text))
    assert f"{tmp_path / 'broken.yaml'}:19:" in message


def test_documents_without_evidence_rules_are_refused(tmp_path):
    head = VALID.split("        evidence:\n")[0]
    message = _refused(_write(tmp_path, head))
    assert f"{tmp_path / 'broken.yaml'}:13:" in message
    assert "no evidence rules" in message


def test_phase_windows_come_from_the_seed_and_name_known_phases():
    from pydantic import ValidationError

    from kiemchung.verifier.ruleset import RuleSet

    hue = load_ruleset("hue-2024")
    assert hue.phases["self_assessment"].for_year(2024) == (dt.date(2024, 1, 1),
                                                           dt.date(2024, 11, 29))
    assert "explanation" not in hue.phases           # not in Huế 931: the host sets it
    with pytest.raises(ValidationError, match="unknown phases voting"):
        RuleSet.model_validate({**hue.model_dump(mode="json"),
                                "phases": {"voting": {"start": "01-01", "end": "01-02"}}})
