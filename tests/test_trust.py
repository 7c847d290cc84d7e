"""`kiemchung trust add|list` with the real Vietnamese CA certificates from ../shared/trust."""

from __future__ import annotations

import re

import pytest

from tests.helpers import SHARED, absent, kiemchung

TRUST = SHARED / "trust"


def _published_fingerprints() -> dict[str, str]:
    """File name → SHA-256 fingerprint, from the table in shared/trust/README.md."""
    rows = re.findall(r"^\| (\S+\.crt)[^|]*\|.*\| ([0-9A-F:]{95}) \|$",
                      (TRUST / "README.md").read_text(encoding="utf-8"), re.MULTILINE)
    return dict(rows)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    if not TRUST.is_dir():
        absent(f"the shared CA certificates are not beside the repository ({TRUST})")
    monkeypatch.setenv("KIEMCHUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_import_pins_the_published_fingerprints(data_dir):
    published = _published_fingerprints()
    assert {"rootcag2.crt", "cpcag2.crt", "vnrca256.crt"} <= published.keys()
    for name in ("rootcag2.crt", "cpcag2.crt", "vnrca256.crt"):
        result = kiemchung("trust", "add", str(TRUST / name), "--pin", published[name])
        assert result.returncode == 0, result.stderr
        assert published[name] in result.stdout
    listing = kiemchung("trust", "list").stdout
    assert "RootCA chuyên dùng Chính phủ G2" in listing and published["vnrca256.crt"] in listing
    assert len(list((data_dir / "trust").glob("*.pem"))) == 3


def test_a_wrong_pin_is_refused_and_nothing_is_trusted(data_dir):
    result = kiemchung("trust", "add", str(TRUST / "vnrca256.crt"), "--pin", "AA:BB:CC")
    assert result.returncode != 0 and "pinned fingerprint" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data_dir / "trust").exists() or not list((data_dir / "trust").iterdir())


def test_imported_government_roots_validate_a_real_file_and_name_the_missing_tsa_root(data_dir):
    # The G2 root and intermediate imported as an operator would; a real e-office file signed
    # in 2025 then validates, SHA-1 and all, and its timestamp tokens say which root is still
    # to import: tokens of "Máy chủ cấp dấu thời gian 02" chain to the G2 root, those of
    # "… 01" to the first-generation root "Co quan chung thuc so chuyen dung Chinh phu".
    import json
    real = SHARED / "realdocs" / "files" / "13_congvan_TTXT-LamDong_644.pdf"
    if not real.is_file():
        absent(f"the real documents are not beside the repository ({real})")
    published = _published_fingerprints()
    for name in ("rootcag2.crt", "cpcag2.crt"):
        assert kiemchung("trust", "add", str(TRUST / name), "--pin",
                         published[name]).returncode == 0
    result = kiemchung("inspect", str(real), "--json")
    assert result.returncode == 0, result.stderr
    signatures = json.loads(result.stdout)["signatures"]
    assert [(s["role"], s["status"]) for s in signatures] == \
        [("signer", "valid")] + [("agency", "valid")] * 3
    signer = signatures[0]
    assert signer["signing_time_source"] == "timestamp"
    assert "SHA-1 digest (collision-prone)" in signer["warnings"]
    for agency in signatures[1:]:
        assert any("Co quan chung thuc so chuyen dung Chinh phu (RootCA)" in w
                   for w in agency["warnings"])
