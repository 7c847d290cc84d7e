"""The words of headers, signer blocks and the programme, to restore the diacritics OCR loses.

Tesseract's Vietnamese model keeps the letters of a capital header and often loses or changes
its tone marks (`TỈNH` → `TINH`/`TÍNH`, `ĐỒNG` → `ĐÔNG`, `GIÁM ĐỐC` → `GIAM ĐÓC`), and in
running text confuses the hook with the acute (`chuyển đổi số` → `chuyến đối số`). What stands
in a header is a small, known language: agency kinds, departments, ministries, provinces,
titles, ranks, type names; so are the programme's own words that subjects and rule sets'
phrases use (`chuyển đổi số`, `Tổ công nghệ số cộng đồng`). A run of OCR'd words whose letters
without marks spell a known phrase is that phrase; the words it changes are marked less sure.
Every OCR'd line is snapped as it is read (extractors/ocr.py); a text layer is what the issuer
typed.

Person names are not a closed set, but their syllables nearly are: a syllable of a printed name
that is no Vietnamese name syllable takes the most common one with the same letters
(`Nguyên` as a surname → `Nguyễn`, `Tuần` → `Tuấn`).
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from kiemchung.extractors.tcvn3 import is_vietnamese_syllable
from kiemchung.models.document import BBox, Line, Word, nfc, without_marks

SNAPPED_CONFIDENCE = 0.85   # at most, for a word whose marks were restored from the lexicon
# OCR reads a printed "1" as "|", "l", "I" or "!", and "0" as "O" in a date's numbers.
DIGIT_SLIPS = str.maketrans("|lI!][Oo", "11111100")

PROVINCES = (
    "Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "Huế", "An Giang",
    "Bà Rịa - Vũng Tàu", "Bắc Giang", "Bắc Kạn", "Bạc Liêu", "Bắc Ninh", "Bến Tre", "Bình Định",
    "Bình Dương", "Bình Phước", "Bình Thuận", "Cà Mau", "Cao Bằng", "Đắk Lắk", "Đắk Nông",
    "Điện Biên", "Đồng Nai", "Đồng Tháp", "Gia Lai", "Hà Giang", "Hà Nam", "Hà Tĩnh",
    "Hải Dương", "Hậu Giang", "Hòa Bình", "Hoà Bình", "Hưng Yên", "Khánh Hòa", "Khánh Hoà",
    "Kiên Giang", "Kon Tum", "Lai Châu", "Lâm Đồng", "Lạng Sơn", "Lào Cai", "Long An",
    "Nam Định", "Nghệ An", "Ninh Bình", "Ninh Thuận", "Phú Thọ", "Phú Yên", "Quảng Bình",
    "Quảng Nam", "Quảng Ngãi", "Quảng Ninh", "Quảng Trị", "Sóc Trăng", "Sơn La", "Tây Ninh",
    "Thái Bình", "Thái Nguyên", "Thanh Hóa", "Thanh Hoá", "Thừa Thiên Huế", "Tiền Giang",
    "Trà Vinh", "Tuyên Quang", "Vĩnh Long", "Vĩnh Phúc", "Yên Bái",
)

DEPARTMENTS = (
    "Nội vụ", "Tư pháp", "Kế hoạch và Đầu tư", "Tài chính", "Công Thương", "Xây dựng",
    "Nông nghiệp và Phát triển nông thôn", "Nông nghiệp và Môi trường", "Giao thông vận tải",
    "Tài nguyên và Môi trường", "Thông tin và Truyền thông", "Khoa học và Công nghệ",
    "Lao động - Thương binh và Xã hội", "Văn hóa, Thể thao và Du lịch", "Văn hoá",
    "Giáo dục và Đào tạo", "Y tế", "Ngoại vụ", "Dân tộc và Tôn giáo", "Quốc phòng", "Công an",
    "Ngoại giao", "Văn phòng", "Thanh tra", "Du lịch", "Thể thao",
)

HEADER_PHRASES = (
    "Ủy ban nhân dân", "Uỷ ban nhân dân", "Hội đồng nhân dân", "Mặt trận Tổ quốc Việt Nam",
    "Ủy ban MTTQ Việt Nam", "Ban Thường trực", "Ban Thường vụ", "Ban chỉ đạo", "Ban",
    "Hội đồng", "Tỉnh ủy", "Thành ủy", "Huyện ủy", "Đảng ủy", "tỉnh", "thành phố", "huyện",
    "quận", "thị xã", "xã", "phường", "thị trấn", "Sở", "Bộ", "Công an", "Văn phòng",
    "Trung tâm", "Chi cục", "Cục", "Tổng cục", "Phòng", "Thanh tra", "Thẩm định", "đánh giá",
    "cải cách hành chính", "chỉ số", "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "Cộng hoà xã hội chủ nghĩa Việt Nam", "Độc lập - Tự do - Hạnh phúc", "ngày", "tháng",
    "năm", "Kính gửi", "Nơi nhận", "Lưu", "Về việc",
    # type names (Decree 30, appendix III) and the copy forms
    "Quyết định", "Kế hoạch", "Thông báo", "Báo cáo", "Tờ trình", "Công văn", "Chỉ thị",
    "Hướng dẫn", "Chương trình", "Phương án", "Giấy mời", "Giấy triệu tập", "Nghị quyết",
    "Công điện", "Kết luận", "Sao y", "Sao lục", "Trích sao", "Phụ lục", "Dự thảo",
    # titles and ranks of signer blocks
    "Chủ tịch", "Phó Chủ tịch", "Thường trực", "Giám đốc", "Phó Giám đốc", "Chánh Văn phòng",
    "Phó Chánh Văn phòng", "Trưởng phòng", "Phó Trưởng phòng", "Trưởng ban", "Phó Trưởng ban",
    "Bộ trưởng", "Thứ trưởng", "Cục trưởng", "Phó Cục trưởng", "Chi cục trưởng", "Chánh Thanh tra",
    "Phó Chánh Thanh tra", "Bí thư", "Phó Bí thư", "Hiệu trưởng", "Tổng Giám đốc", "Viện trưởng",
    "Đại tướng", "Thượng tướng", "Trung tướng", "Thiếu tướng", "Đại tá", "Thượng tá", "Trung tá",
    "Thiếu tá", "Đại úy", "Thượng úy", "Trung úy", "Thiếu úy",
    "Ký thay", "Thay mặt", "Thừa lệnh", "Thừa ủy quyền", "Quyền",
)

# What the evidence is about (the digital-transformation programme): subjects and the phrases
# rule sets search for. Not "truyền thông" alone: its letters also spell "truyền thống".
PROGRAMME_PHRASES = (
    "chuyển đổi số", "chuyển đổi", "chính quyền số", "chính quyền điện tử", "kinh tế số",
    "xã hội số", "công nghệ số", "Tổ công nghệ số cộng đồng", "cộng đồng", "kỹ năng số",
    "nền tảng số", "hạ tầng số", "dữ liệu số", "cơ sở dữ liệu", "công nghệ thông tin",
    "an toàn thông tin", "thông tin", "dịch vụ công trực tuyến", "dịch vụ công", "trực tuyến",
    "toàn trình", "thủ tục hành chính", "hồ sơ", "chữ ký số", "ký số", "văn bản điện tử",
    "kiểm chứng", "tài liệu kiểm chứng", "đẩy mạnh", "triển khai", "tổng hợp",
)

# Name syllables, the most common first among those spelled with the same letters.
SURNAMES = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Đoàn", "Lâm", "Mai", "Trương", "Tô", "Hà", "Tạ",
    "Lương", "Cao", "Châu", "Trịnh", "Thái", "Lưu", "Phùng", "Tôn", "Kiều", "La", "Quách", "Từ",
    "Lại", "Khúc", "Nông", "Tăng", "Thân", "Triệu", "Vương", "Âu", "Đào", "Đồng", "Giang", "Hứa",
    "Kim", "Lạc", "Lò", "Mạc", "Ninh", "Phí", "Quan", "Sầm", "Thạch", "Ung", "Vi", "Lục",
    "Diệp", "Đàm", "Hầu", "Khổng", "Mã", "Nghiêm", "Ông", "Thiều", "Văn", "Lã", "Chu", "Đậu",
)
# Middle names that are never surnames ("Văn" is one, rarely): a name does not open with them.
MIDDLE_NAMES = frozenset({"Thị"})
GIVEN_NAMES = (
    "Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quốc", "Xuân", "Hoàng", "Công",
    "Anh", "Tuấn", "Hùng", "Dũng", "Hải", "Hà", "Hương", "Hồng", "Thu", "Lan", "Linh", "Long",
    "Nam", "Sơn", "Tâm", "Tân", "Tấn", "Thành", "Thắng", "Trung", "Tùng", "Việt", "Vinh", "Vũ",
    "Bình", "Cường", "Đạt", "Định", "Đình", "Đông", "Giang", "Hạnh", "Hiền", "Hiếu", "Hòa",
    "Hoà", "Huy", "Khánh", "Khoa", "Kiên", "Lâm", "Lộc", "Mạnh", "Nga", "Nghĩa", "Nhân", "Phong",
    "Phú", "Phúc", "Phương", "Phước", "Quang", "Quân", "Quý", "Quyết", "Tài", "Thái", "Thảo",
    "Thế", "Thịnh", "Thuận", "Thủy", "Thúy", "Tiến", "Toàn", "Trí", "Trọng", "Tú", "Tuệ",
    "Vân", "Yến", "An", "Ánh", "Bảo", "Chí", "Chiến", "Chính", "Chung", "Danh", "Diệu", "Dung",
    "Duy", "Dương", "Đăng", "Đại", "Điệp", "Gia", "Hào", "Hằng", "Hậu", "Hiển", "Hiệp", "Hoa",
    "Hoài", "Hoàn", "Học", "Hợp", "Huân", "Huệ", "Hưng", "Hường", "Huyền", "Khang", "Khắc",
    "Khôi", "Kim", "Lệ", "Liên", "Lực", "Luân", "Mai", "Mỹ", "My", "Năng", "Ngân", "Nguyên",
    "Nhật", "Nhung", "Như", "Oanh", "Phát", "Phi", "Quế", "Quỳnh", "Sang", "Sĩ", "Sỹ", "Tín",
    "Tình", "Thạch", "Thân", "Thiện", "Thọ", "Thông", "Thư", "Thương", "Trang", "Triều",
    "Trinh", "Trường", "Tuyết", "Tư", "Tường", "Uyên", "Viên", "Vĩnh", "Vy", "Hạ", "Tuân",
    "Châu", "Cảnh", "Hân", "Kỳ", "Luận", "Lợi", "Nhàn", "Ninh", "Quyền", "Tiên", "Toản", "Trâm",
    "Chánh", "Hiến", "Đoan", "Khải", "Lành", "Lượng", "Mẫn", "Nghị", "Phụng", "Quảng", "Sáng",
    "Tạo", "Thoa", "Thục", "Toán", "Triệu", "Tuyên", "Ưng", "Vương", "Xuyên", "Bích", "Cúc",
    "Đào", "Hợi", "Loan", "Lý", "Phượng", "Quyên", "Thi", "Thoại", "Ân", "Bằng", "Bá", "Đương",
)


def unmarked(text: str) -> str:
    """Lower-case letters without tone or vowel marks: `Đồng` → `dong`."""
    return without_marks(text).lower()


@lru_cache(maxsize=1)
def _phrases() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Unmarked syllables → the marked phrase; the first listed wins a tie."""
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    # "TỈNH LÂM ĐỒNG" as a whole: "TĨNH" alone is a real syllable (Hà Tĩnh), not beside a
    # province's name.
    located = [f"{kind} {p}" for p in PROVINCES for kind in ("tỉnh", "thành phố")]
    agencies = [f"{head} {p}" for p in DEPARTMENTS for head in ("Sở", "Bộ")]
    levels = [f"{head} {level}" for head in ("Ủy ban nhân dân", "Uỷ ban nhân dân", "UBND",
                                             "Hội đồng nhân dân", "HĐND", "Công an")
              for level in ("tỉnh", "huyện", "xã", "thành phố", "phường", "thị xã", "quận")]
    sources = (*located, *agencies, *levels, *HEADER_PHRASES, *PROVINCES, *DEPARTMENTS,
               *PROGRAMME_PHRASES)
    for phrase in sources:
        words = tuple(nfc(phrase).split())
        # One syllable alone is too often another word ("quan" is not "quận", "Phong" not
        # "Phòng"): only runs of two or more are snapped.
        if len(words) > 1:
            table.setdefault(tuple(unmarked(w) for w in words), words)
    return table


@lru_cache(maxsize=1)
def _longest() -> int:
    return max(len(key) for key in _phrases())


def _edges(text: str) -> tuple[str, str, str]:
    """Leading punctuation, the word, trailing punctuation."""
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return text[:start], text[start:end], text[end:]


def _cased_like(model: str, word: str) -> str:
    if model.isupper():
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word.lower()


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    return frozenset(s for key in _phrases() for s in key)


def _pieces(core: str, known: frozenset[str], most: int = 4) -> list[int] | None:
    """Where `core` splits into 2 to `most` syllables the phrases know (the fewest pieces):
    the cut positions, or None."""
    def split(start: int, left: int) -> list[int] | None:
        for end in range(len(core), start + 1, -1):
            if unmarked(core[start:end]) not in known:
                continue
            if end == len(core):
                return []
            rest = split(end, left - 1) if left > 1 else None
            if rest is not None:
                return [end, *rest]
        return None

    for count in range(2, most + 1):
        cuts = split(0, count)
        if cuts is not None and len(cuts) == count - 1:
            return cuts
    return None


def _unglued(words: tuple[Word, ...]) -> tuple[Word, ...]:
    """OCR joins capital words of a header ("TỈNHLÂM", "TỈNHLÂMĐỎNG"): a word no phrase knows
    that splits into syllables the phrases know becomes those words, its box shared by their
    lengths."""
    known = _syllables()
    out: list[Word] = []
    for word in words:
        lead, core, trail = _edges(word.text)
        cuts = None
        if len(core) >= 4 and core.isalpha() and core.isupper() \
                and unmarked(core) not in known and not is_vietnamese_syllable(core):
            cuts = _pieces(core, known)
        if cuts is None:
            out.append(word)
            continue
        box, bounds = word.bbox, [0, *cuts, len(core)]
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            text = (lead if i == 0 else "") + core[a:b] + (trail if b == len(core) else "")
            x0 = box.x0 + (box.x1 - box.x0) * (len(lead) + a if a else 0) / len(word.text)
            x1 = box.x1 if b == len(core) else \
                box.x0 + (box.x1 - box.x0) * (len(lead) + b) / len(word.text)
            out.append(Word(text, BBox(x0, box.y0, x1, box.y1),
                            min(word.confidence, SNAPPED_CONFIDENCE)))
    return tuple(out)


def snap_words(words: tuple[Word, ...]) -> tuple[Word, ...]:
    """`words` with each run that spells a known phrase without its marks given the phrase's
    marks (longest phrase first)."""
    words = _unglued(words)
    table = _phrases()
    out = list(words)
    parts = [_edges(w.text) for w in words]
    i = 0
    while i < len(out):
        for size in range(min(_longest(), len(out) - i), 0, -1):
            cores = [parts[i + k][1] for k in range(size)]
            if not all(cores):
                continue
            phrase = table.get(tuple(unmarked(c) for c in cores))
            if phrase is None:
                continue
            for k, (core, marked) in enumerate(zip(cores, phrase)):
                if core.lower() == marked.lower():
                    continue
                lead, _, trail = parts[i + k]
                word = out[i + k]
                out[i + k] = Word(text=lead + _cased_like(core, marked) + trail, bbox=word.bbox,
                                  confidence=min(word.confidence, SNAPPED_CONFIDENCE))
            i += size - 1
            break
        i += 1
    return tuple(out)


def snap_line(line: Line) -> Line:
    words = snap_words(line.words)
    return line if words == line.words else Line(words=words, block=line.block)


@lru_cache(maxsize=1)
def _name_syllables() -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    surnames: dict[str, str] = {}
    given: dict[str, str] = {}
    for name in SURNAMES:
        surnames.setdefault(unmarked(name), name)
    for name in GIVEN_NAMES:
        given.setdefault(unmarked(name), name)
    every = frozenset(n.lower() for n in (*SURNAMES, *GIVEN_NAMES))
    return surnames, given, every


def snap_name(name: str) -> tuple[str, bool]:
    """A printed person's name with each syllable that is no name syllable replaced by the
    most common one spelled with the same letters; and whether anything changed."""
    surnames, given, every = _name_syllables()
    words = name.split()
    changed = False
    for index, word in enumerate(words):
        if index == 0 and word in MIDDLE_NAMES:
            continue          # the surname was lost: no surname is made of the middle name
        table = surnames if index == 0 else given
        candidate = table.get(unmarked(word))
        if candidate is None and index == 0 and word[:1].islower() and len(word) >= 2:
            # A name is capitalised: in lower case, its start is lost, mostly under the seal's
            # ring stamped over it ("yến Văn Phúc"). What is left ends a surname.
            candidate = next((s for s in SURNAMES if len(unmarked(s)) > len(unmarked(word))
                              and unmarked(s).endswith(unmarked(word))), None)
        if candidate is None and index == 0 and word not in SURNAMES:
            # The surname opens every name and is one of few: one letter lost ("Tân" for
            # "Trần") still tells it, the most common first.
            candidate = next((s for s in SURNAMES
                              if Levenshtein.distance(unmarked(s), unmarked(word)) == 1), None)
        if candidate is None or candidate == word:
            continue
        # A surname as read that is a real surname stays; any other position keeps a syllable
        # that is a name syllable already, or one read without marks (a rare name: "Hanh").
        if (index == 0 and word in SURNAMES) or (index > 0 and (
                word.lower() in every or unmarked(word) == word.lower())):
            continue
        words[index] = candidate
        changed = True
    return " ".join(words), changed
