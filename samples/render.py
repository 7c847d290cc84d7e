"""Typesetting a `DocumentSpec` as an A4 PDF laid out as Decree 30/2020 (Phụ lục I) prescribes.

The layout is computed first (`_layout`: lines with fonts and positions, page by page) and then
drawn, so the page count is known without drawing (`count_pages`) and the TCVN3 variant has
exactly the geometry of the Unicode one (Liberation Serif is metric-compatible with Times,
which is what the TCVN3 variant is drawn with).

Each line is written with its own text call, and each header column as a whole before the
other, so a PDF text extractor sees the left and right header columns as separate lines.

`RealLayout` adds what real files do to that layout (issue 10) without moving a line: the
number's digits and the day left blank for an e-office to stamp, header spans written out of
reading order, spans that lose a space, an incoming-registry stamp as text, and the TCVN3
".VnTimeH" caps font.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pymupdf

from kiemchung.models.document import BBox, nfc
from kiemchung.models.fields import DocType
from samples.content import TYPE_NAMES, format_date_line
from samples.spec import DocumentSpec

PAGE_W, PAGE_H = 595.0, 842.0            # A4 in points
MARGIN_TOP, MARGIN_BOTTOM = 57.0, 57.0   # 20 mm
MARGIN_LEFT, MARGIN_RIGHT = 85.0, 50.0   # 30 mm, ~18 mm
BODY_X0, BODY_X1 = MARGIN_LEFT, PAGE_W - MARGIN_RIGHT
BODY_CENTER = (BODY_X0 + BODY_X1) / 2
# Header columns: the agency column is narrower than the motto column, as in the decree's model.
LEFT_COL = (40.0, 272.0)
RIGHT_COL = (272.0, 575.0)
# Signer block and recipients stand side by side under the body.
SIGNER_COL = (300.0, 560.0)
RECIPIENTS_COL = (MARGIN_LEFT, 290.0)
SIGNATURE_GAP = 72.0                     # room for the signature image and the seal
BODY_SIZE = 13.0
LEADING = 1.22                           # line height as a multiple of the font size
PARA_GAP = 3.0
INDENT = 28.0

_FONT_DIRS = ("/usr/share/fonts/truetype/liberation2", "/usr/share/fonts/truetype/liberation")
_FONT_FILES = {
    "R": ("LiberationSerif-Regular.ttf", "DejaVuSerif.ttf"),
    "B": ("LiberationSerif-Bold.ttf", "DejaVuSerif-Bold.ttf"),
    "I": ("LiberationSerif-Italic.ttf", "DejaVuSerif-Italic.ttf"),
    "BI": ("LiberationSerif-BoldItalic.ttf", "DejaVuSerif-BoldItalic.ttf"),
}
# PDF resource names of the embedded fonts.
_PDF_NAMES = {"R": "LSR", "B": "LSB", "I": "LSI", "BI": "LSBI"}


@lru_cache(maxsize=None)
def font_file(style: str) -> str:
    """TrueType face for `style` ("R", "B", "I", "BI"): Liberation Serif, else DejaVu Serif."""
    liberation, dejavu = _FONT_FILES[style]
    for folder in _FONT_DIRS:
        path = Path(folder) / liberation
        if path.exists():
            return str(path)
    path = Path("/usr/share/fonts/truetype/dejavu") / dejavu
    if path.exists():
        return str(path)
    raise FileNotFoundError(f"no serif font for style {style}: install fonts-liberation2")


@lru_cache(maxsize=None)
def _font(style: str) -> pymupdf.Font:
    return pymupdf.Font(fontfile=font_file(style))


@lru_cache(maxsize=65536)
def text_width(text: str, style: str, size: float) -> float:
    return _font(style).text_length(text, fontsize=size)


@dataclass(frozen=True)
class Run:
    text: str
    style: str
    size: float
    x: float
    y: float          # baseline
    glue_at: int | None = None   # drawn without the space after this word (index)
    colour: tuple[float, float, float] = (0, 0, 0)


@dataclass(frozen=True)
class IncomingStamp:
    """The incoming-registry stamp a receiving office puts on page 1: never the fields."""
    number: int
    date: dt.date
    agency: str | None          # e.g. "UBND TỈNH LÂM ĐỒNG" above "ĐẾN"
    colour: tuple[int, int, int]
    where: str                  # "header" (over the agency) or "title" (left of the title)

    def lines(self) -> list[str]:
        head = [self.agency] if self.agency else []
        return head + ["ĐẾN", f"Số: {self.number}", f"Ngày: {self.date:%d/%m/%Y}"]


@dataclass(frozen=True)
class RealLayout:
    """Layout patterns of real files, all off by default (the classic layout)."""
    stamped: bool = False       # number digits and day left blank: stamped in signature widgets
    shuffled: bool = False      # header spans out of reading order, the digits written last
    glue_seed: int | None = None  # some spans lose the space between two words
    incoming: IncomingStamp | None = None   # drawn as text over page 1
    caps_font: bool = False     # TCVN3 capitals set in the caps-only ".VnTimeH" font
    recipients_label: bool = True   # False: no "Nơi nhận:", as when OCR loses it on a scan


@dataclass(frozen=True)
class Rule:
    x0: float
    x1: float
    y: float


@dataclass
class _PagePlan:
    runs: list[Run] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    """Where things were put, in points with the origin at the page's top-left corner."""
    page_count: int
    signer_page: int          # 1-based
    signer_bbox: BBox         # the whole signer block: authority line to name
    signature_bbox: BBox      # the blank between the title and the name (signature and seal)
    recipients_bbox: BBox     # the `Nơi nhận:` block, same page as the signer
    agency_name: str = ""     # what a seal of the issuing agency reads
    agency_place: str = ""
    # Where the number's digits and the day stand (page 1), printed or left blank.
    number_digits: str = ""
    number_digits_bbox: BBox | None = None
    day_text: str = ""
    day_bbox: BBox | None = None
    title_bbox: BBox | None = None   # type name and subject (or the V/v lines), page 1
    name_bbox: BBox | None = None    # the signer's name line, on the signer page


Token = tuple[str, str]  # (word, style)


def _tokens(text: str, style: str) -> list[Token]:
    return [(w, style) for w in text.split()]


def _wrap(tokens: list[Token], size: float, width: float, first_indent: float = 0.0
          ) -> list[list[Token]]:
    """Greedy line breaking of styled words."""
    lines: list[list[Token]] = []
    line: list[Token] = []
    used = 0.0
    limit = width - first_indent
    for word, style in tokens:
        w = text_width(word, style, size)
        gap = text_width(" ", line[-1][1], size) if line else 0.0
        if line and used + gap + w > limit:
            lines.append(line)
            line, used, limit = [], 0.0, width
            gap = 0.0
        line.append((word, style))
        used += gap + w
    if line:
        lines.append(line)
    return lines


def _balanced(text: str, style: str, size: float, width: float) -> list[str]:
    """Centred titles break where the halves are most even, as typists do, not greedily."""
    if text_width(text, style, size) <= width:
        return [text]
    words = text.split()
    best: list[str] | None = None
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        wa, wb = text_width(a, style, size), text_width(b, style, size)
        if wa <= width and wb <= width:
            if best is None or abs(wa - wb) < abs(text_width(best[0], style, size)
                                                    - text_width(best[1], style, size)):
                best = [a, b]
    if best:
        return best
    return [" ".join(w for w, _ in line) for line in _wrap(_tokens(text, style), size, width)]


def _agency_lines(name: str, size: float, width: float) -> list[str]:
    """`ỦY BAN NHÂN DÂN` stands on its own line when the full name does not fit."""
    prefix = "ỦY BAN NHÂN DÂN "
    if name.startswith(prefix) and text_width(name, "B", size) > width:
        return [prefix.strip(), name[len(prefix):]]
    return _balanced(name, "B", size, width)


def _line_runs(line: list[Token], size: float, x: float, y: float) -> list[Run]:
    """Consecutive words of one style become one run."""
    runs: list[Run] = []
    text, style, start = "", None, x
    for word, st in line:
        if style is None:
            text, style = word, st
        elif st == style:
            text += " " + word
        else:
            runs.append(Run(text, style, size, start, y))
            start += text_width(text + " ", style, size)
            text, style = word, st
    if style is not None:
        runs.append(Run(text, style, size, start, y))
    return runs


class _Flow:
    """Places lines top to bottom, starting a new page when one is full."""

    def __init__(self, real: RealLayout | None = None) -> None:
        self.pages: list[_PagePlan] = [_PagePlan()]
        self.y = MARGIN_TOP
        self.real = real or RealLayout()
        self.late: list[Run] = []     # runs written after everything else on page 1
        self.marks: dict = {}         # where the number's digits, the day and the title stand

    @property
    def page(self) -> _PagePlan:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append(_PagePlan())
        self.y = MARGIN_TOP + 18  # below the page number

    def ensure(self, height: float) -> None:
        if self.y + height > PAGE_H - MARGIN_BOTTOM:
            self.new_page()

    def centered(self, text: str, style: str, size: float, center: float = BODY_CENTER) -> None:
        h = size * LEADING
        self.ensure(h)
        self.y += h
        x = center - text_width(text, style, size) / 2
        self.page.runs.append(Run(text, style, size, x, self.y - size * 0.25))

    def rule_under(self, text_widths: list[float], center: float = BODY_CENTER,
                   fraction: float = 0.4) -> None:
        length = max(text_widths) * fraction
        self.y += 4
        self.page.rules.append(Rule(center - length / 2, center + length / 2, self.y))
        self.y += 4

    def paragraph(self, tokens: list[Token], size: float = BODY_SIZE, indent: float = INDENT,
                  x0: float = BODY_X0, x1: float = BODY_X1) -> None:
        h = size * LEADING
        for i, line in enumerate(_wrap(tokens, size, x1 - x0, indent)):
            self.ensure(h)
            self.y += h
            x = x0 + (indent if i == 0 else 0.0)
            self.page.runs.extend(_line_runs(line, size, x, self.y - size * 0.25))
        self.y += PARA_GAP


def _body_tokens(text: str) -> tuple[list[Token], float]:
    """Styles of a body paragraph: article numbers and section headings bold; list items flush."""
    words = text.split()
    first = words[0] if words else ""
    if first == "Điều" and len(words) > 1:
        return [(w, "B") for w in words[:2]] + [(w, "R") for w in words[2:]], INDENT
    is_heading = (first.rstrip(".") in {"I", "II", "III", "IV", "V", "VI"}
                  and text.upper() == text)
    if is_heading:
        return _tokens(text, "B"), 0.0
    return _tokens(text, "R"), INDENT


def _header(flow: _Flow, spec: DocumentSpec) -> None:
    """The two header columns of page 1, `Số:` and the date line sharing a baseline."""
    page = flow.page
    lc = (LEFT_COL[0] + LEFT_COL[1]) / 2
    rc = (RIGHT_COL[0] + RIGHT_COL[1]) / 2
    lw = LEFT_COL[1] - LEFT_COL[0]
    size = 12.5
    h = size * LEADING

    # Left column, written first in full so it never merges with the right one.
    y = MARGIN_TOP
    left_runs: list[Run] = []
    if spec.agency.superior:
        for line in (spec.agency.superior_lines
                     or _balanced(spec.agency.superior, "R", size, lw)):
            y += h
            left_runs.append(Run(line, "R", size, lc - text_width(line, "R", size) / 2,
                                 y - size * 0.25))
    name_lines = list(spec.agency.name_lines) or _agency_lines(spec.agency.name, size, lw)
    for line in name_lines:
        y += h
        left_runs.append(Run(line, "B", size, lc - text_width(line, "B", size) / 2,
                             y - size * 0.25))
    rule_len = max(text_width(x, "B", size) for x in name_lines) * 0.4
    page.rules.append(Rule(lc - rule_len / 2, lc + rule_len / 2, y + 4))
    left_end = y + 10

    # Right column: motto, tiêu ngữ with its rule.
    y = MARGIN_TOP
    right_runs: list[Run] = []
    motto, motto_size = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12.0
    y += motto_size * LEADING
    right_runs.append(Run(motto, "B", motto_size, rc - text_width(motto, "B", motto_size) / 2,
                          y - motto_size * 0.25))
    slogan, slogan_size = "Độc lập - Tự do - Hạnh phúc", 13.0
    y += slogan_size * LEADING
    sw = text_width(slogan, "B", slogan_size)
    right_runs.append(Run(slogan, "B", slogan_size, rc - sw / 2, y - slogan_size * 0.25))
    page.rules.append(Rule(rc - sw / 2, rc + sw / 2, y + 3))
    right_end = y + 10

    # `Số:` and the place-and-date line on one baseline under the taller column.
    base = max(left_end, right_end) + 13.0
    real = flow.real
    number = f"Số: {spec.number}"
    number_x = lc - text_width(number, "R", 13.0) / 2
    digits, _, rest = spec.number.partition("/")
    rest = "/" + rest
    digits_x = number_x + text_width("Số: ", "R", 13.0)
    flow.marks["number"] = (digits, BBox(digits_x, base - 10.5, digits_x
                                         + text_width(digits, "R", 13.0), base + 3.5))
    if real.stamped:
        # The e-office leaves the digits blank: they are stamped at issuance, in a widget.
        left_runs.append(Run("Số:" + _blank(digits, "R") + rest, "R", 13.0, number_x, base))
    elif real.shuffled:
        left_runs.append(Run("Số: ", "R", 13.0, number_x, base))
        left_runs.append(Run(rest, "R", 13.0, digits_x + text_width(digits, "R", 13.0), base))
        flow.late.append(Run(digits, "R", 13.0, digits_x, base))
    else:
        left_runs.append(Run(number, "R", 13.0, number_x, base))
    bottom = base + 4
    vv_top = base + 6
    if spec.doc_type == DocType.CONG_VAN:
        subject_lines = _balanced(f"V/v {spec.subject}", "R", 12.0, lw - 10)
        if len(subject_lines) > 2:
            subject_lines = [" ".join(w for w, _ in line) for line in
                             _wrap(_tokens(f"V/v {spec.subject}", "R"), 12.0, lw - 10)]
        yy = base + 6
        for line in subject_lines:
            yy += 12.0 * LEADING
            left_runs.append(Run(line, "R", 12.0, lc - text_width(line, "R", 12.0) / 2, yy))
        bottom = yy + 4
        flow.marks["title"] = BBox(LEFT_COL[0] + 5, vv_top, LEFT_COL[1] - 5, bottom)
    date_line = format_date_line(spec.agency.place, spec.issue_date, spec.zero_pad_date)
    date_x = rc - text_width(date_line, "I", 13.0) / 2
    before, _, after = date_line.partition("ngày ")
    day, _, after = after.partition(" ")
    before, after = before + "ngày ", " " + after
    day_x = date_x + text_width(before, "I", 13.0)
    flow.marks["day"] = (day, BBox(day_x, base - 10.5, day_x + text_width(day, "I", 13.0),
                                   base + 3.5))
    if real.stamped:
        right_runs.append(Run(before.rstrip() + _blank(day, "I") + after.lstrip(), "I", 13.0,
                              date_x, base))
    elif real.shuffled:
        right_runs.append(Run(before, "I", 13.0, date_x, base))
        right_runs.append(Run(after, "I", 13.0, day_x + text_width(day, "I", 13.0), base))
        flow.late.append(Run(day, "I", 13.0, day_x, base))
    else:
        right_runs.append(Run(date_line, "I", 13.0, date_x, base))

    if real.shuffled:
        # Reading order is not layout: the date line first, the agency after the number.
        page.runs.extend(reversed(right_runs))
        page.runs.extend(reversed(left_runs))
    else:
        page.runs.extend(left_runs)
        page.runs.extend(right_runs)
    flow.y = bottom + 14


def _blank(digits: str, style: str) -> str:
    """Spaces a little wider than `digits` and the spaces around them, as e-office forms."""
    space = text_width(" ", style, 13.0)
    return " " * (3 + math.ceil(text_width(digits, style, 13.0) / space))


def _kinh_gui(flow: _Flow, recipients: list[str]) -> None:
    size = BODY_SIZE
    label = "Kính gửi:"
    if len(recipients) == 1:
        flow.centered(f"{label} {recipients[0]}.", "R", size)
        flow.y += 6
        return
    label_w = text_width(label + " ", "R", size)
    x0 = BODY_CENTER - 120
    for i, name in enumerate(recipients):
        end = "." if i == len(recipients) - 1 else ";"
        flow.y += size * LEADING
        y = flow.y - size * 0.25
        if i == 0:
            flow.page.runs.append(Run(label, "R", size, x0, y))
        flow.page.runs.append(Run(f"- {name}{end}", "R", size, x0 + label_w, y))
    flow.y += 8


def _title(flow: _Flow, spec: DocumentSpec) -> None:
    """Type name and subject, centred bold, with the short rule under them."""
    if spec.doc_type == DocType.CONG_VAN:
        flow.y += 6
        return
    heading = spec.extra.get("type_heading") or TYPE_NAMES[spec.doc_type]
    flow.y += 8
    top = flow.y
    flow.centered(heading, "B", 14.0)
    lines = _balanced(spec.subject, "B", 14.0, 400.0)
    if len(lines) == 2 and max(text_width(x, "B", 14.0) for x in lines) > 400.0:
        lines = [" ".join(w for w, _ in line) for line in
                 _wrap(_tokens(spec.subject, "B"), 14.0, 400.0)]
    for line in lines:
        flow.centered(line, "B", 14.0)
    flow.rule_under([text_width(x, "B", 14.0) for x in lines], fraction=0.35)
    flow.marks["title"] = BBox(BODY_X0, top, BODY_X1, flow.y)
    flow.y += 6


def _signer_lines(spec: DocumentSpec) -> list[str]:
    """The caps lines above the signature. `Q. GIÁM ĐỐC` is the title itself: one line."""
    if spec.signer_lines:
        return list(spec.signer_lines)
    lines = []
    if spec.authority_line:
        lines.append(spec.authority_line)
    if spec.authority != "Q." or not spec.authority_line:
        lines.append(spec.signer_title)
    return lines


def _closing_blocks(flow: _Flow, spec: DocumentSpec) -> tuple[int, BBox, BBox, BBox]:
    """Signer block (right) and `Nơi nhận:` (left), side by side, kept on one page."""
    size = 13.0
    h = size * LEADING
    cap_lines = _signer_lines(spec)
    rank_line = bool(spec.rank and spec.rank_own_line)
    signer_h = h * (len(cap_lines) + rank_line + bool(spec.title_under_name)) + SIGNATURE_GAP + h
    rec_size = 11.0
    rec_col_w = RECIPIENTS_COL[1] - RECIPIENTS_COL[0]
    rec_lines: list[str] = []
    for i, r in enumerate(spec.recipients):
        end = "." if i == len(spec.recipients) - 1 else ";"
        wrapped = _wrap(_tokens(f"- {r}{end}", "R"), rec_size, rec_col_w)
        rec_lines.extend(" ".join(w for w, _ in line) for line in wrapped)
    rec_h = 12 * LEADING + rec_size * LEADING * len(rec_lines)
    flow.y += 10
    flow.ensure(max(signer_h, rec_h) + 4)
    top = flow.y
    page_no = len(flow.pages)
    center = (SIGNER_COL[0] + SIGNER_COL[1]) / 2

    y = top
    for line in cap_lines:
        y += h
        flow.page.runs.append(Run(line, "B", size, center - text_width(line, "B", size) / 2,
                                  y - size * 0.25))
    sig_top = y + 2
    y += SIGNATURE_GAP
    sig_bottom = y - 2
    name = spec.signer_name
    if spec.rank and not rank_line:
        name = f"{spec.rank} {name}"      # "Thiếu tướng Trương Minh Đương"
    under = [spec.rank] if rank_line and spec.rank else []   # a rank line has a rank
    under += [name] + ([spec.title_under_name] if spec.title_under_name else [])
    for line in under:
        y += h
        flow.page.runs.append(Run(line, "B", size, center - text_width(line, "B", size) / 2,
                                  y - size * 0.25))
        if line == name:
            half = text_width(line, "B", size) / 2
            flow.marks["name"] = BBox(center - half, y - size * 0.25 - size * 0.8, center + half,
                                      y - size * 0.25 + size * 0.25)
    signer_bbox = BBox(SIGNER_COL[0], top, SIGNER_COL[1], y + 3)
    signature_bbox = BBox(SIGNER_COL[0], sig_top, SIGNER_COL[1], sig_bottom)

    ry = top + 12 * LEADING
    if flow.real.recipients_label:
        flow.page.runs.append(Run("Nơi nhận:", "BI", 12.0, RECIPIENTS_COL[0], ry - 3))
    for line in rec_lines:
        ry += rec_size * LEADING
        flow.page.runs.append(Run(line, "R", rec_size, RECIPIENTS_COL[0], ry - 3))
    recipients_bbox = BBox(RECIPIENTS_COL[0], top, RECIPIENTS_COL[1], ry + 3)
    flow.y = max(y, ry) + 6
    return page_no, signer_bbox, signature_bbox, recipients_bbox


def _appendix(flow: _Flow, spec: DocumentSpec) -> None:
    """`PHỤ LỤC`, its title and the `(Kèm theo …)` line on a fresh page, then the items."""
    flow.new_page()
    title, name, attached, *items = spec.appendix
    flow.centered(title, "B", 14.0)
    for line in _balanced(name, "B", 13.0, 440.0):
        flow.centered(line, "B", 13.0)
    for line in _balanced(attached, "I", 13.0, 440.0):
        flow.centered(line, "I", 13.0)
    flow.rule_under([text_width(name, "B", 13.0)], fraction=0.3)
    flow.y += 6
    for item in items:
        flow.paragraph(_tokens(item, "R"), indent=0.0)


def _layout(spec: DocumentSpec, real: RealLayout | None = None
            ) -> tuple[list[_PagePlan], Layout]:
    flow = _Flow(real)
    _header(flow, spec)
    _title(flow, spec)
    kinh_gui = spec.extra.get("kinh_gui")
    if kinh_gui:
        _kinh_gui(flow, list(kinh_gui))
    authority_heading = spec.extra.get("issuing_authority")
    if authority_heading:
        for line in _balanced(authority_heading, "B", 13.0, 440.0):
            flow.centered(line, "B", 13.0)
        flow.y += 6
    for line in spec.can_cu:
        flow.paragraph(_tokens(line, "I"))
    if spec.doc_type == DocType.QUYET_DINH:
        flow.y += 2
        flow.centered("QUYẾT ĐỊNH:", "B", 13.0)
        flow.y += 4
    for text in spec.body:
        tokens, indent = _body_tokens(text)
        if indent == 0.0:
            flow.y += 2
        flow.paragraph(tokens, indent=indent)
    page_no, signer_bbox, signature_bbox, recipients_bbox = _closing_blocks(flow, spec)
    if spec.appendix:
        _appendix(flow, spec)
    flow.pages[0].runs.extend(flow.late)
    if flow.real.glue_seed is not None:
        _glue(flow.pages, random.Random(flow.real.glue_seed))
    (digits, digits_box), (day, day_box) = flow.marks["number"], flow.marks["day"]
    layout = Layout(page_count=len(flow.pages), signer_page=page_no, signer_bbox=signer_bbox,
                    signature_bbox=signature_bbox, recipients_bbox=recipients_bbox,
                    agency_name=spec.agency.name, agency_place=spec.agency.place,
                    number_digits=digits, number_digits_bbox=digits_box, day_text=day,
                    day_bbox=day_box, title_bbox=flow.marks.get("title"),
                    name_bbox=flow.marks.get("name"))
    return flow.pages, layout


def _glue(pages: list[_PagePlan], rng: random.Random) -> None:
    """Drop the space between two words in a few spans ("BộTư pháp"), the line in its place:
    one header line of the agency half the time, and two body spans."""
    header = [i for i, r in enumerate(pages[0].runs)
              if r.x < LEFT_COL[1] and r.y < 130 and r.style in ("R", "B") and " " in r.text
              and not r.text.startswith("Số")]
    body = [(p, i) for p, page in enumerate(pages) for i, r in enumerate(page.runs)
            if r.y > 200 and r.style == "R" and r.text.count(" ") >= 3]
    picks = [(0, i) for i in header if rng.random() < 0.5][:1]
    picks += rng.sample(body, min(2, len(body)))
    for p, i in picks:
        run = pages[p].runs[i]
        pages[p].runs[i] = dataclasses.replace(
            run, glue_at=rng.randrange(run.text.count(" ")))


def page_runs(spec: DocumentSpec) -> list[list[Run]]:
    """The text runs of every page, in points from the top-left: where a printed line stands,
    for a text layer laid over a scan of the page."""
    return [plan.runs for plan in _layout(spec)[0]]


def count_pages(spec: DocumentSpec) -> int:
    """How many pages `spec` takes, without drawing it."""
    return _layout(spec)[1].page_count


def with_pages(spec: DocumentSpec, pages: int) -> DocumentSpec:
    """`spec` with its body repeated until it fills at least `pages` pages (its `pages` set)."""
    def with_copies(copies: int) -> DocumentSpec:
        return dataclasses.replace(spec, body=spec.body * copies)

    # Estimate the copies from what one more copy adds, then step up to the target.
    one, two = count_pages(with_copies(1)), count_pages(with_copies(2))
    copies = max(1, 1 + math.ceil((pages - one) / max(1, two - one)))
    while count_pages(with_copies(copies)) < pages:
        copies += 1
    longer = with_copies(copies)
    return dataclasses.replace(longer, pages=count_pages(longer))


# The ABC fonts a legacy file names; "H" is the capitals-only face (issue 10, pattern 8).
_TCVN3_NAMES = {"LSR": ".VnTime", "LSB": ".VnTime,Bold", "LSI": ".VnTime,Italic",
                "LSBI": ".VnTime,BoldItalic", "VHR": ".VnTimeH", "VHB": ".VnTimeH,Bold",
                "VHI": ".VnTimeH,Italic", "VHBI": ".VnTimeH,BoldItalic"}
_CAPS_PDF_NAMES = {"R": "VHR", "B": "VHB", "I": "VHI", "BI": "VHBI"}
_VN3_CAPITALS = set("ĂÂÊÔƠƯĐ")


def _needs_caps_font(ch: str) -> bool:
    """A toned capital TCVN3 (VN3) has no code for: typed lowercase in the caps font."""
    return ch.isupper() and not ch.isascii() and ch not in _VN3_CAPITALS


def _draw_text(shape: pymupdf.Shape, run: Run, tcvn3: bool, caps_font: bool = False) -> None:
    if run.glue_at is not None:
        words = run.text.split(" ")
        first = " ".join(words[:run.glue_at + 1])
        second = " ".join(words[run.glue_at + 1:])
        _draw_text(shape, dataclasses.replace(run, text=first, glue_at=None), tcvn3, caps_font)
        # A hair of a gap: MuPDF (like other readers) sees no space below about 1 pt.
        _draw_text(shape, dataclasses.replace(
            run, text=second, glue_at=None, x=run.x + text_width(first, run.style, run.size)
            + 0.8), tcvn3, caps_font)
        return
    # Black text is written without a colour operator, as before the colour existed.
    colour: dict[str, Any] = {"color": run.colour} if run.colour != (0, 0, 0) else {}
    if tcvn3 and caps_font:
        _draw_tcvn3_caps(shape, run, colour)
    elif tcvn3:
        from kiemchung.extractors.tcvn3 import encode_tcvn3
        shape.insert_text((run.x, run.y), encode_tcvn3(run.text), fontname=_PDF_NAMES[run.style],
                          fontsize=run.size, **colour)
    else:
        shape.insert_text((run.x, run.y), nfc(run.text), fontname=_PDF_NAMES[run.style],
                          fontsize=run.size, **colour)


def _draw_tcvn3_caps(shape: pymupdf.Shape, run: Run, colour: dict) -> None:
    """Caps lines are typed in lower case in ".VnTimeH"; in mixed-case text each toned capital
    is one letter of the caps font inside a ".VnTime" word ("Ủy" = caps "ñ" + "y")."""
    from kiemchung.extractors.tcvn3 import encode_tcvn3
    text = nfc(run.text)
    if any(ch.isalpha() for ch in text) and text == text.upper():
        shape.insert_text((run.x, run.y), encode_tcvn3(text.lower()),
                          fontname=_CAPS_PDF_NAMES[run.style], fontsize=run.size, **colour)
        return
    segments: list[tuple[str, bool]] = []
    for ch in text:
        caps = _needs_caps_font(ch)
        if segments and segments[-1][1] == caps:
            segments[-1] = (segments[-1][0] + ch, caps)
        else:
            segments.append((ch, caps))
    x = run.x
    for part, caps in segments:
        code = encode_tcvn3(part.lower() if caps else part)
        name = _CAPS_PDF_NAMES[run.style] if caps else _PDF_NAMES[run.style]
        shape.insert_text((x, run.y), code, fontname=name, fontsize=run.size, **colour)
        x += _font(run.style).text_length(code, fontsize=run.size)


@lru_cache(maxsize=None)
def _caps_face(style: str) -> bytes:
    """The face's bytes with padding after the tables: MuPDF would otherwise share one font
    object between ".VnTime" and ".VnTimeH", and the caps font would lose its name."""
    return Path(font_file(style)).read_bytes() + b"\0\0\0\0"


def _rename_fonts(doc: pymupdf.Document, names: dict[str, str]) -> None:
    """Give embedded fonts the names a legacy file shows (".VnTimeH"), after subsetting."""
    done: set[int] = set()
    for page in doc.pages():
        for xref, _ext, _type, _base, resource, _enc in page.get_fonts():
            if resource not in names or xref in done:
                continue
            done.add(xref)
            pdf_name = "/" + names[resource]
            targets = [xref]
            kind, value = doc.xref_get_key(xref, "DescendantFonts")
            if kind == "array":
                targets.append(int(value.strip("[]").split()[0]))
            for target in targets:
                doc.xref_set_key(target, "BaseFont", pdf_name)
                kind, value = doc.xref_get_key(target, "FontDescriptor")
                if kind == "xref":
                    doc.xref_set_key(int(value.split()[0]), "FontName", pdf_name)


def _draw_incoming_stamp(page: pymupdf.Page, stamp: IncomingStamp, layout: Layout,
                         tcvn3: bool) -> None:
    """The registry's rectangle with "ĐẾN", its number and date, over the header or title."""
    red, green, blue = stamp.colour
    colour = (red / 255, green / 255, blue / 255)
    lines = stamp.lines()
    if stamp.where == "title" and layout.title_bbox is not None:
        x0, y0 = 40.0, layout.title_bbox.y0 + 4
    else:
        x0, y0 = 48.0, 40.0
    width = max(150.0, max(text_width(x, "B", 10.5) for x in lines) + 16)
    steps = [18.0 if line == "ĐẾN" else 13.5 for line in lines]
    box = pymupdf.Rect(x0, y0, x0 + width, y0 + sum(steps) + 7)
    shape = page.new_shape()
    shape.draw_rect(box)
    shape.finish(color=colour, width=1.2)
    y = y0
    for line, step in zip(lines, steps):
        y += step
        big = line == "ĐẾN"
        run = Run(line, "B", 15.0 if big else 10.5, x0 + (55 if big else 8), y - 1,
                  colour=colour)
        _draw_text(shape, run, tcvn3)
    shape.commit()


def render_pdf_with_layout(spec: DocumentSpec, *, tcvn3: bool = False,
                           real: RealLayout | None = None) -> tuple[bytes, Layout]:
    """The PDF of `spec` and where its signer block stands.

    `tcvn3`: every run is written in the legacy TCVN3 (ABC) 8-bit encoding with a Base-14 Times
    font, so the text layer shows the mojibake old Vietnamese PDFs have.
    `real`: layout patterns of real files (blank number and day, shuffled spans, glued words,
    an incoming stamp, the ".VnTimeH" caps font); the geometry stays the classic one.
    """
    real = real or RealLayout()
    caps_font = tcvn3 and real.caps_font
    plans, layout = _layout(spec, real)
    doc = pymupdf.open()
    for number, plan in enumerate(plans, start=1):
        page = doc.new_page(width=PAGE_W, height=PAGE_H)
        used = {run.style for run in plan.runs} | {"R"}
        if number == 1 and real.incoming:
            used.add("B")
        for style in sorted(used):
            page.insert_font(fontname=_PDF_NAMES[style], fontfile=font_file(style))
            if caps_font:
                page.insert_font(fontname=_CAPS_PDF_NAMES[style], fontbuffer=_caps_face(style))
        shape = page.new_shape()  # one content stream per page
        if number > 1:  # decree: page numbers centred in the top margin, none on page 1
            label = str(number)
            page_run = Run(label, "R", 13.0, PAGE_W / 2 - text_width(label, "R", 13.0) / 2, 38.0)
            _draw_text(shape, page_run, tcvn3, caps_font)
        for run in plan.runs:
            _draw_text(shape, run, tcvn3, caps_font)
        for rule in plan.rules:
            shape.draw_line((rule.x0, rule.y), (rule.x1, rule.y))
        shape.finish(color=(0, 0, 0), width=0.6)
        shape.commit()
        if number == 1 and real.incoming:
            _draw_incoming_stamp(page, real.incoming, layout, tcvn3 and not caps_font)
    doc.set_metadata({"title": spec.subject if not tcvn3 else "", "producer": "kiemchung",
                      "creator": "kiemchung", "creationDate": _pdf_date(spec.issue_date),
                      "modDate": _pdf_date(spec.issue_date)})
    doc.subset_fonts()
    if caps_font:
        _rename_fonts(doc, _TCVN3_NAMES)
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data, layout


def render_pdf(spec: DocumentSpec, *, tcvn3: bool = False, real: RealLayout | None = None
               ) -> bytes:
    return render_pdf_with_layout(spec, tcvn3=tcvn3, real=real)[0]


def _pdf_date(date: dt.date) -> str:
    # Fixed time of day: the PDF must depend on the spec only.
    return f"D:{date:%Y%m%d}090000+07'00'"


