"""The `kiemchung` command as a user runs it: JSON contract, human view, bad input."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pymupdf
import pytest

from kiemchung.api.demo_site import DEMO_PASSWORD, DEMO_UNIT, demo_settings
from kiemchung.api.store import open_store
from kiemchung.api.store.users import login
from kiemchung.models.fields import DocType
from samples.content import make_spec
from samples.pki import DemoPKI
from samples.render import render_pdf
from samples.sign import sign_as_printed
from tests.helpers import CONTRACT_KEYS, kiemchung


@pytest.fixture(scope="module")
def signed_plan(tmp_path_factory):
    spec = make_spec(random.Random(21), DocType.KE_HOACH)
    pki = DemoPKI.create("cli-test")
    folder = tmp_path_factory.mktemp("cli")
    pki.write_trust_dir(folder / "trust")
    path = folder / "kế hoạch đã ký.pdf"
    path.write_bytes(sign_as_printed(render_pdf(spec), spec, pki))
    return spec, path, folder / "trust"


def test_inspect_json_carries_the_contract(signed_plan):
    spec, path, trust = signed_plan
    result = kiemchung("inspect", str(path), "--trust-root", str(trust), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert CONTRACT_KEYS <= data.keys()
    assert data["doc_type"] == "ke_hoach" and data["number"] == spec.number
    assert data["issue_date"] == spec.issue_date.isoformat()
    signer = data["signer"]
    assert {k: signer[k] for k in ("name", "title", "authority")} == {
        "name": spec.signer_name, "title": spec.signer_title, "authority": spec.authority}
    assert signer["authority_chain"] == ([spec.authority] if spec.authority else [])
    assert [s["status"] for s in data["signatures"]] == ["valid", "valid"]
    assert data["signatures"][0]["signer_name"] == spec.signer_name
    assert data["has_seal"] is False and data["text_source"] == "text"
    assert data["fields"]["number"]["page"] == 1


def test_without_the_trust_root_the_same_file_is_untrusted(signed_plan, tmp_path, monkeypatch):
    _, path, _ = signed_plan
    monkeypatch.delenv("KIEMCHUNG_TRUST_ROOTS", raising=False)
    monkeypatch.chdir(tmp_path)
    result = kiemchung("inspect", str(path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {s["status"] for s in data["signatures"]} == {"untrusted"}


def test_human_view_shows_fields_and_a_signature_panel(signed_plan):
    spec, path, trust = signed_plan
    result = kiemchung("inspect", str(path), "--trust-root", str(trust))
    assert result.returncode == 0, result.stderr
    assert spec.number in result.stdout and "VALID" in result.stdout
    assert "signatures and seal" in result.stdout


def _encrypted(path: Path) -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "mật")
    doc.save(path, encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u")


@pytest.mark.parametrize("case,expected", [
    ("missing", "no such file"), ("directory", "directory"), ("empty", "empty"),
    ("text", "not"), ("encrypted", "password"), ("truncated", "damaged"),
])
def test_bad_input_gives_one_clear_line(case, expected, tmp_path, signed_plan):
    path = tmp_path / f"{case}.pdf"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("Đây không phải là PDF", encoding="utf-8")
    elif case == "encrypted":
        _encrypted(path)
    elif case == "truncated":
        path.write_bytes(signed_plan[1].read_bytes()[:600])
    result = kiemchung("inspect", str(path), "--json")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0].lower(), lines


def test_demo_reads_every_bundled_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("KIEMCHUNG_DATA_DIR", str(tmp_path))
    result = kiemchung("demo")
    assert result.returncode == 0, result.stderr
    for name in ("ke_hoach_signed.pdf", "quyet_dinh_unsigned.pdf", "thong_bao_scan300.pdf",
                 "giay_trieu_tap_photo.jpg", "bao_cao_tcvn3.pdf"):
        assert name in result.stdout
    assert "valid, valid" in result.stdout          # the signed plan, trusted in the demo only
    assert "error" not in result.stdout
    verdicts = result.stdout[result.stdout.index("verdicts — hue-2024"):]
    for status, points in (("pass", "10/10"), ("partial", "5/10"), ("fail", "0/10"),
                           ("not_applicable", "0/0")):
        assert re.search(rf"{status}\s+│\s+{points}", verdicts), (status, verdicts)
    # The web pages' demo: its address, its accounts, and a store they log in to.
    assert "http://127.0.0.1:8000/" in result.stdout and DEMO_PASSWORD in result.stdout
    with open_store(demo_settings()) as store:
        assert login(store, "donvi", DEMO_PASSWORD).key.unit == DEMO_UNIT
        assert len(store.find_verdicts(only_flagged=False)) == 4
        assert store.document_units(store.find_verdicts(only_flagged=False)[0][0].evidence[0])
