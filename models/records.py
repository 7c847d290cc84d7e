"""An `Inspection` as a JSON record and back, without losing anything: every page, line, word
and box, every field with its provenance, every signature report with its changes, every mark.

The contract object (`Inspection.to_json()`) is a summary for clients; a record is what the store
keeps so that the same bytes are never read twice: `inspection_from_record(record)` gives an
Inspection equal to the one recorded, so checks cannot tell a cached file from a fresh one.

The record follows the dataclasses' own type hints: dataclasses become objects, tuples lists,
enums their values, dates ISO 8601 strings. A change of the models or of what the extractors
produce needs a new `EXTRACTOR_VERSION`: cached inspections of the old one are then ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import types
import typing
from typing import Any

from models.inspection import Inspection

# Bump when the extractors read differently or the models change shape.
EXTRACTOR_VERSION = "2"
RECORD_FORMAT = 1


class RecordError(ValueError):
    """A record that does not fit the models (another format, or damaged)."""


def inspection_to_record(inspection: Inspection) -> dict[str, Any]:
    return {"format": RECORD_FORMAT, **_encode(inspection)}


def inspection_from_record(record: dict[str, Any]) -> Inspection:
    if record.get("format") != RECORD_FORMAT:
        raise RecordError(f"not an inspection record of format {RECORD_FORMAT}")
    try:
        return _decode(Inspection, record)
    except (KeyError, TypeError, ValueError) as error:
        raise RecordError(f"damaged inspection record ({error})") from error


def _encode(value):
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot record a {type(value).__name__}")


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint, data, typevars: dict | None = None):
    if isinstance(hint, typing.TypeVar):
        hint = (typevars or {}).get(hint, Any)
    if hint is Any or data is None:
        return data
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        choices = [a for a in args if a is not type(None)]
        if len(choices) != 1:
            raise TypeError(f"ambiguous union {hint}")
        return _decode(choices[0], data, typevars)
    if origin is typing.Literal:
        return data
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, typevars) for v in data)
        return tuple(_decode(a, v, typevars) for a, v in zip(args, data, strict=True))
    if origin is list:
        return [_decode(args[0], v, typevars) for v in data]
    cls = origin or hint
    if dataclasses.is_dataclass(cls):
        # A generic dataclass (Field[DocType]): its TypeVars stand for the given arguments.
        bound = dict(zip(getattr(cls, "__parameters__", ()), args))
        hints = _hints(cls)
        values = {f.name: _decode(hints[f.name], data[f.name], bound)
                  for f in dataclasses.fields(cls) if f.init and f.name in data}
        return cls(**values)
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return cls(data)
    if cls is dt.datetime:
        return dt.datetime.fromisoformat(data)
    if cls is dt.date:
        return dt.date.fromisoformat(data)
    if cls is float:
        return float(data)
    return data
