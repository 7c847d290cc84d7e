"""Checks over the set of files that qualified for a criterion: how many, and how late."""

from __future__ import annotations

from kiemchung.checks.document import month_day, show
from kiemchung.checks.registry import QualifyingSet, Where, check, failed, passed
from kiemchung.models.inspection import Inspection
from kiemchung.models.verdicts import CheckResult


def _issue_where(inspection: Inspection) -> Where:
    f = inspection.fields.issue_date
    return Where.of(f.provenance) if f else Where()


@check("count_at_least", kind="set")
def count_at_least(ctx: QualifyingSet, n: int) -> CheckResult:
    """At least `n` qualifying files (e.g. two steering-committee meetings a year)."""
    files = ctx.files
    names = ", ".join(_name(f) for f in files) or "none"
    # Point at the file that reached n, or at the last one there is.
    anchor = files[min(int(n), len(files)) - 1] if files else None
    where = _issue_where(anchor) if anchor else Where(page=None)
    file = anchor.file if anchor else None
    if len(files) >= int(n):
        return passed(f"{len(files)} qualifying file(s), at least {n}: {names}", where,
                      file=file)
    return failed(f"{len(files)} qualifying file(s), fewer than {n}: {names}", where, file=file)


@check("last_before", kind="set")
def last_before(ctx: QualifyingSet, date: str) -> CheckResult:
    """The latest qualifying file is issued on or before `date` ("MM-DD")."""
    dated = [(f, d.value) for f in ctx.files if (d := f.fields.issue_date) is not None]
    if not dated:
        return failed("no qualifying file with an issue date", Where(page=None))
    last, issued = max(dated, key=lambda pair: pair[1])
    deadline = month_day(date, ctx.scope.year)
    if issued <= deadline:
        return passed(f"the last one is issued {show(issued)}, by {show(deadline)}",
                      _issue_where(last), file=last.file)
    return failed(f"the last one is issued {show(issued)}, after {show(deadline)}",
                  _issue_where(last), file=last.file)


def _name(inspection: Inspection) -> str:
    number = inspection.fields.value("number")
    issued = inspection.fields.value("issue_date")
    label = number or inspection.file.rsplit("/", 1)[-1]
    return f"{label} ({show(issued)})" if issued else label
