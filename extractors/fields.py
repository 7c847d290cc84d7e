"""Field extraction: what a document is, its number, date, issuer, subject, signer and recipients.

Decree 30/2020 fixes where each field stands on the page, so the extractor works from layout
anchors first (the motto, `Số:`, the type name, `Nơi nhận`) and reads each field only in its
own region: the issue date from the place-and-date line of the header band (never from
`Căn cứ` lines or the body), the signer from the end of the signer block (never a name in the
body). Anchors are matched with rapidfuzz and spaCy's fuzzy Matcher so that OCR slips
("ngảy", "Sô:") still land.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import spacy
from rapidfuzz import fuzz
from spacy.matcher import Matcher

from models.document import BBox, DocumentText, Line, Page, TextSource, nfc
from models.fields import DocType, DocumentFields, Field, Provenance, Signer

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
                 "THANH TRA", "ĐẢNG ỦY", "HUYỆN ỦY", "TỈNH ỦY", "BỘ CHỈ HUY", "ĐÀI", "BÁO")
# Titles that stand in signer blocks; OCR'd titles are snapped to them (noise from the
# handwritten signature often joins the title line, and "TỊCH" loses its dot).
KNOWN_TITLES = ("PHÓ CHỦ TỊCH", "CHỦ TỊCH", "PHÓ GIÁM ĐỐC", "GIÁM ĐỐC", "PHÓ CHÁNH VĂN PHÒNG",
                "CHÁNH VĂN PHÒNG", "PHÓ TRƯỞNG PHÒNG", "TRƯỞNG PHÒNG", "PHÓ TRƯỞNG BAN",
                "TRƯỞNG BAN", "PHÓ BÍ THƯ", "BÍ THƯ", "CHÁNH THANH TRA", "PHÓ CHÁNH THANH TRA",
                "CỤC TRƯỞNG", "PHÓ CỤC TRƯỞNG", "CHI CỤC TRƯỞNG", "HIỆU TRƯỞNG")
BODY_OPENERS = ("căn cứ", "kính gửi", "điều ", "theo đề nghị", "xét đề nghị")

NUMBER_RE = re.compile(r"S\S{0,2}\s*[:.;]?\s*(\d{1,4}\s*/\s*[\wĐđ.\-/ ]*[\wĐđ])", re.UNICODE)
NUMBER_SHAPE_RE = re.compile(r"^\d{1,4}/(?:\d{4}/)?[A-ZĐa-z0-9]+(?:-[A-ZĐa-z0-9.]+)*$")
PERSON_NAME_RE = re.compile(r"^(?:[A-ZĐÀ-Ỹ][a-zđà-ỹ]*\s+){1,5}[A-ZĐÀ-Ỹ][a-zđà-ỹ]*$")


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
    matcher.add("AUTHORITY", [[{"TEXT": {"REGEX": r"^(TUQ|KT|TM|TL|Q)\.?$"}, "OP": "?"},
                               {"TEXT": {"REGEX": r"^(TUQ|KT|TM|TL|Q)\."}}]])
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
        if self.page.source != TextSource.OCR:
            return 0.99
        return min(line.confidence for line in self.lines)

    def field(self, value, *, span: tuple[int, int] | None = None, score: float = 100.0) -> Field:
        confidence = round(self.confidence * min(1.0, score / 100.0), 3)
        return Field(value, confidence, Provenance(self.page.number, self.bbox, self.text, span))


def _sorted_lines(page: Page) -> list[Line]:
    return sorted(page.lines, key=lambda line: (round(line.bbox.y0), line.bbox.x0))


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", nfc(text)).strip(" .;,:")


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
    """The centred type name (e.g. "KẾ HOẠCH") below the header band."""
    for line in _sorted_lines(page):
        if line.bbox.y0 <= below or not _is_caps(line.text):
            continue
        centre = (line.bbox.x0 + line.bbox.x1) / 2
        if abs(centre - page.width / 2) > page.width * 0.15:
            continue
        text = line.text.upper()
        for doc_type, (name, _) in TYPE_NAMES.items():
            head = text[: len(name) + 2]
            score = fuzz.ratio(name, head[: len(name)])
            if score >= 85 and (len(text) == len(name) or not text[len(name)].isalpha()):
                return line, doc_type, score
    return None


# --- the fields -------------------------------------------------------------------------------

def extract_fields(document: DocumentText) -> DocumentFields:
    if not document.pages:
        return DocumentFields()
    first = document.pages[0]
    motto = _find_motto(first)
    header_top = motto.bbox.y0 if motto else 0.0
    type_found = _type_line(first, below=header_top + 1)
    header_bottom = type_found[0].bbox.y0 if type_found else _body_top(first)
    header = [ln for ln in _sorted_lines(first) if ln.bbox.y1 <= header_bottom + 1]
    split_x = motto.bbox.x0 - 2 if motto else first.width * 0.45
    left = [ln for ln in header if ln.bbox.x1 <= split_x + first.width * 0.05]
    right = [ln for ln in header if ln.bbox.x0 >= split_x - 2]

    number = _number(first, left or header)
    place, issue_date = _place_and_date(first, right or header)
    superior, issuer = _agencies(first, left, number)
    doc_type, type_name, subject = _type_and_subject(first, type_found, left, number)
    signer_page, signer = _signer(document)
    recipients = _recipients(signer_page) if signer_page else None
    copy_mark = _copy_mark(document)
    appendix_file = _appendix_heading(first) if motto is None else None
    if number and doc_type and first.source == TextSource.OCR:
        number = _repair_number(number, doc_type.value)
    return DocumentFields(doc_type=doc_type, type_name=type_name, number=number,
                          issue_date=issue_date, place=place, issuer=issuer,
                          superior_agency=superior, subject=subject, signer=signer,
                          recipients=recipients, copy_mark=copy_mark,
                          appendix_file=appendix_file)


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


def _number(page: Page, lines: list[Line]) -> Field[str] | None:
    for line in lines:
        text = line.text
        match = NUMBER_RE.search(text)
        if not match or fuzz.ratio("Số", text[match.start(): match.start() + 2]) < 50:
            continue
        value = re.sub(r"\s+", "", match.group(1))
        score = 100.0 if NUMBER_SHAPE_RE.match(value) else 70.0
        return _Located(page, (line,)).field(value, span=match.span(1), score=score)
    return None


def _repair_number(number: Field[str], doc_type: DocType) -> Field[str]:
    """Undo OCR slips in a number's symbols: the type symbol must be the document type's
    ("TIr" → "TTr", "QĐÐ" → "QĐ"), and agency symbols are letters ("S1111" → "STTTT")."""
    seq, _, symbols = number.value.partition("/")
    groups = symbols.split("-")
    if doc_type in TYPE_NAMES:
        expected = TYPE_NAMES[doc_type][1]
        if groups[0] != expected and fuzz.ratio(groups[0].upper(), expected.upper()) >= 50:
            groups[0] = expected
    groups = [g.replace("1", "T") if re.search(r"[A-Za-zĐđ]", g) else g for g in groups]
    repaired = f"{seq}/{'-'.join(groups)}"
    if repaired == number.value:
        return number
    return Field(repaired, round(number.confidence * 0.85, 3), number.provenance)


def _place_and_date(page: Page, lines: list[Line]):
    for line in lines:
        text = line.text
        if text.lower().startswith("căn cứ"):
            continue
        for label in ("DATE_WORDS", "DATE_NUMERIC"):
            for start, end in _matches(text, label):
                numbers = [int(n) for n in re.findall(r"\d+", text[start:end])]
                try:
                    issue_date = dt.date(numbers[2], numbers[1], numbers[0])
                except (ValueError, IndexError):
                    continue
                located = _Located(page, (line,))
                place_text = _clean(text[:start])
                place = located.field(place_text, span=(0, len(text[:start].rstrip(" ,")))) \
                    if place_text else None
                return place, located.field(issue_date, span=(start, end))
    return None, None


def _agencies(page: Page, left: list[Line], number: Field | None):
    """Superior agency and issuing agency from the left header column, above `Số:`."""
    stop = number.provenance.bbox.y0 if number else float("inf")
    candidates = [ln for ln in left if ln.bbox.y1 <= stop + 1 and _is_caps(ln.text)
                  and not set(ln.text) <= set("-_–—. ")]
    groups: list[list[Line]] = []
    for line in candidates:
        text = line.text.upper().strip()
        if not groups or text.startswith(AGENCY_STARTS):
            groups.append([line])
        else:
            groups[-1].append(line)
    if not groups:
        return None, None
    located = [_Located(page, tuple(group)) for group in groups]
    issuer = located[-1].field(_clean(located[-1].text))
    superior = located[-2].field(_clean(located[-2].text)) if len(located) > 1 else None
    return superior, issuer


def _type_and_subject(page: Page, type_found, left: list[Line], number: Field | None):
    if type_found:
        type_line, doc_type, score = type_found
        type_located = _Located(page, (type_line,))
        doc_type_field = type_located.field(doc_type, score=score)
        type_name = type_located.field(_clean(type_line.text), score=score)
        subject_lines = _subject_lines(page, type_line)
        if not subject_lines:
            return doc_type_field, type_name, None
        located = _Located(page, tuple(subject_lines))
        return doc_type_field, type_name, located.field(_clean(located.text))
    # No type name: a Công văn, whose subject follows "V/v" under the number.
    vv_lines: list[Line] = []
    for line in left:
        if vv_lines:
            previous = vv_lines[-1]
            if line.bbox.y0 - previous.bbox.y1 > (previous.bbox.y1 - previous.bbox.y0) * 0.8:
                break
            vv_lines.append(line)
        elif re.match(r"^\s*V\s*/\s*v\b", line.text, re.IGNORECASE):
            vv_lines.append(line)
    if vv_lines:
        located = _Located(page, tuple(vv_lines))
        subject = _clean(re.sub(r"^\s*V\s*/\s*v\.?\s*", "", located.text, flags=re.IGNORECASE))
        return located.field(DocType.CONG_VAN), None, located.field(subject)
    if number:
        symbol = number.value.split("/")[1].split("-")[0].upper() if "/" in number.value else ""
        if symbol in TYPE_BY_SYMBOL:
            # The type name was not found: fall back on the number's type symbol, less sure.
            inferred = Field(TYPE_BY_SYMBOL[symbol], round(number.confidence * 0.8, 3),
                             number.provenance)
            return inferred, None, None
    return None, None, None


def _subject_lines(page: Page, type_line: Line) -> list[Line]:
    """Centred lines right below the type name, up to the body or a caps authority line."""
    lines = []
    previous = type_line
    for line in _sorted_lines(page):
        if line.bbox.y0 <= type_line.bbox.y0 + 1:
            continue
        gap = line.bbox.y0 - previous.bbox.y1
        centre = (line.bbox.x0 + line.bbox.x1) / 2
        text = line.text.strip()
        if (gap > (previous.bbox.y1 - previous.bbox.y0) * 1.2
                or abs(centre - page.width / 2) > page.width * 0.12
                or text.lower().startswith(BODY_OPENERS)
                or (lines and _is_caps(text))
                or set(text) <= set("-_–—. ")):
            break
        lines.append(line)
        previous = line
    return lines


def _signer_page(document: DocumentText) -> tuple[Page, Line | None] | None:
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
    top = (noi_nhan.bbox.y0 - 40) if noi_nhan else page.height * 0.45
    block = [ln for ln in _sorted_lines(page)
             if ln.bbox.x0 >= page.width * 0.42 and ln.bbox.y0 >= top]
    # The authority/title lines open the block: the first caps line(s) at the top.
    names = [i for i, ln in enumerate(block) if PERSON_NAME_RE.match(_clean(ln.text))
             and not _is_caps(ln.text)]
    titles = [i for i, ln in enumerate(block) if _is_caps(ln.text)]
    if not names or not titles:
        return page, None
    name_index = names[-1]
    head = [block[i] for i in titles if i < name_index]
    if not head:
        return page, None
    authority = _authority_prefix(head[0].text)
    title_group = _consecutive(head[1:] if authority else head)
    if title_group:
        title = _clean(" ".join(ln.text for ln in title_group))
    else:  # "Q. GIÁM ĐỐC": the title shares the authority line
        title = _clean(re.sub(r"^\S+\s*", "", head[0].text))
    if page.source == TextSource.OCR:
        title = _known_title(title)
    name_line = block[name_index]
    signer = Signer(name=_clean(name_line.text), title=title, authority=authority)
    used = ([head[0]] if authority else []) + title_group + [name_line]
    located = _Located(page, tuple(used))
    name_text = located.text
    start = name_text.rfind(name_line.text)
    return page, located.field(signer, span=(start, start + len(name_line.text)))


def _known_title(text: str) -> str:
    """The known title the OCR'd line holds, the longest one first; else the text as read."""
    scored = [(fuzz.partial_ratio(title, text.upper()), len(title), title) for title in KNOWN_TITLES
              if len(text) >= len(title) - 1]
    best = max(scored, default=(0, 0, text))
    return best[2] if best[0] >= 88 else text


def _authority_prefix(text: str) -> str | None:
    """The signing-authority prefix ("KT.", "TM.", …) opening `text`, tolerating "KT ." slips."""
    head = _clean(text).upper().replace(" .", ".")
    for prefix in AUTHORITIES:
        if head.startswith(prefix):
            return prefix
    return None


def _consecutive(lines: list[Line]) -> list[Line]:
    """The first run of lines without a gap (the title; a signature stamp may follow)."""
    group: list[Line] = []
    for line in lines:
        if group and line.bbox.y0 - group[-1].bbox.y1 > (line.bbox.y1 - line.bbox.y0) * 1.2:
            break
        group.append(line)
    return group


def _recipients(page: Page) -> Field[tuple[str, ...]] | None:
    lines = _sorted_lines(page)
    for index, line in enumerate(lines):
        if _is_noi_nhan(line, page):
            items = [ln for ln in lines[index + 1:]
                     if ln.bbox.x1 <= page.width * 0.55 and ln.text.lstrip().startswith(("-", "+", "–"))]
            if not items:
                return None
            values = tuple(_clean(ln.text.lstrip(" -+–")) for ln in items)
            if page.source == TextSource.OCR:
                # "(b/c)" (báo cáo: for report) is the one abbreviation OCR keeps mangling.
                values = tuple(re.sub(r"\(b/[^)]{0,2}\)", "(b/c)", v) for v in values)
            return _Located(page, (line, *items)).field(values)
    return None
