"""Checks by the names rule sets use, and what a check gets to look at.

A check is a pure function: it reads facts already extracted (an `Inspection`) and the scope
of the evaluation, never a file. Document checks look at one file (`EvidenceContext`); set
checks look at the files that qualified for a criterion (`QualifyingSet`). Both return one
`CheckResult`; the registry fills in the check's name and the file.
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass, field, replace
from typing import Callable, Literal

from kiemchung.models.document import BBox
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.models.fields import Provenance
from kiemchung.models.inspection import Inspection
from kiemchung.models.verdicts import CheckResult, CheckStatus

Kind = Literal["document", "set"]


class UnknownCheckError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Scope:
    """What is being evaluated: one criterion for one unit, level and year."""

    criterion: str
    level: str
    unit: str | None
    year: int
    window: tuple[dt.date, dt.date]          # the data window of the year (inclusive)
    allow_scans: bool = False                # a scan with a red seal may stand for a signed file
    # (sha256, unit, criterion) of every file submitted elsewhere in the same batch
    seen: frozenset[tuple[str, str, str]] = frozenset()


@dataclass(frozen=True)
class Where:
    """Where a fact stands: page, the text it was read from, its box."""

    page: int | None = 1
    span: str | None = None
    bbox: BBox | None = None

    @classmethod
    def of(cls, provenance: Provenance | None) -> Where:
        if provenance is None:
            return cls()
        return cls(provenance.page, provenance.text, provenance.bbox)


FIRST_PAGE = Where()


def outcome(status: CheckStatus, message: str, where: Where = FIRST_PAGE, *,
            file: str | None = None) -> CheckResult:
    """A result without its name; the registry names it."""
    return CheckResult(name="", status=status, message=message, file=file, page=where.page,
                       span=where.span, bbox=where.bbox)


def passed(message: str, where: Where = FIRST_PAGE, **kw) -> CheckResult:
    return outcome(CheckStatus.PASS, message, where, **kw)


def failed(message: str, where: Where = FIRST_PAGE, **kw) -> CheckResult:
    return outcome(CheckStatus.FAIL, message, where, **kw)


def review(message: str, where: Where = FIRST_PAGE, **kw) -> CheckResult:
    return outcome(CheckStatus.NEEDS_REVIEW, message, where, **kw)


def not_applicable(message: str, where: Where = FIRST_PAGE, **kw) -> CheckResult:
    return outcome(CheckStatus.NOT_APPLICABLE, message, where, **kw)


@dataclass(frozen=True)
class EvidenceContext:
    """One evidence file and the scope it is judged in."""

    inspection: Inspection
    scope: Scope

    @property
    def fields(self):
        return self.inspection.fields

    @property
    def file(self) -> str:
        return self.inspection.file


@dataclass(frozen=True)
class QualifyingSet:
    """The files that passed a criterion's document checks, in issue-date order."""

    files: tuple[Inspection, ...]
    scope: Scope


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    kind: Kind
    function: Callable[..., CheckResult]
    params: frozenset[str] = field(default=frozenset())
    required: frozenset[str] = field(default=frozenset())
    reads_text: bool = False        # looks beyond the fields, into the document's whole text

    def __call__(self, context: EvidenceContext | QualifyingSet, params: dict) -> CheckResult:
        result = self.function(context, **params)
        file = result.file
        if file is None and isinstance(context, EvidenceContext):
            file = context.file
        return replace(result, name=self.name, file=file)

    def validate(self, params: dict) -> None:
        unknown = set(params) - self.params
        missing = self.required - set(params)
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"unknown parameter(s) {', '.join(sorted(unknown))}")
            if missing:
                problems.append(f"missing parameter(s) {', '.join(sorted(missing))}")
            raise UnknownCheckError(f"check {self.name!r}: {'; '.join(problems)}")


REGISTRY: dict[str, RegisteredCheck] = {}


def check(name: str, kind: Kind = "document", *, reads_text: bool = False):
    """Register a check under the name rule sets use; its keyword parameters are the rule's.
    `reads_text`: it searches the whole text, so a file read only in part (a scan whose body
    was not OCR'd) is read whole before such a check's failure counts."""
    def register(function: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        parameters = list(inspect.signature(function).parameters.values())[1:]
        REGISTRY[name] = RegisteredCheck(
            name, kind, function,
            params=frozenset(p.name for p in parameters),
            required=frozenset(p.name for p in parameters if p.default is inspect.Parameter.empty),
            reads_text=reads_text)
        return function
    return register


def get_check(name: str) -> RegisteredCheck:
    import kiemchung.checks  # noqa: F401 - importing the package registers every check

    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownCheckError(f"no check named {name!r} (known: {known})") from None


def run_check(name: str, context: EvidenceContext | QualifyingSet, params: dict | None = None
              ) -> CheckResult:
    registered = get_check(name)
    params = dict(params or {})
    registered.validate(params)
    return registered(context, params)
