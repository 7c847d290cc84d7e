"""An `Inspection` as a JSON record and back, without losing anything: every page, line, word
and box, every field with its provenance, every signature report with its changes, every mark.

The contract object (`Inspection.to_json()`) is a summary for clients; a record is what the store
keeps so that the same bytes are never read twice: `inspection_from_record(record)` gives an
Inspection equal to the one recorded, so checks cannot tell a cached file from a fresh one.

The record follows the dataclasses' own type hints: dataclasses become objects, tuples lists,
enums their values, dates ISO 8601 strings; a word, the bulk of a record, is the flat list
[text, x0, y0, x1, y1, confidence]. A change of the models or of what the extractors
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

from kiemchung.models.document import BBox, Word
from kiemchung.models.inspection import Inspection

# Bump when the extractors read differently or the models change shape.
EXTRACTOR_VERSION = "10"
RECORD_FORMAT = 2


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
    if isinstance(value, Word):     # most of a record: a flat list, decoded without a lookup
        box = value.bbox
        return [value.text, box.x0, box.y0, box.x1, box.y1, value.confidence]
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot record a {type(value).__name__}")


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint, data):
    return _decoder(hint, ())(data)


def _keep(data):
    return data


@functools.cache
def _decoder(hint, typevars: tuple) -> typing.Callable[[Any], Any]:
    """A function turning recorded data of type `hint` back into its value, built once per
    type: reading a cached inspection is then a few calls per word, not a type analysis."""
    if isinstance(hint, typing.TypeVar):
        hint = dict(typevars).get(hint, Any)
    if hint is Any:
        return _keep
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        choices = [a for a in args if a is not type(None)]
        if len(choices) != 1:
            raise TypeError(f"ambiguous union {hint}")
        return _decoder(choices[0], typevars)
    if origin is typing.Literal:
        return _keep
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            each = _decoder(args[0], typevars)
            return lambda data: None if data is None else tuple(each(v) for v in data)
        parts = [_decoder(a, typevars) for a in args]
        return lambda data: None if data is None else tuple(
            part(v) for part, v in zip(parts, data, strict=True))
    if origin is list:
        each = _decoder(args[0], typevars)
        return lambda data: None if data is None else [each(v) for v in data]
    cls = origin or hint
    if cls is Word:
        return lambda data: Word(data[0], BBox(data[1], data[2], data[3], data[4]), data[5])
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):   # a class, never an instance
        # A generic dataclass (Field[DocType]): its TypeVars stand for the given arguments.
        bound = tuple(zip(getattr(cls, "__parameters__", ()), args))
        hints = _hints(cls)
        fields = [(f.name, _decoder(hints[f.name], bound)) for f in dataclasses.fields(cls)
                  if f.init]

        def build(data):
            if data is None:
                return None
            return cls(**{name: decode(data[name]) for name, decode in fields if name in data})
        return build
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return lambda data: None if data is None else cls(data)
    if cls is dt.datetime:
        return lambda data: None if data is None else dt.datetime.fromisoformat(data)
    if cls is dt.date:
        return lambda data: None if data is None else dt.date.fromisoformat(data)
    if cls is float:
        return lambda data: None if data is None else float(data)
    return _keep
