"""A campaign's publication (verifier/publication.py) with the real Huế 2024 rule set and
hand-built final outcomes for four departments (Sở) and three districts (huyện)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import unicodedata
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from kiemchung.models.verdicts import Verdict, VerdictStatus
from kiemchung.verifier.evaluate import ruleset_version
from kiemchung.verifier.publication import (
    EXCLUDED,
    FinalOutcome,
    Publication,
    PublicationError,
    publication_csv,
    publication_xlsx,
    publish,
)
from kiemchung.verifier.ruleset import Level, RuleSet, load_ruleset
from kiemchung.verifier.scoring import score_units

HUE = load_ruleset("hue-2024")
YEAR = 2024
AT = dt.datetime(2025, 1, 15, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
PASS, PARTIAL, FAIL = VerdictStatus.PASS, VerdictStatus.PARTIAL, VerdictStatus.FAIL
REVIEW, NA = VerdictStatus.NEEDS_REVIEW, VerdictStatus.NOT_APPLICABLE
FORMULA_UNIT = '=HYPERLINK("http://evil.example","Huyện X")'


def sha(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def unit_rows(ruleset: RuleSet, unit: str, level: str,
              changes: dict[str, tuple[VerdictStatus, float]] | None = None,
              claims: dict[str, float | None] | None = None) -> list[FinalOutcome]:
    """Every criterion of the level: passed in full and claimed in full, but for `changes`
    (status, points) and `claims`."""
    changes, claims = changes or {}, claims or {}
    rows = []
    for i, c in enumerate(ruleset.criteria(Level(level))):
        maximum = c.points[Level(level)]
        status, points = changes.get(c.id, (PASS, maximum))
        rows.append(FinalOutcome(unit, level, c.id, claims.get(c.id, maximum), status, points,
                                 maximum, [sha(unit, c.id, "b"), sha(unit, c.id, "a")],
                                 verdict_id=1000 + i))
    return rows


def campaign_rows(ruleset: RuleSet = HUE) -> list[FinalOutcome]:
    return [
        *unit_rows(ruleset, "Sở A", "so"),                                      # 100
        *unit_rows(ruleset, "Sở B", "so", {"1.2": (FAIL, 0.0)}),                # 391 / 401
        *unit_rows(ruleset, "Sở C", "so", {"1.2": (NA, 0.0)}, {"1.2": None}),  # 391 / 391
        *unit_rows(ruleset, "Sở D", "so", {"1.4": (PARTIAL, 12.0), "1.5": (FAIL, 0.0)}),
        *unit_rows(ruleset, "UBND huyện Phú Vang", "huyen", {"1.4": (PARTIAL, 12.0)},
                   {"1.4": 24.0, "1.1": None}),
        *unit_rows(ruleset, FORMULA_UNIT, "huyen", {"1.2": (REVIEW, 5.0)}),
        *unit_rows(ruleset, "UBND huyện Phong Điền", "huyen", {"1.4": (PARTIAL, 12.0)}),
    ]


def campaign(ruleset: RuleSet = HUE, rows: list[FinalOutcome] | None = None,
             **kwargs) -> Publication:
    return publish(ruleset, YEAR, campaign_rows(ruleset) if rows is None else rows,
                   campaign=kwargs.pop("name", "DTI 2024"), published_at=kwargs.pop("at", AT))


def variant(**scoring) -> RuleSet:
    data = HUE.model_dump()
    data["scoring"] = {**data["scoring"], **scoring}
    return RuleSet.model_validate(data)


def verdicts_by_unit(rows: list[FinalOutcome]) -> dict[tuple[str, str], list[Verdict]]:
    """The outcomes as verdicts, written out here from the Verdict contract."""
    found: dict[tuple[str, str], list[Verdict]] = {}
    for o in rows:
        na = o.final_status == NA
        found.setdefault((o.unit, o.level), []).append(Verdict(
            o.criterion, o.level, o.unit, YEAR, 0.0 if na else o.final_points,
            0.0 if na else o.max_points, needs_review=o.final_status == REVIEW))
    return found


@pytest.fixture(scope="module")
def pub() -> Publication:
    return campaign()


@pytest.mark.parametrize("ruleset", [HUE, variant(not_applicable="best_of_others"),
                                     variant(formula="sum", not_applicable="maximum")],
                         ids=["hue", "best_of_others", "maximum"])
def test_totals_ranks_and_bands_are_score_units(ruleset):
    pub = campaign(ruleset)
    expected = score_units(ruleset, verdicts_by_unit(campaign_rows(ruleset)))
    assert len(pub.units) == len(expected) == 7
    for t in expected:
        u = pub.unit(t.unit, t.level)
        assert (u.total, u.rank, u.band, u.final_total, u.maximum, u.pending_review) == \
            (t.total, t.rank, t.band, round(t.achieved, 2), t.maximum, t.pending_review)
    assert pub.ruleset_id == "hue-2024" and pub.ruleset_version == ruleset_version(ruleset)


def test_not_applicable_as_the_rule_set_says(pub):
    # Huế (percent_of_applicable, excluded): Sở C's exempt 10 points leave its maximum.
    c = pub.unit("Sở C", "so")
    assert c.total == 100 and c.maximum == 391
    exempt = next(x for x in c.criteria if x.criterion == "1.2")
    assert (exempt.status, exempt.counted_as, exempt.final, exempt.max_points) == \
        (NA, EXCLUDED, 0, 0)
    assert pub.unit("Sở B", "so").total == round(391 * 100 / 401, 2)
    # best_of_others: scored at the best other Sở's points on 1.2 (Sở A, D: 10).
    other = campaign(variant(not_applicable="best_of_others")).unit("Sở C", "so")
    exempt = next(x for x in other.criteria if x.criterion == "1.2")
    assert (exempt.counted_as, exempt.final, exempt.max_points) == ("best_of_others", 10, 10)
    assert other.maximum == 401 and other.final_total == 401
    # maximum, with the plain sum.
    full = campaign(variant(formula="sum", not_applicable="maximum")).unit("Sở C", "so")
    assert full.total == 401


def test_ranks_per_level_with_ties(pub):
    so = pub.ranking("so")
    assert [(u.unit, u.rank) for u in so] == [("Sở A", 1), ("Sở C", 1), ("Sở B", 3),
                                              ("Sở D", 4)]
    huyen = pub.ranking(Level.HUYEN)
    assert [u.rank for u in huyen] == [1, 2, 2]
    assert huyen[0].unit == FORMULA_UNIT      # 670 / 675; the two others 663 / 675
    assert {u.unit for u in huyen[1:]} == {"UBND huyện Phú Vang", "UBND huyện Phong Điền"}
    assert [u.level for u in pub.units] == ["so"] * 4 + ["huyen"] * 3
    assert not pub.ranking("xa")


def test_bands():
    assert all(u.band is None for u in campaign().units)   # Huế 2024 defines no bands
    banded = variant(bands=[{"name": "Tốt", "min_share": 0.99}, {"name": "Khá", "min_share": 0.9},
                            {"name": "Yếu", "min_share": 0.0}])
    pub = campaign(banded)
    assert {u.unit: u.band for u in pub.ranking("so")} == \
        {"Sở A": "Tốt", "Sở B": "Khá", "Sở C": "Tốt", "Sở D": "Khá"}
    low = unit_rows(banded, "Sở E", "so", {c.id: (FAIL, 0.0) for c in banded.criteria(Level.SO)})
    assert campaign(banded, campaign_rows(banded) + low).unit("Sở E", "so").band == "Yếu"


def test_claimed_against_final(pub):
    phu_vang = pub.unit("UBND huyện Phú Vang", "huyen")
    # Claimed 24 on 1.4, got 12; claimed nothing on 1.1 (5 points), got 5.
    assert {(c.criterion, c.claimed, c.final, c.difference) for c in phu_vang.differences} == \
        {("1.4", 24, 12, -12), ("1.1", None, 5, 5)}
    assert phu_vang.claimed_total == 675 - 5 and phu_vang.final_total == 663
    assert phu_vang.difference == -7 == sum(c.difference for c in phu_vang.differences)
    assert [c.criterion for c in pub.unit("Sở D", "so").differences] == ["1.4", "1.5"]
    assert not pub.unit("Sở A", "so").differences
    # Sở C claimed nothing on its exempt criterion: nothing to list.
    assert not pub.unit("Sở C", "so").differences
    review = pub.unit(FORMULA_UNIT, "huyen")
    assert [(c.criterion, c.status, c.difference) for c in review.differences] == \
        [("1.2", REVIEW, -5)]
    assert review.pending_review == 1


def test_evidence_sorted_per_criterion(pub):
    for u in pub.units:
        for c in u.criteria:
            assert c.evidence == tuple(sorted(c.evidence)) and len(c.evidence) == 2
    first = pub.unit("Sở A", "so").criteria[0]
    assert first.evidence == tuple(sorted([sha("Sở A", first.criterion, "a"),
                                           sha("Sở A", first.criterion, "b")]))


def test_digest_is_stable(pub):
    rows = campaign_rows()
    assert campaign().digest == pub.digest
    assert campaign(rows=rows[::-1]).digest == pub.digest
    # Interleaved rows, evidence hashes in another order and in upper case.
    shuffled = [replace(o, evidence=[h.upper() for h in o.evidence][::-1])
                for o in rows[1::2] + rows[::2]]
    assert campaign(rows=shuffled).digest == pub.digest
    # Not in it: when it was published, and the store's ids.
    assert campaign(at=dt.date(2030, 1, 1)).digest == pub.digest
    assert campaign(rows=[replace(o, verdict_id=None) for o in rows]).digest == pub.digest
    assert len(pub.digest) == 64 and int(pub.digest, 16) >= 0


def _changed(rows: list[FinalOutcome], index: int, **change) -> list[FinalOutcome]:
    return [replace(o, **change) if i == index else o for i, o in enumerate(rows)]


def test_digest_changes_with_what_decides_the_result(pub):
    rows = campaign_rows()
    i = next(i for i, o in enumerate(rows) if o.unit == "Sở D" and o.criterion == "1.4")
    digests = {
        "point": campaign(rows=_changed(rows, i, final_points=12.5)).digest,
        "claim": campaign(rows=_changed(rows, i, claimed_points=20.0)).digest,
        "status": campaign(rows=_changed(rows, i, final_status=REVIEW)).digest,
        "evidence": campaign(rows=_changed(rows, i, evidence=[sha("x"), rows[i].evidence[1]]
                                           )).digest,
        "evidence dropped": campaign(rows=_changed(rows, i, evidence=rows[i].evidence[:1]
                                                   )).digest,
        "rule set": campaign(variant(not_applicable="best_of_others")).digest,
        "bands": campaign(variant(bands=[{"name": "Tốt", "min_share": 0.5}])).digest,
        "year": publish(HUE, 2023, rows, campaign="DTI 2024", published_at=AT).digest,
        "campaign": campaign(name="DTI 2024 (lần 2)").digest,
    }
    assert pub.digest not in digests.values()
    assert len(set(digests.values())) == len(digests)


def test_to_json(pub):
    data = json.loads(json.dumps(pub.to_json()))
    assert data["published_at"] == "2025-01-15T09:30:00+07:00"
    assert data["digest"] == pub.digest and data["ruleset"]["id"] == "hue-2024"
    sod = next(u for u in data["units"] if u["unit"] == "Sở D")
    assert sod["rank"] == 4 and sod["differences"] == ["1.4", "1.5"]
    assert sod["criteria"][0]["verdict_id"] == 1000


def test_csv(pub):
    data = publication_csv(pub)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 4 * 35 + 3 * 53
    units = {r["unit"] for r in rows}
    assert "'" + FORMULA_UNIT in units and FORMULA_UNIT not in units
    row = next(r for r in rows if r["unit"] == "UBND huyện Phú Vang" and r["criterion"] == "1.4")
    assert (row["rank"], row["total"], row["status"], row["claimed"], row["final"],
            row["difference"]) == ("2", str(round(663 * 100 / 675, 2)), "partial", "24", "12",
                                   "-12")
    assert next(r for r in rows if r["unit"] == "UBND huyện Phú Vang"
                and r["criterion"] == "1.1")["claimed"] == ""
    assert row["evidence"].split("; ") == list(pub.unit("UBND huyện Phú Vang", "huyen")
                                               .criteria[3].evidence)


def test_xlsx(pub):
    book = load_workbook(io.BytesIO(publication_xlsx(pub)), read_only=True)
    assert book.sheetnames == ["units", "criteria", "about"]
    units = list(book["units"].values)
    assert units[0] == ("rank", "unit", "level", "total", "band", "claimed_total",
                        "final_total", "difference")
    assert units[1][:3] == (1, "Sở A", "so")
    names = [r[1] for r in units]
    assert "'" + FORMULA_UNIT in names and FORMULA_UNIT not in names
    assert len(list(book["criteria"].values)) == 1 + 4 * 35 + 3 * 53
    about = dict(book["about"].values)
    assert about["digest"] == pub.digest and about["rule set"] == "hue-2024"
    assert about["version"] == pub.ruleset_version and about["year"] == YEAR
    assert about["campaign"] == "DTI 2024" and about["published at"] == AT.isoformat()


def test_xlsx_illegal_characters():
    rows = unit_rows(HUE, "Sở\x01 lạ", "so")
    book = load_workbook(io.BytesIO(publication_xlsx(campaign(rows=rows))), read_only=True)
    assert list(book["units"].values)[1][1] == "Sở\ufffd lạ"


def test_unit_names_in_nfc_are_one_unit():
    rows = unit_rows(HUE, "Sở Tư pháp", "so")
    nfd = [replace(o, unit=unicodedata.normalize("NFD", o.unit)) if i % 2 else o
           for i, o in enumerate(rows)]
    pub = campaign(rows=nfd)
    assert [u.unit for u in pub.units] == ["Sở Tư pháp"]
    assert pub.digest == campaign(rows=rows).digest


@pytest.mark.parametrize("change, message", [
    ({"final_status": PASS, "final_points": 12.0}, "contradicts"),
    ({"max_points": 20.0, "final_points": 20.0}, "max_points"),
    ({"final_status": NA, "final_points": 3.0}, "not_applicable"),
    ({"criterion": "9.99"}, "no criterion"),
])
def test_outcomes_that_cannot_be_published(change, message):
    rows = unit_rows(HUE, "Sở A", "so")
    with pytest.raises(PublicationError, match=message):
        campaign(rows=_changed(rows, 3, **change))


def test_incomplete_or_duplicated_outcomes():
    rows = unit_rows(HUE, "Sở A", "so")
    with pytest.raises(PublicationError, match="no outcome for criteria 1.4"):
        campaign(rows=rows[:3] + rows[4:])
    with pytest.raises(PublicationError, match="two outcomes"):
        campaign(rows=rows + rows[:1])
    with pytest.raises(PublicationError, match="no outcomes"):
        campaign(rows=[])


@pytest.mark.parametrize("change, message", [
    ({"evidence": ["not-a-hash"]}, "SHA-256"),
    ({"final_points": float("nan")}, "finite"),
    ({"claimed_points": -1.0}, "finite"),
    ({"final_points": 30.0}, "above"),
    ({"final_status": "approved"}, "approved"),
    ({"level": "tinh"}, "tinh"),
    ({"unit": " "}, "unit"),
])
def test_bad_rows(change, message):
    row = unit_rows(HUE, "Sở A", "so")[3]
    with pytest.raises(PublicationError, match=message):
        replace(row, **change)


def test_a_stored_publication_reads_back_the_same():
    pub = publish(HUE, YEAR, campaign_rows(), campaign="DTI 2024", published_at=AT)
    again = Publication.from_json(json.loads(json.dumps(pub.to_json())))
    assert again == pub
    assert publication_csv(again) == publication_csv(pub)
    with pytest.raises(PublicationError):
        Publication.from_json({**pub.to_json(), "format": "something else"})
