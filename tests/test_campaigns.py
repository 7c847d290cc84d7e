"""Assessment rounds (đợt đánh giá) over the real service: a SQLite store in a temporary data
dir (and the same round on this machine's PostgreSQL), the HTTP app through TestClient,
evidence made and signed by the project's generator, pre-screening batches run by the local
worker pool.

The whole path, for three units at two levels (two huyện and a Sở), each with a key that
drafts and a second key that approves: draft → approval → pre-screen verdict (claimed against
verified: đối chiếu) → appraisal (override with reason and remark, or confirmation) →
explanation (with new evidence, pre-screened again, or text only) → second appraisal →
final_outcomes → publication (ranks per level, claimed against final, CSV and XLSX) → re-open;
every step in the audit log, each unit seeing its own rows only. And the refusals: the
drafting key approving, outside a phase's window, a unit key reading another unit's
self-assessment, an appraiser outside its criterion group.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from kiemchung.api import campaigns as flow
from kiemchung.api.cli import common
from kiemchung.api.cli.campaign import campaign_app
from kiemchung.api.http.routes import campaigns as campaign_routes
from kiemchung.api.store.keys import authenticate, create_key
from kiemchung.api.store.tables import ApiKey, Phase, Role
from kiemchung.models.fields import DocType
from samples.content import AGENCIES
from samples.pki import DemoPKI
from tests.helpers import (
    OTHER_UNIT,
    PHONG_DIEN,
    UNIT,
    Service,
    assert_problem,
    plan,
    plan_spec,
    postgres_schema,
    service_settings,
    signed,
    spec_of,
)

TODAY = flow.today()
OPEN = {"opens_on": (TODAY - dt.timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + dt.timedelta(days=1)).isoformat()}
PAST = {"opens_on": (TODAY - dt.timedelta(days=30)).isoformat(),
        "closes_on": (TODAY - dt.timedelta(days=10)).isoformat()}
FUTURE = {"opens_on": (TODAY + dt.timedelta(days=10)).isoformat(),
          "closes_on": (TODAY + dt.timedelta(days=30)).isoformat()}

SO = "Sở Y tế"                                   # a provincial department: level so
SO_Y_TE = next(a for a in AGENCIES if a.unit_name == SO)
PROVINCE = "UBND tỉnh Thừa Thiên Huế"
# The units of every round: level, and the two keys of each (the drafter's, the approver's).
MEMBERS = {UNIT: "huyen", OTHER_UNIT: "huyen", SO: "so"}
KEYS = {UNIT: ("unit", "unit_b"), OTHER_UNIT: ("other_unit", "other_unit_b"),
        SO: ("so", "so_b")}
CRITERIA = {"huyen": 53, "so": 35}               # hue-2024's criteria at each level


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("campaign-tests")


@pytest.fixture(scope="module")
def plans(pki) -> dict[str, bytes]:
    """Phú Vang's plan issued in March (half the points of 2.1) and in January (all), Phong
    Điền's issued in March, the Sở's issued in January."""
    so_plan = spec_of(DocType.KE_HOACH, dt.date(2024, 1, 22), agency=SO_Y_TE, seed=4,
                      subject="Chuyển đổi số ngành Y tế năm 2024")
    return {"march": signed(plan_spec(dt.date(2024, 3, 12)), pki),
            "january": signed(plan_spec(dt.date(2024, 1, 15), seed=3), pki),
            "phong_dien": plan(PHONG_DIEN, dt.date(2024, 3, 20), pki),
            "so": signed(so_plan, pki)}


class Round:
    """A service with two keys of each unit of the round and an appraiser limited to index 1."""

    def __init__(self, service: Service):
        self.service, self.client, self.store = service, service.client, service.store
        store = service.store
        # Until api/http/app.py mounts the router itself (one line there), the tests do.
        if not any(getattr(route, "path", "").startswith("/v1/campaigns")
                   for route in service.app.routes):
            service.app.include_router(campaign_routes.router, prefix="/v1")
        service.tokens["unit_b"] = create_key(store, "unit second", Role.UNIT, UNIT)[0]
        service.tokens["other_unit_b"] = create_key(store, "other second", Role.UNIT,
                                                    OTHER_UNIT)[0]
        service.tokens["so"] = create_key(store, "so", Role.UNIT, SO)[0]
        service.tokens["so_b"] = create_key(store, "so second", Role.UNIT, SO)[0]
        token, self.limited = create_key(store, "appraiser of index 1", Role.APPRAISER)
        service.tokens["limited"] = token

    def key(self, role: str) -> ApiKey:
        found = authenticate(self.store, self.service.tokens[role])
        assert found is not None, role
        return found

    def call(self, method: str, path: str, role: str, **kw):
        return self.client.request(method, f"/v1/campaigns{path}",
                                   headers=self.service.auth(role), **kw)

    def campaign(self, phases: dict[str, dict] | None = None) -> int:
        created = self.call("POST", "", "admin", json={"name": "DTI 2024", "ruleset": "hue-2024",
                                                       "year": 2024})
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        for unit, level in MEMBERS.items():
            added = self.call("POST", f"/{cid}/units", "admin",
                              json={"unit": unit, "level": level, "parent": PROVINCE})
            assert added.status_code == 201, added.text
        for phase in Phase:
            self.window(cid, phase.value, (phases or {}).get(phase.value, OPEN))
        return cid

    def window(self, cid: int, phase: str, window: dict) -> None:
        done = self.call("PUT", f"/{cid}/phases/{phase}", "admin", json=window)
        assert done.status_code == 200, done.text

    def upload(self, role: str, data: bytes, name: str) -> str:
        response = self.service.upload(role, data, name=name)
        assert response.status_code == 200, response.text
        return response.json()["sha256"]

    def wait(self, batch_id: str, seconds: float = 240) -> None:
        deadline = time.monotonic() + seconds
        while not self.store.batch_progress(batch_id).finished:
            assert time.monotonic() < deadline, f"batch {batch_id} did not finish"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def rounds(tmp_path_factory, pki):
    service = Service(service_settings(tmp_path_factory.mktemp("campaigns"), pki))
    with service.client:
        yield Round(service)
    service.store.close()


def full_path(r: Round, plans: dict[str, bytes]) -> None:
    """The whole round for the three units, on whichever store `r` runs."""
    cid = r.campaign()
    # Each unit uploads its own plan with its drafting key and drafts 2.1 with it.
    march = r.upload("unit", plans["march"], "ke-hoach-thang-3.pdf")
    theirs = r.upload("other_unit", plans["phong_dien"], "ke-hoach-phong-dien.pdf")
    so_plan = r.upload("so", plans["so"], "ke-hoach-so-y-te.pdf")
    evidence = {UNIT: march, OTHER_UNIT: theirs, SO: so_plan}
    ids: dict[str, int] = {}
    for unit, sha in evidence.items():
        drafted = r.call("POST", f"/{cid}/assessments", KEYS[unit][0], json={
            "criterion": "2.1", "claimed_points": 10, "figures": {"plans": 1},
            "evidence": [sha]})
        assert drafted.status_code == 200, drafted.text
        view = drafted.json()
        assert (view["unit"], view["level"], view["state"]) == (unit, MEMBERS[unit], "draft")
        assert view["prescreens"] == [] and view["max_points"] == 10
        ids[unit] = view["id"]
    aid = ids[UNIT]
    # A unit's evidence is its own upload: another unit's file is as if it did not exist.
    assert_problem(r.call("POST", f"/{cid}/assessments", "so", json={
        "criterion": "2.1", "claimed_points": 10, "evidence": [march]}), 404)

    # The key that drafted may not approve; a second key of the unit does, for each unit.
    assert_problem(r.call("POST", f"/{cid}/approvals", "unit", json={"criteria": ["2.1"]}),
                   409, mentions="second, different key")
    assert_problem(r.call("POST", f"/{cid}/approvals", "so", json={}), 409,
                   mentions="second, different key")
    batches = []
    for unit in MEMBERS:
        approved = r.call("POST", f"/{cid}/approvals", KEYS[unit][1],
                          json={"criteria": ["2.1"]} if unit == UNIT else {})
        assert approved.status_code == 202, approved.text
        [submitted] = approved.json()["assessments"]
        assert submitted["id"] == ids[unit] and submitted["state"] == "submitted"
        batches.append(approved.json()["batch_id"])
    assert len(set(batches)) == 3
    for batch_id in batches:                    # the three batches run side by side
        r.wait(batch_id)

    views = {unit: r.call("GET", f"/{cid}/assessments/{ids[unit]}", KEYS[unit][0]).json()
             for unit in MEMBERS}
    view = views[UNIT]
    assert view["state"] == "submitted" and len(view["prescreens"]) == 1
    first = view["prescreens"][0]
    assert first["state"] == "done" and first["status"] == "partial" and first["points"] == 5
    assert view["doi_chieu"] == {"claimed_points": 10, "verified_points": 5,
                                 "verdict_id": first["verdict_id"], "differs": True}
    assert view["outcome"]["decided_by"] == "verdict"
    # Phong Điền's plan, issued in March too: half the points; the Sở's, in January: all.
    [theirs_first] = views[OTHER_UNIT]["prescreens"]
    assert (theirs_first["status"], theirs_first["points"]) == ("partial", 5)
    assert views[OTHER_UNIT]["doi_chieu"]["differs"] is True
    [so_first] = views[SO]["prescreens"]
    assert (so_first["status"], so_first["points"]) == ("pass", 10), so_first["summary"]
    assert views[SO]["doi_chieu"] == {"claimed_points": 10, "verified_points": 10,
                                      "verdict_id": so_first["verdict_id"], "differs": False}
    for unit in MEMBERS:
        drafter, approver = (r.key(role) for role in KEYS[unit])
        assert drafter.id != approver.id and drafter.unit == approver.unit == unit
        assert (views[unit]["drafted_by"], views[unit]["approved_by"]) == \
            (drafter.id, approver.id)

    # Each unit's keys see their own unit only: another's self-assessment answers 404.
    for unit in MEMBERS:
        for role in KEYS[unit]:
            listed = r.call("GET", f"/{cid}/assessments", role).json()
            assert [a["id"] for a in listed] == [ids[unit]], role
            assert r.call("GET", f"/{cid}/assessments", role,
                          params={"unit": next(u for u in MEMBERS if u != unit)}).json() == []
            assert [u["unit"] for u in r.call("GET", f"/{cid}", role).json()["units"]] == \
                [unit]
            for other in MEMBERS:
                if other != unit:
                    assert_problem(r.call("GET", f"/{cid}/assessments/{ids[other]}", role), 404)
    assert {a["unit"] for a in r.call("GET", f"/{cid}/assessments", "appraiser").json()} == \
        set(MEMBERS)
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "so",
                          json={"action": "confirm"}), 403)

    # An appraiser limited to index 1 does not appraise 2.1; a plain appraiser does.
    limit = r.call("PUT", f"/{cid}/appraisers/{r.limited.id}", "admin",
                   json={"criterion_prefixes": ["1."]})
    assert limit.status_code == 200, limit.text
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "limited",
                          json={"action": "confirm"}), 403, mentions="not 2.1")
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "appraiser",
                          json={"action": "change", "status": "partial", "points": 4}),
                   400, mentions="reason")
    # A status its points contradict would stop the publication: refused at entry.
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "appraiser", json={
        "action": "change", "status": "pass", "points": 4, "reason": "r"}), 400,
        mentions="that is partial")
    # Round 2 waits for round 1.
    assert_problem(r.call("POST", f"/{cid}/assessments/{ids[SO]}/appraisals", "appraiser",
                          json={"round": 2, "action": "confirm"}), 409, mentions="round-1")
    changed = r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "appraiser", json={
        "round": 1, "action": "change", "status": "partial", "points": 4,
        "reason": "the plan names no budget", "remark": "send the plan issued in January"})
    assert changed.status_code == 201, changed.text
    [decision] = changed.json()["appraisals"]
    assert decision["override_id"] and decision["remark"].startswith("send the plan")
    [override] = r.store.verdict_overrides(first["verdict_id"])
    assert (override.status, override.points, override.reason) == \
        ("partial", 4, "the plan names no budget")
    assert r.store.get_verdict(first["verdict_id"]).points == 5          # the verdict stays
    for unit, remark in ((OTHER_UNIT, "issued in March: half the points"),
                         (SO, "issued in January: in order")):
        confirmed = r.call("POST", f"/{cid}/assessments/{ids[unit]}/appraisals", "appraiser",
                           json={"round": 1, "action": "confirm", "remark": remark})
        assert confirmed.status_code == 201, confirmed.text
        [decision] = confirmed.json()["appraisals"]
        assert (decision["action"], decision["override_id"], decision["remark"]) == \
            ("confirm", None, remark)
        # The unit reads the remark on its own assessment.
        mine = r.call("GET", f"/{cid}/assessments/{ids[unit]}", KEYS[unit][1]).json()
        assert [a["remark"] for a in mine["appraisals"]] == [remark]

    # Outside its window the explanation is refused, saying so; in it, it goes in.
    r.window(cid, "explanation", PAST)
    closed = assert_problem(r.call("POST", f"/{cid}/assessments/{ids[OTHER_UNIT]}/"
                                   "explanations", "other_unit", json={"text": "late"}),
                            409, mentions="is closed")
    assert PAST["closes_on"] in closed["detail"] and "explanation" in closed["detail"]
    r.window(cid, "explanation", OPEN)
    # A unit does not explain another unit's assessment: it does not exist for it.
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/explanations", "other_unit",
                          json={"text": "not ours"}), 404)

    # Giải trình: new evidence is pre-screened again, with the first.
    january = r.upload("unit", plans["january"], "ke-hoach-thang-1.pdf")
    explained = r.call("POST", f"/{cid}/assessments/{aid}/explanations", "unit",
                       json={"text": "the January plan is attached", "evidence": [january]})
    assert explained.status_code == 201, explained.text
    [explanation] = explained.json()["explanations"]
    rescreen = r.store.get_item(explanation["batch_item_id"])
    assert set(rescreen.documents) == {march, january}
    # Phong Điền explains in words only: nothing to pre-screen again.
    words = r.call("POST", f"/{cid}/assessments/{ids[OTHER_UNIT]}/explanations", "other_unit_b",
                   json={"text": "the plan waited for the province's own"})
    assert words.status_code == 201, words.text
    [their_explanation] = words.json()["explanations"]
    assert their_explanation["batch_item_id"] is None and their_explanation["evidence"] == []
    assert len(words.json()["prescreens"]) == 1
    r.wait(rescreen.batch_id)
    again = r.call("GET", f"/{cid}/assessments/{aid}", "unit_b").json()
    second = again["prescreens"][-1]
    assert second["source"] == f"explanation:{explanation['id']}" and second["state"] == "done"
    assert (second["status"], second["points"]) == ("pass", 10), second["summary"]
    assert again["doi_chieu"] == {"claimed_points": 10, "verified_points": 10,
                                  "verdict_id": second["verdict_id"], "differs": False}

    # The second round decides: on the new pre-screening for Phú Vang, on the first for
    # Phong Điền; the Sở stays with its round-1 decision.
    confirmed = r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "admin",
                       json={"round": 2, "action": "confirm", "remark": "accepted"})
    assert confirmed.status_code == 201, confirmed.text
    assert [a["round"] for a in confirmed.json()["appraisals"]] == [1, 2]
    kept = r.call("POST", f"/{cid}/assessments/{ids[OTHER_UNIT]}/appraisals", "appraiser",
                  json={"round": 2, "action": "confirm", "remark": "half the points stand"})
    assert kept.status_code == 201, kept.text
    assert [(a["round"], a["points"]) for a in kept.json()["appraisals"]] == [(1, 5), (2, 5)]

    outcomes = {(o.unit, o.criterion): o for o in flow.final_outcomes(r.store, cid)}
    ours = outcomes[(UNIT, "2.1")]
    assert ours.decided_by == "second_appraisal" and ours.verdict_id == second["verdict_id"]
    assert (ours.final_status, ours.final_points) == (second["status"], second["points"])
    assert ours.claimed_points == 10 and ours.max_points == 10
    assert ours.evidence == (march, january) and ours.level == "huyen"
    theirs_row = outcomes[(OTHER_UNIT, "2.1")]
    assert (theirs_row.decided_by, theirs_row.final_status, theirs_row.final_points) == \
        ("second_appraisal", "partial", 5)
    assert theirs_row.evidence == (theirs,) and theirs_row.verdict_id == theirs_first["verdict_id"]
    so_row = outcomes[(SO, "2.1")]
    assert (so_row.decided_by, so_row.final_status, so_row.final_points) == \
        ("appraisal", "pass", 10)
    assert (so_row.level, so_row.parent, so_row.evidence) == ("so", PROVINCE, (so_plan,))
    assert outcomes[(OTHER_UNIT, "1.1")].final_status == "not_submitted"
    assert len(outcomes) == sum(CRITERIA[level] for level in MEMBERS.values())
    # /outcomes and /status: each unit key its own rows; the appraiser every unit's.
    progress = {UNIT: (1, 1, 1, 1), OTHER_UNIT: (1, 1, 1, 1), SO: (1, 1, 0, 0)}
    for unit in MEMBERS:
        for role in KEYS[unit]:
            plain = r.call("GET", f"/{cid}/outcomes", role).json()
            assert {row["unit"] for row in plain} == {unit}
            assert len(plain) == CRITERIA[MEMBERS[unit]]
            assert next(row for row in plain if row["criterion"] == "2.1") == \
                outcomes[(unit, "2.1")].as_dict()
            [status] = r.call("GET", f"/{cid}/status", role).json()
            assert status["unit"] == unit and status["level"] == MEMBERS[unit]
            assert (status["submitted"], status["appraised"], status["second_appraised"],
                    status["explained"]) == progress[unit]
    assert {row["unit"] for row in r.call("GET", f"/{cid}/outcomes", "appraiser").json()} == \
        set(MEMBERS)
    assert [row["unit"] for row in r.call("GET", f"/{cid}/status", "appraiser").json()] == \
        list(MEMBERS)

    # Every step of every unit is in the audit log, by the key that took it.
    steps = {UNIT: ["assessment.draft", "assessment.approve", "assessment.appraisal.round1",
                    "assessment.explanation", "assessment.explanation.prescreen",
                    "assessment.appraisal.round2"],
             OTHER_UNIT: ["assessment.draft", "assessment.approve",
                          "assessment.appraisal.round1", "assessment.explanation",
                          "assessment.appraisal.round2"],
             SO: ["assessment.draft", "assessment.approve", "assessment.appraisal.round1"]}
    by = {UNIT: ["unit", "unit_b", "appraiser", "unit", "unit", "admin"],
          OTHER_UNIT: ["other_unit", "other_unit_b", "appraiser", "other_unit_b",
                       "appraiser"],
          SO: ["so", "so_b", "appraiser"]}
    for unit in MEMBERS:
        entries = r.store.audit_entries(subject=f"assessment:{ids[unit]}")
        assert [e.action for e in entries] == steps[unit], unit
        assert [e.actor_key_id for e in entries] == [r.key(role).id for role in by[unit]]
        draft_entry, approve_entry = entries[:2]
        assert (draft_entry.details["unit"], draft_entry.details["evidence"]) == \
            (unit, [evidence[unit]])
        assert approve_entry.details["drafted_by"] == r.key(KEYS[unit][0]).id

    # Publication, in its window only: the admin freezes the result; the round takes no
    # action until re-opened.
    r.window(cid, "publication", FUTURE)
    early = assert_problem(r.call("POST", f"/{cid}/publications", "admin"), 409,
                           mentions="has not opened yet")
    assert "publication" in early["detail"] and FUTURE["opens_on"] in early["detail"]
    r.window(cid, "publication", OPEN)
    assert_problem(r.call("POST", f"/{cid}/publications", "appraiser"), 403)
    published = r.call("POST", f"/{cid}/publications", "admin")
    assert published.status_code == 201, published.text
    first_pub = published.json()
    units = {u["unit"]: u for u in first_pub["publication"]["units"]}
    assert set(units) == set(MEMBERS)
    [row21] = [c for c in units[UNIT]["criteria"] if c["criterion"] == "2.1"]
    assert (row21["claimed"], row21["final"]) == (10, second["points"])
    assert row21["difference"] == second["points"] - 10
    assert row21["evidence"] == sorted([march, january])
    # Ranks per level: the two huyện by their points, the Sở alone in its group.
    assert [(u["unit"], u["rank"]) for u in first_pub["publication"]["units"]
            if u["level"] == "huyen"] == [(UNIT, 1), (OTHER_UNIT, 2)]
    assert units[UNIT]["total"] > units[OTHER_UNIT]["total"]
    assert (units[SO]["level"], units[SO]["rank"]) == ("so", 1)
    # Claimed against final: Phong Điền claimed 10 and got 5; the others got what they claimed.
    assert (units[UNIT]["claimed_total"], units[UNIT]["final_total"]) == (10, 10)
    assert (units[OTHER_UNIT]["claimed_total"], units[OTHER_UNIT]["final_total"],
            units[OTHER_UNIT]["difference"], units[OTHER_UNIT]["differences"]) == \
        (10, 5, -5, ["2.1"])
    [their21] = [c for c in units[OTHER_UNIT]["criteria"] if c["criterion"] == "2.1"]
    assert (their21["claimed"], their21["final"], their21["difference"]) == (10, 5, -5)
    assert (units[SO]["claimed_total"], units[SO]["final_total"], units[SO]["differences"]) \
        == (10, 10, [])
    assert len(units[SO]["criteria"]) == CRITERIA["so"]
    assert first_pub["in_force"] and first_pub["ruleset"] == "hue-2024"
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "admin",
                          json={"round": 2, "action": "confirm"}), 409, mentions="published")
    assert_problem(r.call("POST", f"/{cid}/publications", "admin"), 409, mentions="re-open")
    stored = r.call("GET", f"/{cid}/publications/1", "unit").json()
    assert stored["reproduced"] is True and stored["digest"] == first_pub["digest"]
    # The exports hold all three units, with their ranks and differences.
    report = r.call("GET", f"/{cid}/publications/1/report.csv", "auditor")
    assert report.status_code == 200, report.text
    rows = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert len(rows) == len(outcomes)
    assert {(row["unit"], row["level"], row["rank"]) for row in rows} == \
        {(UNIT, "huyen", "1"), (OTHER_UNIT, "huyen", "2"), (SO, "so", "1")}
    assert {(row["unit"], row["claimed"], row["final"], row["difference"]) for row in rows
            if row["criterion"] == "2.1"} == \
        {(UNIT, "10", "10", "0"), (OTHER_UNIT, "10", "5", "-5"), (SO, "10", "10", "0")}
    book = load_workbook(io.BytesIO(
        r.call("GET", f"/{cid}/publications/1/report.xlsx", "auditor").content))
    assert book.sheetnames == ["units", "criteria", "about"]
    ranked = {row[1]: row for row in book["units"].iter_rows(min_row=2, values_only=True)}
    assert {unit: (row[0], row[2], row[5], row[6], row[7]) for unit, row in ranked.items()} == \
        {UNIT: (1, "huyen", 10, 10, 0), OTHER_UNIT: (2, "huyen", 10, 5, -5),
         SO: (1, "so", 10, 10, 0)}
    assert book["criteria"].max_row - 1 == len(outcomes)

    # Re-opening: an admin, with a reason; the first publication stays as it was.
    assert_problem(r.call("POST", f"/{cid}/reopen", "appraiser", json={"reason": "x"}), 403)
    assert r.call("POST", f"/{cid}/reopen", "admin", json={"reason": " "}).status_code == 422
    reopened = r.call("POST", f"/{cid}/reopen", "admin",
                      json={"reason": "a unit's complaint was upheld"})
    assert reopened.status_code == 200 and reopened.json()["in_force"] is False
    again_pub = r.call("POST", f"/{cid}/publications", "admin").json()
    assert again_pub["number"] == 2 and again_pub["digest"] == first_pub["digest"]
    listed = r.call("GET", f"/{cid}/publications", "unit").json()
    assert [(p["number"], p["in_force"], p["reopen_reason"]) for p in listed] == \
        [(1, False, "a unit's complaint was upheld"), (2, True, None)]
    campaign_log = r.store.audit_entries(subject=f"campaign:{cid}")
    actions = [e.action for e in campaign_log]
    assert actions[0] == "campaign.create" and "campaign.appraiser.set" in actions
    assert [e.details["unit"] for e in campaign_log if e.action == "campaign.unit.add"] == \
        list(MEMBERS)
    # Three windows from the rule set at creation, every phase set by the host, four changes.
    assert actions[1:4] == ["campaign.phase.set"] * 3
    assert actions.count("campaign.phase.set") == 3 + len(Phase) + 4
    assert actions[-3:] == ["campaign.publish", "campaign.reopen", "campaign.publish"]


def test_the_whole_round_from_draft_to_final_outcome(rounds, plans):
    full_path(rounds, plans)


def test_actions_outside_their_window_are_refused_with_the_window(rounds, plans):
    r = rounds
    cid = r.campaign({"self_assessment": FUTURE, "appraisal": PAST})
    answer = assert_problem(r.call("POST", f"/{cid}/assessments", "unit", json={
        "criterion": "1.2", "claimed_points": 1, "explanation": "no file: held on paper"}),
        409, mentions="self_assessment")
    assert answer["type"].endswith("outside-phase")
    for text in (FUTURE["opens_on"], FUTURE["closes_on"], f"today is {TODAY.isoformat()}",
                 "has not opened yet"):
        assert text in answer["detail"]
    # In its window the draft goes in; approved, it cannot be appraised: the window closed.
    assert r.call("PUT", f"/{cid}/phases/self_assessment", "admin",
                  json=OPEN).status_code == 200
    drafted = r.call("POST", f"/{cid}/assessments", "unit", json={
        "criterion": "1.2", "claimed_points": 1, "explanation": "no file: held on paper"})
    assert drafted.status_code == 200, drafted.text
    approved = r.call("POST", f"/{cid}/approvals", "unit_b", json={})
    assert approved.status_code == 202, approved.text
    r.wait(approved.json()["batch_id"])
    closed = assert_problem(r.call("POST", f"/{cid}/assessments/{drafted.json()['id']}/"
                                   "appraisals", "appraiser", json={"action": "confirm"}),
                            409, mentions="is closed")
    assert PAST["closes_on"] in closed["detail"]
    # A new campaign has the windows its seed fixes (Huế 931: entry before 30/11, results in
    # December); a phase the seed does not fix is not open until the host sets it.
    bare = r.call("POST", "", "admin", json={"name": "later", "year": 2024}).json()
    assert {phase: (w["opens_on"], w["closes_on"]) for phase, w in bare["phases"].items()
            if w} == {"self_assessment": ("2024-01-01", "2024-11-29"),
                      "appraisal": ("2024-12-01", "2024-12-31"),
                      "publication": ("2024-12-01", "2024-12-31")}
    with pytest.raises(flow.OutsidePhase, match="has not been set"):
        flow.require_phase(r.store, bare["id"], Phase.EXPLANATION)
    with pytest.raises(flow.OutsidePhase, match="is closed"):
        flow.require_phase(r.store, bare["id"], Phase.SELF_ASSESSMENT)
    assert flow.require_phase(r.store, bare["id"], Phase.SELF_ASSESSMENT,
                              on=dt.date(2024, 11, 29)) is None
    # Units may not set windows, nor draft for another unit.
    assert_problem(r.call("PUT", f"/{cid}/phases/appraisal", "unit", json=OPEN), 403)
    assert_problem(r.call("POST", f"/{cid}/assessments", "unit", json={
        "unit": OTHER_UNIT, "criterion": "1.2", "claimed_points": 1}), 403)


def test_evidence_must_be_the_units_own_upload(rounds, pki):
    r = rounds
    cid = r.campaign()
    theirs = r.upload("other_unit", signed(plan_spec(dt.date(2024, 2, 2), seed=7), pki),
                      "their-plan.pdf")
    assert_problem(r.call("POST", f"/{cid}/assessments", "unit", json={
        "criterion": "2.1", "claimed_points": 5, "evidence": [theirs]}), 404)
    assert_problem(r.call("POST", f"/{cid}/assessments", "unit", json={
        "criterion": "2.1", "claimed_points": 11}), 400, mentions="0 to 10 points")


def test_the_host_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("KIEMCHUNG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KIEMCHUNG_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    # The commands' shared console took its width when first imported (80 under xdist).
    monkeypatch.setattr(common.console, "width", 250)
    cli = CliRunner()

    def invoke(*args: str):
        # Wide enough that no message is folded (typer's error box wraps at the terminal).
        return cli.invoke(campaign_app, list(args), env={"COLUMNS": "250"})

    def ok(*args: str) -> str:
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        return result.output

    assert "campaign 1" in ok("create", "DTI 2024", "--ruleset", "hue-2024", "--year", "2024")
    ok("units", "add", "1", UNIT, "--level", "huyen", "--parent", "UBND tỉnh Thừa Thiên Huế")
    ok("phase", "set", "1", "self_assessment", "--opens", OPEN["opens_on"], "--closes",
       OPEN["closes_on"])
    shown = ok("show", "1")
    assert UNIT in shown and OPEN["closes_on"] in shown and "not set" in shown
    assert "0/675" not in ok("status", "1") and UNIT in ok("status", "1")
    refused = invoke("phase", "set", "1", "voting", "--opens", "2025-01-01", "--closes",
                     "2025-01-02")
    assert refused.exit_code == 2 and "unknown phase" in refused.output
    backwards = invoke("phase", "set", "1", "appraisal", "--opens", "2025-02-01", "--closes",
                       "2025-01-01")
    assert backwards.exit_code == 2 and "before it opens" in backwards.output
    # Publishing is the host's too: in its window, frozen, and re-opened only with a reason.
    assert invoke("publish", "1").exit_code != 0                  # no window set yet
    ok("phase", "set", "1", "publication", "--opens", OPEN["opens_on"], "--closes",
       OPEN["closes_on"])
    published = ok("publish", "1", "--out", str(tmp_path / "ket-qua.xlsx"))
    assert "publication 1" in published and "digest" in published and UNIT in published
    assert load_workbook(tmp_path / "ket-qua.xlsx").sheetnames == ["units", "criteria", "about"]
    assert invoke("reopen", "1").exit_code == 2                   # --reason is required
    assert "publication 1 is kept" in ok("reopen", "1", "--reason", "a complaint upheld")


def test_the_round_on_postgresql(postgres_url, tmp_path, pki, plans):
    """The same round, every step of it, on PostgreSQL."""
    with postgres_schema(postgres_url) as url:
        service = Service(service_settings(tmp_path, pki, database_url=url))
        try:
            with service.client:
                full_path(Round(service), plans)
        finally:
            service.store.close()
