"""Fingerprints of stored documents (`document_fingerprints`) and what the reuse search reads:
every document handed in, by unit, criterion and year (from the verdicts).

A fingerprint is made once per document, when the service first reads it
(`record_fingerprint`); documents read before fingerprints existed get theirs from their
cached inspection the first time the reuse search needs them (`fingerprint_from_cache`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from kiemchung.api.store import NotFound, Store
from kiemchung.api.store.tables import DocumentFingerprintRow, InspectionRow, VerdictRow, utcnow
from kiemchung.extractors.fingerprint import FINGERPRINT_VERSION, Fingerprint, fingerprint
from kiemchung.models.inspection import Inspection
from kiemchung.models.records import RecordError, inspection_from_record
from kiemchung.verifier.reuse import Facts


def save_fingerprint(store: Store, sha256: str, fp: Fingerprint, facts: Facts) -> bool:
    """Keep a document's fingerprint; the first one stored wins (True when this one went in).
    A row of another fingerprint version is replaced."""
    values: dict[str, Any] = {
        "sha256": sha256, "extractor_version": fp.version,
        "minhash": list(fp.minhash) if fp.minhash is not None else None, "phash": fp.phash,
        "scanned": fp.scanned, "words": fp.words,
        "facts": {"number": facts.number, "issue_date": facts.issue_date,
                  "issuer": facts.issuer},
        "created_at": utcnow()}
    with store.session() as session:
        session.execute(delete(DocumentFingerprintRow).where(
            DocumentFingerprintRow.sha256 == sha256,
            DocumentFingerprintRow.extractor_version != fp.version))
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (insert(DocumentFingerprintRow).values(**values)
                     .on_conflict_do_nothing(index_elements=["sha256"])
                     .returning(DocumentFingerprintRow.sha256))
        return bool(session.connection().execute(statement).all())


def get_fingerprint(store: Store, sha256: str) -> tuple[Fingerprint, Facts] | None:
    """The document's fingerprint of the current version, or None."""
    return get_fingerprints(store, [sha256]).get(sha256)


def get_fingerprints(store: Store, sha256s: Iterable[str]
                     ) -> dict[str, tuple[Fingerprint, Facts]]:
    wanted = sorted(set(sha256s))
    out: dict[str, tuple[Fingerprint, Facts]] = {}
    with store.session() as session:
        for start in range(0, len(wanted), 500):
            rows = session.scalars(select(DocumentFingerprintRow).where(
                DocumentFingerprintRow.sha256.in_(wanted[start:start + 500]),
                DocumentFingerprintRow.extractor_version == FINGERPRINT_VERSION))
            for row in rows:
                fp = Fingerprint(minhash=tuple(row.minhash) if row.minhash is not None else None,
                                 phash=row.phash, scanned=row.scanned, words=row.words,
                                 version=row.extractor_version)
                facts = Facts(**{k: (row.facts or {}).get(k)
                                 for k in ("number", "issue_date", "issuer")})
                out[row.sha256] = (fp, facts)
    return out


def record_fingerprint(store: Store, sha256: str, data: bytes, inspection: Inspection) -> None:
    """Fingerprint a document just read (the service's hook), unless it has one already."""
    if get_fingerprint(store, sha256) is None:
        save_fingerprint(store, sha256, fingerprint(data, inspection.text), Facts.of(inspection))


def fingerprint_from_cache(store: Store, sha256: str) -> tuple[Fingerprint, Facts] | None:
    """For a document read before fingerprints existed: from its cached inspection (a whole
    reading first) and its bytes; None when it was never read or cannot be."""
    with store.session() as session:
        records = list(session.scalars(
            select(InspectionRow.inspection).where(InspectionRow.document_sha256 == sha256)
            .order_by(InspectionRow.extractor_version.like("%/whole").desc(),
                      InspectionRow.id.desc())))
    for record in records:
        if "unreadable" in record:
            return None
        try:
            inspection = inspection_from_record(record)
            data = store.document_bytes(sha256)
        except (RecordError, NotFound, OSError):
            continue
        record_fingerprint(store, sha256, data, inspection)
        return get_fingerprint(store, sha256)
    return None


def handed_in(store: Store) -> list[tuple[str, str, str, int]]:
    """Every (sha256, unit, criterion, year) a verdict was given on, once each."""
    with store.session() as session:
        rows = session.execute(select(VerdictRow.unit, VerdictRow.criterion, VerdictRow.year,
                                      VerdictRow.evidence))
        seen = {(sha, unit or "", criterion, year)
                for unit, criterion, year, evidence in rows for sha in evidence or ()}
    return sorted(seen)
