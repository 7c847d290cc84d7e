"""Where a batch's evidence comes from: a folder or a manifest CSV (read as `kiemchung score`
reads them), or a ZIP archive laid out unit/criterion/files, as units upload it.

Every file is stored content-addressed (`Store.put_document`), and the batch gets one item per
criterion of each unit's level: a criterion without files is judged too ("no evidence file"),
so the totals are those `kiemchung score` gives.

A ZIP comes from outside and is read entry by entry, defensively. A refused entry is reported
with its reason and the others go on:
- a path going up (`..`) or absolute (`/…`, `C:\\…`, `\\\\server\\…`): zip slip. Nothing is ever
  written under an entry's name, but such an archive is not a unit's honest upload;
- past `max_total_bytes` unpacked in all, or more than `max_entries` entries (the whole archive
  is refused: its directory alone is the attack);
- a declared size over `max_file_bytes`, or unpacked/packed size over `max_ratio`: a bomb. The
  sizes are measured while reading in bounded chunks too, since a header can lie;
- encrypted, a symbolic link, damaged (bad CRC), not laid out unit/criterion/file, an unknown
  unit level or criterion, a name with a control character (NUL…) or longer than the database
  keeps, or not a PDF or image: by its name, then by its bytes (empty, HTML, random bytes named
  `.pdf`), the check `POST /v1/documents` makes. Nothing of a refused entry is stored.
Names are UTF-8 when the entry says so (flag bit 11, or an Info-ZIP Unicode path field), else
CP437 — unless the bytes are valid UTF-8, as tools writing UTF-8 without the flag leave them —
then NFC, so "Phú Vang" typed on macOS (NFD) and on Windows (NFC) is one unit.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from kiemchung.api.jobs.batches import Refusal
from kiemchung.api.store import NewBatchItem, Store
from kiemchung.extractors.reader import describe_unsupported, detect_kind, display_name
from kiemchung.models.document import nfc
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.verifier.evidence import (
    EVIDENCE_SUFFIXES,
    EvidenceLayoutError,
    _level_of,
    evidence_from_folder,
    evidence_from_manifest,
)
from kiemchung.verifier.ruleset import Level, RuleSet

CHUNK = 64 * 1024
IGNORED = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$|\._)", re.IGNORECASE)
UNICODE_PATH_FIELD = 0x7075
# The longest unit and file names the database keeps (batch_items.unit, document_names.name).
MAX_UNIT_CHARS = 300
MAX_NAME_CHARS = 500


class BatchInputError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


class OtherUnitsError(BatchInputError):
    """An archive names units the submitter may not act for; nothing of it was stored."""


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 10_000
    max_total_bytes: int = 2 * 1024**3
    max_file_bytes: int = 50 * 1024**2
    max_ratio: float = 100.0


@dataclass(frozen=True)
class StoredFile:
    unit: str
    level: str
    criterion: str
    name: str
    sha256: str


@dataclass(frozen=True)
class BatchInput:
    units: tuple[tuple[str, str], ...]        # (unit, level) of every unit, with files or not
    files: tuple[StoredFile, ...]
    refused: tuple[Refusal, ...] = ()

    def items(self, ruleset: RuleSet) -> list[NewBatchItem]:
        return batch_items(ruleset, self.units, self.files)


def batch_items(ruleset: RuleSet, units, files) -> list[NewBatchItem]:
    """One item per criterion of each unit's level, with that unit's files for it."""
    items = []
    for unit, level in units:
        for criterion in ruleset.criteria(Level(level)):
            documents = tuple(f.sha256 for f in files
                              if (f.unit, f.criterion) == (unit, criterion.id))
            items.append(NewBatchItem(unit, level, criterion.id, documents))
    return items


def content_refusal(data: bytes) -> str | None:
    """Why these bytes are not evidence (empty, neither PDF nor image), else None: the check
    made before anything is stored, for an upload and for a ZIP entry alike."""
    if not data:
        return "the file is empty (0 bytes)"
    if detect_kind(data) is None:
        return describe_unsupported(data)
    return None


def has_control_character(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def batch_from_path(store: Store, source: Path, ruleset: RuleSet, level: Level | None = None,
                    *, limits: ZipLimits = ZipLimits(),
                    uploaded_by: int | None = None) -> BatchInput:
    """A folder, a manifest `.csv` or a `.zip`."""
    if source.is_file() and source.suffix.lower() == ".zip":
        with source.open("rb") as handle:
            return batch_from_zip(store, handle, ruleset, level, limits=limits,
                                  uploaded_by=uploaded_by)
    if source.suffix.lower() == ".csv":
        layout = evidence_from_manifest(source, ruleset, level)
    elif source.is_dir():
        layout = evidence_from_folder(source, ruleset, level)
    else:
        raise BatchInputError(f"{source}: not a folder, a manifest .csv or a .zip archive")
    files, refused = [], []
    for item in layout.files:
        unit_level = item.level.value
        try:
            size = item.path.stat().st_size
            if size > limits.max_file_bytes:
                raise _Refused(f"{size} bytes, over the limit of {limits.max_file_bytes}")
            data = item.path.read_bytes()
        except (OSError, _Refused) as error:
            reason = str(error) if isinstance(error, _Refused) else \
                f"cannot be read ({error.strerror or error})"
            refused.append(Refusal(item.unit, unit_level, item.criterion, item.path.name, reason))
            continue
        row = store.put_document(data, item.path.name, unit=item.unit, uploaded_by=uploaded_by)
        files.append(StoredFile(item.unit, unit_level, item.criterion, item.path.name,
                                row.sha256))
    units = tuple((unit, lv.value) for unit, lv in layout.units)
    return BatchInput(units, tuple(files), tuple(refused))


class _Refused(Exception):
    """An entry not taken, with the reason."""


def batch_from_zip(store: Store, archive: bytes | BinaryIO, ruleset: RuleSet,
                   level: Level | None = None, *, limits: ZipLimits = ZipLimits(),
                   uploaded_by: int | None = None, only_unit: str | None = None) -> BatchInput:
    """The archive's entries stored and laid out as batch items; refused entries carry their
    reason. With `only_unit`, an archive with another unit's folder is refused whole, before
    anything is stored."""
    if isinstance(archive, bytes | bytearray):
        archive = io.BytesIO(archive)
    try:
        zipped = zipfile.ZipFile(archive)
    except UnicodeDecodeError:
        # zipfile decodes the whole directory at once: one lying name spoils the archive.
        raise BatchInputError("not a readable ZIP archive: an entry's name is marked UTF-8 "
                              "but is not valid UTF-8") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error) as error:
        raise BatchInputError(f"not a readable ZIP archive ({error})") from error
    with zipped:
        entries = zipped.infolist()
        if len(entries) > limits.max_entries:
            raise BatchInputError(f"the archive has {len(entries)} entries; at most "
                                  f"{limits.max_entries} are accepted")
        try:
            return _read_archive(store, zipped, entries, ruleset, level, limits, uploaded_by,
                                 only_unit)
        except (zipfile.BadZipFile, EOFError, OSError) as error:
            raise BatchInputError(f"not a readable ZIP archive ({error})") from error


def _read_archive(store: Store, zipped: zipfile.ZipFile, entries: list[zipfile.ZipInfo],
                  ruleset: RuleSet, level: Level | None, limits: ZipLimits,
                  uploaded_by: int | None, only_unit: str | None) -> BatchInput:
    named = sorted(((entry_name(info), info) for info in entries if not info.is_dir()),
                   key=lambda pair: pair[0])
    named = [(name, info) for name, info in named if not IGNORED.search(name)]
    wrapper = _common_folder([name for name, _ in named])
    if only_unit is not None:
        others = sorted(_unit_folders([name for name, _ in named], wrapper) - {nfc(only_unit)})
        if others:
            raise OtherUnitsError(f"the archive holds folders of other units ({', '.join(others)})"
                                  f"; this key acts for {only_unit} only")
    units: dict[str, str | None] = {}       # unit → level value, None when it has none
    files, refused, seen = [], [], set()
    total = 0
    for name, info in named:
        parts = _path_parts(name)
        unit = criterion = unit_level = ""
        try:
            if has_control_character(name):
                # PostgreSQL refuses NUL in text, and a line break would forge report lines.
                name = display_name(name)
                raise _Refused("the name holds a control character (NUL, line break…)")
            if parts is None:
                raise _Refused(_slip_reason(name))
            if wrapper and parts[0] == wrapper:
                parts = parts[1:]
            if len(parts) != 3:
                raise _Refused("not laid out unit/criterion/file")
            if len(parts[0]) > MAX_UNIT_CHARS or len(parts[2]) > MAX_NAME_CHARS:
                raise _Refused(f"a unit folder over {MAX_UNIT_CHARS} characters or a file name "
                               f"over {MAX_NAME_CHARS}")
            unit, criterion, filename = parts
            if unit not in units:
                try:
                    units[unit] = _level_of(unit, level).value
                except EvidenceLayoutError as error:
                    units[unit] = None
                    raise _Refused(error.message) from None
            known_level = units[unit]
            if known_level is None:
                raise _Refused(f"{unit}: cannot tell its level from the name; give the level")
            unit_level = known_level
            if criterion not in {c.id for c in ruleset.criteria(Level(unit_level))}:
                raise _Refused(f"{ruleset.id} has no criterion {criterion!r} for level "
                               f"{unit_level}")
            if PurePosixPath(filename).suffix.lower() not in EVIDENCE_SUFFIXES:
                raise _Refused("not a PDF or image file")
            if name in seen:
                raise _Refused("the same path appears twice in the archive")
            seen.add(name)
            data = _read_entry(zipped, info, limits, limits.max_total_bytes - total)
            total += len(data)
            if reason := content_refusal(data):
                raise _Refused(reason)
        except _Refused as why:
            refused.append(Refusal(unit, unit_level, criterion, name, str(why)))
            continue
        row = store.put_document(data, filename, unit=unit, uploaded_by=uploaded_by)
        files.append(StoredFile(unit, unit_level, criterion, filename, row.sha256))
    known = tuple((unit, lv) for unit, lv in units.items() if lv is not None)
    return BatchInput(known, tuple(files), tuple(refused))


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author wrote it, with `/` separators, in NFC."""
    utf8_flag = bool(info.flag_bits & 0x800)
    try:        # the bytes as stored: zipfile decoded them as UTF-8 or CP437, by the flag
        raw = info.orig_filename.encode("utf-8" if utf8_flag else "cp437")
    except UnicodeEncodeError:
        return nfc(info.orig_filename.replace("\\", "/"))
    name = _unicode_path(info.extra, raw)
    if name is None:
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("cp437")
    return nfc(name.replace("\\", "/"))


def _unicode_path(extra: bytes, raw_name: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field, when it belongs to this very name (its CRC)."""
    at = 0
    while at + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, at)
        data = extra[at + 4:at + 4 + size]
        at += 4 + size
        if field_id == UNICODE_PATH_FIELD and len(data) > 5 and data[0] == 1:
            (crc,) = struct.unpack_from("<I", data, 1)
            if crc == zlib.crc32(raw_name):
                try:
                    return data[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def _path_parts(name: str) -> list[str] | None:
    """The path's parts, or None when it is absolute or goes up."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts or not parts:
        return None
    return parts


def _unit_folders(names: list[str], wrapper: str | None) -> set[str]:
    """The first folder of every entry below the wrapper: the units an archive names."""
    units = set()
    for parts in filter(None, map(_path_parts, names)):
        if wrapper and parts[0] == wrapper:
            parts = parts[1:]
        if len(parts) > 1:
            units.add(parts[0])
    return units


def _slip_reason(name: str) -> str:
    if ".." in name.split("/"):
        return "the path goes up out of the archive (..): zip slip"
    return "an absolute path: zip slip"


def _common_folder(names: list[str]) -> str | None:
    """The one folder every entry sits in (an archive of the folder, not of its contents)."""
    firsts = {parts[0] for parts in map(_path_parts, names) if parts and len(parts) >= 4}
    deep = all((p := _path_parts(n)) is None or len(p) >= 4 for n in names)
    return firsts.pop() if len(firsts) == 1 and deep else None


def _read_entry(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits,
                room: int) -> bytes:
    if info.flag_bits & 0x1:
        raise _Refused("encrypted")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise _Refused("a symbolic link, not a file")
    if info.file_size > limits.max_file_bytes:
        raise _Refused(f"declares {info.file_size} bytes unpacked, over the limit of "
                       f"{limits.max_file_bytes}")
    if info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise _Refused(f"compression ratio over {limits.max_ratio:g}:1 (a zip bomb)")
    if info.file_size > room:
        raise _Refused("the archive's unpacked total passes the limit of "
                       f"{limits.max_total_bytes} bytes")
    try:
        return b"".join(_bounded_chunks(zipped, info, limits, room))
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise _Refused(f"damaged ({error})") from None
    except UnicodeDecodeError:       # the local header's name, marked UTF-8, is not
        raise _Refused("damaged (its local header's name is not valid UTF-8)") from None
    except NotImplementedError as error:
        raise _Refused(f"cannot be unpacked ({error})") from None


def _bounded_chunks(zipped: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits,
                    room: int) -> Iterator[bytes]:
    """The entry's bytes, counted as they come: whatever the header said, reading stops at
    the first limit passed."""
    size = 0
    with zipped.open(info) as stream:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                raise _Refused(f"over {limits.max_file_bytes} bytes unpacked")
            if size > limits.max_ratio * max(info.compress_size, 1):
                raise _Refused(f"compression ratio over {limits.max_ratio:g}:1 (a zip bomb)")
            if size > room:
                raise _Refused("the archive's unpacked total passes the limit of "
                               f"{limits.max_total_bytes} bytes")
            yield chunk
