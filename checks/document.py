"""Checks on what a document is and says: type, issuer, dates, subject, wording, reuse."""

from __future__ import annotations

import datetime as dt
import re

from rapidfuzz import fuzz

from kiemchung.checks.registry import (
    EvidenceContext,
    Where,
    check,
    failed,
    not_applicable,
    passed,
    review,
)
from kiemchung.checks.text import Match, compare_agencies, find_phrase, fold
from kiemchung.models.document import TextSource
from kiemchung.models.verdicts import CheckResult

MIN_OCR_CONFIDENCE = 0.6      # below this, what OCR read is a guess a person must confirm


def show(date: dt.date) -> str:
    return date.strftime("%d/%m/%Y")


def month_day(value: str, year: int) -> dt.date:
    """A rule set's "MM-DD" in the evaluated year."""
    month, day = map(int, str(value).split("-"))
    return dt.date(year, month, day)


def _issue_date(ctx: EvidenceContext) -> tuple[dt.date, Where] | CheckResult:
    """The issue date and where it stands; or the review a date check gives when no date was
    read, or one too unsure to judge by (a handwritten day read again as digits, an OCR slip):
    a date check decides nothing on a guess."""
    f = ctx.fields.issue_date
    if f is None:
        return review("no issue date could be read from the place-and-date line")
    if f.confidence < MIN_OCR_CONFIDENCE:
        return review(f"the issue date read, {show(f.value)}, is not sure (confidence "
                      f"{f.confidence:.2f} < {MIN_OCR_CONFIDENCE}): a person must confirm it "
                      "on the page", Where.of(f.provenance))
    return f.value, Where.of(f.provenance)


@check("file_readable")
def file_readable(ctx: EvidenceContext) -> CheckResult:
    """The text is there and legible enough to judge; run on every file."""
    pages = ctx.inspection.text.pages
    broken = [p for p in pages if p.error]
    if broken:
        return review(f"page {broken[0].number} could not be read ({broken[0].error})",
                      Where(broken[0].number))
    if not any(p.lines for p in pages):
        return review("no text could be read from the file")
    for page in pages:
        if page.source == TextSource.OCR and page.lines \
                and page.mean_confidence < MIN_OCR_CONFIDENCE:
            return review(f"OCR confidence on page {page.number} is "
                          f"{page.mean_confidence:.2f} (< {MIN_OCR_CONFIDENCE}): "
                          "the text read may be wrong", Where(page.number))
    return passed(f"text readable ({ctx.inspection.text.text_source}, {len(pages)} page(s))")


@check("doc_type_is")
def doc_type_is(ctx: EvidenceContext, types: list[str],
                type_name_contains: str | None = None) -> CheckResult:
    """The document type is one of `types`; with `type_name_contains`, the printed type name
    or the subject must also contain it (a "Thông báo kết luận" often prints only THÔNG BÁO
    and says "Kết luận …" in its subject)."""
    f = ctx.fields.doc_type
    wanted = ", ".join(types)
    if f is None:
        return review(f"the document type could not be read (expected {wanted})")
    where = Where.of(f.provenance)
    if f.value.value not in types:
        return failed(f"document is a {f.value.value}, not {wanted}", where)
    if type_name_contains:
        printed = ctx.fields.value("type_name") or ""
        subject = ctx.fields.value("subject") or ""
        needle = fold(type_name_contains)
        if not any(fuzz.partial_ratio(needle, fold(text)) >= 90 for text in (printed, subject)
                   if text):
            return failed(f"a {f.value.value}, but neither its type name nor its subject says "
                          f"“{type_name_contains}”", where)
    return passed(f"document is a {f.value.value}", where)


# The tier of government an issuer belongs to, read from its name or else its superior's.
# A unit's evidence is issued at its own tier: the province's notices handed in by a district,
# or a district's by a commune, are not the unit's own.
_TIER_OF_LEVEL = {"so": "province", "huyen": "district", "xa": "commune"}
_PLACE_WORD = re.compile(r"\b(tỉnh|thành phố|thị xã|huyện|quận|thị trấn|xã|phường)\b\s*(.*)")
_TIER_OF_WORD = {"tỉnh": "province", "thị xã": "district", "huyện": "district",
                 "quận": "district", "thị trấn": "commune", "xã": "commune",
                 "phường": "commune"}
# Cities under the central government are provinces; other cities are districts. Huế is left
# out: a district-level city until 2025, centrally run since, so its name alone cannot say.
_CENTRAL_CITIES = ("hà nội", "hồ chí minh", "hải phòng", "đà nẵng", "cần thơ")


def agency_tier(name: str) -> str | None:
    """"province", "district", "commune" for an agency's printed name, if it says."""
    folded = fold(name)
    if folded.startswith("sở "):
        return "province"           # a provincial department
    match = _PLACE_WORD.search(folded)
    if match is None:
        return None
    word, rest = match.groups()
    if word == "thành phố":
        if rest.startswith("huế"):
            return None
        return "province" if rest.startswith(_CENTRAL_CITIES) else "district"
    return _TIER_OF_WORD[word]


def issuer_tier(issuer: str, superior: str | None) -> str | None:
    return agency_tier(issuer) or (agency_tier(superior) if superior else None)


@check("issuer_is_unit")
def issuer_is_unit(ctx: EvidenceContext) -> CheckResult:
    """The printed issuing agency is the unit being evaluated, and of its tier (province for
    level so, district for huyen, commune for xa) even when no unit is named."""
    unit = ctx.scope.unit
    f = ctx.fields.issuer
    if f is None:
        if not unit:
            return not_applicable("no unit given to compare the issuer with")
        return review(f"the issuing agency could not be read (expected {unit})")
    where = Where.of(f.provenance)
    superior = ctx.fields.value("superior_agency")
    tier, wanted = issuer_tier(f.value, superior), _TIER_OF_LEVEL.get(ctx.scope.level)
    if tier and wanted and tier != wanted:
        printed = f"{f.value} ({superior})" if superior else f.value
        return failed(f"issued by “{printed}”, a {tier} body: not the own evidence of a "
                      f"{wanted} unit (level {ctx.scope.level})", where)
    if not unit:
        return not_applicable("no unit given to compare the issuer with")
    match = compare_agencies(f.value, unit)
    if match.match == Match.SAME:
        return passed(f"issued by {f.value}", where)
    if match.match == Match.CLOSE:
        return review(f"issuer “{f.value}” resembles the unit “{unit}” but is not clearly it",
                      where)
    return failed(f"issued by “{f.value}”, not by the unit “{unit}”", where)


@check("issued_within_window")
def issued_within_window(ctx: EvidenceContext) -> CheckResult:
    dated = _issue_date(ctx)
    if isinstance(dated, CheckResult):
        return dated
    date, where = dated
    start, end = ctx.scope.window
    if start <= date <= end:
        return passed(f"issued {show(date)}, within the data window {show(start)}–{show(end)}",
                      where)
    return failed(f"issued {show(date)}, outside the data window {show(start)}–{show(end)}",
                  where)


@check("issued_in_year")
def issued_in_year(ctx: EvidenceContext) -> CheckResult:
    dated = _issue_date(ctx)
    if isinstance(dated, CheckResult):
        return dated
    date, where = dated
    if date.year == ctx.scope.year:
        return passed(f"issued {show(date)}, in {ctx.scope.year}", where)
    return failed(f"issued {show(date)}, not in {ctx.scope.year}", where)


@check("issued_in_month")
def issued_in_month(ctx: EvidenceContext, month: int) -> CheckResult:
    """Issued in `month` of the evaluated year."""
    dated = _issue_date(ctx)
    if isinstance(dated, CheckResult):
        return dated
    date, where = dated
    label = f"{int(month):02d}/{ctx.scope.year}"
    if (date.year, date.month) == (ctx.scope.year, int(month)):
        return passed(f"issued {show(date)}, in {label}", where)
    return failed(f"issued {show(date)}, not in {label}", where)


@check("issued_before")
def issued_before(ctx: EvidenceContext, date: str) -> CheckResult:
    """Issued on or before `date` ("MM-DD") of the evaluated year — "trước 15/11" in the
    criteria tables is read as a deadline that the day itself still meets."""
    dated = _issue_date(ctx)
    if isinstance(dated, CheckResult):
        return dated
    issued, where = dated
    deadline = month_day(date, ctx.scope.year)
    if issued <= deadline:
        return passed(f"issued {show(issued)}, by {show(deadline)}", where)
    return failed(f"issued {show(issued)}, after {show(deadline)}", where)


_YEAR_RE = re.compile(r"\bnăm\s+(\d{4})\b")


@check("plan_for_year")
def plan_for_year(ctx: EvidenceContext) -> CheckResult:
    """The subject names the evaluated year ("… năm 2024"). A plan for the year issued in late
    December of the year before is early rather than wrong: a person decides."""
    f = ctx.fields.subject
    year = ctx.scope.year
    if f is None:
        return review(f"the subject could not be read to confirm a plan for {year}")
    where = Where.of(f.provenance)
    years = [int(y) for y in _YEAR_RE.findall(fold(f.value))]
    if year not in years:
        if years:
            return failed(f"the subject is for {', '.join(map(str, years))}, not {year}: "
                          f"“{f.value}”", where)
        return failed(f"the subject names no year (expected “năm {year}”): “{f.value}”", where)
    issued = ctx.fields.value("issue_date")
    if issued is not None and issued.year == year - 1 and issued.month == 12:
        return review(f"a plan for {year} issued {show(issued)}, in December of the year "
                      "before: a person must decide whether it counts", where)
    return passed(f"the subject names năm {year}", where)


@check("mentions", reads_text=True)
def mentions(ctx: EvidenceContext, phrases: list[str], where: str = "any",
             min_score: float = 90) -> CheckResult:
    """One of `phrases` appears in the subject, the body or either (fuzzy, OCR-tolerant)."""
    if where not in ("subject", "body", "any"):
        return failed(f"rule set error: mentions.where must be subject, body or any, "
                      f"not {where!r}")
    subject = ctx.fields.subject
    for phrase in phrases:
        if where in ("subject", "any") and subject is not None:
            if fuzz.partial_ratio(fold(phrase), fold(subject.value)) >= min_score:
                return passed(f"the subject mentions “{phrase}”", Where.of(subject.provenance))
        if where in ("body", "any"):
            found = find_phrase(ctx.inspection, phrase, min_score=min_score)
            if found is not None:
                return passed(f"the text mentions “{phrase}” on page {found.where.page}",
                              found.where)
    place = {"subject": "the subject", "body": "the text", "any": "the subject or the text"}
    return failed(f"{place[where]} mentions none of: " + "; ".join(f"“{p}”" for p in phrases))


@check("not_reused")
def not_reused(ctx: EvidenceContext) -> CheckResult:
    """The same file (same bytes) was not also submitted for another unit or criterion."""
    sha = ctx.inspection.text.sha256
    scope = ctx.scope
    elsewhere = sorted({(unit, criterion) for s, unit, criterion in scope.seen
                        if s == sha and (unit, criterion) != (scope.unit or "", scope.criterion)})
    if not elsewhere:
        return passed("not submitted elsewhere in this batch")
    uses = "; ".join(f"{unit or '?'} / {criterion}" for unit, criterion in elsewhere[:3])
    more = f" and {len(elsewhere) - 3} more" if len(elsewhere) > 3 else ""
    return failed(f"the same file was also submitted for {uses}{more}")
