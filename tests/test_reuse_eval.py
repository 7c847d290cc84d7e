"""The reused-evidence evaluation (`make eval-reuse`) on a small generated set: 14 documents,
24 files, three re-saved, three re-scanned, two re-dated and two renamed copies among distinct
documents of the same templates and agencies. The figures asserted are what the finder
measures on this set: every copy found (a re-scan at 200 dpi lands 34 bits from its 300 dpi
scan, inside the bound of 36; the same bytes renamed are paired as such), no false pair."""

from __future__ import annotations

import random

import pytest

from kiemchung.verifier.reuse import PHASH_BOUND, THRESHOLD, find_reuse, jaccard
from samples.evaluate_reuse import (
    perturbed,
    plan_set,
    read_set,
    score,
    submissions_of,
    time_province,
    truth_pairs,
)

COUNT, SEED = 14, 7


@pytest.fixture(scope="module")
def reads():
    return read_set(plan_set(COUNT, SEED), workers=2)


@pytest.fixture(scope="module")
def report(reads):
    return score(reads, find_reuse(submissions_of(reads)))


def test_the_set_holds_what_was_planned(reads):
    kinds = [plan.kind for plan in plan_set(COUNT, SEED)]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "resaved": 3, "rescan": 3, "new_date": 2, "renamed": 2, "single_digital": 3,
        "single_scan": 1}
    assert len(reads) == 24
    assert len({r.file.name for r in reads}) == 24
    # Every copy but the renamed ones has other bytes; each copy is reuse by the finder's rules.
    assert len({r.sha256 for r in reads}) == 22
    truth = truth_pairs(reads)
    assert sorted(truth.values()) == sorted(["resaved"] * 3 + ["rescan"] * 3 + ["new_date"] * 2
                                            + ["renamed"] * 2)
    scans = [r for r in reads if r.fingerprint.scanned]
    assert len(scans) == 7 and all(r.fingerprint.minhash is None for r in scans)  # read in part
    assert all(r.fingerprint.minhash is not None for r in reads if not r.fingerprint.scanned)


def test_recall_by_kind_and_precision_as_measured(report):
    kinds = {kind: (row["found"], row["pairs"]) for kind, row in report["kinds"].items()}
    assert kinds["resaved"] == (3, 3)
    assert kinds["new_date"] == (2, 2)
    # The farthest re-scan: 34 bits from its original (the others 2 and 16).
    assert kinds["rescan"] == (3, 3)
    assert kinds["renamed"] == (2, 2)                  # the same bytes, another unit or year
    assert report["precision"] == 1.0 and report["false_pairs"] == []
    assert report["misses"] == []


def test_different_documents_stay_far_apart(report):
    close = report["closest_different"]
    assert close["jaccard_highest"][0]["jaccard"] < THRESHOLD - 0.2        # measured 0.44
    assert close["phash_closest"][0]["phash_distance"] > PHASH_BOUND + 16   # measured 72


def test_perturbed_fingerprints_keep_the_share_asked_for(reads):
    rng = random.Random(1)
    source = next(r.fingerprint for r in reads if r.fingerprint.minhash is not None)
    other = perturbed(source, rng, 0.4, 60)
    assert other.minhash is not None and source.minhash is not None
    assert 0.25 < jaccard(source.minhash, other.minhash) < 0.55
    assert other.phash is not None and source.phash is not None
    assert (int(other.phash, 16) ^ int(source.phash, 16)).bit_count() == 60


def test_a_thousand_submissions_take_seconds(reads):
    province = time_province(reads, 1000, SEED)
    assert province["submissions"] == 1000
    assert province["near_copies_planted"] > 0
    assert province["near_copies_found"] == province["near_copies_planted"]
    assert province["other_pairs_with_replicas"] == 0
    assert province["total_seconds"] < 10
