"""The stage timing hook (kiemchung.models.timing): exclusive seconds per stage, recorded by the
stages themselves while a caller records, nothing otherwise."""

from __future__ import annotations

import random
import threading
import time

import pytest

from kiemchung.api.jobs.batches import submit_batch
from kiemchung.api.jobs.queue import process_item
from kiemchung.api.store import NewBatchItem, open_store
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models import timing
from kiemchung.models.fields import DocType
from kiemchung.models.timing import record_stages, stage
from kiemchung.verifier.ruleset import load_ruleset
from kiemchung.verifier.settings import Settings
from samples.content import make_spec
from samples.pki import DemoPKI
from samples.render import render_pdf
from samples.sign import sign_as_printed

STAGES = ("text", "ocr", "signatures", "fields", "marks", "verdict")   # bench/run.py's


class FakeClock:
    """perf_counter for the hook: each call returns the next tick, so times are exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_nested_stages_count_once_for_themselves(clock):
    with record_stages() as seconds:
        with stage("verdict"):
            clock.advance(1)
            with stage("text"):
                clock.advance(2)
                with stage("ocr"):
                    clock.advance(4)
                clock.advance(8)
            with stage("fields"):
                clock.advance(16)
            clock.advance(32)
        clock.advance(64)                      # inside the recorder, in no stage
    assert seconds == {"ocr": 4, "text": 10, "fields": 16, "verdict": 33}


def test_a_stage_run_again_adds_up_and_one_that_raises_is_counted(clock):
    with record_stages() as seconds:
        for _ in range(3):
            with stage("fields"):
                clock.advance(1)
        with pytest.raises(ValueError), stage("marks"):
            clock.advance(5)
            raise ValueError
        with stage("text"):                    # the failed stage left no frame open
            clock.advance(2)
    assert seconds == {"fields": 3, "marks": 5, "text": 2}


def test_without_a_recorder_nothing_is_timed_or_kept():
    assert stage("text") is stage("ocr")       # one shared no-op, no timer made
    with stage("text"):
        pass
    with record_stages() as seconds:
        pass
    assert seconds == {}
    with record_stages() as seconds:
        with stage("text"):
            pass
    with stage("text"):                        # after the recorder closed
        pass
    assert list(seconds) == ["text"]


def test_an_inner_recorder_keeps_its_stages_and_other_threads_are_not_recorded(clock):
    seen_in_thread = []
    with record_stages() as outer:
        with stage("verdict"):
            clock.advance(1)
            with record_stages() as inner:
                with stage("text"):
                    clock.advance(2)
        thread = threading.Thread(target=lambda: seen_in_thread.append(stage("ocr")))
        thread.start()
        thread.join()
    assert inner == {"text": 2}
    assert outer == {"verdict": 3}             # to the outer one, the block is its stage's time
    assert seen_in_thread == [stage("ocr")]    # the no-op: a thread has its own context


def test_real_nesting_never_sums_past_the_wall_time():
    start = time.perf_counter()
    with record_stages() as seconds:
        with stage("text"):
            sum(range(20_000))
            for _ in range(50):
                with stage("ocr"):
                    sum(range(20_000))
    wall = time.perf_counter() - start
    assert set(seconds) == {"text", "ocr"}
    assert all(value > 0 for value in seconds.values())
    assert sum(seconds.values()) <= wall


# -- the stages of the real code ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("timing-tests")


@pytest.fixture(scope="module")
def signed(pki):
    spec = make_spec(random.Random(3), DocType.KE_HOACH)
    return spec, sign_as_printed(render_pdf(spec), spec, pki)


def test_inspecting_a_signed_pdf_records_its_stages(signed, pki):
    trust = TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))
    start = time.perf_counter()
    with record_stages() as seconds:
        inspection = inspect_bytes(signed[1], "kh.pdf", trust=trust)
    wall = time.perf_counter() - start
    assert inspection.signatures and inspection.signatures[0].status == "valid"
    assert {"text", "fields", "marks", "signatures"} <= set(seconds) <= set(STAGES)
    assert all(seconds[name] > 0 for name in ("text", "fields", "marks", "signatures"))
    assert sum(seconds.values()) <= wall


def test_ocr_inside_reading_a_scan_is_not_counted_twice(scan_corpus):
    scan = next(item.path for item in scan_corpus if item.variant == "scan300")
    start = time.perf_counter()
    with record_stages() as seconds:
        inspection = inspect_bytes(scan.read_bytes(), scan.name)
    wall = time.perf_counter() - start
    assert inspection.text.text_source == "ocr"
    assert seconds["ocr"] > 0 and seconds["text"] > 0
    # OCR is most of reading a scan: counted inside "text" as well, the sum would pass the wall.
    assert sum(seconds.values()) <= wall


def test_a_batch_item_records_every_stage_up_to_the_verdict(tmp_path, signed, pki):
    spec, data = signed
    trust_dir = pki.write_trust_dir(tmp_path / "trust")
    settings = Settings(data_dir=tmp_path / "data", trust_roots=[trust_dir], database_url=None,
                        broker_url=None, webhook_secret=None)
    trust = TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))
    with open_store(settings) as store:
        row = store.put_document(data, "kh.pdf", unit=spec.agency.unit_name)
        batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=2024,
                                items=[NewBatchItem(spec.agency.unit_name, spec.agency.level,
                                                    "2.2", (row.sha256,))])
        item = store.batch_items(batch_id)[0]
        start = time.perf_counter()
        with record_stages() as seconds:
            process_item(store, item, load_ruleset("hue-2024"), trust)
        wall = time.perf_counter() - start
    assert {"text", "fields", "marks", "signatures", "verdict"} <= set(seconds)
    assert all(value > 0 for value in seconds.values())
    assert sum(seconds.values()) <= wall
