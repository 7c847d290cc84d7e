"""Lines by position, glued syllables, and the lexicon of headers: the small pieces that make
real files read right (their effect on whole files is in test_realdocs.py)."""

from __future__ import annotations

import pytest

from kiemchung.extractors.layout import merge_fragments
from kiemchung.extractors.lexicon import snap_name, snap_words
from kiemchung.extractors.pdf_text import glued_syllables
from kiemchung.models.document import BBox, Line, Word


def _line(text: str, x0: float, y0: float, width: float = 6.0, *,
          coloured: bool = False) -> Line:
    words, x = [], x0
    for part in text.split():
        words.append(Word(part, BBox(x, y0, x + width * len(part), y0 + 13)))
        x += width * (len(part) + 1)
    return Line(words=tuple(words), coloured=coloured)


def test_digits_stamped_into_a_gap_join_their_line_in_place():
    number = Line(words=(Word("Số:", BBox(103, 116, 121, 129)),
                         Word("/TB-UBND", BBox(163, 116, 224, 129))))
    # One PDF line whose typed spaces leave the day's gap ("ngày        tháng 11").
    date = Line(words=_line("Quảng Ngãi, ngày", 282, 116).words
                + _line("tháng 11 năm 2024", 404, 116).words)
    stamped = (_line("565", 121, 116), _line("15", 382, 116))
    lines = merge_fragments((number, date, *stamped))    # the digits come last
    assert [ln.text for ln in lines] == ["Số: 565 /TB-UBND",
                                         "Quảng Ngãi, ngày 15 tháng 11 năm 2024"]


def test_the_two_sides_of_a_blank_left_for_the_hand_are_one_line():
    # A scan whose number and day were filled in by hand: OCR reads each side apart.
    place = _line("Hà Nội, ngày", 295, 106)                  # ends at x = 373
    date = _line("tháng 10 năm 2025", 395, 106)              # 22 pt on: the day's blank
    number, code = _line("Số:", 105, 106), _line("/KH-BCA-C04", 158, 106)
    lines = merge_fragments((number, code, place, date))
    assert [ln.text for ln in lines] == ["Số: /KH-BCA-C04", "Hà Nội, ngày tháng 10 năm 2025"]
    # The same gap after any other word keeps two columns apart.
    apart = merge_fragments((_line("Hà Nội, tháng", 295, 106), date))
    assert len(apart) == 2


def test_a_stamp_over_the_text_or_in_colour_stays_apart():
    agency = _line("SỞ THÔNG TIN VÀ TRUYỀN THÔNG", 100, 70)
    over = _line("Số: 13969", 130, 71)           # covers the agency's words
    red = _line("ĐẾN", 100 + 6 * 29, 70, coloured=True)   # right beside, but red
    lines = merge_fragments((agency, over, red))
    assert agency in lines and over in lines and red in lines


def test_lines_on_other_baselines_are_not_merged():
    lines = (_line("ỦY BAN NHÂN DÂN", 100, 58), _line("15", 120, 80))
    assert merge_fragments(lines) == lines


@pytest.mark.parametrize("word, cuts", [
    ("TỈNHTHỪA", (4,)), ("BộTư", (2,)), ("SỞY", (2,)), ("YTẾ", (1,)), ("UBNDTỈNH", (4,)),
    ("THƯỜNGTRỰC", (6,)), ("HÓA,THỂ", (4,)),
    # kept: syllables, abbreviations, foreign words
    ("Nguyễn", ()), ("nghiêng", ()), ("UBND", ()), ("QLTDTT", ()), ("BGDĐT", ()),
    ("Video", ()), ("Pickleball", ()),
])
def test_words_typed_without_their_spaces_split_into_syllables(word, cuts):
    assert glued_syllables(word) == cuts


def _snapped(text: str) -> str:
    words = tuple(Word(w, BBox(0, 0, 10, 10), 0.95) for w in text.split())
    return " ".join(w.text for w in snap_words(words))


@pytest.mark.parametrize("ocr, printed", [
    ("CÔNG AN TÍNH LÂM ĐÒNG", "CÔNG AN TỈNH LÂM ĐỒNG"),
    ("ỦY BAN NHÂN DẦN", "ỦY BAN NHÂN DÂN"),
    ("TINH QUANG NGÀI", "TỈNH QUẢNG NGÃI"),
    ("PHO GIAM ĐỌC", "PHÓ GIÁM ĐỐC"),
    ("ỦY BAN MTTQ VIỆT NAM TĨNH LÂM ĐỒNG", "ỦY BAN MTTQ VIỆT NAM TỈNH LÂM ĐỒNG"),
    ("UBND TỈNHLÂM ĐÔNG", "UBND TỈNH LÂM ĐỒNG"),
    ("UBND TỈNHLÂMĐỎNG", "UBND TỈNH LÂM ĐỒNG"),              # three syllables glued
    ("SỞNỘIVỤ TỈNH LÂM ĐỒNG", "SỞ NỘI VỤ TỈNH LÂM ĐỒNG"),
    ("Lâm Đông, ngày 12 tháng 9 năm 2025", "Lâm Đồng, ngày 12 tháng 9 năm 2025"),
    # left as read: real words that only look like a header word without marks
    ("Các cơ quan, đơn vị liên quan", "Các cơ quan, đơn vị liên quan"),
    ("ỦY BAN NHÂN DÂN HUYỆN PHONG ĐIỀN", "ỦY BAN NHÂN DÂN HUYỆN PHONG ĐIỀN"),
    ("Hà Tĩnh, ngày", "Hà Tĩnh, ngày"),
    ("chuyển đổi số", "chuyển đổi số"),
    # the programme's own words, in subjects and bodies
    ("Phê duyệt Kế hoạch chuyến đối số năm 2024", "Phê duyệt Kế hoạch chuyển đổi số năm 2024"),
    ("hoạt động của Tố công nghệ số cộng đồng", "hoạt động của Tổ công nghệ số cộng đồng"),
    ("tài liệu kiếm chứng", "tài liệu kiểm chứng"),
    ("Về đấy mạnh chuyển đổi số", "Về đẩy mạnh chuyển đổi số"),
    ("Triến khai, tống hợp kết quả", "Triển khai, tổng hợp kết quả"),
    ("phát huy truyền thống", "phát huy truyền thống"),     # not "truyền thông"
])
def test_header_phrases_get_back_the_marks_ocr_lost(ocr, printed):
    assert _snapped(ocr) == printed


def test_glued_words_are_cut_by_their_letters():
    word = Word("TỈNHLÂMĐỎNG", BBox(0, 0, 110, 10), 0.9)
    cut = snap_words((word,))
    assert [w.text for w in cut] == ["TỈNH", "LÂM", "ĐỒNG"]
    assert [(w.bbox.x0, w.bbox.x1) for w in cut] == [(0, 40), (40, 70), (70, 110)]


def test_snapped_words_are_less_sure():
    words = tuple(Word(w, BBox(0, 0, 10, 10), 0.97) for w in "CÔNG AN TÍNH".split())
    snapped = snap_words(words)
    assert [w.confidence for w in snapped] == [0.97, 0.97, 0.85]


@pytest.mark.parametrize("ocr, printed, changed", [
    ("Nguyên Hoàng Giang", "Nguyễn Hoàng Giang", True),    # "Nguyên" as a surname
    ("Trần Hoàng Tuần", "Trần Hoàng Tuấn", True),          # "tuần" (a week) is no name
    ("Tân Duy Đông", "Trần Duy Đông", True),               # a surname lost a letter
    ("Phan Thế Hanh", "Phan Thế Hanh", False),             # read without marks: kept
    ("Lê Văn Tuệ", "Lê Văn Tuệ", False),
])
def test_name_syllables(ocr, printed, changed):
    assert snap_name(ocr) == (printed, changed)
