"""Checks on how a document is authenticated: digital signatures, or the seal on a scan.

Decree 30/2020: an e-document carries the competent person's signature and then the issuing
agency's (its "seal"); electronic copies (SAO Y, SAO LỤC, TRÍCH SAO) carry the agency's only.
Each signature's role (signer, agency, initials, copy or publication, other) is read by the
extractor from the certificate, the appearance and the page (`SignatureReport.role`); the
checks count only the roles that speak for the issuer: the drafter's initials (ký nháy) are
not the signer's signature, and a gazette centre's or portal's signature on what it publishes
is a copy's, not the issuer's.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from kiemchung.checks.registry import (
    EvidenceContext,
    Where,
    check,
    failed,
    not_applicable,
    passed,
    review,
)
from kiemchung.checks.text import Match, compare_agencies, compare_person_names, fold
from kiemchung.models.inspection import Inspection
from kiemchung.models.signatures import SignatureReport, SignatureRole, SignatureStatus
from kiemchung.models.verdicts import CheckResult

VN_TZ = dt.timezone(dt.timedelta(hours=7))
MAX_SIGNING_DELAY_DAYS = 30

_BROKEN = (SignatureStatus.INVALID, SignatureStatus.MODIFIED, SignatureStatus.MALFORMED,
           SignatureStatus.INDETERMINATE)
_NOT_TRUSTED = (SignatureStatus.UNTRUSTED, SignatureStatus.EXPIRED, SignatureStatus.REVOKED)
# Bodies without a seal of their own (steering committees, councils, working groups) sign
# with their parent body's agency certificate.
_BODY_WITHOUT_SEAL = re.compile(r"^(?:ban chỉ đạo|hội đồng|tổ công tác|ban)\b")
PersonOnly = Literal["review", "accept", "refuse"]


def is_agency_signature(report: SignatureReport) -> bool:
    return report.is_agency_certificate


def document_signatures(inspection: Inspection) -> list[SignatureReport]:
    """Signatures of people and agencies, without document timestamps."""
    return [s for s in inspection.signatures if not s.is_timestamp]


def _with_role(inspection: Inspection, role: SignatureRole) -> list[SignatureReport]:
    return [s for s in document_signatures(inspection) if s.role == role]


def person_signatures(inspection: Inspection) -> list[SignatureReport]:
    """The signer's signatures: people's certificates, without initials."""
    return _with_role(inspection, SignatureRole.SIGNER)


def agency_signatures(inspection: Inspection) -> list[SignatureReport]:
    return _with_role(inspection, SignatureRole.AGENCY)


def copy_signatures(inspection: Inspection) -> list[SignatureReport]:
    return _with_role(inspection, SignatureRole.COPY)


def is_image_only(inspection: Inspection) -> bool:
    """A scan or photo: every page's text came from OCR."""
    return inspection.text.kind == "image" or inspection.text.text_source == "ocr"


def _who(report: SignatureReport) -> str:
    return report.signer_name or report.field_name or "an unnamed signer"


def _setting(person_only: str) -> str:
    return f"rule set: signatures.person_only = {person_only}"


@check("digitally_signed")
def digitally_signed(ctx: EvidenceContext, person_only: PersonOnly = "review",
                     strong_digest: bool = False) -> CheckResult:
    """Signed, unchanged since, and by certificates chaining to a trusted root.

    A person's signature without the agency's is not the Decree 30 form for issued
    e-documents; whether it counts is the rule set's choice (`person_only`: review, the
    default, accept or refuse). The agency's alone on a document that is not an electronic
    copy, and a published copy signed only by the gazette or portal, need review. With
    `strong_digest` a SHA-1 signature does not count.
    """
    inspection = ctx.inspection
    everything = list(inspection.signatures)
    signatures = document_signatures(inspection)
    if not signatures:
        if is_image_only(inspection):
            if ctx.scope.allow_scans:
                return not_applicable("no digital signature on this image-only file: a scan "
                                      "with the red seal may stand for it (scan_with_seal)")
            return failed("no digital signature: an image-only file, and this criterion "
                          "does not accept scans")
        return failed("no digital signature in the file")
    for report in everything:
        if report.status in _BROKEN:
            return failed(f"signature of {_who(report)} is {report.status.value}: "
                          f"{report.reason}")
    for report in signatures:
        if report.status in _NOT_TRUSTED:
            return failed(f"signature of {_who(report)} is {report.status.value}: "
                          f"{report.reason}")
        if report.status == SignatureStatus.UNSUPPORTED:
            return review(f"signature of {_who(report)} is of a kind not validated here: "
                          f"{report.reason}")
    if strong_digest:
        weak = [s for s in signatures if s.weak_digest]
        if weak:
            digest = (weak[0].digest_algorithm or "").upper()   # known, as it is weak
            return failed(f"signature of {_who(weak[0])} uses a {digest} digest; the rule set "
                          "asks for a strong digest (strong_digest)")
    notes = []
    unchecked = [s for s in signatures if not s.revocation_checked]
    if unchecked:
        if not all(s.policy.accept_unchecked_revocation for s in unchecked):
            return review(f"revocation of {_who(unchecked[0])}'s certificate was not checked "
                          "and the policy does not accept that")
        notes.append("revocation not checked (no revocation data in the file)")
    if any(s.weak_digest for s in signatures):
        notes.append("SHA-1 digest accepted")
    people, agencies = person_signatures(inspection), agency_signatures(inspection)
    copies = copy_signatures(inspection)
    initials = _with_role(inspection, SignatureRole.INITIALS)
    if not people and not agencies:
        # An e-copy (SAO Y …) signed by the copying agency stands as a copy (Decree 30); a
        # publisher's signature alone is a published copy, not the issuer's signature.
        e_copies = [s for s in copies if not s.is_publisher_certificate]
        if e_copies:
            mark = ctx.fields.value("copy_mark") or e_copies[0].appearance_text[:20]
            notes.insert(0, f"an electronic copy ('{mark}') signed by {_who(e_copies[0])}: "
                            "the copying agency's signature, not the issuer's")
            return passed("; ".join(notes))
        if copies:
            return review(f"only the publisher {_who(copies[0])} signed: a published copy, "
                          "the issuer's own signature is not in the file")
        if initials:
            return review(f"only the initials (ký nháy) of {_who(initials[0])} are signed: "
                          "the signer's and the agency's signatures are missing")
        return review(f"signed only by {_who(signatures[0])}, whose role could not be "
                      "placed")
    if not people:
        # Decree 30: copies and appendices issued as separate files carry the agency's alone.
        copy, appendix = ctx.fields.value("copy_mark"), ctx.fields.value("appendix_file")
        if not (copy or appendix):
            return review(f"signed only by the agency {_who(agencies[0])}, with no personal "
                          "signature, and the file is neither a copy nor a separate appendix")
        kind = f"an electronic copy ({copy})" if copy else "an appendix in a separate file"
        notes.insert(0, f"{kind} signed by the agency {_who(agencies[0])}")
    elif not agencies:
        missing = (f"signed by {_who(people[0])} only: the issuing agency's signature (its "
                   "seal) is missing, which Decree 30 requires")
        if person_only == "refuse":
            return failed(f"{missing} ({_setting(person_only)})")
        if person_only != "accept":
            return review(f"{missing} ({_setting(person_only)})")
        notes.insert(0, f"signed by {_who(people[0])} without the agency's signature, "
                        f"accepted ({_setting(person_only)})")
    else:
        notes.insert(0, f"signed by {_who(people[0])} and {_who(agencies[0])}; intact and "
                        "trusted")
    if copies:
        notes.append(f"also signed by {_who(copies[0])} (copy or publication)")
    return passed("; ".join(notes))


@check("signature_matches_signer")
def signature_matches_signer(ctx: EvidenceContext) -> CheckResult:
    """The signer's personal certificate belongs to the person printed in the signer block;
    initials (ký nháy) of another person are not compared."""
    people = person_signatures(ctx.inspection)
    if not people:
        initials = _with_role(ctx.inspection, SignatureRole.INITIALS)
        if initials:
            return not_applicable(f"only the initials (ký nháy) of {initials[0].signer_name} "
                                  "are a personal signature; none of the signer to compare")
        return not_applicable("no personal signature to compare with the printed signer")
    signer = ctx.fields.signer
    cert_name = people[0].signer_name
    if signer is None:
        return review(f"signed by {cert_name}, but the printed signer could not be read")
    where = Where.of(signer.provenance)
    match = compare_person_names(cert_name, signer.value.name)
    if match.match == Match.SAME:
        note = f" ({match.note})" if match.note else ""
        return passed(f"signed by the printed signer {signer.value.name}{note}", where)
    return review(f"signed with the certificate of “{cert_name}”, but the document names "
                  f"“{signer.value.name}” as signer", where)


def _same(a: str, b: str) -> bool:
    return bool(a and b) and compare_agencies(a, b).match == Match.SAME


def _without_body(superior: str) -> str:
    """"UBND TỈNH THỪA THIÊN HUẾ" → "tỉnh thừa thiên huế": the place an agency is of."""
    return re.sub(r"^(?:ủy ban nhân dân|hội đồng nhân dân)\s+", "", fold(superior))


def issuer_match(report: SignatureReport, issuer: str, superior: str | None) -> str | None:
    """How the agency certificate names the printed issuer, or None if it does not.

    Certificates name the agency with its place (CN "Sở Thông tin và Truyền thông tỉnh
    Thừa Thiên Huế", O "UBND tỉnh Thừa Thiên Huế") where the header prints "SỞ THÔNG TIN VÀ
    TRUYỀN THÔNG" under "UBND TỈNH THỪA THIÊN HUẾ"; a steering committee signs with its
    parent body's certificate."""
    cn = report.signer_name
    orgs = [o.strip() for o in (report.signer_org or "").split(",") if o.strip()]
    # The certificate's parent body (its O) must not be another one than the one printed.
    parent_differs = bool(superior and orgs
                          and compare_agencies(orgs[0], superior).match == Match.DIFFERENT)
    if not parent_differs:
        if _same(cn, issuer):
            return "names the issuer"
        if superior and _same(cn, f"{issuer} {_without_body(superior)}"):
            return "names the issuer with its place"
        if not superior and any(_same(o, issuer) for o in orgs):
            return "names the issuer as its organisation"
    if superior and _BODY_WITHOUT_SEAL.match(fold(issuer)) and _same(cn, superior):
        return f"is its parent body's, {superior}, as a body without a seal of its own signs"
    return None


@check("signature_matches_issuer")
def signature_matches_issuer(ctx: EvidenceContext) -> CheckResult:
    """The agency certificate names the printed issuing agency (with its place, or its parent
    body for a body without a seal of its own)."""
    agencies = agency_signatures(ctx.inspection)
    if not agencies:
        copies = copy_signatures(ctx.inspection)
        if copies:
            return not_applicable(f"only a copy or publication signature ({_who(copies[0])}); "
                                  "no issuer's agency signature to compare")
        return not_applicable("no agency signature to compare with the printed issuer")
    issuer = ctx.fields.issuer
    report = agencies[0]
    if issuer is None:
        return review(f"signed by the agency {report.signer_name}, but the printed issuer "
                      "could not be read")
    where = Where.of(issuer.provenance)
    superior = ctx.fields.value("superior_agency")
    how = issuer_match(report, issuer.value, superior)
    if how:
        return passed(f"agency signature of {report.signer_name} {how}", where)
    printed = f"{issuer.value} ({superior})" if superior else issuer.value
    return review(f"the agency certificate is “{report.signer_name}”"
                  f"{f' of {report.signer_org}' if report.signer_org else ''}, but the "
                  f"document is issued by “{printed}”", where)


@check("signing_time_consistent")
def signing_time_consistent(ctx: EvidenceContext) -> CheckResult:
    """Signed on or after the printed issue date and within 30 days of it, by the signer or
    else the agency: a copy or a publication is made later, and says nothing of the issue."""
    signatures = person_signatures(ctx.inspection) or agency_signatures(ctx.inspection)
    timed = [t for s in signatures if (t := s.signing_time) is not None]
    if not timed:
        if copy_signatures(ctx.inspection):
            return not_applicable("only copy or publication signatures: their time is not "
                                  "the issue's")
        return not_applicable("no signing time to compare with the issue date")
    issue = ctx.fields.issue_date
    if issue is None:
        return not_applicable("no issue date to compare with the signing time")
    where = Where.of(issue.provenance)
    signed = timed[0].astimezone(VN_TZ).date()
    gap = (signed - issue.value).days
    when = f"signed {signed:%d/%m/%Y}, issue date {issue.value:%d/%m/%Y}"
    if gap < 0:
        return review(f"{when}: signed {-gap} day(s) before the printed issue date", where)
    if gap > MAX_SIGNING_DELAY_DAYS:
        return review(f"{when}: signed {gap} days after the printed issue date "
                      f"(more than {MAX_SIGNING_DELAY_DAYS})", where)
    return passed(f"{when}: consistent", where)


@check("scan_with_seal")
def scan_with_seal(ctx: EvidenceContext) -> CheckResult:
    """An image-only file stands for the signed document only if the rule set accepts scans
    and the red seal is on it."""
    inspection = ctx.inspection
    if not is_image_only(inspection):
        return not_applicable("not a scan: the file has its own text layer")
    if document_signatures(inspection):
        return not_applicable("a digitally signed scan: judged by its signatures")
    if not ctx.scope.allow_scans:
        return failed("an image-only file without a digital signature; this criterion does "
                      "not accept scans")
    if not inspection.marks.has_seal:
        return failed("an image-only file with no red seal found")
    seal = inspection.marks.seals[0]
    return passed(f"scan with the red seal on page {seal.page}",
                  Where(seal.page, None, seal.bbox))

