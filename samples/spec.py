"""What a generated document says: the ground truth that tests and `make eval` compare with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiemchung.models.fields import DocType


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
    unit_name: str            # plain name for rule sets and certificates,
                              # e.g. "UBND huyện Phú Vang"
    name_lines: tuple[str, ...] = ()  # where the printed name breaks, when it is not balanced
    superior_lines: tuple[str, ...] = ()  # the same for the superior line
    kind: str = "state"       # "state", "police", "council" or "front" (socio-political body)


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
    # Patterns of real files (issue 10), all off for the classic layout the old variants keep.
    real_patterns: bool = False
    signer_lines: tuple[str, ...] = ()   # caps lines above the signature when chained, e.g.
                                         # ("TL. CHỦ TỊCH", "KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH …")
    authority_all: tuple[str, ...] = ()  # every prefix of the block top-down, e.g. ("TL.", "KT.")
    rank: str | None = None              # "Thiếu tướng" printed before the name, not part of it
    rank_own_line: bool = False          # the rank on its own line above the name
    title_under_name: str | None = None  # a second title line under the name
    glued_authority: bool = False        # "TL.CHỦ TỊCH": no space after the prefix

    @property
    def subject_printed(self) -> str:
        """The trích yếu as a person reads it: a Công văn's starts with "V/v "."""
        if self.doc_type == DocType.CONG_VAN:
            return f"V/v {self.subject}"
        return self.subject

    @property
    def authorities(self) -> tuple[str, ...]:
        """The prefixes of the signer block top-down (empty without one)."""
        if self.authority_all:
            return self.authority_all
        return (self.authority,) if self.authority else ()
