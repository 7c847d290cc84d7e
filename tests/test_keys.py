"""API keys on SQLite and PostgreSQL: hashed at rest, revocable, a unit key bound to its unit;
and `kiemchung keys` as an operator runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect as schema_of
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kiemchung.api.store import NotFound, StoreError, open_store
from kiemchung.api.store.keys import authenticate, create_key, list_keys, revoke_key
from kiemchung.api.store.tables import Role
from tests.helpers import UNIT

# The same databases as the store's tests (conftest's `settings` and `store`): SQLite, and
# PostgreSQL in a fresh schema.


def everything_stored(store) -> str:
    """Every value of every table, as text."""
    with store.engine.connect() as connection:
        return "\n".join(str(row) for table in schema_of(connection).get_table_names()
                         for row in connection.execute(text(f"SELECT * FROM {table}")))


def test_only_the_hash_of_the_token_is_stored(store, settings):
    token, key = create_key(store, "Cổng DTI tỉnh", Role.PORTAL)
    assert token.startswith("kc_") and len(token) > 40
    assert key.key_hash != token and len(key.key_hash) == 64
    assert token not in everything_stored(store)
    assert key.key_hash in everything_stored(store)
    if settings.database_url is None:        # SQLite: not in the file's bytes either
        store.close()
        raw = b"".join(p.read_bytes() for p in settings.data_dir.glob("kiemchung.sqlite3*"))
        assert token.encode() not in raw and key.key_hash.encode() in raw


def test_authenticate_finds_the_key_and_refuses_others(store):
    token, key = create_key(store, "thẩm định viên", "appraiser")
    other_token, _ = create_key(store, "kiểm toán", "auditor")
    assert authenticate(store, token).id == key.id
    assert authenticate(store, other_token).role == "auditor"
    for wrong in (None, "", token[:-1], token + "x", "kc_" + "A" * 43):
        assert authenticate(store, wrong) is None


def test_a_revoked_key_is_refused_and_the_revocation_audited(store):
    token, key = create_key(store, "old portal", "portal")
    revoked = revoke_key(store, key.id)
    assert revoked.revoked and authenticate(store, token) is None
    assert revoke_key(store, key.id).revoked_at == revoked.revoked_at      # revoking twice
    assert [e.action for e in store.audit_entries(subject=f"key:{key.id}")] == \
        ["key.create", "key.revoke"]
    assert [k.id for k in list_keys(store, include_revoked=False)] == []
    with pytest.raises(NotFound):
        revoke_key(store, 999)


def test_a_unit_key_carries_its_unit_and_only_unit_keys_do(store):
    token, _ = create_key(store, "Phú Vang", "unit", unit=f"  {UNIT} ")
    assert authenticate(store, token).unit == UNIT
    with pytest.raises(StoreError, match="needs the unit"):
        create_key(store, "no unit", "unit")
    with pytest.raises(StoreError, match="only keys with the role unit"):
        create_key(store, "admin", "admin", unit=UNIT)
    with pytest.raises(StoreError, match="unknown role"):
        create_key(store, "boss", "boss")
    # The database holds the same rule, whoever writes to it.
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(text("INSERT INTO api_keys (name, role, unit, key_hash, created_at)"
                                " VALUES ('x', 'unit', NULL, 'h', CURRENT_TIMESTAMP)"))


def test_keys_commands(settings, tmp_path):
    exe = shutil.which("kiemchung", path=str(Path(sys.executable).parent)) or "kiemchung"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIEMCHUNG_")}
    env.update(KIEMCHUNG_DATA_DIR=str(settings.data_dir), COLUMNS="250")
    if settings.database_url:
        env["KIEMCHUNG_DATABASE_URL"] = settings.database_url

    def kiemchung(*args):
        return subprocess.run([exe, "keys", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    created = kiemchung("create", "Phú Vang", "--role", "unit", "--unit", UNIT)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    listed = kiemchung("list")
    assert listed.returncode == 0 and UNIT in listed.stdout and token not in listed.stdout
    with open_store(settings) as store:
        key = authenticate(store, token)
        assert (key.name, key.role, key.unit) == ("Phú Vang", "unit", UNIT)
    assert kiemchung("revoke", str(key.id)).returncode == 0
    with open_store(settings) as store:
        assert authenticate(store, token) is None
    refused = kiemchung("create", "x", "--role", "unit")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "kiemchung: a key with the role unit needs the unit it " \
                                     "acts for"
    assert kiemchung("revoke", "999").returncode == 2
