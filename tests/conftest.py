"""Shared fixtures: evidence files made by the project's own sample generator."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NoReturn

import pytest

from samples.corpus import generate_corpus

SHARED = Path(__file__).resolve().parents[2] / "shared"
# On CI (`CI` set, as .ci/run does) a missing server or ../shared is a fault to see, never a skip.
ON_CI = bool(os.environ.get("CI"))


def absent(reason: str) -> NoReturn:
    """Skip a test whose server or shared files are truly absent here; fail it on CI."""
    if ON_CI:
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def digital_corpus(tmp_path_factory):
    """Twelve born-digital documents: every document type once."""
    return generate_corpus(tmp_path_factory.mktemp("digital"), count=12, seed=11,
                           variants=("digital", "tcvn3"))


@pytest.fixture(scope="session")
def scan_corpus(tmp_path_factory):
    """Two documents scanned at 300 dpi with seal and signature, as PDF and as PNG."""
    return generate_corpus(tmp_path_factory.mktemp("scans"), count=2, seed=5,
                           variants=("scan300", "png"))


def truth(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".truth.json").read_text(encoding="utf-8"))
