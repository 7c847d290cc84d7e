"""What a generated document says: the ground truth that tests and `make eval` compare with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from models.fields import DocType


@dataclass(frozen=True)
class Agency:
    name: str                 # issuing agency as printed in the header, e.g. "UBND HUYỆN PHÚ VANG"
    superior: str | None      # superior agency line above it, e.g. "UBND TỈNH THỪA THIÊN HUẾ"
    level: str                # "so", "huyen" or "xa"
    symbol: str               # the agency part of the number, e.g. "UBND", "STTTT"
    place: str                # place name of the place-and-date line, e.g. "Phú Vang"
    head_title: str           # title of the head, e.g. "CHỦ TỊCH", "GIÁM ĐỐC"
    deputy_title: str         # e.g. "PHÓ CHỦ TỊCH", "PHÓ GIÁM ĐỐC"
    collective: str           # what TM. stands for, e.g. "ỦY BAN NHÂN DÂN"
    unit_name: str            # plain name for rule sets and certificates, e.g. "UBND huyện Phú Vang"


@dataclass(frozen=True)
class DocumentSpec:
    doc_type: DocType
    agency: Agency
    number: str               # "15/KH-UBND"
    issue_date: dt.date
    zero_pad_date: bool       # "ngày 05 tháng 01" vs "ngày 5 tháng 1"
    subject: str              # trích yếu (for a Công văn, without "V/v")
    signer_name: str
    signer_title: str         # as printed, caps, e.g. "PHÓ CHỦ TỊCH"
    authority: str | None     # "KT.", "TM.", "Q.", "TL.", "TUQ." or None
    authority_line: str | None  # the line the prefix stands on, e.g. "KT. CHỦ TỊCH"
    can_cu: tuple[str, ...]   # "Căn cứ …" lines quoting other numbers and dates
    body: tuple[str, ...]     # paragraphs (articles for a decision)
    recipients: tuple[str, ...]
    pages: int                # target page count (1–4), appendices included
    appendix: tuple[str, ...] = ()   # appendix paragraphs, on their own page(s)
    body_names: tuple[str, ...] = () # people named in the body (traps for the signer)
    extra: dict = field(default_factory=dict)  # criterion-specific facts (e.g. trưởng ban)
