"""The generator's patterns of real files (issue 10): what each new variant puts in the file,
and what the extractor reads from it compared with the truth."""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import re
import unicodedata

import pymupdf
import pytest
from rapidfuzz import fuzz

from kiemchung.extractors.written_digits import WRITTEN_CONFIDENCE
from kiemchung.models.document import nfc
from kiemchung.models.fields import DocType
from samples.content import make_spec
from samples.corpus import REAL_VARIANTS, _write_document, generate_corpus
from samples.render import RealLayout, render_pdf, render_pdf_with_layout
from tests.helpers import truth

BORN_DIGITAL = ("eoffice", "shuffled", "tcvn3caps")
SCANS = ("ocrlayer", "scan150", "gazette", "photo")


def _real_spec(seed: int, doc_type: DocType | None = None):
    return make_spec(random.Random(seed), doc_type, real_patterns=True)


@functools.lru_cache(maxsize=1)
def _many_specs() -> tuple:
    """160 real-pattern specs, every type in turn: enough to meet every pattern."""
    return tuple(_real_spec(seed, list(DocType)[seed % len(DocType)]) for seed in range(160))


@pytest.fixture(scope="module")
def real_digital(tmp_path_factory):
    """Six documents in every born-digital real-pattern variant."""
    return generate_corpus(tmp_path_factory.mktemp("real-digital"), count=6, seed=10,
                           variants=BORN_DIGITAL, workers=1)


@pytest.fixture(scope="module")
def real_scans(tmp_path_factory):
    """Two one-page documents (a công văn and a tờ trình) in every scanned variant: OCR of
    one page each keeps the extraction tests short."""
    out = tmp_path_factory.mktemp("real-scans")
    items = []
    for doc_type in (DocType.CONG_VAN, DocType.TO_TRINH):
        seed = next(s for s in range(300) if _real_spec(s, doc_type).pages == 1)
        spec = _real_spec(seed, doc_type)
        for path, variant, _ in _write_document(out, f"{seed:03d}-{doc_type.value}", spec,
                                                seed, SCANS, real_spec=spec):
            items.append((path, variant, spec))
    return items


def _of(items, variant):
    return [i for i in items if i.variant == variant]


def _page_text(path, number=0) -> str:
    with pymupdf.open(path) as doc:
        return doc[number].get_text()


# --- content ------------------------------------------------------------------------------

def test_real_specs_are_deterministic_and_classic_specs_keep_their_defaults():
    for seed in range(5):
        assert _real_spec(seed) == _real_spec(seed)
        classic = make_spec(random.Random(seed))
        assert not classic.real_patterns and not classic.signer_lines
        assert classic.rank is None and classic.authority_all == ()


def test_real_specs_carry_the_content_patterns():
    specs = _many_specs()
    blocks = {s.signer_lines[:-1] for s in specs if s.signer_lines}
    # A set's order follows the hash seed: blocks of every length (none too) come first.
    assert any(len(b) >= 2 and b[0].startswith("TL") and b[1] == "KT. CHÁNH VĂN PHÒNG"
               for b in blocks)
    assert ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH") in blocks
    chained = next(s for s in specs if s.signer_lines and s.signer_lines[0].startswith("TL"))
    assert chained.authority == "TL." and chained.authority_all == ("TL.", "KT.")
    assert chained.signer_title == "PHÓ CHÁNH VĂN PHÒNG"
    assert {s.rank for s in specs} >= {"Thiếu tướng", "Đại tá"}
    assert any(s.title_under_name for s in specs)
    assert any(re.fullmatch(r"\d+/[A-Za-z]+-CAT-P[A-Z]\d\d", s.number) for s in specs)
    assert any(re.fullmatch(r"\d+/20\d\d/QĐ-UBND", s.number) for s in specs)
    assert any(len(s.agency.name_lines) == 3 and s.agency.superior for s in specs)
    assert any(s.agency.kind == "front" and s.agency.name == "BAN THƯỜNG TRỰC" for s in specs)
    assert any(re.search(r"số \d+/[^ ]+ ngày \d+/\d+/\d{4}", s.subject) for s in specs)
    assert any(s.doc_type == DocType.THONG_BAO and not s.can_cu for s in specs)
    for s in specs:
        assert s.subject == nfc(s.subject) and s.number not in s.subject
        assert s.authorities[:1] == ((s.authority,) if s.authority else ())


def test_chained_block_rank_and_second_title_are_printed_in_order():
    specs = _many_specs()
    for spec in (next(s for s in specs if len(s.signer_lines) == 3),
                 next(s for s in specs if s.rank),
                 next(s for s in specs if s.title_under_name)):
        pdf, layout = render_pdf_with_layout(spec)
        with pymupdf.open(stream=pdf) as doc:
            lines = [x.strip() for x in doc[layout.signer_page - 1].get_text().splitlines()]
        want = list(spec.signer_lines or [spec.authority_line, spec.signer_title])
        if spec.rank and spec.rank_own_line:
            want += [spec.rank, spec.signer_name]
        elif spec.rank:
            want.append(f"{spec.rank} {spec.signer_name}")
        else:
            want.append(spec.signer_name)
        want += [spec.title_under_name] if spec.title_under_name else []
        want = [w for w in want if w]
        found = [lines.index(w) for w in want]
        assert found == sorted(found), (want, lines)


# --- born-digital variants ----------------------------------------------------------------

def test_eoffice_number_and_day_are_only_in_the_widget_appearances(real_digital):
    for item in _of(real_digital, "eoffice"):
        digits, _, rest = item.spec.number.partition("/")
        text = _page_text(item.path)
        assert re.search(r"Số:\s{3,}/" + re.escape(rest), text), text[:300]
        assert re.search(r"ngày\s{3,}tháng", text)
        assert not re.search(r"Số:\s*" + re.escape(digits) + "/", text)
        with pymupdf.open(item.path) as doc:
            signatures = [[w for w in page.widgets() if w.field_type_string == "Signature"]
                          for page in doc]
            assert len(signatures[0]) >= 2
            # The person, the agency, and the agency twice more at issuance.
            assert sum(map(len, signatures)) >= 4
            doc.bake()                     # widget appearances become page content
            stamped = [x.strip() for x in doc[0].get_text().splitlines()]
        assert digits in stamped and item.layout.day_text in stamped


def test_shuffled_header_writes_the_date_first_and_the_digits_last(real_digital):
    for item in _of(real_digital, "shuffled"):
        spec = item.spec
        digits, _, rest = spec.number.partition("/")
        lines = [x.strip() for x in _page_text(item.path).splitlines()]
        date_line = next(i for i, x in enumerate(lines) if x.startswith(spec.agency.place + ","))
        name = spec.agency.name.replace(" ", "")
        agency_line = min(i for i, x in enumerate(lines) if x and x.replace(" ", "") in name)
        assert date_line < agency_line
        number_line = lines.index("/" + rest)
        # The digits and the day come after the whole of page 1's text, not in the header.
        assert lines.index(digits, number_line + 1) > number_line + 5
        assert lines.index(item.layout.day_text, number_line + 1) > number_line + 5


def test_glued_spans_lose_a_space_and_keep_their_lines():
    spec = _real_spec(4, DocType.KE_HOACH)
    clean = render_pdf(spec)
    glued = render_pdf(spec, real=RealLayout(glue_seed=2))
    with pymupdf.open(stream=clean) as a, pymupdf.open(stream=glued) as b:
        ta = "".join(p.get_text() for p in a)
        tb = "".join(p.get_text() for p in b)
        assert tb.count(" ") < ta.count(" ")
        assert re.sub(r"\s", "", ta) == re.sub(r"\s", "", tb)
        for pa, pb in zip(a, b):   # every line starts where it started
            assert {round(w[0]) for w in pb.get_text("blocks")} == \
                {round(w[0]) for w in pa.get_text("blocks")}


def test_born_digital_variants_are_deterministic(tmp_path):
    runs = [generate_corpus(tmp_path / name, count=2, seed=4, workers=1,
                            variants=("shuffled", "tcvn3caps", "eoffice")) for name in "ab"]
    for a, b in zip(*runs):
        assert truth(a.path) == truth(b.path)
        if a.variant != "eoffice":     # ECDSA signatures differ from run to run
            assert a.path.read_bytes() == b.path.read_bytes()


def test_incoming_stamp_text_is_on_page_one_and_is_not_the_number(real_digital):
    stamped = [i for i in real_digital if i.variant in ("eoffice", "shuffled")
               and truth(i.path)["patterns"]["incoming_stamp"]]
    assert stamped, "no incoming stamp in six documents"
    for item in stamped:
        stamp = truth(item.path)["patterns"]["incoming_stamp"]
        text = _page_text(item.path)
        assert "ĐẾN" in text and f"Số: {stamp['number']}" in text
        assert str(stamp["number"]) != item.spec.number.split("/")[0]


def test_tcvn3caps_sets_capitals_in_the_vntimeh_font(real_digital):
    for item in _of(real_digital, "tcvn3caps"):
        with pymupdf.open(item.path) as doc:
            names = {f[3] for page in doc for f in page.get_fonts()}
            assert ".VnTimeH" in names or ".VnTimeH,Bold" in names
            spans = [s for page in doc for b in page.get_text("dict")["blocks"]
                     for line in b.get("lines", ()) for s in line["spans"]]
        caps = [s["text"] for s in spans if s["font"].startswith(".VnTimeH")]
        # Typed in lower case in a caps font (TCVN3 codes above 127 are lower-case letters).
        assert caps and not any(c.isupper() for t in caps for c in t if c.isascii())
    # A toned capital inside a mixed-case word is one letter of the caps font.
    spec = next(s for seed in range(60) if "Ủy" in " ".join((s := _real_spec(seed)).body))
    pdf = render_pdf(spec, tcvn3=True, real=RealLayout(caps_font=True))
    with pymupdf.open(stream=pdf) as doc:
        lines = [line for page in doc for b in page.get_text("dict")["blocks"]
                 for line in b.get("lines", ())]
    mixed = [line for line in lines if len({s["font"].split(",")[0] for s in line["spans"]}) > 1
             and any(s["text"] == "ñ" for s in line["spans"])]
    assert mixed


def test_truth_files_carry_the_new_fields(real_digital, real_scans):
    paths = [i.path for i in real_digital] + [p for p, _, _ in real_scans]
    for path in paths:
        t = truth(path)
        assert t["real_patterns"] is True and t["variant"] in REAL_VARIANTS
        signer = t["signer"]
        assert {"authority_all", "rank", "title_under_name"} <= set(signer)
        assert signer["authority_all"][:1] == ([signer["authority"]] if signer["authority"]
                                               else [])
        assert "superior" in t and "patterns" in t
        assert t["subject"] == t["subject_printed"]
        if t["doc_type"] == "cong_van":
            assert t["subject"].startswith("V/v ")


def test_classic_truth_says_the_subject_as_printed(tmp_path):
    items = generate_corpus(tmp_path, count=12, seed=3, variants=("digital",), workers=1)
    for item in items:
        t = truth(item.path)
        assert t["subject"] == item.spec.subject_printed and t["real_patterns"] is False
        assert t["signer"]["authority_all"] == ([t["signer"]["authority"]]
                                                if t["signer"]["authority"] else [])
    cong_van = next(i for i in items if i.spec.doc_type == DocType.CONG_VAN)
    assert truth(cong_van.path)["subject"] == "V/v " + cong_van.spec.subject


# --- scanned variants ---------------------------------------------------------------------

def _images(path):
    with pymupdf.open(path) as doc:
        for page in doc:
            for info in page.get_image_info(xrefs=True):
                yield page, info


def test_ocrlayer_carries_a_wrong_invisible_text_layer(real_scans):
    for path, variant, spec in real_scans:
        if variant != "ocrlayer":
            continue
        mode = truth(path)["patterns"]["ocr_layer"]
        with pymupdf.open(path) as doc:
            text = doc[0].get_text()
            content = b"".join(doc.xref_stream(x) for x in doc[0].get_contents())
            assert doc[0].get_image_info()       # the scan itself
        assert b"3 Tr" in content                # render mode 3: invisible
        assert text.strip()
        if mode == "no_diacritics":
            assert all(ord(ch) < 128 for ch in text)
            folded = unicodedata.normalize("NFD", spec.agency.name.replace("Đ", "D"))
            folded = "".join(c for c in folded if unicodedata.category(c) != "Mn")
            assert fuzz.partial_ratio(folded, text) > 80
        else:
            assert "Ã" in text or "á»" in text
        assert spec.agency.name not in text


def test_low_dpi_scans_and_the_photo(real_scans):
    for path, variant, _spec in real_scans:
        t = truth(path)
        if variant == "ocrlayer":
            continue
        for page, info in _images(path):
            dpi = info["width"] / (page.rect.width / 72.0)
            assert dpi <= 151
        with pymupdf.open(path) as doc:
            assert not doc[0].get_text().strip()
            size = (round(doc[0].rect.width), round(doc[0].rect.height))
        if variant == "photo":
            assert size == (545, 792)
        else:
            assert size == (595, 842) and max(t["patterns"]["jpeg_quality"]) <= 60
        if variant == "gazette":
            assert t["patterns"]["incoming_stamp"] and "Thời gian ký" in t["patterns"][
                "gazette_stamp"]


def test_scans_are_deterministic(tmp_path):
    spec = _real_spec(2, DocType.CONG_VAN)
    files = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        files.append(_write_document(tmp_path / name, "x", spec, 2, ("gazette",),
                                     real_spec=spec)[0][0].read_bytes())
    assert files[0] == files[1]


def test_gazette_scans_with_the_number_and_day_written_by_hand(tmp_path):
    # As on the real gazette scans (../shared/realdocs 07, 08, 09): the digits and the day are
    # blank in the print and written in pen, touching or running into the print; read again
    # by the handwriting network, most come out right, and a wrong one is never said sure.
    from kiemchung.extractors.pipeline import inspect_file

    right = 0
    for seed in (0, 4, 19, 22, 29, 36):
        spec = _real_spec(seed, list(DocType)[seed % len(DocType)])
        path = _write_document(tmp_path, f"w{seed}", spec, seed, ("gazette",),
                               real_spec=spec)[0][0]
        want = truth(path)
        assert want["patterns"]["written_digits"]
        fields = inspect_file(path).fields
        for field, expected in ((fields.number, want["number"]),
                                (fields.issue_date, dt.date.fromisoformat(want["issue_date"]))):
            if field is not None and field.value == expected:
                right += 1
            else:     # wrong or missing: never said sure
                assert field is None or field.confidence <= WRITTEN_CONFIDENCE, field
    assert right >= 6, right


def test_a_seal_pasted_over_the_start_of_the_name_leaves_it_right_or_unsure(tmp_path):
    # As on the real 21: a seal image pasted opaque over the first letters of the name.
    # Tesseract reads what is left (`Thị Mỹ Tâm`, `Văn Đạt`): never a wrong name said sure.
    from kiemchung.extractors.pipeline import inspect_file

    right = 0
    for seed in (3, 22, 28, 37):
        spec = _real_spec(seed, list(DocType)[seed % len(DocType)])
        path = _write_document(tmp_path, f"s{seed}", spec, seed, ("scan150",),
                               real_spec=spec)[0][0]
        want = truth(path)
        assert want["patterns"]["seal_over_name"]
        signer = inspect_file(path).fields.signer
        if signer is not None and signer.value.name == want["signer"]["name"]:
            right += 1
        else:
            assert signer is None or signer.confidence < 0.6, (seed, signer)
    assert right >= 2


def test_a_signer_block_without_its_recipients_heading_is_found_by_its_own_lines(tmp_path):
    # As on the real 22: OCR loses "Nơi nhận:" beside a block standing above the middle of
    # its page (here at the top of a page of its own, or under a short last paragraph): the
    # block is found from its prefix line, the list beside it from the block's first line.
    from kiemchung.extractors.pipeline import inspect_file

    for seed in (43, 57, 74):
        spec = _real_spec(seed, list(DocType)[seed % len(DocType)])
        path = _write_document(tmp_path, f"n{seed}", spec, seed, ("scan150",),
                               real_spec=spec)[0][0]
        want = truth(path)
        assert not want["patterns"]["recipients_label"]
        assert want["signer_block"]["bbox"][1] < 0.45 * pymupdf.paper_size("a4")[1]
        fields = inspect_file(path).fields
        assert fields.signer is not None, seed
        assert fields.signer.value.title == want["signer"]["title"]
        assert list(fields.signer.value.authority_chain) == want["signer"]["authority_all"]
        assert fields.recipients is not None
        assert fields.recipients.value[0] == want["recipients"][0].rstrip(";.")


def test_a_title_with_the_seals_ink_read_before_it_is_the_title(tmp_path):
    # Read with the page's layout, the seal's ring beside `GIÁM ĐỐC` comes out as words of no
    # confidence on the title's line (`c.(ó1o „ GIÁM ĐỐC`): the title is what is printed.
    from kiemchung.extractors.pipeline import inspect_file

    seed = 21
    spec = _real_spec(seed, list(DocType)[seed % len(DocType)])
    path = _write_document(tmp_path, f"t{seed}", spec, seed, ("scan150",), real_spec=spec)[0][0]
    want = truth(path)
    signer = inspect_file(path).fields.signer
    assert signer is not None
    assert (signer.value.title, signer.value.name) == (want["signer"]["title"],
                                                       want["signer"]["name"])


# --- extraction, compared with the truth (the extractor is learning these) ----------------

def _norm(value) -> str:
    return re.sub(r"\s+", " ", nfc(str(value or ""))).strip(" .;,:")


def _check_fields(path, *, ocr: bool) -> None:
    from kiemchung.extractors.pipeline import inspect_file

    want = truth(path)
    fields = inspect_file(path).fields
    problems = []

    def exact(name, got, expected):
        if _norm(got) != _norm(expected):
            problems.append((name, got, expected))

    def text(name, got, expected):
        a, b = _norm(got), _norm(expected)
        if (a != b) if not ocr else not (a and b and fuzz.ratio(a, b) >= 90):
            problems.append((name, got, expected))

    exact("number", fields.value("number"), want["number"])
    date = fields.value("issue_date")
    exact("issue_date", date.isoformat() if date else None, want["issue_date"])
    text("issuer", fields.value("issuer"), want["issuer"])
    if want["superior"]:
        text("superior_agency", fields.value("superior_agency"), want["superior"])
    text("subject", fields.value("subject"), want["subject"])
    signer = fields.value("signer")
    exact("signer.authority", signer and signer.authority, want["signer"]["authority"])
    text("signer.name", signer and signer.name, want["signer"]["name"])
    text("signer.title", signer and signer.title, want["signer"]["title"])
    assert not problems, f"{path.name}: {problems}"


@pytest.mark.parametrize("variant", BORN_DIGITAL)
def test_extraction_on_born_digital_variant(real_digital, variant):
    items = _of(real_digital, variant)
    assert items
    for item in items:
        _check_fields(item.path, ocr=False)


# Still misread: a 150-dpi scan's signer whose name the seal covers ("Nông Lộc" for "Hồ Công
# Lộc"), and a gazette scan's Công văn number, V/v subject and "PHÓ" of its signer's title.
MISREAD = {"scan150", "gazette"}


@pytest.mark.parametrize("variant", [
    pytest.param(v, marks=pytest.mark.xfail(reason="fields still misread", strict=True))
    if v in MISREAD else v for v in SCANS])
def test_extraction_on_scanned_variant(real_scans, variant):
    paths = [p for p, v, _ in real_scans if v == variant]
    assert paths
    for path in paths:
        _check_fields(path, ocr=True)


def test_truth_json_is_nfc(real_digital):
    for item in real_digital:
        raw = item.path.with_name(item.path.name + ".truth.json").read_text(encoding="utf-8")
        assert raw == nfc(raw)
        assert json.loads(raw)["file"] == item.path.name
