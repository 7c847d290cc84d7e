"""Checks on how a document is authenticated: digital signatures, or the seal on a scan.

Decree 30/2020: an e-document carries the competent person's signature and then the issuing
agency's (its "seal"); electronic copies (SAO Y, SAO LỤC, TRÍCH SAO) carry the agency's only.
Which certificate is a person's and which an agency's is read from the UID attributes
(CCCD/CMND for people, MST/MNS for agencies), or else from the name.
"""

from __future__ import annotations

import datetime as dt
import re

from checks.registry import (EvidenceContext, Where, check, failed, not_applicable, passed,
                             review)
from checks.text import Match, compare_agencies, compare_person_names, fold
from models.inspection import Inspection
from models.signatures import SignatureReport, SignatureStatus
from models.verdicts import CheckResult

VN_TZ = dt.timezone(dt.timedelta(hours=7))
MAX_SIGNING_DELAY_DAYS = 30

_PERSON_UIDS = ("CMND", "CCCD", "HC", "PASSPORT")
_AGENCY_UIDS = ("MST", "MNS")
_AGENCY_WORDS = re.compile(r"^(?:ủy ban|hội đồng|sở|ban|văn phòng|trung tâm|phòng|chi cục|cục|"
                           r"tổng cục|thanh tra|trường|bộ|công an|đài|bệnh viện)\b")
_BROKEN = (SignatureStatus.INVALID, SignatureStatus.MODIFIED, SignatureStatus.MALFORMED)
_NOT_TRUSTED = (SignatureStatus.UNTRUSTED, SignatureStatus.EXPIRED, SignatureStatus.REVOKED)


def is_agency_signature(report: SignatureReport) -> bool:
    kinds = {uid.split(":", 1)[0].strip().upper() for uid in report.uids if ":" in uid}
    if kinds & set(_AGENCY_UIDS) and not kinds & set(_PERSON_UIDS):
        return True
    if kinds & set(_PERSON_UIDS):
        return False
    return bool(_AGENCY_WORDS.match(fold(report.signer_name)))


def document_signatures(inspection: Inspection) -> list[SignatureReport]:
    """Signatures of people and agencies, without document timestamps."""
    return [s for s in inspection.signatures if not s.is_timestamp]


def person_signatures(inspection: Inspection) -> list[SignatureReport]:
    return [s for s in document_signatures(inspection) if not is_agency_signature(s)]


def agency_signatures(inspection: Inspection) -> list[SignatureReport]:
    return [s for s in document_signatures(inspection) if is_agency_signature(s)]


def is_image_only(inspection: Inspection) -> bool:
    """A scan or photo: every page's text came from OCR."""
    return inspection.text.kind == "image" or inspection.text.text_source == "ocr"


def _who(report: SignatureReport) -> str:
    return report.signer_name or report.field_name or "an unnamed signer"


@check("digitally_signed")
def digitally_signed(ctx: EvidenceContext) -> CheckResult:
    """Signed, unchanged since, and by certificates chaining to a trusted root.

    A person's signature without the agency's, or the agency's alone on a document that is not
    an electronic copy, is not the Decree 30 form: needs_review, since some units' tools sign
    only once and a person should decide whether that counts.
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
    notes = []
    unchecked = [s for s in signatures if not s.revocation_checked]
    if unchecked:
        if not all(s.policy.accept_unchecked_revocation for s in unchecked):
            return review(f"revocation of {_who(unchecked[0])}'s certificate was not checked "
                          "and the policy does not accept that")
        notes.append("revocation not checked (no revocation data in the file)")
    people, agencies = person_signatures(inspection), agency_signatures(inspection)
    if not people:
        # Decree 30: copies and appendices issued as separate files carry the agency's alone.
        copy, appendix = ctx.fields.value("copy_mark"), ctx.fields.value("appendix_file")
        if not (copy or appendix):
            return review(f"signed only by the agency {_who(agencies[0])}, with no personal "
                          "signature, and the file is neither a copy nor a separate appendix")
        kind = f"an electronic copy ({copy})" if copy else "an appendix in a separate file"
        notes.insert(0, f"{kind} signed by the agency {_who(agencies[0])}")
    elif not agencies:
        return review(f"signed by {_who(people[0])} only: the issuing agency's signature "
                      "(its seal) is missing, which Decree 30 requires")
    else:
        notes.insert(0, f"signed by {_who(people[0])} and {_who(agencies[0])}; intact and "
                        "trusted")
    return passed("; ".join(notes))


@check("signature_matches_signer")
def signature_matches_signer(ctx: EvidenceContext) -> CheckResult:
    """The personal certificate belongs to the person printed in the signer block."""
    people = person_signatures(ctx.inspection)
    if not people:
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


@check("signature_matches_issuer")
def signature_matches_issuer(ctx: EvidenceContext) -> CheckResult:
    """The agency certificate (CN, else O) is the printed issuing agency."""
    agencies = agency_signatures(ctx.inspection)
    if not agencies:
        return not_applicable("no agency signature to compare with the printed issuer")
    issuer = ctx.fields.issuer
    report = agencies[0]
    if issuer is None:
        return review(f"signed by the agency {report.signer_name}, but the printed issuer "
                      "could not be read")
    where = Where.of(issuer.provenance)
    names = [report.signer_name] + [o.strip() for o in (report.signer_org or "").split(",")]
    matches = [compare_agencies(name, issuer.value) for name in names if name]
    if any(m.match == Match.SAME for m in matches):
        return passed(f"agency signature of {report.signer_name} matches the issuer", where)
    return review(f"the agency certificate is “{report.signer_name}”, but the document is "
                  f"issued by “{issuer.value}”", where)


@check("signing_time_consistent")
def signing_time_consistent(ctx: EvidenceContext) -> CheckResult:
    """Signed on or after the printed issue date and within 30 days of it."""
    signatures = person_signatures(ctx.inspection) or document_signatures(ctx.inspection)
    timed = [s for s in signatures if s.signing_time is not None]
    if not timed:
        return not_applicable("no signing time to compare with the issue date")
    issue = ctx.fields.issue_date
    if issue is None:
        return not_applicable("no issue date to compare with the signing time")
    where = Where.of(issue.provenance)
    report = timed[0]
    signed = report.signing_time.astimezone(VN_TZ).date()
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

