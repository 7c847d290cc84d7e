"""Assessment rounds (đợt đánh giá) over the real service: a SQLite store in a temporary data
dir (and once on this machine's PostgreSQL), the HTTP app through TestClient, evidence made and
signed by the project's generator, pre-screening batches run by the local worker pool.

The whole path: draft → approval by a second key → pre-screen verdict → appraisal (override
with reason and remark) → explanation with new evidence → second appraisal → final_outcomes;
and the refusals: the drafting key approving, outside a phase's window, a unit key reading
another unit's self-assessment, an appraiser outside its criterion group.
"""

from __future__ import annotations

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
from kiemchung.api.store.keys import create_key
from kiemchung.api.store.tables import Phase, Role
from samples.pki import DemoPKI
from tests.helpers import (
    OTHER_UNIT,
    UNIT,
    Service,
    assert_problem,
    plan_spec,
    postgres_schema,
    service_settings,
    signed,
)

TODAY = flow.today()
OPEN = {"opens_on": (TODAY - dt.timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + dt.timedelta(days=1)).isoformat()}
PAST = {"opens_on": (TODAY - dt.timedelta(days=30)).isoformat(),
        "closes_on": (TODAY - dt.timedelta(days=10)).isoformat()}
FUTURE = {"opens_on": (TODAY + dt.timedelta(days=10)).isoformat(),
          "closes_on": (TODAY + dt.timedelta(days=30)).isoformat()}


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("campaign-tests")


@pytest.fixture(scope="module")
def plans(pki) -> dict[str, bytes]:
    """The district's plan issued in March (half the points of 2.1) and in January (all)."""
    return {"march": signed(plan_spec(dt.date(2024, 3, 12)), pki),
            "january": signed(plan_spec(dt.date(2024, 1, 15), seed=3), pki)}


class Round:
    """A service with a second key of our unit and an appraiser limited to index 1."""

    def __init__(self, service: Service):
        self.service, self.client, self.store = service, service.client, service.store
        store = service.store
        # Until api/http/app.py mounts the router itself (one line there), the tests do.
        if not any(getattr(route, "path", "").startswith("/v1/campaigns")
                   for route in service.app.routes):
            service.app.include_router(campaign_routes.router, prefix="/v1")
        service.tokens["unit_b"] = create_key(store, "unit second", Role.UNIT, UNIT)[0]
        token, self.limited = create_key(store, "appraiser of index 1", Role.APPRAISER)
        service.tokens["limited"] = token

    def call(self, method: str, path: str, role: str, **kw):
        return self.client.request(method, f"/v1/campaigns{path}",
                                   headers=self.service.auth(role), **kw)

    def campaign(self, phases: dict[str, dict] | None = None) -> int:
        created = self.call("POST", "", "admin", json={"name": "DTI 2024", "ruleset": "hue-2024",
                                                       "year": 2024})
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        for unit in (UNIT, OTHER_UNIT):
            added = self.call("POST", f"/{cid}/units", "admin",
                              json={"unit": unit, "level": "huyen",
                                    "parent": "UBND tỉnh Thừa Thiên Huế"})
            assert added.status_code == 201, added.text
        for phase in Phase:
            window = (phases or {}).get(phase.value, OPEN)
            done = self.call("PUT", f"/{cid}/phases/{phase.value}", "admin", json=window)
            assert done.status_code == 200, done.text
        return cid

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
    cid = r.campaign()
    march = r.upload("unit", plans["march"], "ke-hoach-thang-3.pdf")
    drafted = r.call("POST", f"/{cid}/assessments", "unit", json={
        "criterion": "2.1", "claimed_points": 10, "figures": {"plans": 1},
        "evidence": [march]})
    assert drafted.status_code == 200, drafted.text
    aid = drafted.json()["id"]
    assert drafted.json()["state"] == "draft" and drafted.json()["prescreens"] == []

    # The key that drafted may not approve; a second key of the unit does.
    assert_problem(r.call("POST", f"/{cid}/approvals", "unit", json={"criteria": ["2.1"]}),
                   409, mentions="second, different key")
    approved = r.call("POST", f"/{cid}/approvals", "unit_b", json={"criteria": ["2.1"]})
    assert approved.status_code == 202, approved.text
    r.wait(approved.json()["batch_id"])

    read = r.call("GET", f"/{cid}/assessments/{aid}", "unit")
    assert read.status_code == 200, read.text
    view = read.json()
    assert view["state"] == "submitted" and len(view["prescreens"]) == 1
    first = view["prescreens"][0]
    assert first["state"] == "done" and first["status"] == "partial" and first["points"] == 5
    assert view["doi_chieu"] == {"claimed_points": 10, "verified_points": 5,
                                 "verdict_id": first["verdict_id"], "differs": True}
    assert view["outcome"]["decided_by"] == "verdict"

    # Another unit's key: as if it did not exist.
    assert_problem(r.call("GET", f"/{cid}/assessments/{aid}", "other_unit"), 404)
    assert r.call("GET", f"/{cid}/assessments", "other_unit").json() == []
    # An appraiser limited to index 1 does not appraise 2.1; a plain appraiser does.
    limit = r.call("PUT", f"/{cid}/appraisers/{r.limited.id}", "admin",
                   json={"criterion_prefixes": ["1."]})
    assert limit.status_code == 200, limit.text
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "limited",
                          json={"action": "confirm"}), 403, mentions="not 2.1")
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "appraiser",
                          json={"action": "change", "status": "partial", "points": 4}),
                   400, mentions="reason")
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

    # Giải trình: new evidence is pre-screened again, with the first.
    january = r.upload("unit", plans["january"], "ke-hoach-thang-1.pdf")
    explained = r.call("POST", f"/{cid}/assessments/{aid}/explanations", "unit",
                       json={"text": "the January plan is attached", "evidence": [january]})
    assert explained.status_code == 201, explained.text
    [explanation] = explained.json()["explanations"]
    rescreen = r.store.get_item(explanation["batch_item_id"])
    assert set(rescreen.documents) == {march, january}
    r.wait(rescreen.batch_id)
    again = r.call("GET", f"/{cid}/assessments/{aid}", "unit_b").json()
    second = again["prescreens"][-1]
    assert second["source"] == f"explanation:{explanation['id']}" and second["state"] == "done"

    confirmed = r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "admin",
                       json={"round": 2, "action": "confirm", "remark": "accepted"})
    assert confirmed.status_code == 201, confirmed.text
    assert [a["round"] for a in confirmed.json()["appraisals"]] == [1, 2]

    outcomes = {(o.unit, o.criterion): o for o in flow.final_outcomes(r.store, cid)}
    ours = outcomes[(UNIT, "2.1")]
    assert ours.decided_by == "second_appraisal" and ours.verdict_id == second["verdict_id"]
    assert (ours.final_status, ours.final_points) == (second["status"], second["points"])
    assert ours.claimed_points == 10 and ours.max_points == 10
    assert ours.evidence == (march, january) and ours.level == "huyen"
    assert outcomes[(OTHER_UNIT, "2.1")].final_status == "not_submitted"
    assert len(outcomes) == 2 * 53                               # every criterion of huyện
    plain = r.call("GET", f"/{cid}/outcomes", "unit").json()
    assert {row["unit"] for row in plain} == {UNIT}
    assert next(row for row in plain if row["criterion"] == "2.1") == ours.as_dict()
    [status] = r.call("GET", f"/{cid}/status", "unit").json()
    assert (status["submitted"], status["appraised"], status["second_appraised"]) == (1, 1, 1)

    actions = [e.action for e in r.store.audit_entries(subject=f"assessment:{aid}")]
    assert actions == ["assessment.draft", "assessment.approve", "assessment.appraisal.round1",
                       "assessment.explanation", "assessment.explanation.prescreen",
                       "assessment.appraisal.round2"]

    # Publication: the admin freezes the result; the round takes no action until re-opened.
    assert_problem(r.call("POST", f"/{cid}/publications", "appraiser"), 403)
    published = r.call("POST", f"/{cid}/publications", "admin")
    assert published.status_code == 201, published.text
    first_pub = published.json()
    units = {u["unit"]: u for u in first_pub["publication"]["units"]}
    [row21] = [c for c in units[UNIT]["criteria"] if c["criterion"] == "2.1"]
    assert (row21["claimed"], row21["final"]) == (10, second["points"])
    assert row21["difference"] == second["points"] - 10
    assert row21["evidence"] == sorted([march, january])
    assert units[UNIT]["rank"] == 1 and units[OTHER_UNIT]["final_total"] == 0
    assert first_pub["in_force"] and first_pub["ruleset"] == "hue-2024"
    assert_problem(r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "admin",
                          json={"round": 2, "action": "confirm"}), 409, mentions="published")
    assert_problem(r.call("POST", f"/{cid}/publications", "admin"), 409, mentions="re-open")
    stored = r.call("GET", f"/{cid}/publications/1", "unit").json()
    assert stored["reproduced"] is True and stored["digest"] == first_pub["digest"]
    report = r.call("GET", f"/{cid}/publications/1/report.csv", "auditor")
    assert report.status_code == 200 and UNIT in report.content.decode("utf-8-sig")
    book = load_workbook(io.BytesIO(
        r.call("GET", f"/{cid}/publications/1/report.xlsx", "auditor").content))
    assert book.sheetnames == ["units", "criteria", "about"]

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
    assert [e.action for e in r.store.audit_entries(subject=f"campaign:{cid}")][-3:] == \
        ["campaign.publish", "campaign.reopen", "campaign.publish"]


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
    # Not set at all: no phase is open until the host sets it.
    bare = r.call("POST", "", "admin", json={"name": "later", "year": 2024}).json()["id"]
    r.call("POST", f"/{bare}/units", "admin", json={"unit": UNIT, "level": "huyen"})
    with pytest.raises(flow.OutsidePhase, match="has not been set"):
        flow.require_phase(r.store, bare, Phase.SELF_ASSESSMENT)
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
    with postgres_schema(postgres_url) as url:
        service = Service(service_settings(tmp_path, pki, database_url=url))
        try:
            with service.client:
                r = Round(service)
                cid = r.campaign()
                march = r.upload("unit", plans["march"], "ke-hoach.pdf")
                aid = r.call("POST", f"/{cid}/assessments", "unit", json={
                    "criterion": "2.1", "claimed_points": 5, "evidence": [march]}).json()["id"]
                assert_problem(r.call("POST", f"/{cid}/approvals", "unit", json={}), 409)
                approved = r.call("POST", f"/{cid}/approvals", "unit_b", json={})
                assert approved.status_code == 202, approved.text
                r.wait(approved.json()["batch_id"])
                view = r.call("GET", f"/{cid}/assessments/{aid}", "appraiser").json()
                assert view["doi_chieu"]["differs"] is False
                assert r.call("POST", f"/{cid}/assessments/{aid}/appraisals", "appraiser",
                              json={"action": "confirm"}).status_code == 201
                [row] = [o for o in flow.final_outcomes(r.store, cid)
                         if (o.unit, o.criterion) == (UNIT, "2.1")]
                assert (row.decided_by, row.final_status, row.final_points) == \
                    ("appraisal", "partial", 5)
        finally:
            service.store.close()
