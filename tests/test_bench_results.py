"""`make bench` keeps its last run: in `.bench/`, and committed in bench/last-run.json so that a
fresh checkout's first run has figures to compare with."""

from __future__ import annotations

import json

from bench.run import save_results


def _run(started: str, docs_per_s: float) -> dict:
    return {"started": started, "failed_documents": 0, "machine": {"cpus": 2},
            "headline": {"signed docs/s, 2 workers": {"value": docs_per_s,
                                                      "higher_is_better": True}},
            "batch": {"a lot": "of detail"}}


def test_a_fresh_checkout_compares_with_the_committed_last_run(tmp_path):
    committed = tmp_path / "last-run.json"
    committed.write_text(json.dumps(_run("earlier machine", 7.5)), encoding="utf-8")
    root = tmp_path / ".bench"
    root.mkdir()
    previous = save_results(root, _run("now", 9.0), last_run=committed)
    assert previous["started"] == "earlier machine"
    rewritten = json.loads(committed.read_text(encoding="utf-8"))
    assert rewritten["started"] == "now" and "batch" not in rewritten   # the headline only
    assert json.loads((root / "results.json").read_text(encoding="utf-8"))["batch"]


def test_a_second_run_compares_with_the_first_on_this_machine(tmp_path):
    committed, root = tmp_path / "last-run.json", tmp_path / ".bench"
    root.mkdir()
    assert save_results(root, _run("first", 7.5), last_run=committed) is None
    previous = save_results(root, _run("second", 9.0), last_run=committed)
    assert previous["started"] == "first" and (root / "previous.json").exists()
