"""What a generated document says: agencies, people, numbers, dates, subjects, bodies.

Everything comes from the `random.Random` passed in, so a seed fixes the whole document.
The content is deliberately full of traps for an extractor: `Căn cứ …` lines quoting other
documents' numbers and dates, other people named in the body, the agency named again in the
body, the own number repeated in an appendix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re

from kiemchung.models.document import nfc
from kiemchung.models.fields import DocType
from samples.spec import Agency, DocumentSpec

LEVELS = ("so", "huyen", "xa")


def _ubnd(kind: str, name: str, superior: str | None, level: str, unit_kind: str) -> Agency:
    """An Ủy ban nhân dân: collective body, chairman at its head, no type of its own in numbers."""
    return Agency(
        name=f"ỦY BAN NHÂN DÂN {kind} {name.upper()}",
        superior=superior, level=level, symbol="UBND", place=name,
        head_title="CHỦ TỊCH", deputy_title="PHÓ CHỦ TỊCH", collective="ỦY BAN NHÂN DÂN",
        unit_name=f"UBND {unit_kind} {name}",
    )


def _so(name: str, symbol: str, province: str, province_caps: str) -> Agency:
    """A Sở: headed by a director; provincial agencies write the province as their place."""
    return Agency(
        name=f"SỞ {name.upper()}", superior=f"UBND {province_caps}", level="so", symbol=symbol,
        place=province, head_title="GIÁM ĐỐC", deputy_title="PHÓ GIÁM ĐỐC",
        collective=f"SỞ {name.upper()}", unit_name=f"Sở {name}",
    )


_HUE = ("Thừa Thiên Huế", "TỈNH THỪA THIÊN HUẾ")
AGENCIES: list[Agency] = [
    _so("Thông tin và Truyền thông", "STTTT", *_HUE),
    _so("Y tế", "SYT", *_HUE),
    _so("Giáo dục và Đào tạo", "SGDĐT", *_HUE),
    _so("Nội vụ", "SNV", *_HUE),
    _so("Thông tin và Truyền thông", "STTTT", "Đà Nẵng", "THÀNH PHỐ ĐÀ NẴNG"),
    # District UBNDs are state bodies in their own right: no superior line (Decree 30).
    _ubnd("HUYỆN", "Phú Vang", None, "huyen", "huyện"),
    _ubnd("HUYỆN", "Phong Điền", None, "huyen", "huyện"),
    _ubnd("HUYỆN", "Quảng Điền", None, "huyen", "huyện"),
    _ubnd("THỊ XÃ", "Hương Thủy", None, "huyen", "thị xã"),
    _ubnd("XÃ", "Phú Mỹ", None, "xa", "xã"),
    _ubnd("XÃ", "Phú Thượng", None, "xa", "xã"),
    _ubnd("PHƯỜNG", "Thủy Dương", None, "xa", "phường"),
    # Many communes still print the district above their name, although the decree does not.
    _ubnd("XÃ", "Phong Hiền", "UBND HUYỆN PHONG ĐIỀN", "xa", "xã"),
]

# Issuers seen in real files (issue 10), used only by specs with `real_patterns`: a superior
# line over a Sở, a police department under its ministry, a four-line council name and a
# socio-political body. All provincial, so they count as level "so".
_LAM_DONG = ("Lâm Đồng", "TỈNH LÂM ĐỒNG")
REAL_AGENCIES: list[Agency] = [
    _so("Nội vụ", "SNV", *_LAM_DONG),
    _so("Tài chính", "STC", *_LAM_DONG),
    _so("Văn hóa, Thể thao và Du lịch", "SVHTTDL", *_LAM_DONG),
    Agency(name="CÔNG AN TỈNH LÂM ĐỒNG", superior="BỘ CÔNG AN", level="so", symbol="CAT",
           place="Lâm Đồng", head_title="GIÁM ĐỐC", deputy_title="PHÓ GIÁM ĐỐC",
           collective="CÔNG AN TỈNH", unit_name="Công an tỉnh Lâm Đồng", kind="police"),
    Agency(name="HỘI ĐỒNG THẨM ĐỊNH, ĐÁNH GIÁ CHỈ SỐ CẢI CÁCH HÀNH CHÍNH TỈNH",
           superior="UBND TỈNH LÂM ĐỒNG", level="so", symbol="HĐTĐ", place="Lâm Đồng",
           head_title="CHỦ TỊCH", deputy_title="PHÓ CHỦ TỊCH", collective="HỘI ĐỒNG",
           unit_name="Hội đồng thẩm định, đánh giá Chỉ số cải cách hành chính tỉnh",
           name_lines=("HỘI ĐỒNG THẨM ĐỊNH,", "ĐÁNH GIÁ CHỈ SỐ CẢI CÁCH", "HÀNH CHÍNH TỈNH"),
           kind="council"),
    Agency(name="BAN THƯỜNG TRỰC", superior="ỦY BAN MTTQ VIỆT NAM TỈNH LÂM ĐỒNG", level="so",
           symbol="MTTQ", place="Lâm Đồng", head_title="CHỦ TỊCH",
           deputy_title="PHÓ CHỦ TỊCH THƯỜNG TRỰC", collective="BAN THƯỜNG TRỰC",
           unit_name="Ủy ban MTTQ Việt Nam tỉnh Lâm Đồng", kind="front",
           superior_lines=("ỦY BAN MTTQ VIỆT NAM", "TỈNH LÂM ĐỒNG")),
]

# Where each commune/district sits: the superior named in "(b/c)" recipients and căn cứ lines.
_PARENT = {
    "so": "UBND tỉnh",
    "huyen": "UBND tỉnh",
    "xa": "UBND huyện",
}

TYPE_NAMES: dict[DocType, str] = {
    DocType.QUYET_DINH: "QUYẾT ĐỊNH",
    DocType.KE_HOACH: "KẾ HOẠCH",
    DocType.THONG_BAO: "THÔNG BÁO",
    DocType.GIAY_TRIEU_TAP: "GIẤY TRIỆU TẬP",
    DocType.GIAY_MOI: "GIẤY MỜI",
    DocType.BAO_CAO: "BÁO CÁO",
    DocType.CONG_VAN: "",
    DocType.CHI_THI: "CHỈ THỊ",
    DocType.HUONG_DAN: "HƯỚNG DẪN",
    DocType.TO_TRINH: "TỜ TRÌNH",
    DocType.CHUONG_TRINH: "CHƯƠNG TRÌNH",
    DocType.PHUONG_AN: "PHƯƠNG ÁN",
}

# Type abbreviations of Phụ lục III; "GTT" is not in the decree but is what offices use.
TYPE_SYMBOLS: dict[DocType, str] = {
    DocType.QUYET_DINH: "QĐ", DocType.KE_HOACH: "KH", DocType.THONG_BAO: "TB",
    DocType.GIAY_TRIEU_TAP: "GTT", DocType.GIAY_MOI: "GM", DocType.BAO_CAO: "BC",
    DocType.CONG_VAN: "", DocType.CHI_THI: "CT", DocType.HUONG_DAN: "HD",
    DocType.TO_TRINH: "TTr", DocType.CHUONG_TRINH: "CTr", DocType.PHUONG_AN: "PA",
}

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi",
           "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Tôn Thất", "Hà", "Trương"]
_MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Công", "Xuân", "Ngọc", "Đình",
             "Viết", "Bá", "Tấn", "Văn Hoàng", "Phước"]
_MIDDLE_F = ["Thị", "Thị Thanh", "Ngọc", "Thị Kim", "Thu", "Thị Mỹ", "Hoài", "Thị Thu", "Minh"]
_GIVEN_M = ["Hùng", "Dũng", "Hải", "Tuấn", "Phước", "Sơn", "Thắng", "Long", "Quân", "Bình",
            "Khánh", "Nhân", "Vinh", "Lộc", "Đạt", "Cường", "Hiếu", "Thành", "Toàn", "Trí"]
_GIVEN_F = ["Lan", "Hoa", "Hương", "Hằng", "Thảo", "Nhung", "Trang", "Hạnh", "Linh", "Phương",
            "Yến", "Loan", "Tâm", "Uyên", "Diệu"]


@dataclasses.dataclass(frozen=True)
class Person:
    name: str
    female: bool

    @property
    def honorific(self) -> str:
        return "Bà" if self.female else "Ông"


def make_person(rng: random.Random, used: set[str] | None = None) -> Person:
    """A realistic full name, distinct from the names in `used`."""
    while True:
        female = rng.random() < 0.35
        middle = rng.choice(_MIDDLE_F if female else _MIDDLE_M)
        given = rng.choice(_GIVEN_F if female else _GIVEN_M)
        name = nfc(f"{rng.choice(_FAMILY)} {middle} {given}")
        if used is None or name not in used:
            if used is not None:
                used.add(name)
            return Person(name, female)


def format_number(seq: int, doc_type: DocType, agency: Agency, department: str = "") -> str:
    """`15/KH-UBND`; a Công văn has no type symbol but names the drafting unit: `05/UBND-VX`."""
    if doc_type == DocType.CONG_VAN:
        return f"{seq:02d}/{agency.symbol}-{department}"
    return f"{seq:02d}/{TYPE_SYMBOLS[doc_type]}-{agency.symbol}"


def format_date_words(date: dt.date, zero_pad: bool) -> str:
    """`ngày 05 tháng 01 năm 2024` (Decree style: day < 10 and months 1–2 padded) or unpadded."""
    day = f"{date.day:02d}" if zero_pad else str(date.day)
    month = f"{date.month:02d}" if zero_pad and date.month <= 2 else str(date.month)
    return f"ngày {day} tháng {month} năm {date.year}"


def format_date_line(place: str, date: dt.date, zero_pad: bool) -> str:
    return f"{place}, {format_date_words(date, zero_pad)}"


def _short_date(date: dt.date) -> str:
    return f"{date.day:02d}/{date.month}/{date.year}" if date.day < 10 else \
        f"{date.day}/{date.month}/{date.year}"


def _locality(agency: Agency) -> str:
    """What the agency's own scope is called in prose: `huyện Phú Vang`, `Sở Y tế`."""
    if agency.level == "so":
        return agency.unit_name
    return agency.unit_name.removeprefix("UBND ")


def _agency_prose(agency: Agency) -> str:
    """How the body refers to the issuing agency."""
    if agency.level == "so":
        return agency.unit_name
    return "Ủy ban nhân dân " + _locality(agency)


def _departments(agency: Agency) -> list[str]:
    if agency.kind == "police":
        return ["PC06", "PC04", "PV01", "PX01"]
    if agency.kind == "front":
        return ["BTT"]
    if agency.level == "so":
        return ["CNTT", "BCVT", "VP", "TTBCXB", "KHTC"] if agency.symbol == "STTTT" else \
            ["VP", "KHTC", "NVY", "TCCB"] if agency.symbol == "SYT" else ["VP", "KHTC", "TCCB"]
    if agency.level == "huyen":
        return ["VX", "VP", "KT", "TH", "VHTT"]
    return ["VP", "VHXH"]


# Titles of other people the body may name, by level.
def _roles(agency: Agency) -> dict[str, str]:
    loc = _locality(agency)
    if agency.kind in ("council", "front"):
        return {
            "head": f"Chủ tịch {agency.unit_name}",
            "deputy": f"Phó Chủ tịch {agency.unit_name}",
            "office": "Chánh Văn phòng",
            "dept": "Trưởng phòng Tổng hợp",
        }
    if agency.level == "so":
        return {
            "head": f"Giám đốc {agency.unit_name}",
            "deputy": f"Phó Giám đốc {agency.unit_name}",
            "office": "Chánh Văn phòng Sở",
            "dept": "Trưởng phòng Công nghệ thông tin" if agency.symbol == "STTTT"
                    else "Trưởng phòng Kế hoạch - Tài chính",
        }
    if agency.level == "huyen":
        return {
            "head": f"Chủ tịch UBND {loc}",
            "deputy": f"Phó Chủ tịch UBND {loc}",
            "office": "Chánh Văn phòng HĐND và UBND",
            "dept": "Trưởng phòng Văn hóa và Thông tin",
        }
    return {
        "head": f"Chủ tịch UBND {loc}",
        "deputy": f"Phó Chủ tịch UBND {loc}",
        "office": "Công chức Văn phòng - Thống kê",
        "dept": "Công chức Văn hóa - Xã hội",
    }


_CAN_CU_FIXED = [
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015; Luật sửa đổi, bổ sung "
    "một số điều của Luật Tổ chức Chính phủ và Luật Tổ chức chính quyền địa phương ngày 22 "
    "tháng 11 năm 2019",
    "Căn cứ Quyết định số 749/QĐ-TTg ngày 03/6/2020 của Thủ tướng Chính phủ phê duyệt "
    "“Chương trình Chuyển đổi số quốc gia đến năm 2025, định hướng đến năm 2030”",
    "Căn cứ Quyết định số 922/QĐ-BTTTT ngày 20/5/2022 của Bộ Thông tin và Truyền thông phê "
    "duyệt Đề án “Xác định Bộ chỉ số đánh giá chuyển đổi số của các bộ, cơ quan ngang bộ, cơ "
    "quan thuộc Chính phủ, các tỉnh, thành phố trực thuộc trung ương và của quốc gia”",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư",
    "Căn cứ Quyết định số 1907/QĐ-BTTTT ngày 12/11/2020 của Bộ Thông tin và Truyền thông ban "
    "hành Mẫu Quy chế tổ chức và hoạt động của Ban Chỉ đạo chuyển đổi số cấp tỉnh",
    "Căn cứ Quyết định số 411/QĐ-TTg ngày 31 tháng 3 năm 2022 của Thủ tướng Chính phủ phê "
    "duyệt Chiến lược quốc gia phát triển kinh tế số và xã hội số đến năm 2025, định hướng "
    "đến năm 2030",
]

_REFERENCED = [  # (type word, symbol, topic) for generated căn cứ lines
    ("Kế hoạch", "KH", "chuyển đổi số năm {y}"),
    ("Quyết định", "QĐ", "ban hành Bộ chỉ số đánh giá chuyển đổi số năm {y}"),
    ("Kế hoạch", "KH", "phát triển Tổ công nghệ số cộng đồng"),
    ("Nghị quyết", "NQ", "chuyển đổi số đến năm 2025, định hướng đến năm 2030"),
    ("Công văn", "", "triển khai các nhiệm vụ chuyển đổi số năm {y}"),
    ("Quyết định", "QĐ", "kiện toàn Ban Chỉ đạo chuyển đổi số"),
]


def _random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _referenced_line(rng: random.Random, agency: Agency, issue: dt.date, own_number: str) -> str:
    """A căn cứ line about an earlier document of the superior (or own) agency."""
    word, sym, topic = rng.choice(_REFERENCED)
    date = _random_date(rng, issue - dt.timedelta(days=500), issue - dt.timedelta(days=10))
    while True:
        seq = rng.randint(1, 450)
        if sym:
            number = f"{seq:02d}/{sym}-UBND"
        else:
            number = f"{seq:02d}/UBND-{rng.choice(['VX', 'KT', 'TH'])}"
        if number != own_number:
            break
    if sym == "NQ":
        number = f"{seq:02d}-NQ/TU" if agency.level != "xa" else f"{seq:02d}-NQ/HU"
    if agency.level == "xa":
        who = "UBND " + ("huyện Phú Vang" if agency.superior is None else
                         agency.superior.removeprefix("UBND ").title().replace("Huyện", "huyện"))
        if sym == "NQ":
            who = "Ban Thường vụ Huyện ủy"
    else:
        who = "UBND tỉnh" if sym != "NQ" else "Ban Thường vụ Tỉnh ủy"
    when = (f"ngày {_short_date(date)}" if rng.random() < 0.5
            else format_date_words(date, rng.random() < 0.5))
    return f"Căn cứ {word} số {number} {when} của {who} về {topic.format(y=issue.year)}"


def _make_can_cu(rng: random.Random, doc_type: DocType, agency: Agency, issue: dt.date,
                 number: str) -> list[str]:
    count = rng.randint(1, 3)
    lines: list[str] = []
    if doc_type in (DocType.QUYET_DINH, DocType.CHI_THI) and rng.random() < 0.7:
        lines.append(_CAN_CU_FIXED[0])
    while len(lines) < count:
        line = (rng.choice(_CAN_CU_FIXED[1:]) if rng.random() < 0.4
                else _referenced_line(rng, agency, issue, number))
        if line not in lines:
            lines.append(line)
    return lines


_TASK_SENTENCES = [
    "Đẩy mạnh tuyên truyền, nâng cao nhận thức của cán bộ, công chức, viên chức và người dân "
    "về vai trò, ý nghĩa của chuyển đổi số",
    "Triển khai hiệu quả hệ thống quản lý văn bản và điều hành, bảo đảm 100% văn bản đi được "
    "ký số và gửi nhận trên môi trường điện tử, trừ văn bản mật theo quy định",
    "Duy trì hoạt động của Tổ công nghệ số cộng đồng tại các thôn, tổ dân phố, hướng dẫn người "
    "dân cài đặt và sử dụng các nền tảng số, dịch vụ công trực tuyến",
    "Nâng cao tỷ lệ hồ sơ thủ tục hành chính được tiếp nhận và giải quyết trực tuyến toàn "
    "trình, thanh toán trực tuyến phí, lệ phí",
    "Tổ chức các lớp tập huấn, bồi dưỡng kỹ năng số cho cán bộ, công chức và thành viên Tổ "
    "công nghệ số cộng đồng",
    "Rà soát, cập nhật, làm sạch dữ liệu dân cư, dữ liệu chuyên ngành phục vụ chỉ đạo, điều "
    "hành và cung cấp dịch vụ công",
    "Bảo đảm an toàn thông tin mạng cho các hệ thống thông tin theo cấp độ, thực hiện giám sát "
    "và ứng cứu sự cố kịp thời",
    "Phát triển hạ tầng số, phủ sóng băng rộng di động đến các thôn vùng sâu, vùng xa",
    "Hướng dẫn các hộ sản xuất, hợp tác xã đưa sản phẩm lên sàn thương mại điện tử, thúc đẩy "
    "thanh toán không dùng tiền mặt",
    "Ứng dụng nền tảng Hue-S, hệ thống thông tin giám sát, điều hành đô thị thông minh trong "
    "tiếp nhận và xử lý phản ánh, kiến nghị của người dân",
    "Đánh giá, chấm điểm Chỉ số chuyển đổi số (DTI) đúng thời gian, bảo đảm đầy đủ tài liệu "
    "kiểm chứng cho từng tiêu chí",
    "Bố trí kinh phí thực hiện các nhiệm vụ chuyển đổi số từ nguồn ngân sách và các nguồn "
    "huy động hợp pháp khác",
    "Cập nhật thường xuyên thông tin trên Trang thông tin điện tử, công khai đầy đủ thông tin "
    "theo quy định",
    "Phối hợp với các doanh nghiệp viễn thông hỗ trợ thiết bị, đường truyền cho các điểm phục "
    "vụ người dân",
    "Định kỳ hằng quý tổng hợp, báo cáo kết quả thực hiện về cơ quan thường trực",
]

_RESULT_SENTENCES = [
    "Tỷ lệ văn bản đi được ký số đạt {p}%, tăng {d}% so với cùng kỳ năm trước",
    "Đã thành lập {n} Tổ công nghệ số cộng đồng với {m} thành viên tham gia",
    "Tỷ lệ hồ sơ trực tuyến toàn trình đạt {p}% trên tổng số hồ sơ tiếp nhận",
    "Tổ chức {n} lớp tập huấn kỹ năng số cho {m} lượt cán bộ, công chức và người dân",
    "Có {m} hộ gia đình được hướng dẫn cài đặt ứng dụng VNeID và các ứng dụng thanh toán",
    "Tỷ lệ người dân trưởng thành có danh tính số đạt {p}%",
    "Hệ thống quản lý văn bản và điều hành được sử dụng thông suốt, không để xảy ra sự cố mất "
    "an toàn thông tin",
]


def _fill_numbers(rng: random.Random, s: str) -> str:
    return s.format(p=rng.randint(55, 99), d=rng.randint(2, 25), n=rng.randint(3, 20),
                    m=rng.randint(40, 900))


def _paragraph(rng: random.Random, pool: list[str], n: int | None = None) -> str:
    parts = [_fill_numbers(rng, p) for p in rng.sample(pool, n or rng.randint(2, 3))]
    text = "; ".join([parts[0]] + [p[0].lower() + p[1:] for p in parts[1:]])
    return text[0].upper() + text[1:] + "."


def _member_line(i: int, person: Person, title: str, role: str) -> str:
    return f"{i}. {person.honorific} {person.name}, {title}, {role};"


@dataclasses.dataclass
class _Draft:
    """Mutable working state while a document is being composed."""
    subject: str
    body: list[str]
    body_names: list[str]
    extra: dict


def _subject_and_body(rng: random.Random, doc_type: DocType, agency: Agency, year: int,
                      roster: dict[str, Person], used: set[str]) -> _Draft:
    loc = _locality(agency)
    roles = _roles(agency)
    who = _agency_prose(agency)
    names: list[str] = []
    extra: dict = {}
    body: list[str] = []

    def name(key: str) -> Person:
        names.append(roster[key].name) if roster[key].name not in names else None
        return roster[key]

    if doc_type == DocType.QUYET_DINH:
        kind = rng.choice(["bcd", "bcd_kien_toan", "to_cns", "plan"])
        if kind in ("bcd", "bcd_kien_toan"):
            verb = "Thành lập" if kind == "bcd" else "Kiện toàn"
            subject = f"{verb} Ban Chỉ đạo chuyển đổi số {loc}"
            chair = name("head")
            extra["truong_ban"] = (chair.name, roles["head"])
            body.append(f"Điều 1. {verb} Ban Chỉ đạo chuyển đổi số {loc} (sau đây gọi tắt là "
                        "Ban Chỉ đạo), gồm các ông (bà) có tên sau:")
            body.append(_member_line(1, chair, roles["head"], "Trưởng ban"))
            body.append(_member_line(2, name("deputy"), roles["deputy"],
                                     "Phó Trưởng ban thường trực"))
            body.append(_member_line(3, name("dept"), roles["dept"], "Phó Trưởng ban"))
            for i in range(4, 4 + rng.randint(1, 3)):
                p = make_person(rng, used)
                names.append(p.name)
                body.append(_member_line(i, p, rng.choice(
                    ["Trưởng phòng Nội vụ", "Trưởng phòng Tài chính - Kế hoạch",
                     "Giám đốc Trung tâm Văn hóa, Thông tin và Thể thao", "Chánh Văn phòng",
                     "Trưởng Công an", "Chuyên viên phụ trách công nghệ thông tin"]), "Thành viên"))
            body[-1] = body[-1][:-1] + "."
            body.append("Điều 2. Ban Chỉ đạo có nhiệm vụ giúp " + who.replace(
                "Ủy ban nhân dân", "Chủ tịch Ủy ban nhân dân") + " chỉ đạo, điều phối việc "
                "thực hiện các nhiệm vụ chuyển đổi số; Trưởng ban Chỉ đạo phân công nhiệm vụ "
                "cụ thể cho các thành viên. Ban Chỉ đạo tự giải thể sau khi hoàn thành nhiệm vụ.")
        elif kind == "to_cns":
            subject = f"Thành lập Tổ công nghệ số cộng đồng {loc}"
            lead = name("deputy")
            body.append(f"Điều 1. Thành lập Tổ công nghệ số cộng đồng {loc}, gồm các ông (bà) "
                        "có tên sau:")
            body.append(_member_line(1, lead, roles["deputy"], "Tổ trưởng"))
            for i in range(2, 2 + rng.randint(2, 4)):
                p = make_person(rng, used)
                names.append(p.name)
                body.append(_member_line(i, p, rng.choice(
                    ["Bí thư Đoàn Thanh niên", "Chủ tịch Hội Liên hiệp Phụ nữ",
                     "Trưởng thôn", "Công an viên", "Nhân viên bưu điện văn hóa"]), "Thành viên"))
            body[-1] = body[-1][:-1] + "."
            body.append("Điều 2. Tổ công nghệ số cộng đồng có nhiệm vụ " +
                        _paragraph(rng, _TASK_SENTENCES, 2)[0].lower() +
                        _paragraph(rng, _TASK_SENTENCES, 2)[1:])
        else:
            subject = f"Phê duyệt Kế hoạch chuyển đổi số {loc} năm {year}"
            body.append(f"Điều 1. Phê duyệt Kế hoạch chuyển đổi số {loc} năm {year} kèm theo "
                        "Quyết định này.")
            body.append("Điều 2. Giao cơ quan thường trực chủ trì, phối hợp với các cơ quan, "
                        "đơn vị liên quan tổ chức triển khai thực hiện Kế hoạch; định kỳ báo cáo "
                        "kết quả thực hiện.")
        if rng.random() < 0.5:
            subject = "Về việc " + subject[0].lower() + subject[1:]
        body.append("Điều 3. Quyết định này có hiệu lực kể từ ngày ký. " +
                    ("Chánh Văn phòng Sở" if agency.level == "so" else
                     "Chánh Văn phòng HĐND và UBND" if agency.level == "huyen"
                     else "Công chức Văn phòng - Thống kê") +
                    ", Thủ trưởng các cơ quan, đơn vị có liên quan và các ông (bà) có tên tại "
                    "Điều 1 chịu trách nhiệm thi hành Quyết định này./.")
    elif doc_type == DocType.KE_HOACH:
        subject = rng.choice([
            f"Chuyển đổi số {loc} năm {year}",
            f"Thực hiện chuyển đổi số năm {year}",
            f"Phát triển Tổ công nghệ số cộng đồng năm {year}",
            f"Tuyên truyền về chuyển đổi số năm {year}",
            f"Tổ chức tập huấn kỹ năng số cho cán bộ, công chức năm {year}",
        ])
        body.append("I. MỤC ĐÍCH, YÊU CẦU")
        body.append("1. Mục đích: " + _paragraph(rng, _TASK_SENTENCES))
        body.append("2. Yêu cầu: Các cơ quan, đơn vị xác định chuyển đổi số là nhiệm vụ trọng "
                    "tâm, gắn trách nhiệm của người đứng đầu với kết quả thực hiện.")
        body.append("II. NHIỆM VỤ, GIẢI PHÁP")
    elif doc_type == DocType.THONG_BAO:
        quarter = rng.choice(["quý I", "quý II", "quý III", "6 tháng đầu năm", "quý IV"])
        chair = name(rng.choice(["head", "deputy"]))
        chair_role = roles["head"] if roster["head"] is chair else roles["deputy"]
        meeting = f"cuộc họp Ban Chỉ đạo chuyển đổi số {quarter} năm {year}"
        if rng.random() < 0.5:
            extra["type_heading"] = "THÔNG BÁO KẾT LUẬN"
            subject = meeting[0].upper() + meeting[1:]
        else:
            subject = f"Kết luận của {chair_role} tại {meeting}"
        committee_role = "Trưởng ban" if roster["head"] is chair else "Phó Trưởng ban thường trực"
        body.append(f"Ngày {rng.randint(1, 28)} tháng {rng.randint(1, 12)} năm {year}, "
                    f"{chair.honorific} {chair.name}, {chair_role}, {committee_role} Ban Chỉ đạo "
                    "chủ trì "
                    f"{meeting}. Tham dự có các thành viên Ban Chỉ đạo và đại diện các cơ quan, "
                    "đơn vị liên quan.")
        body.append(f"Sau khi nghe báo cáo và ý kiến các đại biểu, đồng chí {chair_role} "
                    "kết luận như sau:")
    elif doc_type == DocType.GIAY_TRIEU_TAP:
        subject = rng.choice([f"Tham dự lớp tập huấn chuyển đổi số năm {year}",
                              "Tham dự lớp tập huấn kỹ năng số cho Tổ công nghệ số cộng đồng",
                              "Tham gia bồi dưỡng kiến thức về an toàn thông tin"])
        body.append(f"{who} triệu tập các ông (bà) có tên sau:")
        for i in range(1, 1 + rng.randint(2, 4)):
            p = make_person(rng, used)
            names.append(p.name)
            body.append(f"{i}. {p.honorific} {p.name} - " + rng.choice(
                ["Công chức Văn hóa - Xã hội", "Chuyên viên phụ trách công nghệ thông tin",
                 "Thành viên Tổ công nghệ số cộng đồng", "Văn thư cơ quan"]) + ";")
        body.append(f"Thời gian: 01 ngày, bắt đầu từ 07 giờ 30 phút, ngày {rng.randint(1, 28)} "
                    f"tháng {rng.randint(1, 12)} năm {year}.")
        body.append("Địa điểm: Hội trường " + who + ".")
    elif doc_type == DocType.GIAY_MOI:
        subject = rng.choice([f"Dự Hội nghị triển khai Kế hoạch chuyển đổi số năm {year}",
                              "Dự họp Ban Chỉ đạo chuyển đổi số",
                              f"Dự Hội nghị sơ kết công tác chuyển đổi số 6 tháng đầu năm {year}"])
        chair = name(rng.choice(["head", "deputy"]))
        chair_role = roles["head"] if roster["head"] is chair else roles["deputy"]
        body.append(f"{who} trân trọng kính mời đại diện lãnh đạo các cơ quan, đơn vị dự "
                    + subject[4:] + ".")
        body.append(f"Chủ trì: {chair.honorific} {chair.name}, {chair_role}.")
        body.append(f"Thời gian: 14 giờ 00 phút, ngày {rng.randint(1, 28)} tháng "
                    f"{rng.randint(1, 12)} năm {year}.")
        body.append("Địa điểm: Phòng họp trực tuyến " + who + ".")
    elif doc_type == DocType.BAO_CAO:
        subject = rng.choice([f"Kết quả thực hiện chuyển đổi số năm {year}",
                              f"Tình hình hoạt động của Tổ công nghệ số cộng đồng 6 tháng đầu "
                              f"năm {year}",
                              f"Kết quả tự đánh giá, chấm điểm Chỉ số chuyển đổi số năm {year}"])
        body.append("I. KẾT QUẢ THỰC HIỆN")
    elif doc_type == DocType.CONG_VAN:
        subject = rng.choice([f"triển khai thực hiện các nhiệm vụ chuyển đổi số năm {year}",
                              "đăng ký tham gia tập huấn kỹ năng số",
                              "đôn đốc cung cấp tài liệu kiểm chứng Chỉ số chuyển đổi số",
                              "kiện toàn Tổ công nghệ số cộng đồng"])
        addressees = {
            "so": ["Các phòng, đơn vị thuộc Sở", "Các đơn vị sự nghiệp trực thuộc"],
            "huyen": ["Các phòng, ban, đơn vị thuộc UBND huyện", "UBND các xã, thị trấn"],
            "xa": ["Các ban, ngành, đoàn thể xã", "Trưởng các thôn"],
        }[agency.level]
        extra["kinh_gui"] = addressees[:1] if rng.random() < 0.4 else addressees
        body.append(f"Thực hiện chỉ đạo của {_PARENT[agency.level]} về {subject}, {who} "
                    "đề nghị các cơ quan, đơn vị triển khai một số nội dung sau:")
    elif doc_type == DocType.CHI_THI:
        subject = rng.choice([f"Về đẩy mạnh chuyển đổi số trên địa bàn {loc}",
                              "Về tăng cường bảo đảm an toàn thông tin mạng",
                              "Về đẩy mạnh sử dụng dịch vụ công trực tuyến"])
        body.append("Thời gian qua, công tác chuyển đổi số đã đạt được một số kết quả quan "
                    "trọng. Tuy nhiên, vẫn còn những hạn chế, tồn tại cần khắc phục.")
        body.append("Để khắc phục những hạn chế nêu trên, " + roles["head"] + " yêu cầu:")
    elif doc_type == DocType.HUONG_DAN:
        subject = rng.choice([f"Đánh giá, chấm điểm Chỉ số chuyển đổi số năm {year}",
                              "Chuẩn bị tài liệu kiểm chứng Chỉ số chuyển đổi số",
                              "Tổ chức hoạt động của Tổ công nghệ số cộng đồng"])
        body.append("I. PHẠM VI, ĐỐI TƯỢNG ÁP DỤNG")
        body.append("Hướng dẫn này áp dụng đối với các cơ quan, đơn vị trực thuộc " + who + ".")
        body.append("II. NỘI DUNG HƯỚNG DẪN")
    elif doc_type == DocType.TO_TRINH:
        subject = rng.choice([f"Đề nghị phê duyệt Kế hoạch chuyển đổi số năm {year}",
                              "Đề nghị bố trí kinh phí thực hiện nhiệm vụ chuyển đổi số",
                              "Đề nghị kiện toàn Ban Chỉ đạo chuyển đổi số"])
        if rng.random() < 0.5:
            subject = "Về việc " + subject[0].lower() + subject[1:]
        extra["kinh_gui"] = [_PARENT[agency.level] if agency.level != "xa"
                             else "Ủy ban nhân dân huyện"]
        body.append(f"{who} kính trình xem xét, " + subject.removeprefix("Về việc ")
                    .removeprefix("Đề nghị ").lower() + " với các nội dung sau:")
    elif doc_type == DocType.CHUONG_TRINH:
        subject = f"Công tác năm {year} của Ban Chỉ đạo chuyển đổi số {loc}"
        body.append("I. MỤC TIÊU")
        body.append(_paragraph(rng, _TASK_SENTENCES))
        body.append("II. NỘI DUNG CÔNG TÁC")
    elif doc_type == DocType.PHUONG_AN:
        subject = rng.choice([f"Tổ chức tập huấn kỹ năng số cho Tổ công nghệ số cộng đồng năm "
                              f"{year}",
                              "Bảo đảm an toàn thông tin mạng cho các hệ thống thông tin",
                              "Ứng cứu sự cố an toàn thông tin mạng"])
        body.append("I. SỰ CẦN THIẾT")
        body.append(_paragraph(rng, _TASK_SENTENCES))
        body.append("II. NỘI DUNG PHƯƠNG ÁN")
    else:  # pragma: no cover - every DocType is handled above
        raise ValueError(doc_type)
    return _Draft(subject=nfc(subject), body=[nfc(b) for b in body], body_names=names,
                  extra=extra)


def _closing(doc_type: DocType, agency: Agency) -> str | None:
    """The closing sentence that ends the body, by type."""
    who = _agency_prose(agency)
    return {
        DocType.KE_HOACH: f"Trên đây là Kế hoạch {{s}} của {who}./.",
        DocType.BAO_CAO: f"Trên đây là báo cáo {{s}} của {who}./.",
        DocType.CONG_VAN: "Đề nghị các cơ quan, đơn vị quan tâm thực hiện./.",
        DocType.CHI_THI: "Yêu cầu Thủ trưởng các cơ quan, đơn vị nghiêm túc thực hiện Chỉ thị "
                         "này./.",
        DocType.HUONG_DAN: "Trong quá trình thực hiện, nếu có vướng mắc, đề nghị phản ánh về "
                           "cơ quan thường trực để được hướng dẫn./.",
        DocType.TO_TRINH: "Kính trình xem xét, quyết định./.",
        DocType.CHUONG_TRINH: "Trên đây là Chương trình công tác của Ban Chỉ đạo./.",
        DocType.PHUONG_AN: f"Trên đây là Phương án {{s}} của {who}./.",
        DocType.GIAY_MOI: "Rất mong các đại biểu tham dự đầy đủ, đúng thời gian./.",
        DocType.GIAY_TRIEU_TAP: "Đề nghị các ông (bà) có tên trên tham dự đầy đủ, đúng thời "
                                "gian./.",
        DocType.THONG_BAO: f"{who} thông báo để các cơ quan, đơn vị biết, thực hiện./.",
    }.get(doc_type)


def _recipients(rng: random.Random, doc_type: DocType, agency: Agency, dept: str) -> list[str]:
    first = {DocType.QUYET_DINH: "Như Điều 3", DocType.CONG_VAN: "Như trên",
             DocType.TO_TRINH: "Như trên", DocType.GIAY_TRIEU_TAP: "Như trên",
             DocType.GIAY_MOI: "Như thành phần mời"}.get(doc_type, "Các cơ quan, đơn vị liên quan")
    out = [first]
    if agency.level == "so":
        out += ["UBND tỉnh (b/c)", "Giám đốc, các PGĐ Sở"]
        if agency.symbol != "STTTT":
            out.append("Sở Thông tin và Truyền thông")
    elif agency.level == "huyen":
        out += ["UBND tỉnh (b/c)", "Sở Thông tin và Truyền thông", "TT Huyện ủy, TT HĐND huyện",
                "CT, các PCT UBND huyện"]
    else:
        parent = agency.superior.removeprefix("UBND ").title().replace("Huyện", "huyện") \
            if agency.superior else "huyện"
        out += [f"UBND {parent} (b/c)", "TT Đảng ủy, TT HĐND xã", "CT, các PCT UBND xã"]
    keep = [out[0]] + rng.sample(out[1:], rng.randint(1, len(out) - 1))
    archive = f"Lưu: VT, {dept}" if rng.random() < 0.8 else "Lưu: VT"
    return [nfc(r) for r in keep] + [nfc(archive)]


def _signer(rng: random.Random, doc_type: DocType, agency: Agency,
            roster: dict[str, Person]) -> tuple[Person, str, str | None, str | None]:
    """(person, printed title, authority, authority line) for this document."""
    head, deputy = agency.head_title, agency.deputy_title
    options: list[tuple[str, str, str | None, str | None]] = [
        ("head", head, None, None),
        ("deputy", deputy, "KT.", f"KT. {head}"),
        ("deputy", deputy, "KT.", f"KT. {head}"),
    ]
    if agency.level != "so":
        options.append(("head", head, "TM.", f"TM. {agency.collective}"))
        options.append(("deputy", deputy, "KT.", f"KT. {head}"))
    else:
        options.append(("head", head, "Q.", f"Q. {head}"))
    if doc_type in (DocType.CONG_VAN, DocType.THONG_BAO, DocType.GIAY_MOI,
                    DocType.GIAY_TRIEU_TAP):
        options.append(("office", "CHÁNH VĂN PHÒNG", "TL.", f"TL. {head}"))
        if agency.level != "so":
            options.append(("office", "CHÁNH VĂN PHÒNG", "TUQ.", f"TUQ. {head}"))
    key, title, authority, line = rng.choice(options)
    if agency.level == "xa" and key == "office":
        key, title, authority, line = "deputy", deputy, "KT.", f"KT. {head}"
    return roster[key], title, authority, line


def _fill_sections(rng: random.Random, doc_type: DocType, n: int) -> list[str]:
    """`n` numbered paragraphs of tasks or results: the bulk that makes long documents long."""
    pool = _RESULT_SENTENCES if doc_type in (DocType.BAO_CAO, DocType.THONG_BAO) \
        else _TASK_SENTENCES
    return [f"{i}. " + _paragraph(rng, pool) for i in range(1, n + 1)]


def _appendix(rng: random.Random, doc_type: DocType, number: str, issue: dt.date,
              agency: Agency, zero_pad: bool) -> list[str]:
    type_word = TYPE_NAMES[doc_type].capitalize() if doc_type != DocType.CONG_VAN else "Công văn"
    lines = [
        "PHỤ LỤC",
        "DANH MỤC NHIỆM VỤ CHUYỂN ĐỔI SỐ" if doc_type != DocType.BAO_CAO
        else "SỐ LIỆU KẾT QUẢ THỰC HIỆN",
        f"(Kèm theo {type_word} số {number} {format_date_words(issue, zero_pad)} "
        f"của {agency.unit_name})",
    ]
    for i in range(1, rng.randint(6, 12) + 1):
        task = rng.choice(_TASK_SENTENCES)
        quarter = rng.choice(["I", "II", "III", "IV"])
        lines.append(f"{i}. {task}. Thời gian hoàn thành: Quý {quarter}/{issue.year}.")
    return [nfc(x) for x in lines]

# --- patterns of real files (issue 10): drawn only for specs with `real_patterns` ---------

def _quoted_document(rng: random.Random, issue: dt.date, own_number: str) -> tuple[str, str]:
    """(type word, "số N/SYM ngày d/m/yyyy của …") of an earlier document a subject may quote."""
    word, sym, who = rng.choice([
        ("Quyết định", "QĐ-UBND", "Chủ tịch Ủy ban nhân dân tỉnh"),
        ("Kế hoạch", "KH-UBND", "Ủy ban nhân dân tỉnh"),
        ("Công văn", "SNV-CCHC", "Sở Nội vụ"),
        ("Công văn", "STTTT-CĐS", "Sở Thông tin và Truyền thông"),
    ])
    date = _random_date(rng, issue - dt.timedelta(days=200), issue - dt.timedelta(days=5))
    number = own_number
    while number == own_number:
        number = f"{rng.randint(2, 3900)}/{sym}"
    return word, f"số {number} ngày {date.day}/{date.month}/{date.year} của {who}"


def _quoting_subject(rng: random.Random, doc_type: DocType, subject: str, issue: dt.date,
                     own_number: str) -> str:
    """A subject that itself quotes another number and date, as real trích yếu often do."""
    word, ref = _quoted_document(rng, issue, own_number)
    topic = subject[0].lower() + subject[1:]
    topic = topic.removeprefix("về việc ")
    if doc_type == DocType.CONG_VAN:
        return nfc(f"phúc đáp {word} {ref} về {topic}")
    if doc_type == DocType.BAO_CAO:
        return nfc(f"Tổng kết thực hiện {word} {ref} về {topic}")
    return nfc(f"Triển khai thực hiện {word} {ref} về {topic}")


def _real_signer(rng: random.Random, doc_type: DocType, agency: Agency, roster: dict[str, Person],
                 used: set[str]) -> dict:
    """Signer blocks of real files: chained prefixes, ranks, a second title under the name.
    Empty when the classic block drawn before stays."""
    head, deputy = agency.head_title, agency.deputy_title
    out: dict = {}
    chain: list[str] = []
    roll = rng.random()
    if agency.kind == "council":
        signer, title, chain = roster["head"], head, [f"TM. {agency.collective}"]
        out["title_under_name"] = "GIÁM ĐỐC SỞ NỘI VỤ"
    elif agency.kind == "front":
        if roll < 0.5:
            signer, title = roster["deputy"], deputy
        else:
            signer, title = roster["head"], head
        chain = [f"TM. {agency.collective}"]
    elif agency.kind == "police":
        if roll < 0.5:
            signer, title, chain = roster["head"], head, []
            out["rank"] = "Thiếu tướng"
        else:
            signer, title, chain = roster["deputy"], deputy, [f"KT. {head}"]
            out["rank"] = rng.choice(["Đại tá", "Thượng tá"])
        out["rank_own_line"] = rng.random() < 0.5
    elif roll < 0.4 and agency.level != "xa" and doc_type in (
            DocType.CONG_VAN, DocType.THONG_BAO, DocType.GIAY_MOI, DocType.GIAY_TRIEU_TAP,
            DocType.BAO_CAO):
        # The office's deputy signs for its chief, on the head's behalf.
        signer = make_person(rng, used)
        title = "PHÓ CHÁNH VĂN PHÒNG"
        chain = [f"TL. {head}", "KT. CHÁNH VĂN PHÒNG"]
    elif roll < 0.75 and agency.symbol == "UBND":
        signer, title, chain = roster["deputy"], deputy, [f"TM. {agency.collective}", f"KT. {head}"]
    else:
        return {}
    glued = rng.random() < 0.2
    printed = [c.replace(". ", ".", 1) if glued and i == 0 else c for i, c in enumerate(chain)]
    out.update(
        signer=signer, signer_title=title,
        authority=chain[0].split()[0] if chain else None,
        authority_line=printed[0] if printed else None,
        authority_all=tuple(c.split(".")[0] + "." for c in chain),
        signer_lines=tuple(printed) + (title,), glued_authority=glued and bool(chain))
    return out


def make_spec(rng: random.Random, doc_type: DocType | None = None, level: str | None = None,
              **overrides) -> DocumentSpec:
    """A complete, consistent document. `overrides` replace fields of the result; `agency` and
    `issue_date` are applied before composing, so the number, place and căn cứ follow them.
    `real_patterns=True` adds the patterns of real files (issuers, chained signer blocks,
    subjects quoting other documents, kết luận without căn cứ) from a stream of its own."""
    real = bool(overrides.pop("real_patterns", False))
    if doc_type is None:
        doc_type = rng.choice(list(DocType))
    if level is not None and level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; known: {', '.join(LEVELS)}")
    given_agency = overrides.pop("agency", None)
    agency: Agency = given_agency or rng.choice(
        [a for a in AGENCIES if level is None or a.level == level])
    # Real patterns come from a stream of their own, seeded from the main one without drawing
    # from it: the document is the classic one of the same seed, with the patterns added.
    prng = random.Random("real:" + ",".join(map(str, rng.getstate()[1][:8]))) if real \
        else None
    if prng and given_agency is None and level in (None, "so") and prng.random() < 0.5:
        agency = prng.choice(REAL_AGENCIES)
    issue: dt.date = overrides.pop("issue_date", None) or _random_date(
        rng, dt.date(2023, 1, 3), dt.date(2025, 12, 29))
    zero_pad = rng.random() < 0.6
    # Numbers restart every 1 January: a late date gets a larger number.
    seq = max(1, int(issue.timetuple().tm_yday * rng.uniform(0.05, 1.2)) + rng.randint(0, 5))
    dept = rng.choice(_departments(agency))
    number = format_number(seq, doc_type, agency, dept)
    if prng and agency.kind == "police" and doc_type != DocType.CONG_VAN:
        number += f"-{dept}"                       # "289/TTr-CAT-PC06"
    elif prng and doc_type == DocType.QUYET_DINH and agency.symbol == "UBND" \
            and prng.random() < 0.3:
        number = f"{seq}/{issue.year}/QĐ-UBND"      # a normative decision: "3/2025/QĐ-UBND"

    used: set[str] = set()
    roster = {key: make_person(rng, used) for key in ("head", "deputy", "office", "dept")}
    draft = _subject_and_body(rng, doc_type, agency, issue.year, roster, used)
    if prng and doc_type in (DocType.BAO_CAO, DocType.CONG_VAN, DocType.TO_TRINH,
                             DocType.KE_HOACH) and prng.random() < 0.4:
        draft.subject = _quoting_subject(prng, doc_type, draft.subject, issue, number)
    can_cu = _make_can_cu(rng, doc_type, agency, issue, number)
    if prng and doc_type == DocType.THONG_BAO:
        if prng.random() < 0.8:
            can_cu = []   # a kết luận opens with the meeting, right under its subject
        # The meeting comes a few days before the notice: a date that is not the issue date.
        met = issue - dt.timedelta(days=prng.randint(1, 10))
        draft.body[0] = re.sub(r"^Ngày \d+ tháng \d+ năm \d{4}",
                               f"Ngày {_short_date(met)}", draft.body[0])
    if doc_type == DocType.QUYET_DINH:
        can_cu.append("Theo đề nghị của " + _roles(agency)["dept"])
    can_cu = [nfc(c + (";" if i < len(can_cu) - 1 else ".")) for i, c in enumerate(can_cu)]
    signer, title, authority, authority_line = _signer(rng, doc_type, agency, roster)
    real_signer = _real_signer(prng, doc_type, agency, roster, used) if prng else {}
    if real_signer:
        signer, title = real_signer.pop("signer"), real_signer.pop("signer_title")
        authority, authority_line = real_signer.pop("authority"), real_signer.pop("authority_line")
    if doc_type == DocType.QUYET_DINH:
        # The decision's own heading names who decides, e.g. "CHỦ TỊCH ỦY BAN NHÂN DÂN HUYỆN …".
        draft.extra["issuing_authority"] = (
            agency.name if authority == "TM." else f"{agency.head_title} {agency.name}")
    recipients = _recipients(rng, doc_type, agency, dept)

    target_pages = rng.choices([1, 2, 3, 4], weights=[4, 4, 2, 1])[0]
    with_appendix = target_pages >= 2 and doc_type in (
        DocType.KE_HOACH, DocType.BAO_CAO, DocType.CHUONG_TRINH, DocType.PHUONG_AN,
        DocType.QUYET_DINH) and rng.random() < 0.5
    appendix = _appendix(rng, doc_type, number, issue, agency, zero_pad) if with_appendix else []
    closing = _closing(doc_type, agency)
    closing = closing.format(s=draft.subject[0].lower() + draft.subject[1:]) if closing else None

    def build(n_sections: int) -> DocumentSpec:
        body = list(draft.body)
        if doc_type != DocType.QUYET_DINH:
            body += _fill_sections(random.Random(rng_state), doc_type, n_sections)
            if closing:
                body.append(nfc(closing))
        return DocumentSpec(
            doc_type=doc_type, agency=agency, number=number, issue_date=issue,
            zero_pad_date=zero_pad, subject=draft.subject, signer_name=signer.name,
            signer_title=title, authority=authority, authority_line=authority_line,
            can_cu=tuple(can_cu), body=tuple(body), recipients=tuple(recipients), pages=1,
            appendix=tuple(appendix), body_names=tuple(draft.body_names), extra=draft.extra,
            real_patterns=real, **real_signer)

    from samples.render import count_pages  # layout metrics live with the renderer

    rng_state = rng.random()  # the filler is drawn from its own stream so retries stay stable
    fill_rng = random.Random(rng_state + 1)
    n_sections = 1 if doc_type not in (DocType.GIAY_MOI, DocType.GIAY_TRIEU_TAP) else 0
    if doc_type not in (DocType.QUYET_DINH, DocType.GIAY_MOI, DocType.GIAY_TRIEU_TAP):
        # Page count grows with the number of sections: find the range of counts that give the
        # target and take one at random, so that the last page is filled to varying heights.
        def first_reaching(pages: int) -> int:
            low, high = n_sections, 48
            while low < high:
                mid = (low + high) // 2
                if count_pages(build(mid)) >= pages:
                    high = mid
                else:
                    low = mid + 1
            return low

        fewest = first_reaching(target_pages)
        most = max(fewest, first_reaching(target_pages + 1) - 1)
        n_sections = fill_rng.randint(fewest, most)
    spec = build(n_sections)
    fields = {"pages": count_pages(spec), **overrides}
    spec = dataclasses.replace(spec, **fields)
    if "pages" not in overrides and any(k in overrides for k in ("body", "can_cu", "appendix",
                                                                  "recipients", "subject")):
        spec = dataclasses.replace(spec, pages=count_pages(spec))
    return spec
