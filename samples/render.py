"""Typesetting a `DocumentSpec` as an A4 PDF laid out as Decree 30/2020 (Phụ lục I) prescribes.

The layout is computed first (`_layout`: lines with fonts and positions, page by page) and then
drawn, so the page count is known without drawing (`count_pages`) and the TCVN3 variant has
exactly the geometry of the Unicode one (Liberation Serif is metric-compatible with Times,
which is what the TCVN3 variant is drawn with).

Each line is written with its own text call, and each header column as a whole before the
other, so a PDF text extractor sees the left and right header columns as separate lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pymupdf

from models.document import BBox, nfc
from models.fields import DocType
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

    def __init__(self) -> None:
        self.pages: list[_PagePlan] = [_PagePlan()]
        self.y = MARGIN_TOP

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
        for line in _balanced(spec.agency.superior, "R", size, lw):
            y += h
            left_runs.append(Run(line, "R", size, lc - text_width(line, "R", size) / 2,
                                 y - size * 0.25))
    name_lines = _agency_lines(spec.agency.name, size, lw)
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
    number = f"Số: {spec.number}"
    left_runs.append(Run(number, "R", 13.0, lc - text_width(number, "R", 13.0) / 2, base))
    bottom = base + 4
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
    date_line = format_date_line(spec.agency.place, spec.issue_date, spec.zero_pad_date)
    right_runs.append(Run(date_line, "I", 13.0, rc - text_width(date_line, "I", 13.0) / 2, base))

    page.runs.extend(left_runs)
    page.runs.extend(right_runs)
    flow.y = bottom + 14


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
    flow.centered(heading, "B", 14.0)
    lines = _balanced(spec.subject, "B", 14.0, 400.0)
    if len(lines) == 2 and max(text_width(x, "B", 14.0) for x in lines) > 400.0:
        lines = [" ".join(w for w, _ in line) for line in
                 _wrap(_tokens(spec.subject, "B"), 14.0, 400.0)]
    for line in lines:
        flow.centered(line, "B", 14.0)
    flow.rule_under([text_width(x, "B", 14.0) for x in lines], fraction=0.35)
    flow.y += 6


def _signer_lines(spec: DocumentSpec) -> list[str]:
    """The caps lines above the signature. `Q. GIÁM ĐỐC` is the title itself: one line."""
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
    signer_h = h * len(cap_lines) + SIGNATURE_GAP + h
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
    y += h
    name = spec.signer_name
    flow.page.runs.append(Run(name, "B", size, center - text_width(name, "B", size) / 2,
                              y - size * 0.25))
    signer_bbox = BBox(SIGNER_COL[0], top, SIGNER_COL[1], y + 3)
    signature_bbox = BBox(SIGNER_COL[0], sig_top, SIGNER_COL[1], sig_bottom)

    ry = top + 12 * LEADING
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


def _layout(spec: DocumentSpec) -> tuple[list[_PagePlan], Layout]:
    flow = _Flow()
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
    layout = Layout(page_count=len(flow.pages), signer_page=page_no, signer_bbox=signer_bbox,
                    signature_bbox=signature_bbox, recipients_bbox=recipients_bbox,
                    agency_name=spec.agency.name, agency_place=spec.agency.place)
    return flow.pages, layout


def count_pages(spec: DocumentSpec) -> int:
    """How many pages `spec` takes, without drawing it."""
    return _layout(spec)[1].page_count


def _draw_text(shape: pymupdf.Shape, run: Run, tcvn3: bool) -> None:
    if tcvn3:
        from extractors.tcvn3 import encode_tcvn3
        shape.insert_text((run.x, run.y), encode_tcvn3(run.text), fontname=_PDF_NAMES[run.style],
                          fontsize=run.size)
    else:
        shape.insert_text((run.x, run.y), nfc(run.text), fontname=_PDF_NAMES[run.style],
                          fontsize=run.size)


def render_pdf_with_layout(spec: DocumentSpec, *, tcvn3: bool = False) -> tuple[bytes, Layout]:
    """The PDF of `spec` and where its signer block stands.

    `tcvn3`: every run is written in the legacy TCVN3 (ABC) 8-bit encoding with a Base-14 Times
    font, so the text layer shows the mojibake old Vietnamese PDFs have.
    """
    plans, layout = _layout(spec)
    doc = pymupdf.open()
    for number, plan in enumerate(plans, start=1):
        page = doc.new_page(width=PAGE_W, height=PAGE_H)
        used = {run.style for run in plan.runs} | {"R"}
        for style in sorted(used):
            page.insert_font(fontname=_PDF_NAMES[style], fontfile=font_file(style))
        shape = page.new_shape()  # one content stream per page
        if number > 1:  # decree: page numbers centred in the top margin, none on page 1
            label = str(number)
            page_run = Run(label, "R", 13.0, PAGE_W / 2 - text_width(label, "R", 13.0) / 2, 38.0)
            _draw_text(shape, page_run, tcvn3)
        for run in plan.runs:
            _draw_text(shape, run, tcvn3)
        for rule in plan.rules:
            shape.draw_line((rule.x0, rule.y), (rule.x1, rule.y))
        shape.finish(color=(0, 0, 0), width=0.6)
        shape.commit()
    doc.set_metadata({"title": spec.subject if not tcvn3 else "", "producer": "kiemchung",
                      "creator": "kiemchung", "creationDate": _pdf_date(spec.issue_date),
                      "modDate": _pdf_date(spec.issue_date)})
    doc.subset_fonts()
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data, layout


def render_pdf(spec: DocumentSpec, *, tcvn3: bool = False) -> bytes:
    return render_pdf_with_layout(spec, tcvn3=tcvn3)[0]


def _pdf_date(date: dt.date) -> str:
    # Fixed time of day: the PDF must depend on the spec only.
    return f"D:{date:%Y%m%d}090000+07'00'"


