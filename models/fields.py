"""Fields read from a document, each with where it came from and how sure we are."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from kiemchung.models.document import BBox

T = TypeVar("T")


class DocType(StrEnum):
    """Contract values: the type name in snake_case without diacritics."""

    QUYET_DINH = "quyet_dinh"
    KE_HOACH = "ke_hoach"
    THONG_BAO = "thong_bao"
    GIAY_TRIEU_TAP = "giay_trieu_tap"
    GIAY_MOI = "giay_moi"
    BAO_CAO = "bao_cao"
    CONG_VAN = "cong_van"
    CHI_THI = "chi_thi"
    HUONG_DAN = "huong_dan"
    TO_TRINH = "to_trinh"
    CHUONG_TRINH = "chuong_trinh"
    PHUONG_AN = "phuong_an"


@dataclass(frozen=True)
class Provenance:
    page: int                       # 1-based
    bbox: BBox | None
    text: str                       # the source line(s) the value was read from
    span: tuple[int, int] | None = None   # character span of the value within `text`
    # What the value was read from: "text" (the page's text layer), "tcvn3" (a converted
    # legacy layer), "appearance" (a signature widget's or annotation's appearance, where the
    # number and day are stamped at issuance) or "ocr".
    source: str = "text"

    def to_json(self) -> dict:
        return {"page": self.page, "bbox": self.bbox.as_list() if self.bbox else None,
                "text": self.text, "span": list(self.span) if self.span else None,
                "source": self.source}


@dataclass(frozen=True)
class Field(Generic[T]):
    value: T
    confidence: float               # 0..1
    provenance: Provenance


@dataclass(frozen=True)
class Signer:
    name: str
    title: str                      # the signer's own title, e.g. "PHÓ CHÁNH VĂN PHÒNG"
    authority: str | None           # the outermost prefix: "KT.", "TM.", "Q.", "TL.", "TUQ."
    # Every prefix of the block top-down ("TL. CHỦ TỊCH / KT. CHÁNH VĂN PHÒNG" → TL., KT.)
    authority_chain: tuple[str, ...] = ()
    rank: str | None = None         # a military or police rank printed before the name


@dataclass(frozen=True)
class DocumentFields:
    doc_type: Field[DocType] | None = None
    type_name: Field[str] | None = None   # as printed, e.g. "THÔNG BÁO KẾT LUẬN"
    number: Field[str] | None = None
    issue_date: Field[dt.date] | None = None
    place: Field[str] | None = None
    issuer: Field[str] | None = None
    superior_agency: Field[str] | None = None
    subject: Field[str] | None = None
    signer: Field[Signer] | None = None
    recipients: Field[tuple[str, ...]] | None = None
    # "SAO Y", "SAO LỤC" or "TRÍCH SAO" when the file is a copy (carries only the agency's
    # signature), "PHỤ LỤC" when it is an appendix issued as a separate file.
    copy_mark: Field[str] | None = None
    appendix_file: Field[str] | None = None

    def value(self, name: str):
        f = getattr(self, name)
        return None if f is None else f.value
