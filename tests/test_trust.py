"""`kiemchung trust add|list` with the real Vietnamese CA certificates from ../shared/trust."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SHARED, absent
from tests.test_cli import kiemchung

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
