"""What `inspect` says about one evidence file: the contract's JSON object and its sources."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiemchung.models.document import DocumentText
from kiemchung.models.fields import DocumentFields, Field
from kiemchung.models.marks import AuthenticityMarks
from kiemchung.models.signatures import SignatureReport


def _jsonable(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def _field_json(f: Field | None) -> dict | None:
    if f is None:
        return None
    return {"value": _jsonable(f.value), "confidence": f.confidence, **f.provenance.to_json()}


@dataclass(frozen=True)
class Inspection:
    file: str
    text: DocumentText
    fields: DocumentFields
    signatures: tuple[SignatureReport, ...] = ()
    marks: AuthenticityMarks = field(default_factory=AuthenticityMarks)

    @property
    def has_seal(self) -> bool:
        return self.marks.has_seal

    def to_json(self) -> dict:
        f = self.fields
        return {
            "file": self.file,
            "sha256": self.text.sha256,
            "pages": len(self.text.pages),
            "text_source": self.text.text_source,
            "doc_type": _jsonable(f.value("doc_type")),
            "number": f.value("number"),
            "issue_date": _jsonable(f.value("issue_date")),
            "place": f.value("place"),
            "issuer": f.value("issuer"),
            "superior_agency": f.value("superior_agency"),
            "subject": f.value("subject"),
            "signer": _jsonable(f.value("signer")),
            "recipients": _jsonable(f.value("recipients")),
            "signatures": [s.to_json() for s in self.signatures],
            "has_seal": self.has_seal,
            "marks": self.marks.to_json(),
            "fields": {name: _field_json(getattr(f, name)) for name in f.__dataclass_fields__},
            "page_sources": [{"page": p.number, "source": str(p.source),
                              "text_layer": p.text_layer_verdict, "partial": p.partial,
                              "error": p.error}
                             for p in self.text.pages],
            "errors": list(self.text.errors),
        }
