"""Who may change what. A production PostgreSQL with an owner role (migrations) and a run-time
role (`kiemchung db grant-runtime`) that cannot rewrite history; API keys that expire; a unit
key held to its unit's level; migration 0003 down and up again."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import time
import uuid
import zipfile

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from kiemchung.api.cli.main import app as cli
from kiemchung.api.store import NewBatchItem, StoreError, open_store
from kiemchung.api.store.keys import authenticate, create_key, list_keys
from kiemchung.api.store.migrations import alembic_config
from kiemchung.api.store.tables import utcnow
from kiemchung.models.verdicts import Verdict
from kiemchung.verifier.settings import Settings
from samples.render import render_pdf
from tests.helpers import (
    UNIT,
    Service,
    assert_problem,
    plan_spec,
    postgres_schema,
    service_settings,
)


@pytest.fixture(scope="module")
def pki():
    from samples.pki import DemoPKI

    return DemoPKI.create("roles-tests")


# -- the database roles of production ------------------------------------------------------------

@contextlib.contextmanager
def owner_and_runtime(url: str):
    """Two new login roles, a schema owned by the first; all dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    owner, runtime, schema = f"kc_owner_{suffix}", f"kc_runtime_{suffix}", f"kc_prod_{suffix}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {runtime} LOGIN"))
        connection.execute(text(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"))

    def as_role(role: str) -> str:
        return (make_url(url).set(username=role)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False))

    try:
        yield as_role(owner), as_role(runtime), runtime
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            for role in (runtime, owner):
                connection.execute(text(f"DROP OWNED BY {role}"))
                connection.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def verdict() -> Verdict:
    return Verdict(criterion="2.1", level="huyen", unit=UNIT, year=2024, points=0,
                   max_points=10, ruleset_id="hue-2024", ruleset_version="r1", summary="no plan")


def test_the_runtime_role_works_but_cannot_rewrite_history(postgres_url, tmp_path):
    with owner_and_runtime(postgres_url) as (owner_url, runtime_url, runtime):
        service = Settings(_env_file=None, data_dir=tmp_path, database_url=runtime_url)
        with pytest.raises(StoreError, match="run `kiemchung db upgrade` as the role owning"):
            open_store(service)                  # the run-time role may not migrate
        # The owner migrates and grants, as an operator would.
        granted = CliRunner().invoke(cli, ["db", "grant-runtime", runtime], env={
            "KIEMCHUNG_DATABASE_URL": owner_url, "KIEMCHUNG_DATA_DIR": str(tmp_path)})
        assert granted.exit_code == 0, granted.output
        assert "GRANT SELECT, INSERT ON" in granted.output
        with open_store(service) as store:       # at head already: opening changes nothing
            # What the service does at run time, all of it allowed.
            token, key = create_key(store, "portal", "portal")
            assert authenticate(store, token).id == key.id
            sha = store.put_document(b"%PDF-1.7 plan", "plan.pdf", unit=UNIT).sha256
            row = store.save_verdict(verdict(), [sha])
            store.override_verdict(row.id, "pass", 10, "paper copy seen", actor=key.id)
            batch = store.create_batch(key.id, "hue-2024", 2024,
                                       items=[NewBatchItem(UNIT, "huyen", "2.1", (sha,))])
            item = store.claim_next_item("w:1", utcnow() + dt.timedelta(minutes=5))
            store.finish_item(item.id, verdict())
            store.close_finished_batches()
            assert store.reserve_request(key.id, "batches", "k", "h") is None
            store.answer_request(key.id, "batches", "k", 202, {"batch_id": batch.id})
            store.audit(key.id, "sample.draw", "sample:1", {"seed": 1})
            # What would rewrite history, all of it refused by the database.
            for statement in ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
                              "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                              "UPDATE audit_log SET action = 'nothing happened'",
                              "DELETE FROM audit_log", "TRUNCATE audit_log",
                              "DROP TABLE audit_log",
                              "UPDATE verdicts SET points = 10", "DELETE FROM verdicts",
                              "TRUNCATE verdicts", "ALTER TABLE verdicts DISABLE TRIGGER ALL",
                              "UPDATE overrides SET reason = 'none'", "DELETE FROM overrides",
                              "CREATE TABLE audit_log_copy (id integer)"):
                with pytest.raises(DBAPIError, match="permission denied|must be owner"), \
                        store.engine.begin() as connection:
                    connection.execute(text(statement))
            assert [e.action for e in store.audit_entries()][-1] == "sample.draw"
            assert store.get_verdict(row.id).points == 0
        # A new version deployed before its migration: the run-time role says who must run it.
        owner = create_engine(make_url(owner_url).set(drivername="postgresql+psycopg"))
        with owner.begin() as connection:
            command.downgrade(alembic_config(connection=connection), "0002")
        owner.dispose()
        with pytest.raises(StoreError, match="run `kiemchung db upgrade` as the role owning"):
            open_store(service)


def test_grant_runtime_is_refused_on_sqlite(tmp_path):
    result = CliRunner().invoke(cli, ["db", "grant-runtime", "kiemchung"],
                                env={"KIEMCHUNG_DATABASE_URL": "",
                                     "KIEMCHUNG_DATA_DIR": str(tmp_path)})
    assert result.exit_code != 0 and "PostgreSQL" in result.output


# -- key expiry ----------------------------------------------------------------------------------

def test_an_expired_key_is_refused_with_a_clear_401(tmp_path, pki):
    check_expiry(Service(service_settings(tmp_path, pki)))


def test_an_expired_key_is_refused_on_postgresql(postgres_url, tmp_path, pki):
    with postgres_schema(postgres_url) as url:
        check_expiry(Service(service_settings(tmp_path, pki, database_url=url)))


def check_expiry(service: Service) -> None:
    try:
        with service.client:
            soon, key = create_key(service.store, "short", "portal",
                                   expires_at=utcnow() + dt.timedelta(seconds=1))
            later, _ = create_key(service.store, "long", "portal",
                                  expires_at=utcnow() + dt.timedelta(days=30))
            headers = {"Authorization": f"Bearer {soon}"}
            assert key.expires_at is not None
            assert service.client.get("/v1/flagged", headers=headers).status_code == 200
            time.sleep(max(0.0, (key.expires_at - utcnow()).total_seconds()) + 0.05)
            problem = assert_problem(service.client.get("/v1/flagged", headers=headers), 401,
                                     mentions="expired on")
            assert key.expires_at.strftime("%Y-%m-%d %H:%M UTC") in problem["detail"]
            assert authenticate(service.store, soon) is None
            assert service.client.get("/v1/flagged", headers={
                "Authorization": f"Bearer {later}"}).status_code == 200
            with pytest.raises(StoreError, match="already past"):
                create_key(service.store, "late", "portal",
                           expires_at=utcnow() - dt.timedelta(seconds=1))
    finally:
        service.store.close()


def test_keys_create_takes_an_expiry_date(tmp_path):
    env = {"KIEMCHUNG_DATA_DIR": str(tmp_path), "KIEMCHUNG_DATABASE_URL": ""}
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "portal", "--role", "portal",
                               "--expires", "2027-01-01"], env=env)
    assert made.exit_code == 0, made.output
    assert "expires 2027-01-01 00:00 UTC" in made.output
    listed = runner.invoke(cli, ["keys", "list"], env=env)
    assert "2027-01-01" in listed.output and "expires" in listed.output
    for wrong, says in (("2020-01-01", "already past"), ("soon", "not a date")):
        refused = runner.invoke(cli, ["keys", "create", "x", "--role", "portal",
                                      "--expires", wrong], env=env)
        assert refused.exit_code != 0 and says in refused.output, refused.output
    with open_store(Settings(_env_file=None, data_dir=tmp_path)) as opened:
        [key] = list_keys(opened)
        assert key.expires_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


# -- a unit key's level --------------------------------------------------------------------------

def test_a_unit_key_submits_at_its_own_level_only(tmp_path, pki):
    service = Service(service_settings(tmp_path, pki))
    try:
        with service.client:
            plan = render_pdf(plan_spec(dt.date(2024, 1, 15), seed=21))
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w") as zipped:
                zipped.writestr(f"{UNIT}/2.1/ke-hoach.pdf", plan)
            zipped_as_so = service.client.post(
                "/v1/batches", headers=service.auth("unit"),
                data={"ruleset": "hue-2024", "year": "2024", "level": "so"},
                files={"file": ("dti.zip", archive.getvalue(), "application/zip")})
            assert_problem(zipped_as_so, 403, mentions="whose level is huyen, not so")
            with service.store.engine.connect() as connection:   # nothing of it stored
                assert connection.scalar(text("SELECT count(*) FROM documents")) == 0
            sha = service.upload("unit", plan).json()["sha256"]
            item = {"unit": UNIT, "level": "so", "criterion": "2.1", "documents": [sha]}
            manifest = {"ruleset": "hue-2024", "year": 2024, "items": [item]}
            assert_problem(service.client.post("/v1/batches", headers=service.auth("unit"),
                                               json=manifest), 403, mentions="level")
            assert_problem(service.verify("unit", [sha], level="so"), 403, mentions="level")
            assert service.verify("unit", [sha]).status_code == 201        # huyen: its own
            with service.store.engine.connect() as connection:
                assert connection.scalar(text("SELECT count(*) FROM batches")) == 0
    finally:
        service.store.close()


# -- migration 0003 ------------------------------------------------------------------------------

def test_migration_0003_goes_down_and_up_keeping_keys_and_merging_names(store):
    """Down to 0002 (no expiry, no idempotency table, names unique only with a unit), where
    concurrent uploads could leave one name twice; up again: the duplicate is merged."""
    token, key = create_key(store, "portal", "portal",
                            expires_at=utcnow() + dt.timedelta(days=1))
    sha = store.put_document(b"%PDF-1.7 once", "plan.pdf").sha256
    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0002")
        tables = MetaData()
        names = Table("document_names", tables, autoload_with=connection)
        assert "expires_at" not in Table("api_keys", tables, autoload_with=connection).c
        assert not connection.dialect.has_table(connection, "idempotency_keys")
        connection.execute(names.insert(), [{"document_sha256": sha, "name": "plan.pdf",
                                             "unit": None, "created_at": utcnow()}])
        assert connection.scalar(text("SELECT count(*) FROM document_names")) == 2
        command.upgrade(alembic_config(connection=connection), "head")
        assert connection.scalar(text("SELECT count(*) FROM document_names")) == 1
    assert authenticate(store, token).id == key.id                 # kept, now without expiry
    store.put_document(b"%PDF-1.7 once", "plan.pdf")
    assert store.get_document(sha).names == ["plan.pdf"]
    assert store.reserve_request(key.id, "verdicts", "k", "h") is None
