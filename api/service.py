"""From evidence to verdict, once for every face of the service: the CLI, the HTTP routes and
the batch workers call these and nothing below them.

    route / command / worker → service → extractors.pipeline → verifier.evaluate → checks

- trust: `load_trust_roots` (the settings' roots, the imported ones, and any extra);
- inspection: `inspect_document` (a stored document, through the cache of inspections) and
  `inspect_files` (files on disk, for the CLI), both collecting the unreadable files with their
  reason instead of failing the whole verdict;
- read-whole retries: `read_whole_from_store` / `read_whole_from_files`, for a scan read only
  in its header and signer area when a check needs the rest;
- uploads: `upload_document` (store the bytes and read them, as a key may see them) and
  `document_name` (the name a key knows a stored document by);
- `verify` (one criterion of one unit), `verify_stored` (the same from stored documents, for
  a key, saved) and `score` (every criterion of every unit, totals);
- `in_force` (a verdict, or its last override) and `flagged_items` (the verdicts a person
  should look at, filterable);
- `batch_report`: a batch's report rows and totals, read from the store;
- `reused_evidence`: the same document handed in again under other bytes (fingerprints are
  recorded when a document is first read).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from kiemchung.api.access import acting_level, acting_unit, unit_scope, visible_document
from kiemchung.api.store import NotFound, Store, verdict_flags
from kiemchung.api.store import reuse as fingerprints
from kiemchung.api.store.tables import ApiKey, ItemState, OverrideRow, VerdictRow
from kiemchung.extractors.signatures import TrustStore, fingerprint_sha256, load_trust
from kiemchung.models.errors import InputFileError, KiemchungError
from kiemchung.models.inspection import Inspection
from kiemchung.models.records import (
    EXTRACTOR_VERSION,
    RECORD_FORMAT,
    RecordError,
    inspection_from_record,
    inspection_to_record,
)
from kiemchung.models.timing import stage
from kiemchung.models.verdicts import Verdict, points_value
from kiemchung.verifier import reports
from kiemchung.verifier.evaluate import EvaluationContext, UnreadableFile, evaluate_criterion
from kiemchung.verifier.reuse import ReusePair, Submission, find_reuse, involving
from kiemchung.verifier.ruleset import Level, RuleSet, load_ruleset
from kiemchung.verifier.scoring import UnitTotal, evaluate_units
from kiemchung.verifier.settings import Settings

ReadWhole = Callable[[Inspection], Inspection]


@dataclasses.dataclass
class Evidence:
    """A criterion's files as read: the inspections, and the files that could not be read
    (they count as unreadable evidence, named with the reason)."""

    inspections: list[Inspection] = dataclasses.field(default_factory=list)
    unreadable: list[UnreadableFile] = dataclasses.field(default_factory=list)

    def add(self, other: Evidence) -> None:
        self.inspections += other.inspections
        self.unreadable += other.unreadable


# -- trust ------------------------------------------------------------------------------------

def load_trust_roots(settings: Settings, extra: Iterable[Path] = ()) -> TrustStore:
    """Trust roots from the settings, the imported ones (`kiemchung trust add`) and `extra`."""
    imported = [settings.trust_dir] if settings.trust_dir.is_dir() else []
    return load_trust(list(settings.trust_roots) + imported + list(extra))


# -- inspection -------------------------------------------------------------------------------

def extraction_key(trust: TrustStore, ocr_dpi: int, *, whole_text: bool = False) -> str:
    """What an inspection depends on besides the bytes. Trust decides `signatures[].trusted`,
    the dpi what OCR reads, and `whole_text` whether a scan was read beyond its header and
    signer area: all are part of the cache key."""
    anchors = sorted(fingerprint_sha256(c) for c in trust.roots + trust.intermediates)
    digest = hashlib.sha256("\n".join(anchors).encode()).hexdigest()[:16]
    return f"{EXTRACTOR_VERSION}/dpi{ocr_dpi}/trust-{digest}" + ("/whole" if whole_text else "")


def inspect_document(store: Store, sha256: str, trust: TrustStore, *, name: str | None = None,
                     ocr_dpi: int = 300, whole_text: bool = False,
                     read_in_part: Inspection | None = None) -> Inspection:
    """The stored document's inspection: from the cache when these bytes were read before
    with the same extractors, trust and dpi (a whole reading serves for a partial one); else
    read now and cached. A file that cannot be read raises InputFileError, also from the
    cache."""
    whole_key = extraction_key(trust, ocr_dpi, whole_text=True)
    keys = [whole_key] if whole_text else [whole_key, extraction_key(trust, ocr_dpi)]
    for key in keys:
        record = store.get_inspection(sha256, key)
        if record is None:
            continue
        if "unreadable" in record:
            raise InputFileError(record["unreadable"])
        with contextlib.suppress(RecordError):
            inspection = inspection_from_record(record)
            return dataclasses.replace(inspection, file=name) if name else inspection
    # MuPDF, pyHanko and Tesseract are loaded only where a file is really read.
    from kiemchung.extractors.pipeline import inspect_bytes

    data = store.document_bytes(sha256)
    try:
        inspection = inspect_bytes(data, name or sha256, trust=trust, ocr_dpi=ocr_dpi,
                                   whole_text=whole_text, read_in_part=read_in_part)
    except InputFileError as error:
        store.save_inspection(sha256, whole_key, {"format": RECORD_FORMAT,
                                                  "unreadable": error.message})
        raise
    # Read whole, or nothing left unread (a text layer): it serves both kinds of request.
    key = whole_key if whole_text or not inspection.text.partial else keys[-1]
    store.save_inspection(sha256, key, inspection_to_record(inspection))
    fingerprints.record_fingerprint(store, sha256, data, inspection)     # for reused evidence
    return inspection


def inspect_fresh(data: bytes, name: str, trust: TrustStore, *, ocr_dpi: int) -> Inspection:
    """Read the bytes now, whatever the cache holds (for a unit whose answer must not show
    that another unit uploaded the same bytes first)."""
    from kiemchung.extractors.pipeline import inspect_bytes

    return inspect_bytes(data, name, trust=trust, ocr_dpi=ocr_dpi)


def inspect_stored(store: Store, documents: Iterable[tuple[str, str]], trust: TrustStore, *,
                   ocr_dpi: int) -> Evidence:
    """The stored documents, given as (sha256, name) pairs, read through the cache."""
    return _collect((name, functools.partial(inspect_document, store, sha, trust, name=name,
                                             ocr_dpi=ocr_dpi)) for sha, name in documents)


def inspect_files(paths: Sequence[Path], trust: TrustStore, *, ocr_dpi: int) -> Evidence:
    """Files on disk. A path that does not exist is a mistake on the command line, not
    evidence: InputFileError, before anything is read."""
    from kiemchung.extractors.pipeline import inspect_file

    for path in paths:
        if not path.exists():
            raise InputFileError(f"{path}: no such file")
    return _collect((str(path), functools.partial(inspect_file, path, trust=trust,
                                                  ocr_dpi=ocr_dpi)) for path in paths)


def _collect(reads: Iterable[tuple[str, Callable[[], Inspection]]]) -> Evidence:
    evidence = Evidence()
    for name, read in reads:
        try:
            evidence.inspections.append(read())
        except InputFileError as error:
            evidence.unreadable.append(UnreadableFile(name, error.message))
        except NotFound:
            evidence.unreadable.append(UnreadableFile(name, "not in the document store"))
    return evidence


def read_whole_from_store(store: Store, trust: TrustStore, ocr_dpi: int) -> ReadWhole:
    """For `EvaluationContext.read_whole`: the same stored document, read whole (the rest of
    what was read in part)."""
    return lambda partial: inspect_document(store, partial.text.sha256, trust,
                                            name=partial.file, ocr_dpi=ocr_dpi, whole_text=True,
                                            read_in_part=partial)


def read_whole_from_files(trust: TrustStore, ocr_dpi: int) -> ReadWhole:
    """For `EvaluationContext.read_whole`: the file an inspection was read from, read whole."""
    from kiemchung.extractors.pipeline import inspect_file

    return lambda partial: inspect_file(Path(partial.file), trust=trust, ocr_dpi=ocr_dpi,
                                        whole_text=True, read_in_part=partial)


def upload_name(store: Store, sha256: str, unit: str) -> str:
    """The name the unit uploaded the document under (checks cite it in their messages)."""
    document = store.get_document(sha256)
    mine = [u.name for u in document.uploads if u.unit == unit]
    return (mine or document.names or [sha256])[0]


# -- uploads ----------------------------------------------------------------------------------

def uploaded_elsewhere(store: Store, sha256: str, unit: str) -> bool:
    """The bytes are stored, and this unit never uploaded them."""
    try:
        store.get_document(sha256)
    except NotFound:
        return False
    return unit not in store.document_units(sha256)


def upload_document(store: Store, trust: TrustStore, key: ApiKey, data: bytes, name: str, *,
                    unit: str | None, ocr_dpi: int) -> tuple[str, Inspection]:
    """Store the bytes once (by SHA-256) for `unit` and read them: (sha256, inspection). The
    same bytes uploaded again are not read again, but for a unit key whose unit had not
    uploaded them: its answer must not tell that another unit did."""
    scope = unit_scope(key)
    reread = scope is not None and uploaded_elsewhere(store, hashlib.sha256(data).hexdigest(),
                                                      scope)
    row = store.put_document(data, name, unit=unit, uploaded_by=key.id)
    if reread:
        # Bytes only other units uploaded are read again for this unit, not taken from the
        # cache: a cached answer comes ~10x sooner and would tell the unit that the document
        # exists elsewhere (and an unreadable one's cached message names the other upload).
        return row.sha256, inspect_fresh(data, name, trust, ocr_dpi=ocr_dpi)
    return row.sha256, inspect_document(store, row.sha256, trust, name=name, ocr_dpi=ocr_dpi)


def document_name(store: Store, key: ApiKey, sha256: str, unit: str | None = None) -> str:
    """The name the document was uploaded under: the unit's own upload first (checks cite
    it), never another unit's name to a unit key."""
    uploads = store.get_document(sha256).uploads
    unit = unit or unit_scope(key)
    mine = [u.name for u in uploads if u.unit == unit]
    if unit_scope(key) is None:
        mine += [u.name for u in uploads]
    return (mine or [sha256])[0]


# -- verdicts ---------------------------------------------------------------------------------

def in_force(row: VerdictRow, overrides: list[OverrideRow]) -> dict:
    """The last override if there is one, else the verifier's own verdict."""
    if overrides:
        last = overrides[-1]
        return {"status": last.status, "points": points_value(last.points),
                "override_id": last.id}
    return {"status": row.status, "points": points_value(row.points), "override_id": None}


def flagged_items(store: Store, *, unit: str | None = None, criterion: str | None = None,
                  check: str | None = None, status: str | None = None,
                  only_flagged: bool = True, after_id: int = 0,
                  limit: int | None = None, batch: str | None = None) -> list[dict]:
    """Verdicts in id order with why they are flagged; with `only_flagged=False`, every
    verdict matching the filters. `check` keeps the verdicts where that check failed or
    needs review; `batch` those the batch of this id gave."""
    def has_check(row: VerdictRow) -> bool:
        doubtful = verdict_flags(row.status, row.verdict.get("checks", []))[1]
        return any(c.get("name") == check for c in doubtful)

    items: list[dict[str, Any]] = []
    for row, batch_id in store.find_verdicts(unit=unit, criterion=criterion, status=status,
                                             only_flagged=only_flagged, after_id=after_id,
                                             keep=has_check if check is not None else None,
                                             limit=limit, batch=batch):
        flags, doubtful = verdict_flags(row.status, row.verdict.get("checks", []))
        items.append({"verdict_id": row.id, "unit": row.unit, "level": row.level,
                      "year": row.year, "criterion": row.criterion, "ruleset": row.ruleset_id,
                      "status": row.status, "points": points_value(row.points),
                      "max_points": points_value(row.max_points), "flags": flags,
                      "problem_checks": doubtful, "batch_id": batch_id,
                      "created_at": row.created_at, "row": row})
    overrides = store.overrides_by_verdict([item["verdict_id"] for item in items])
    for item in items:
        item["in_force"] = in_force(item.pop("row"), overrides.get(item["verdict_id"], []))
    return items



def verify_stored(store: Store, trust: TrustStore, key: ApiKey, *, ruleset_id: str,
                  criterion: str, level: Level | str, unit: str | None, year: int,
                  documents: Sequence[str], ocr_dpi: int) -> VerdictRow:
    """One criterion of one unit from stored documents, as `key` may ask for it (its own
    unit and level, documents it sees), saved: the API's POST /v1/verdicts and the check
    page."""
    unit = acting_unit(key, unit)
    acting_level(key, level)
    ruleset = load_ruleset(ruleset_id)
    criterion_id = ruleset.criterion(criterion).id
    for sha256 in documents:
        visible_document(store, key, sha256)
    names = [(sha256, document_name(store, key, sha256, unit)) for sha256 in documents]
    evidence = inspect_stored(store, names, trust, ocr_dpi=ocr_dpi)
    verdict = verify(ruleset, criterion_id, level, unit, year, evidence,
                     read_whole=read_whole_from_store(store, trust, ocr_dpi))
    return store.save_verdict(verdict, documents)


def verify(ruleset: RuleSet, criterion: str, level: Level | str, unit: str | None, year: int,
           evidence: Evidence, *, read_whole: ReadWhole | None,
           seen: frozenset[tuple[str, str, str]] = frozenset()) -> Verdict:
    """One criterion of one unit from its evidence; `seen` is every (sha256, unit, criterion)
    of the batch, so that a file handed in elsewhere is caught."""
    context = EvaluationContext(seen=seen, unreadable=tuple(evidence.unreadable),
                                read_whole=read_whole)
    with stage("verdict"):
        return evaluate_criterion(ruleset, criterion, level, unit, year, evidence.inspections,
                                  context=context)


def score(ruleset: RuleSet, year: int, evidence: dict[tuple[str, str], dict[str, Evidence]], *,
          read_whole: ReadWhole | None
          ) -> tuple[list[UnitTotal], dict[tuple[str, str], list[Verdict]]]:
    """Every criterion of every unit's level from {(unit, level): {criterion: evidence}}; then
    the totals, ranks and bands."""
    return evaluate_units(ruleset, year, {
        key: {criterion: (e.inspections, e.unreadable) for criterion, e in per_criterion.items()}
        for key, per_criterion in evidence.items()}, read_whole=read_whole)


# -- reports ----------------------------------------------------------------------------------

def batch_report_rows(store: Store, batch_id: str) -> list[reports.ReportRow]:
    """One row per item of the batch, in the order submitted."""
    rows = []
    for item in store.batch_items(batch_id):
        files = tuple(upload_name(store, sha, item.unit) for sha in item.documents)
        if item.state == ItemState.DONE and item.verdict_id is not None:
            verdict = store.get_verdict(item.verdict_id)
            status, points, override = verdict.status, verdict.points, ""
            overrides = store.verdict_overrides(verdict.id)
            if overrides:
                last = overrides[-1]
                status, points = last.status, last.points
                override = (f"{last.reason} (was {verdict.status} "
                            f"{points_value(verdict.points)})")
            rows.append(reports.ReportRow(
                item.unit, item.level, item.criterion, status, points, verdict.max_points,
                verdict.verdict.get("summary", ""), files,
                reports.failed_checks(verdict.verdict.get("checks", [])), override))
        else:
            status = reports.FAILED if item.state == ItemState.FAILED else str(item.state)
            rows.append(reports.ReportRow(item.unit, item.level, item.criterion, status, 0, 0,
                                          item.error or "", files))
    return rows


def batch_report(store: Store, batch_id: str, ruleset: RuleSet | None = None
                 ) -> tuple[list[reports.ReportRow], list[UnitTotal]]:
    """A batch's rows and its units' totals (no totals when its rule set is no longer
    installed): what `reports.csv_bytes`, `xlsx_bytes` and `write_report` write."""
    batch = store.get_batch(batch_id)
    rows = batch_report_rows(store, batch_id)
    try:
        ruleset = ruleset or load_ruleset(batch.ruleset_id)
    except KiemchungError:
        return rows, []
    return rows, reports.batch_totals(ruleset, rows, batch.year)


# -- reused evidence --------------------------------------------------------------------------

def reused_evidence(store: Store, *, year: int, unit: str | None = None) -> list[ReusePair]:
    """Pairs of different documents that are the same document (re-saved, re-scanned, lightly
    edited) handed in by two units, in two years, or by one unit for two criteria, with one
    side in `year` (and of `unit`, given one): `verifier.reuse.ReusePair`s, from every
    verdict's evidence. Documents read before fingerprints existed get theirs now, from their
    cached inspection."""
    uses = fingerprints.handed_in(store)
    known = fingerprints.get_fingerprints(store, (sha for sha, *_ in uses))
    names: dict[str, dict[str, str]] = {}
    submissions = []
    for sha, who, criterion, in_year in uses:
        if sha not in known:
            found = fingerprints.fingerprint_from_cache(store, sha)
            if found is None:
                continue
            known[sha] = found
        if sha not in names:
            with contextlib.suppress(NotFound):
                document = store.get_document(sha)
                names[sha] = {u.unit or "": u.name for u in reversed(document.uploads)}
        shown = names.get(sha, {})
        fp, facts = known[sha]
        submissions.append(Submission(sha, who, criterion, in_year, facts, fp,
                                      name=shown.get(who) or next(iter(shown.values()), "")))
    return involving(find_reuse(submissions), year=year, unit=unit)
