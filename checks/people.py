"""Checks on who holds a role: the steering committee's head, the rank of the signer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiemchung.checks.registry import EvidenceContext, Where, check, failed, passed, review
from kiemchung.checks.text import (
    Match,
    agency_distinction,
    compare_agencies,
    fold,
    joined_text,
    where_at,
)
from kiemchung.models.verdicts import CheckResult

# Titles of the head of a unit (the "người đứng đầu"); a "Phó …" is a deputy.
HEAD_TITLES = ("chủ tịch", "giám đốc", "thủ trưởng", "chánh thanh tra", "chánh văn phòng",
               "trưởng ban")
DEPUTY_PREFIX = "phó "

# A member line of an establishing decision: "1. Ông Nguyễn Văn A, Chủ tịch UBND huyện,
# Trưởng ban;" — also with " - " between the parts, ending at ";" or at the next "N." item.
_MEMBER_RE = re.compile(
    r"(?:(?<=\s)|^)(?:\d{1,2}[.)]\s*|-\s*)?(?:Ông|Bà|Đồng chí|Đ/c|đ/c)\s+"
    r"(?P<body>.+?)(?=;|\.\s+(?:\d{1,2}[.)]\s|Điều\s)|\.\s*$|\s\d{1,2}[.)]\s+(?:Ông|Bà)\s)")
_PART_SPLIT = re.compile(r"\s*,\s*|\s+[-–]\s+")


@dataclass(frozen=True)
class Member:
    name: str
    title: str
    role: str
    where: Where


def _members(ctx: EvidenceContext) -> list[Member]:
    text, offsets = joined_text(ctx.inspection)
    found = []
    for m in _MEMBER_RE.finditer(text):
        parts = [p.strip() for p in _PART_SPLIT.split(m.group("body")) if p.strip()]
        if len(parts) < 2:
            continue
        found.append(Member(parts[0], ", ".join(parts[1:-1]), parts[-1],
                            where_at(offsets, m.start("body"))))
    return found


def rank_of(title: str) -> str:
    """"head", "deputy" or "other" for a title as printed (any case)."""
    t = fold(title)
    if t.startswith(DEPUTY_PREFIX) and t[len(DEPUTY_PREFIX):].startswith(HEAD_TITLES):
        return "deputy"
    if t.startswith(HEAD_TITLES):
        return "head"
    return "other"


@check("head_is_truong_ban", reads_text=True)
def head_is_truong_ban(ctx: EvidenceContext) -> CheckResult:
    """The member named Trưởng ban is the head of the unit (Chủ tịch, Giám đốc …), not a
    deputy or someone else."""
    members = _members(ctx)
    heads = [m for m in members if re.match(r"^trưởng ban\b", fold(m.role))]
    if not heads:
        return review("no member is named Trưởng ban in the text; the members may be listed "
                      "in an attachment")
    head = heads[0]
    title = head.title or "(no title)"
    rank = rank_of(head.title)
    if rank == "deputy":
        return failed(f"the Trưởng ban is {head.name}, {title}: a deputy, not the head of "
                      "the unit", head.where)
    if rank == "other":
        return review(f"the Trưởng ban is {head.name}, {title}: not recognisably the head of "
                      "the unit", head.where)
    # "Chủ tịch UBND huyện X" must be the head of this unit, not of another body.
    body = fold(head.title)
    for prefix in HEAD_TITLES:
        if body.startswith(prefix):
            body = body[len(prefix):].strip()
            break
    unit = ctx.scope.unit
    if unit and agency_distinction(body) and \
            compare_agencies(body, unit).match == Match.DIFFERENT:
        return review(f"the Trưởng ban is {head.name}, {title}: the head of another body "
                      f"than {unit}?", head.where)
    return passed(f"the Trưởng ban is {head.name}, {title}", head.where)


@check("signer_rank")
def signer_rank(ctx: EvidenceContext, rank: str) -> CheckResult:
    """The printed signer is the head (`rank: head`; Q. acting heads count) or at least a
    deputy (`rank: deputy`). TL./TUQ. signers (by delegation) are neither."""
    if rank not in ("head", "deputy"):
        return failed(f"rule set error: signer_rank.rank must be head or deputy, not {rank!r}")
    f = ctx.fields.signer
    if f is None:
        return review("the printed signer could not be read")
    where = Where.of(f.provenance)
    signer = f.value
    printed = " ".join(x for x in (signer.authority, signer.title, signer.name) if x)
    actual = rank_of(signer.title)
    if signer.authority in ("TL.", "TUQ."):
        actual = "other"
    if actual == "head" or (rank == "deputy" and actual == "deputy"):
        return passed(f"signed by {printed}", where)
    wanted = "the head of the unit" if rank == "head" else "the head or a deputy"
    return failed(f"signed by {printed}, not {wanted}", where)
