"""Retries never duplicate: the same upload twenty times at once is one document with one name;
an `Idempotency-Key` on a batch or a verdict gives the first answer again; a batch submitted
while the broker is away is accepted (202 with its id) and kept queued for the sweep. Each test
runs on SQLite and on this machine's PostgreSQL, over the real HTTP app."""

from __future__ import annotations

import datetime as dt
import io
import threading
import zipfile

import pytest
from sqlalchemy import func, select, text

from kiemchung.api.http.idempotency import fingerprint
from kiemchung.api.http.schemas import BatchCreate
from kiemchung.api.store.keys import authenticate
from kiemchung.api.store.tables import BatchRow, IdempotentRequest, ItemState, VerdictRow
from samples.render import render_pdf
from tests.helpers import (
    UNIT,
    Service,
    assert_problem,
    plan_spec,
    postgres_schema,
    service_settings,
)

UPLOADERS = 20


@pytest.fixture(scope="module")
def pki():
    from samples.pki import DemoPKI

    return DemoPKI.create("idempotency-tests")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def service(database_url, tmp_path, pki):
    """Start the app (settings as given) on this test's database; stopped afterwards."""
    started = []

    def make(**settings) -> Service:
        running = Service(service_settings(tmp_path, pki, database_url=database_url,
                                           **settings))
        running.client.__enter__()
        started.append(running)
        return running

    yield make
    for running in started:
        running.client.__exit__(None, None, None)
        running.store.close()


def count(store, model, *where) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# -- finding 5: the same upload, twenty at once --------------------------------------------------

@pytest.mark.parametrize("role", ["unit", "appraiser"])
def test_twenty_parallel_uploads_of_one_file_are_one_document_and_one_name(service, role):
    running = service()
    data = render_pdf(plan_spec(dt.date(2024, 2, 1), seed=4))
    # Read once before: the twenty find the inspection cached, so they race on the name only.
    assert running.upload(role, data, name="first.pdf").status_code == 200
    start = threading.Barrier(UPLOADERS)
    answers: list = [None] * UPLOADERS

    def upload(index: int) -> None:
        start.wait()
        answers[index] = running.upload(role, data, name="kế hoạch mới.pdf")

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * UPLOADERS, \
        [a.text for a in answers if a.status_code != 200][:1]
    assert len({a.json()["sha256"] for a in answers}) == 1
    with running.store.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM documents")) == 1
        assert connection.scalar(text("SELECT count(*) FROM document_names")) == 2


# -- finding 3: a batch while the broker is away -------------------------------------------------

def manifest(sha: str, criterion: str = "2.1") -> dict:
    return {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": UNIT, "level": "huyen", "criterion": criterion, "documents": [sha]}]}


def uploaded(running, seed: int = 3) -> str:
    data = render_pdf(plan_spec(dt.date(2024, 1, 15), seed=seed))
    response = running.upload("unit", data)
    assert response.status_code == 200, response.text
    return response.json()["sha256"]


def test_a_batch_without_a_reachable_broker_is_accepted_and_kept_for_the_sweep(service):
    """No more 422 for a batch that was stored: 202 with its id, items queued and not sent."""
    running = service(broker_url="redis://127.0.0.1:1/0")
    sha = uploaded(running)
    accepted = running.client.post("/v1/batches", headers=running.auth("unit"),
                                   json=manifest(sha))
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    [item] = running.store.batch_items(batch_id)
    assert item.state == ItemState.QUEUED and item.sent_at is None    # for the sweep to send
    assert count(running.store, BatchRow) == 1


# -- Idempotency-Key ------------------------------------------------------------------------------

def test_a_retried_batch_with_its_key_is_the_same_batch(service):
    running = service(broker_url="redis://127.0.0.1:1/0")    # no local pool: nothing runs
    sha = uploaded(running)
    headers = {**running.auth("unit"), "Idempotency-Key": "portal-batch-0001"}
    first = running.client.post("/v1/batches", headers=headers, json=manifest(sha))
    again = running.client.post("/v1/batches", headers=headers, json=manifest(sha))
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert count(running.store, BatchRow) == 1
    # The same key with another body is a mistake of the client, said so.
    other = running.client.post("/v1/batches", headers=headers, json=manifest(sha, "1.2"))
    problem = assert_problem(other, 422, mentions="different request")
    assert problem["type"].endswith("idempotency-key-reused")
    # Keys are per API key: another key's identical key is another request.
    appraiser = {**running.auth("appraiser"), "Idempotency-Key": "portal-batch-0001"}
    theirs = running.client.post("/v1/batches", headers=appraiser, json=manifest(sha))
    assert theirs.status_code == 202 and theirs.json() != first.json()
    assert count(running.store, BatchRow) == 2
    assert_problem(running.client.post("/v1/batches", json=manifest(sha), headers={
        **running.auth("unit"), "Idempotency-Key": "x" * 201}), 422, mentions="Idempotency-Key")


def test_a_retried_zip_batch_with_its_key_is_the_same_batch(service):
    running = service(broker_url="redis://127.0.0.1:1/0")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{UNIT}/2.1/ke-hoach.pdf",
                        render_pdf(plan_spec(dt.date(2024, 1, 15), seed=8)))
    headers = {**running.auth("unit"), "Idempotency-Key": "zip-2024"}

    def send():
        # Each send has its own multipart boundary: the fingerprint is of the content.
        return running.client.post("/v1/batches", headers=headers, data={
            "ruleset": "hue-2024", "year": "2024"},
            files={"file": ("dti-2024.zip", archive.getvalue(), "application/zip")})

    first, again = send(), send()
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json() and count(running.store, BatchRow) == 1


def test_a_request_still_being_answered_is_a_409_and_a_failed_one_can_be_retried(service):
    running = service(broker_url="redis://127.0.0.1:1/0")
    sha = uploaded(running)
    owner = authenticate(running.store, running.tokens["unit"])
    # A first request with this key is running right now (reserved, not answered).
    content = BatchCreate.model_validate(manifest(sha)).model_dump(mode="json")
    assert running.store.reserve_request(owner.id, "batches", "busy",
                                         fingerprint(content)) is None
    headers = {**running.auth("unit"), "Idempotency-Key": "busy"}
    busy = running.client.post("/v1/batches", headers=headers, json=manifest(sha))
    assert_problem(busy, 409, mentions="still being processed")
    # A request refused (unknown criterion) keeps nothing: the corrected retry goes through.
    headers["Idempotency-Key"] = "fixed-later"
    refused = running.client.post("/v1/batches", headers=headers, json=manifest(sha, "7.7"))
    assert_problem(refused, 422)
    assert count(running.store, IdempotentRequest, IdempotentRequest.key == "fixed-later") == 0
    assert running.client.post("/v1/batches", headers=headers,
                               json=manifest(sha, "7.7")).status_code == 422


def test_a_retried_verdict_with_its_key_is_the_same_verdict(service):
    running = service()
    sha = uploaded(running)
    headers = {**running.auth("unit"), "Idempotency-Key": "verdict-2.1"}
    body = {"ruleset": "hue-2024", "criterion": "2.1", "level": "huyen", "year": 2024,
            "unit": UNIT, "documents": [sha]}
    first = running.client.post("/v1/verdicts", headers=headers, json=body)
    again = running.client.post("/v1/verdicts", headers=headers, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.json()["id"] == first.json()["id"]
    assert count(running.store, VerdictRow) == 1
    read = running.client.get(f"/v1/verdicts/{first.json()['id']}", headers=running.auth("unit"))
    assert read.json() == first.json()
    assert_problem(running.client.post("/v1/verdicts", headers=headers,
                                       json={**body, "criterion": "1.2"}), 422,
                   mentions="different request")
    assert count(running.store, VerdictRow) == 1


def test_parallel_retries_with_one_key_make_one_batch(service):
    running = service(broker_url="redis://127.0.0.1:1/0")
    sha = uploaded(running)
    headers = {**running.auth("portal"), "Idempotency-Key": "impatient-client"}
    start = threading.Barrier(10)
    answers: list = [None] * 10

    def submit(index: int) -> None:
        start.wait()
        answers[index] = running.client.post("/v1/batches", headers=headers,
                                             json=manifest(sha))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each is the one answer, or told the first is still being processed: never a second batch.
    assert {a.status_code for a in answers} <= {202, 409}, [a.text for a in answers]
    assert len({a.json()["batch_id"] for a in answers if a.status_code == 202}) == 1
    assert count(running.store, BatchRow) == 1
