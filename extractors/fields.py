"""Field extraction: what a document is, its number, date, issuer, subject, signer and recipients.

Decree 30/2020 fixes where each field stands on the page, so the extractor works from layout
anchors (the motto, `Số:`, the type name, `Nơi nhận`) and reads each field only in its own
region, by position, never by the order of the text: the left header column holds the agencies,
the number and a Công văn's `V/v`; the right one the place-and-date line; the centred type name
and subject follow; the signer block stands bottom right. Fragments the e-office system stamped
at issuance (the number, the day) are first put back into their lines (extractors/layout.py).

What is not the document is left out: incoming-registry stamps (`ĐẾN Số: 9639 Ngày: …`), the
gazette's and signing tools' `Ký bởi … Thời gian ký` text, `Căn cứ` lines quoting other
documents. OCR'd header and signer lines get their diacritics restored from the lexicon of
headers (extractors/lexicon.py), each change lowering the confidence. Anchors are matched with
rapidfuzz and spaCy's fuzzy Matcher so that OCR slips ("ngảy", "Sô:") still land.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import spacy
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from spacy.matcher import Matcher

from kiemchung.extractors.layout import merge_fragments
from kiemchung.extractors.lexicon import (
    DIGIT_SLIPS,
    MIDDLE_NAMES,
    SNAPPED_CONFIDENCE,
    snap_name,
    unmarked,
)
from kiemchung.extractors.ocr import without_strokes
from kiemchung.extractors.tcvn3 import is_vietnamese_syllable
from kiemchung.models.document import BBox, DocumentText, Line, Page, TextSource, nfc
from kiemchung.models.fields import DocType, DocumentFields, Field, Provenance, Signer

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"

# Printed type names (Decree 30, appendix III) and the abbreviation used in numbers.
TYPE_NAMES: dict[DocType, tuple[str, str]] = {
    DocType.QUYET_DINH: ("QUYẾT ĐỊNH", "QĐ"),
    DocType.KE_HOACH: ("KẾ HOẠCH", "KH"),
    DocType.THONG_BAO: ("THÔNG BÁO", "TB"),
    DocType.GIAY_TRIEU_TAP: ("GIẤY TRIỆU TẬP", "GTT"),
    DocType.GIAY_MOI: ("GIẤY MỜI", "GM"),
    DocType.BAO_CAO: ("BÁO CÁO", "BC"),
    DocType.CHI_THI: ("CHỈ THỊ", "CT"),
    DocType.HUONG_DAN: ("HƯỚNG DẪN", "HD"),
    DocType.TO_TRINH: ("TỜ TRÌNH", "TTr"),
    DocType.CHUONG_TRINH: ("CHƯƠNG TRÌNH", "CTr"),
    DocType.PHUONG_AN: ("PHƯƠNG ÁN", "PA"),
}
TYPE_BY_SYMBOL = {symbol.upper(): doc_type for doc_type, (_, symbol) in TYPE_NAMES.items()}

AUTHORITIES = ("TUQ.", "KT.", "TM.", "TL.", "Q.")
# Words that open a new agency name in the header's left column; other lines continue one.
AGENCY_STARTS = ("ỦY BAN", "UỶ BAN", "UBND", "HĐND", "HỘI ĐỒNG", "SỞ", "BỘ", "BAN", "PHÒNG",
                 "VĂN PHÒNG", "TRUNG TÂM", "TRƯỜNG", "CÔNG AN", "CHI CỤC", "CỤC", "TỔNG CỤC",
                 "THANH TRA", "ĐẢNG ỦY", "HUYỆN ỦY", "TỈNH ỦY", "BỘ CHỈ HUY", "ĐÀI", "BÁO",
                 "HỘI ", "LIÊN ĐOÀN", "ĐOÀN ", "MẶT TRẬN", "VIỆN", "BỆNH VIỆN", "KHO BẠC")
# Titles that stand in signer blocks; OCR'd titles are snapped to them (noise from the
# handwritten signature often joins the title line, and "TỊCH" loses its dot).
KNOWN_TITLES = ("PHÓ CHỦ TỊCH THƯỜNG TRỰC", "PHÓ CHỦ TỊCH", "CHỦ TỊCH", "PHÓ GIÁM ĐỐC",
                "GIÁM ĐỐC", "PHÓ CHÁNH VĂN PHÒNG", "CHÁNH VĂN PHÒNG", "PHÓ TRƯỞNG PHÒNG",
                "TRƯỞNG PHÒNG", "PHÓ TRƯỞNG BAN", "TRƯỞNG BAN", "PHÓ BÍ THƯ", "BÍ THƯ",
                "CHÁNH THANH TRA", "PHÓ CHÁNH THANH TRA", "CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG",
                "CHI CỤC TRƯỞNG", "HIỆU TRƯỞNG", "BỘ TRƯỞNG", "THỨ TRƯỞNG", "TỔNG GIÁM ĐỐC",
                "VIỆN TRƯỞNG")
# A rank: its level, then its grade in lower case (`Thiếu tướng`, `Đại tá`).
RANK_LEVELS = ("Đại", "Thượng", "Trung", "Thiếu")
RANK_GRADES = ("tướng", "tá", "úy")
RANKS = re.compile(rf"^(?:{'|'.join(RANK_LEVELS)})\s+(?:{'|'.join(RANK_GRADES)}|uý)\b\.?\s*",
                   re.IGNORECASE)
BODY_OPENERS = ("căn cứ", "kính gửi", "điều ", "theo đề nghị", "xét đề nghị")

# The number after `Số`: digits, an optional year, then symbols joined by "-" (the spaces of
# a stamped number's gap and of OCR around "/" and "-" are dropped first).
NUMBER_LABEL_RE = re.compile(r"^\W{0,2}S[^\s\d/]{0,2}\s*[:.;]?\s*", re.UNICODE)
NUMBER_SHAPE_RE = re.compile(
    r"^\d{1,5}/(?:\d{4}/)?[A-ZĐa-zđ0-9]+(?:\([A-ZĐa-zđ0-9]+\))?(?:-[A-ZĐa-zđ0-9.&]+"
    r"(?:\([A-ZĐa-zđ0-9]+\))?)*$")
PERSON_NAME_RE = re.compile(r"^(?:[A-ZĐÀ-Ỹ][a-zđà-ỹ]*\s+){1,5}[A-ZĐÀ-Ỹ][a-zđà-ỹ]*$")
# Text of incoming-registry stamps and of signing tools' visible signatures: never a field.
STAMP_RE = re.compile(r"(?-i:\bĐẾN\b)|\bĐến\s*:?\s*Số|^\W*Ngày\s*:|^\W*Giờ\s*:|Ký\s*bởi|"
                      r"Thời\s*gian\s*ký|Email\s*:|\S@\S+\.\w|Cơ\s*quan\s*:|^\W*Chuyển\s*:|\+07:00|"
                      r"\d{1,2}\.\d{1,2}\.\d{4}\s+\d{1,2}:\d{2}|"
                      r"^\W*Số\s*:?\s*\d+\s*$", re.IGNORECASE)
DECORATION = set("-_–—.=~|*•·'\"` ")
OCR_CONFIDENCE_CAP = 0.89   # an OCR'd value is never as sure as a typed one


@lru_cache(maxsize=1)
def _nlp() -> tuple[spacy.language.Language, Matcher]:
    # Blank Vietnamese pipeline; whitespace tokenisation (pyvi's word segmentation is not needed
    # for anchor patterns and would be one more heavy dependency).
    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    matcher = Matcher(nlp.vocab)
    digits = lambda n: {"TEXT": {"REGEX": rf"^\d{{{n}}}\W*$"}}  # noqa: E731
    matcher.add("DATE_WORDS", [[
        {"LOWER": {"FUZZY1": "ngày"}}, digits("1,2"), {"LOWER": {"FUZZY1": "tháng"}}, digits("1,2"),
        {"LOWER": {"FUZZY1": "năm"}}, digits(4),
    ]])
    matcher.add("DATE_NUMERIC", [[
        {"LOWER": {"FUZZY1": "ngày"}}, {"TEXT": {"REGEX": r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\W*$"}},
    ]])
    return nlp, matcher


def _matches(text: str, label: str) -> list[tuple[int, int]]:
    """Character spans of the matcher's `label` patterns in `text`."""
    nlp, matcher = _nlp()
    doc = nlp(text)
    spans = [doc[s:e] for match_id, s, e in matcher(doc) if nlp.vocab.strings[match_id] == label]
    return [(span.start_char, span.end_char) for span in spans]


# --- helpers over lines -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Located:
    page: Page
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)

    @property
    def bbox(self) -> BBox:
        box = self.lines[0].bbox
        for line in self.lines[1:]:
            box = box.union(line.bbox)
        return box

    @property
    def confidence(self) -> float:
        words = min(line.confidence for line in self.lines)
        if self.page.source != TextSource.OCR and words >= 1.0:
            return 0.99
        return min(OCR_CONFIDENCE_CAP, words)

    @property
    def source(self) -> str:
        if self.page.source == TextSource.OCR:
            return "ocr"
        words = [w for line in self.lines for w in line.words]
        if self.page.overlays and any(self.page.in_overlay(w.bbox) for w in words):
            return "appearance"
        return str(self.page.source)

    def field(self, value, *, span: tuple[int, int] | None = None, score: float = 100.0) -> Field:
        confidence = round(self.confidence * min(1.0, score / 100.0), 3)
        return Field(value, confidence, Provenance(self.page.number, self.bbox, self.text, span,
                                                   self.source))


def _sorted_lines(page: Page) -> list[Line]:
    return sorted(page.lines, key=lambda line: (round(line.bbox.y0), line.bbox.x0))


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", nfc(text)).strip(" .;,:")




def _has_letter_or_digit(word: str) -> bool:
    """A real letter or digit: OCR's specks include modifier letters ("ˆ"), which are not."""
    return any(unicodedata.category(ch) in ("Lu", "Ll", "Nd") for ch in word)


def _trimmed(text: str) -> str:
    """`_clean` and also the rules and specks OCR reads around a header line (`| ỦY BAN`,
    `_—_ UBND`, `TẠO ˆ`)."""
    words = _clean(text).split()
    while words and not _has_letter_or_digit(words[0]):
        words.pop(0)
    while words and not _has_letter_or_digit(words[-1]):
        words.pop()
    text = re.sub(r"^[\W_]+(?=\w)", "", " ".join(words))
    return re.sub(r"(?<=[\w)])[^\w)]+$", "", text).strip()


def _joined(lines: list[Line] | tuple[Line, ...]) -> str:
    """The text of lines that wrap one name or sentence: the rules and specks OCR reads at
    their edges dropped, commas kept, a number split after its "-" or "/" joined again."""
    text = ""
    for line in lines:
        part = re.sub(r"^[\W_]+(?=\w)", "", line.text.strip())
        part = re.sub(r"\s+[-_–—.=~|*•·'\"`]+$", "", part)    # a rule or specks, apart
        if text and re.search(r"\w[/-]$", text) and re.match(r"^[A-ZĐ0-9]", part):
            text += part
        else:
            text = f"{text} {part}" if text else part
    return _trimmed(text)


def _is_decoration(text: str) -> bool:
    return set(text) <= DECORATION


def _is_stamp(line: Line) -> bool:
    return line.coloured or bool(STAMP_RE.search(line.text))


def _without_stamps(lines: list[Line]) -> list[Line]:
    """`lines` less an incoming-registry stamp: its `ĐẾN`, `Số: 9639`, `Ngày: …` lines and
    the receiving agency's name printed just above them."""
    anchors = [ln for ln in lines if _is_stamp(ln)]

    def above_anchor(line: Line) -> bool:
        return any(0 <= a.bbox.y0 - line.bbox.y1 <= 1.5 * a.height
                   and min(a.bbox.x1, line.bbox.x1) - max(a.bbox.x0, line.bbox.x0) > 0
                   and re.search(r"(?-i:\bĐẾN\b)", a.text) for a in anchors)
    kept = [ln for ln in lines if ln not in anchors]
    return [ln for ln in kept if not above_anchor(ln)]


def _prepared(page: Page) -> Page:
    """The page's lines as a person reads them: stamped fragments put into their lines; on an
    OCR'd page, the motto apart from the agency beside it."""
    lines = merge_fragments(page.lines)
    if page.source == TextSource.OCR:
        lines = tuple(part for line in lines for part in _motto_apart(line, page))
    return dataclasses.replace(page, lines=lines)


def _motto_apart(line: Line, page: Page) -> list[Line]:
    """OCR may read the agency and the motto beside it as one line ("BỘ GIÁO DỤC VÀ ĐÀO TẠO
    CỘNG HOÀ XÃ HỘI …"): the motto is then split off where it starts."""
    words = line.words
    if line.bbox.y0 > page.height * 0.4 or len(words) < 9:
        return [line]
    for i in range(1, len(words) - 1):
        pair = f"{words[i].text} {words[i + 1].text}".upper()
        if fuzz.ratio(unmarked(pair), "cong hoa") >= 80 and \
                fuzz.partial_ratio(MOTTO, " ".join(w.text for w in words[i:]).upper()) >= 80:
            return [dataclasses.replace(line, words=words[:i]),
                    dataclasses.replace(line, words=words[i:])]
    return [line]


def _find_motto(page: Page) -> Line | None:
    best, best_score = None, 0.0
    for line in page.lines:
        if line.bbox.y0 > page.height * 0.4:
            continue
        score = fuzz.partial_ratio(MOTTO, line.text.upper())
        if score > best_score:
            best, best_score = line, score
    return best if best_score >= 80 else None


def _type_line(page: Page, below: float) -> tuple[Line, DocType, float] | None:
    """The centred type name (e.g. "KẾ HOẠCH") below the header band, in the page's top half."""
    for line in _sorted_lines(page):
        if line.bbox.y0 <= below or line.bbox.y0 > page.height * 0.5 or not _is_caps(line.text):
            continue
        centre = (line.bbox.x0 + line.bbox.x1) / 2
        if abs(centre - page.width / 2) > page.width * 0.15 or _is_stamp(line):
            continue
        words = _trimmed(line.text).upper().split()
        for doc_type, (name, _) in TYPE_NAMES.items():
            head = " ".join(words[: len(name.split())])
            # OCR keeps the letters of a type name more often than its marks ("KÉẺ HOẠCH").
            score = max(fuzz.ratio(name, head), 0.95 * fuzz.ratio(unmarked(name), unmarked(head)))
            if score >= 85:
                return line, doc_type, score
    return None


def _header_page(document: DocumentText) -> Page:
    """The page the document's header stands on: the first with the motto among the first
    three (a blank back or a cover may come first), else page 1."""
    for page in document.pages[:3]:
        if _find_motto(page) is not None:
            return page
    return document.pages[0]


# --- the fields -------------------------------------------------------------------------------

def extract_fields(document: DocumentText) -> DocumentFields:
    if not document.pages:
        return DocumentFields()
    first = _prepared(_header_page(document))
    motto = _find_motto(first)
    header_top = motto.bbox.y0 if motto else 0.0
    type_found = _type_line(first, below=header_top + 1)
    header_bottom = type_found[0].bbox.y0 if type_found else _body_top(first)
    header = _without_stamps([ln for ln in _sorted_lines(first)
                              if ln.bbox.y1 <= header_bottom + 1])
    split_x = motto.bbox.x0 - 2 if motto else first.width * 0.45
    header = [part for ln in header for part in _split_at(ln, split_x)]
    left = [ln for ln in header if ln.bbox.x1 <= split_x + first.width * 0.05]
    # The date line is centred under the motto and may start a little left of it.
    right = [ln for ln in header if ln.bbox.x0 >= split_x - first.width * 0.1
             and ln not in left]
    # The agencies start level with the motto; what stands higher is a stamp or a margin note.
    top = header_top - 2 * motto.height if motto else 0.0
    left_below = [ln for ln in left if ln.bbox.y0 >= top]

    number_line, number = _number(first, left_below or header)
    place, issue_date = _place_and_date(first, right or header)
    superior, issuer = _agencies(first, left_below, number_line)
    doc_type, type_name, subject = _type_and_subject(first, type_found, left_below, number_line,
                                                     number)
    signer_page, signer = _signer(document)
    recipients = _recipients(signer_page, signer) if signer_page else None
    copy_mark = _copy_mark(document)
    appendix_file = _appendix_heading(first) if motto is None else None
    if number and doc_type and first.source == TextSource.OCR:
        number = _repair_number(number, doc_type.value)
    return DocumentFields(doc_type=doc_type, type_name=type_name, number=number,
                          issue_date=issue_date, place=place, issuer=issuer,
                          superior_agency=superior, subject=subject, signer=signer,
                          recipients=recipients, copy_mark=copy_mark,
                          appendix_file=appendix_file)


def _split_at(line: Line, x: float) -> list[Line]:
    """A header line typed across both columns with spaces ("Số: 12/UBND      Hà Nội, ngày …")
    as its left and right parts: split at its widest gap, when it crosses the columns' edge
    `x` and is wider than two line heights."""
    words = line.words
    if len(words) < 2 or not line.bbox.x0 < x < line.bbox.x1:
        return [line]
    i = max(range(1, len(words)), key=lambda k: words[k].bbox.x0 - words[k - 1].bbox.x1)
    if words[i].bbox.x0 - words[i - 1].bbox.x1 < 2 * line.height:
        return [line]
    return [dataclasses.replace(line, words=words[:i]), dataclasses.replace(line, words=words[i:])]


COPY_MARKS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")


def _copy_mark(document: DocumentText) -> Field[str] | None:
    """An electronic copy states its form at the top right of page 1 (with the copying agency's
    signature); a paper copy adds a copy block after the last page. Either names the form alone
    on its line, in capitals."""
    pages = (document.pages[0], document.pages[-1]) if len(document.pages) > 1 \
        else document.pages[:1]
    for page in pages:
        for line in page.lines:
            head = _clean(line.text).upper()
            for mark in COPY_MARKS:
                if head == mark or (head.startswith(mark + " ") and line.bbox.x0 > page.width / 2):
                    return _Located(page, (line,)).field(mark, span=(0, len(mark)))
    return None


def _appendix_heading(page: Page) -> Field[str] | None:
    """An appendix in a separate file opens with "PHỤ LỤC …" and has no motto."""
    for line in _sorted_lines(page)[:4]:
        text = _clean(line.text)
        if fuzz.ratio("PHỤ LỤC", text.upper()[:7]) >= 85:
            return _Located(page, (line,)).field(text)
    return None


def _body_top(page: Page) -> float:
    """Without a type name (a Công văn) the header ends where the body opens."""
    for line in _sorted_lines(page):
        if line.text.strip().lower().startswith(BODY_OPENERS):
            return line.bbox.y0
    return page.height * 0.3


def _is_noi_nhan(line: Line, page: Page) -> bool:
    """The "Nơi nhận:" heading: a short line of its own at the left."""
    words = line.text.split()
    return (line.bbox.x0 < page.width / 2 and len(words) <= 3
            and fuzz.ratio("nơi nhận", " ".join(words[:2]).lower().rstrip(":")) >= 80)


def _number_label(text: str) -> re.Match | None:
    """`Số:` opening a line (OCR: "Sô:", "Số;", "S6:")."""
    match = NUMBER_LABEL_RE.match(text)
    if not match or not match.group(0).strip():
        return None
    # A colon, or the digits or "/" right after: "SỞ NỘI VỤ" is no "Số".
    if not re.search(r"[:.;]\s*$", match.group(0)) and not re.match(r"[\d/.]", text[match.end():]):
        return None
    head = text[match.start(): match.end()].strip(" :.;").lstrip("|_—-–'\" ")
    return match if fuzz.ratio("Số", head[:3]) >= 50 else None


def _number(page: Page, lines: list[Line]) -> tuple[Line | None, Field[str] | None]:
    """The `Số:` line of the left column and the number it reads. A line whose digits are not
    digits (a handwritten or unreadable number) gives the line and no number."""
    for line in lines:
        text = line.text
        label = _number_label(text)
        if label is None or "/" not in text:
            continue
        tail = re.sub(r"\s*([/\-])\s*", r"\1", text[label.end():]).strip()
        token = tail.split(" ")[0].rstrip(".,;:")
        if re.match(r"^\d{1,5}[A-ZĐ]", token):       # a stamp drawn over the "/"
            token = re.sub(r"^(\d{1,5})", r"\1/", token)
            score = 85.0
        else:
            score = 100.0
        if not NUMBER_SHAPE_RE.match(token):
            return line, None
        start = text.find(token.split("/")[0], label.end())
        return line, _Located(page, (line,)).field(token, span=(start, len(text)), score=score)
    return None, None


def _repair_number(number: Field[str], doc_type: DocType) -> Field[str]:
    """Undo OCR slips in a number's symbols: the type symbol must be the document type's
    ("TIr" → "TTr", "QĐÐ" → "QĐ"), and agency symbols are letters ("S1111" → "STTTT")."""
    seq, _, symbols = number.value.partition("/")
    groups = symbols.split("/")
    year = groups[0] + "/" if len(groups) > 1 else ""
    groups = groups[-1].split("-")
    if doc_type in TYPE_NAMES:
        expected = TYPE_NAMES[doc_type][1]
        if groups[0] != expected and fuzz.ratio(groups[0].upper(), expected.upper()) >= 50:
            groups[0] = expected
    groups = [g.replace("1", "T") if re.search(r"[A-Za-zĐđ]", g) else g for g in groups]
    repaired = f"{seq}/{year}{'-'.join(groups)}"
    if repaired == number.value:
        return number
    return Field(repaired, round(number.confidence * 0.85, 3), number.provenance)


_DATE_WORDS_RE = re.compile(r"\bng[^\s\d]y\s*(\S*?)\s*th[^\s\d]{2,4}\s*(\S*?)\s*"
                            r"n[^\s\d]{1,2}m\s*(\d{4})", re.IGNORECASE)


def _ocr_date_text(text: str) -> tuple[str, bool]:
    """The date line with OCR's slips in its day and month undone ("ngày 3| tháng" → "31"),
    and whether any was."""
    def repair(match: re.Match) -> str:
        day, month = (g.translate(DIGIT_SLIPS) for g in match.group(1, 2))
        return f"ngày {day} tháng {month} năm {match.group(3)}"
    repaired = _DATE_WORDS_RE.sub(repair, text)
    return repaired, repaired != text


def _place_and_date(page: Page, lines: list[Line]):
    """The place-and-date line of the right header column. Its place is read even when its
    day cannot be (handwritten, or stamped where nothing has text)."""
    place_only = None
    for line in lines:
        text = line.text
        if text.lower().startswith("căn cứ") or _is_stamp(line):
            continue
        located = _Located(page, (line,))
        score = 100.0
        if page.source == TextSource.OCR:
            text, repaired = _ocr_date_text(text)
            score = 80.0 if repaired else 100.0
        for label in ("DATE_WORDS", "DATE_NUMERIC"):
            for start, end in _matches(text, label):
                numbers = [int(n) for n in re.findall(r"\d+", text[start:end])]
                try:
                    issue_date = dt.date(numbers[2], numbers[1], numbers[0])
                except (ValueError, IndexError):
                    continue
                place_text = _trimmed(text[:start])
                if label == "DATE_NUMERIC" and not place_text:
                    continue   # "ngày 19/05/2025" alone is a note or a stamp, not the date line
                place = located.field(place_text, span=(0, len(text[:start].rstrip(" ,")))) \
                    if place_text else None
                return place, located.field(issue_date, span=(start, end), score=score)
        words = _DATE_WORDS_RE.search(text)
        if place_only is None and words and 1900 < int(words.group(3)) < 2100:
            place_text = _trimmed(text[: words.start()])
            if place_text and len(place_text.split()) <= 5:
                place_only = located.field(place_text, span=(0, len(text[: words.start()]
                                                                     .rstrip(" ,"))))
    return place_only, None


def _agencies(page: Page, left: list[Line], number_line: Line | None):
    """Superior agency and issuing agency from the left header column, above `Số:`."""
    stop = number_line.bbox.y0 if number_line else next(
        (ln.bbox.y0 for ln in left if _number_label(ln.text) or _is_vv(ln)), float("inf"))
    candidates = [ln for ln in left if ln.bbox.y1 <= stop + 1 and _is_caps(ln.text)
                  and not _is_decoration(ln.text) and _trimmed(ln.text)]
    groups: list[list[Line]] = []
    for line in candidates:
        text = _trimmed(line.text).upper()
        if not groups or text.startswith(AGENCY_STARTS):
            groups.append([line])
        else:
            groups[-1].append(line)
    if not groups:
        return None, None
    located = [_Located(page, tuple(group)) for group in groups]

    def name(item: _Located) -> Field[str]:
        return item.field(_joined(item.lines))

    issuer = name(located[-1])
    superior = name(located[-2]) if len(located) > 1 else None
    return superior, issuer


_VV_RE = re.compile(r"^\W{0,2}(?:V\s*/\s*v\b\.?|V[ềêeÈ]\s+vi[ệêe]c\b)\s*", re.IGNORECASE)


def _is_vv(line: Line) -> bool:
    """A Công văn's subject label, "V/v" or "Về việc", under its number."""
    return bool(_VV_RE.match(line.text))


def _type_and_subject(page: Page, type_found, left: list[Line], number_line: Line | None,
                      number: Field | None):
    vv = _vv_subject(page, left)
    # A Công văn's "V/v" under the number comes before any type-like heading of its body.
    if type_found and not (vv and vv[0].bbox.y0 < type_found[0].bbox.y0):
        type_line, doc_type, score = type_found
        type_located = _Located(page, (type_line,))
        doc_type_field = type_located.field(doc_type, score=score)
        type_name = type_located.field(_trimmed(type_line.text), score=score)
        subject_lines = _subject_lines(page, type_line)
        if not subject_lines:
            return doc_type_field, type_name, None
        located = _Located(page, tuple(subject_lines))
        return doc_type_field, type_name, located.field(_joined(subject_lines))
    if vv:
        located = _Located(page, tuple(vv))
        match = _VV_RE.match(located.text)
        assert match is not None   # its first line is one _is_vv took
        label = match.group(0)
        prefix = "V/v" if "/" in label else "Về việc"
        subject = _joined(vv)[len(_trimmed(label)):].strip()
        return located.field(DocType.CONG_VAN), None, located.field(f"{prefix} {subject}")
    if number:
        symbols = number.value.split("/")[-1].split("-")[0].upper()
        inferred = TYPE_BY_SYMBOL.get(symbols, DocType.CONG_VAN)
        # No type name was found: the number's symbol tells the type (none: a Công văn), less
        # sure.
        return Field(inferred, round(number.confidence * 0.8, 3), number.provenance), None, None
    return None, None, None


def _vv_subject(page: Page, left: list[Line]) -> list[Line]:
    """The lines of a Công văn's "V/v …" in the left column."""
    vv_lines: list[Line] = []
    for line in left:
        if vv_lines:
            previous = vv_lines[-1]
            if line.bbox.y0 - previous.bbox.y1 > previous.height * 0.8 or _is_stamp(line) \
                    or _is_decoration(line.text.strip()):
                break
            vv_lines.append(line)
        elif _is_vv(line):
            vv_lines.append(line)
    return vv_lines


def _subject_lines(page: Page, type_line: Line) -> list[Line]:
    """Centred lines right below the type name, up to the body: a wider gap than between the
    subject's own lines, a body opener, a caps line, a rule, or a paragraph wider than the
    subject set full across the text block."""
    lines: list[Line] = []
    previous = type_line
    block_left, block_right = _text_block(page)
    for line in _sorted_lines(page):
        if line.bbox.y0 <= type_line.bbox.y0 + 1 or _is_stamp(line):
            continue
        gap = line.bbox.y0 - previous.bbox.y1
        centre = (line.bbox.x0 + line.bbox.x1) / 2
        text = line.text.strip()
        if not text:
            continue
        # Centred on the text block (a paragraph's indented first line or short last line is
        # not; a scan may sit off the page's centre).
        uneven = abs((line.bbox.x0 - block_left) - (block_right - line.bbox.x1))
        if (gap > previous.height * 1.2
                or abs(centre - (block_left + block_right) / 2) > page.width * 0.12
                or (lines and uneven > page.width * 0.045)
                or text.lower().startswith(BODY_OPENERS)
                or (lines and _is_caps(text))
                or _is_decoration(text)):
            break
        lines.append(line)
        previous = line
    return lines


def _text_block(page: Page) -> tuple[float, float]:
    """The left and right margins of the page's text: where its wide lines start and end."""
    wide = [ln.bbox for ln in page.lines if ln.bbox.x1 - ln.bbox.x0 > page.width * 0.5]
    if len(wide) < 3:
        return page.width * 0.15, page.width * 0.9
    lefts = sorted(b.x0 for b in wide)
    rights = sorted(b.x1 for b in wide)
    return lefts[len(lefts) // 10], rights[-1 - len(rights) // 10]


def _signer_page(document: DocumentText) -> tuple[Page, Line | None]:
    for page in document.pages:
        for line in page.lines:
            if _is_noi_nhan(line, page):
                return page, line
    for page in reversed(document.pages):
        if not any(line.text.strip().upper().startswith("PHỤ LỤC") for line in page.lines[:3]):
            return page, None
    return document.pages[-1], None


def _signer(document: DocumentText):
    page, noi_nhan = _signer_page(document)
    page = _prepared(page)
    top = _block_top(page, noi_nhan)
    block = [ln for ln in _sorted_lines(page)
             if ln.bbox.x0 >= page.width * 0.42 and ln.bbox.y0 >= top and not _is_stamp(ln)
             and _trimmed(ln.text)]
    if page.source == TextSource.OCR:
        block = [_title_without_strokes(ln) for ln in block]
    names = [i for i, ln in enumerate(block) if _person_name(ln.text)[1]]
    # Caps lines of a few letters at least: a lone capital is a speck of the signature.
    titles = [i for i, ln in enumerate(block)
              if _is_caps(ln.text) and sum(ch.isalpha() for ch in ln.text) >= 3]
    doubtful_name = False
    if not names and titles and page.source == TextSource.OCR:
        # The signature or the seal over the name garbles a letter or two ("Nør yến Văn
        # Phúc"): the last name-like line under the title, said to be doubtful.
        names = [i for i, ln in enumerate(block) if i > titles[0] and _name_like(ln.text)]
        doubtful_name = True
    if not names or not titles:
        return page, None
    name_index = names[-1]
    head = [block[i] for i in titles if i < name_index]
    if not head:
        return page, None
    # The prefixes chain down the block (TL. CHỦ TỊCH / KT. CHÁNH VĂN PHÒNG); the signer's own
    # title is the run of caps lines after the last prefix line.
    prefixes = [(i, _authority_prefix(ln.text)) for i, ln in enumerate(head)]
    chain = tuple(p for _, p in prefixes if p)
    last_prefix = max((i for i, p in prefixes if p), default=-1)
    title_group = _consecutive(head[last_prefix + 1:])
    if title_group:
        title = _trimmed(" ".join(ln.text for ln in title_group))
        used_head = head[: last_prefix + 1] + title_group
    else:  # "Q. GIÁM ĐỐC": the title shares the last prefix line
        title = _trimmed(_PREFIX_RE.sub("", head[last_prefix].text))
        used_head = head[: last_prefix + 1]
    score = 100.0
    if page.source == TextSource.OCR:
        title, score = _known_title(title)
    name_line = block[name_index]
    rank, name = _person_name(name_line.text)
    if doubtful_name:
        name, score = _trimmed(name_line.text), min(score, 40.0)
    assert name is not None   # the line was chosen as a name, or else is doubtful
    if page.source == TextSource.OCR:
        name, changed = snap_name(name)
        if changed:
            score = min(score, SNAPPED_CONFIDENCE * 100)
    if name.split()[0] in MIDDLE_NAMES:
        # A middle name opening the name: its surname was lost (under the seal or the strokes).
        score = min(score, 40.0)
    signer = Signer(name=name, title=title, authority=chain[0] if chain else None,
                    authority_chain=chain, rank=rank)
    located = _Located(page, tuple(used_head + [name_line]))
    name_text = located.text
    start = name_text.rfind(name_line.text)
    return page, located.field(signer, span=(start, start + len(name_line.text)), score=score)


def _title_without_strokes(line: Line) -> Line:
    """A title line the way it is printed, when OCR read a signature's strokes or the seal's
    ring at its ends as words of next to no confidence (`c.(ó1o „ GIÁM ĐỐC`); any other
    line as it is (a name keeps even a surname read that badly)."""
    words = without_strokes(line.words)
    if not words or len(words) == len(line.words) or _is_caps(line.text) \
            or not _is_caps(" ".join(w.text for w in words)):
        return line
    return dataclasses.replace(line, words=words)


BLOCK_TOP = 0.45    # of the page's height: without "Nơi nhận:", the signer block stands below
HEADER_END = 0.2    # of page 1's height: no signer block stands in the header above


def _block_top(page: Page, noi_nhan: Line | None) -> float:
    """Where the signer block begins: a little above "Nơi nhận:", which stands beside its
    first line. Without it (OCR lost it under a stroke), below BLOCK_TOP of the page, or
    higher at a prefix or a title standing alone in the right column (`TM. ỦY BAN NHÂN
    DÂN`, `GIÁM ĐỐC`): a short last page, or a block that runs onto a page of its own,
    puts it there."""
    if noi_nhan is not None:
        return noi_nhan.bbox.y0 - 40
    top = page.height * BLOCK_TOP
    below_header = page.height * HEADER_END if page.number == 1 else 0.0
    heads = [ln.bbox.y0 for ln in page.lines
             if ln.bbox.x0 >= page.width * 0.42 and below_header <= ln.bbox.y0 < top
             and (_authority_prefix(ln.text) or _is_title(ln.text))]
    return min(heads, default=top)


def _is_title(text: str) -> bool:
    """`text` is a known title and nothing more (OCR's slips aside)."""
    return any(fuzz.ratio(_letters(title), _letters(text)) >= 88 for title in KNOWN_TITLES)


def _letters(text: str) -> str:
    """Its letters without marks: OCR splits and specks a title ("P L2 HÓ GIÁM ĐỐC")."""
    return re.sub(r"[^a-z]", "", unmarked(text))


def _person_name(text: str) -> tuple[str | None, str | None]:
    """(rank, name) when `text` is a printed person's name, a rank possibly before it."""
    text = _trimmed(text)
    rank_match = RANKS.match(text)
    rank = rank_match.group(0).strip() if rank_match else None
    name = text[rank_match.end():].strip() if rank_match else text
    if rank is None:
        rank, name = _ocr_rank(text)
    if PERSON_NAME_RE.match(name) and not _is_caps(name):
        return rank, name
    return rank, None


def _ocr_rank(text: str) -> tuple[str | None, str]:
    """A rank OCR misspelt before the name (`Thượng tuứng Nguyễn Văn Long`): its first word a
    rank's level, its second in lower case one letter from a grade: (the rank spelt right,
    the name)."""
    words = text.split()
    if len(words) < 4 or not words[1][:1].islower():
        return None, text
    level = next((lv for lv in RANK_LEVELS if unmarked(lv) == unmarked(words[0])), None)
    grade = next((g for g in RANK_GRADES
                  if Levenshtein.distance(unmarked(words[1]).strip("."), unmarked(g)) <= 1
                  and len(words[1]) >= len(g)), None)
    if level is None or grade is None:
        return None, text
    return f"{level} {grade}", " ".join(words[2:])


def _name_like(text: str) -> bool:
    """Two to six words, most of them capitalised, not a caps line: a name OCR garbled."""
    words = _trimmed(text).split()
    return 2 <= len(words) <= 6 and not _is_caps(text) and \
        sum(w[:1].isupper() for w in words) * 2 > len(words)


def _known_title(text: str) -> tuple[str, float]:
    """The known title the OCR'd line holds, the longest one first, and how sure; else the text
    as read."""
    scored = [(max(fuzz.partial_ratio(title, text.upper()),
                   fuzz.ratio(_letters(title), _letters(text))), len(title), title)
              for title in KNOWN_TITLES if len(text) >= len(title) - 1]
    known = [item for item in scored if item[0] >= 88]
    if known:
        score, _, title = max(known, key=lambda item: (item[1], item[0]))
        return title, 100.0 if title == text.upper() else float(score)
    # A word no Vietnamese syllable ("SUỦ TỊCH"): OCR damaged the title, so a nearer match
    # is taken — the closest one, said to be doubtful.
    if any(not is_vietnamese_syllable(word) for word in re.findall(r"\w+", text)):
        near = [item for item in scored if item[0] >= 80]
        if near:
            score, _, title = max(near, key=lambda item: (item[0], item[1]))
            return title, min(float(score), 60.0)
    return text, 80.0


_PREFIX_RE = re.compile(r"^[\W_]*(?:TUQ|KT|TM|TL|Q)\s*[.,:]?\s*", re.IGNORECASE)


def _authority_prefix(text: str) -> str | None:
    """The signing-authority prefix ("KT.", "TM.", …) opening `text`, tolerating "KT ." and
    "KT," slips. Only "TM." stands before a body's name ("TM. ỦY BAN NHÂN DÂN"): a short
    garbled token there ("_M,") is that prefix."""
    head = re.sub(r"^[\W_]+", "", _clean(text).upper())
    head = re.sub(r"^(TUQ|KT|TM|TL|Q)\s*[.,:]", r"\1.", head)
    for prefix in AUTHORITIES:
        if head.startswith(prefix):
            return prefix
    first, _, rest = _clean(text).upper().partition(" ")
    if len(first) <= 3 and re.search(r"[.,]$", first) and rest.startswith(AGENCY_STARTS):
        return "TM."
    return None


def _consecutive(lines: list[Line]) -> list[Line]:
    """The first run of lines without a gap (the title; a signature stamp may follow)."""
    group: list[Line] = []
    for line in lines:
        if group and line.bbox.y0 - group[-1].bbox.y1 > line.height * 1.2:
            break
        group.append(line)
    return group


def _left_half(line: Line, page: Page) -> Line:
    words = tuple(w for w in line.words if w.bbox.x0 < page.width * 0.5) or line.words
    return line if len(words) == len(line.words) else dataclasses.replace(line, words=words)


def _recipients(page: Page, signer: Field[Signer] | None) -> Field[tuple[str, ...]] | None:
    lines = _sorted_lines(page)
    label = next((i for i, ln in enumerate(lines) if _is_noi_nhan(ln, page)), None)
    if label is not None:
        heading, below = [lines[label]], lines[label + 1:]
    elif signer is not None and signer.provenance.bbox is not None:
        # "Nơi nhận:" unread: the list stands beside the signer block, from its first line
        # down, in a narrow column (a body's dashed lines run wider).
        top = signer.provenance.bbox.y0 - 2
        heading, below = [], [ln for ln in lines
                              if ln.bbox.y0 >= top and ln.bbox.x1 <= page.width * 0.5]
    else:
        return None
    # The list's items open with a dash at the left; OCR may join a speck of the signature
    # or a word of the signer block on the right to one: those are cut.
    items = [_left_half(ln, page) for ln in below
             if ln.bbox.x0 <= page.width * 0.3 and ln.text.lstrip().startswith(("-", "+", "–"))]
    if not items:
        return None
    values = tuple(_trimmed(ln.text.lstrip(" -+–")) for ln in items)
    if page.source == TextSource.OCR:
        # "(b/c)" (báo cáo: for report) is the one abbreviation OCR keeps mangling.
        values = tuple(re.sub(r"\(b/[^)]{0,2}\)", "(b/c)", v) for v in values)
    return _Located(page, (*heading, *items)).field(values)
