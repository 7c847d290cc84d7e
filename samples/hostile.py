"""Hostile inputs for the PDF and image entry points, made as bytes on demand.

Each function returns a small, deterministic file that is wrong on purpose: cut short,
encrypted, not a PDF at all, structurally broken (bad cross-reference offsets, objects nested
thousands deep, a page tree that loops), too big once opened (thousands of pages, a stream
that inflates to gigabytes, an image or a page declared far larger than any scan), or named
in awkward Unicode. They are what an upload form receives sooner or later; the extractors must
answer each with a normal inspection or one clear InputFileError, in bounded time and memory.

Most PDFs are written object by object here (`raw_pdf`) so the structure is exactly the one
wanted: PDF libraries repair or refuse what these files get wrong.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zlib

import pymupdf
from PIL import Image, ImageDraw
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from kiemchung.models.fields import DocType
from samples.content import make_spec
from samples.pki import DemoPKI
from samples.render import font_file, render_pdf
from samples.sign import sign_as_printed

# -- building blocks ------------------------------------------------------------------------

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
A4 = (595, 842)
PAGE_TEXT = "Kế hoạch chuyển đổi số năm 2024"


def raw_pdf(objects: list[bytes], *, root: int = 1, trailer: bytes = b"") -> bytes:
    """A PDF whose object n (1-based) is objects[n-1], with a correct cross-reference table."""
    out = bytearray(HEADER)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, root, trailer, xref)
    return bytes(out)


def stream(entries: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, len(data), data)


def page_objects(content: bytes, *, resources: bytes = b"<< >>",
                 media_box: tuple[float, float] = A4) -> list[bytes]:
    """Catalog (1), page tree (2), one page (3) and its content stream (4)."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources %s /Contents 4 0 R >>"
        % (media_box[0], media_box[1], resources),
        stream(b"", content),
    ]


def text_pdf(pages: int = 1, text: str = PAGE_TEXT) -> bytes:
    """A plain born-digital PDF with a Vietnamese text line on each page (MuPDF-made)."""
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page(width=A4[0], height=A4[1])
        page.insert_font(fontname="serif", fontfile=font_file("R"))
        page.insert_text((72, 100), f"{text} — trang {number}", fontname="serif", fontsize=12)
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)


def zeros_deflated(size: int, *, times: int = 1) -> bytes:
    """A zlib stream that inflates to about `size` zero bytes, a thousand times smaller, made
    at once; with `times` > 1 compressed again, so that gigabytes fit in kilobytes.

    One dynamic-Huffman Deflate block in which "repeat the previous byte 258 times" costs two
    bits, both zero: past its header the block is a run of zero bytes."""
    matches = max(1, (size - 1) // 258)
    bits = _BitWriter()
    bits.put(1, 1)                        # the last block
    bits.put(2, 2)                        # dynamic Huffman codes
    bits.put(286 - 257, 5)                # literal/length codes 0..285
    bits.put(1 - 1, 5)                    # one distance code
    bits.put(18 - 4, 4)                   # the first 18 code-length code lengths follow
    order = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
    code_length_code = {18: 1, 1: 2, 2: 2}        # canonical: 18 → 0, 1 → 10, 2 → 11
    for symbol in order[:18]:
        bits.put(code_length_code.get(symbol, 0), 3)
    # Code lengths: literal 0 → 2, 1..255 → 0, end of block (256) → 2, 257..284 → 0,
    # 285 (length 258) → 1; distance code 0 (distance 1) → 1. Canonical codes: 285 → 0,
    # literal 0 → 10, end of block → 11; distance 1 → 0.
    bits.code(0b11, 2)                             # literal 0: length 2
    bits.code(0b0, 1)                              # 1..138: 0
    bits.put(138 - 11, 7)
    bits.code(0b0, 1)                              # 139..255: 0
    bits.put(117 - 11, 7)
    bits.code(0b11, 2)                             # 256: length 2
    bits.code(0b0, 1)                              # 257..284: 0
    bits.put(28 - 11, 7)
    bits.code(0b10, 2)                             # 285: length 1
    bits.code(0b10, 2)                             # distance code 0: length 1
    bits.code(0b10, 2)                             # the data: one literal 0 …
    bits.zeros(2 * matches)                        # … repeated 258 bytes at a time
    bits.code(0b11, 2)                             # end of block
    adler = ((1 + 258 * matches) % 65521) << 16 | 1   # Adler-32 of zeros: b = length, a = 1
    data = b"\x78\xda" + bits.bytes() + adler.to_bytes(4, "big")
    for _ in range(times - 1):
        data = zlib.compress(data, 9)
    return data


class _BitWriter:
    """Bits into bytes, least significant bit first, as Deflate packs them."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.byte = 0
        self.count = 0

    def put(self, value: int, width: int) -> None:
        for i in range(width):
            self.byte |= ((value >> i) & 1) << self.count
            self.count += 1
            if self.count == 8:
                self.out.append(self.byte)
                self.byte = self.count = 0

    def code(self, value: int, width: int) -> None:
        """A Huffman code, which Deflate packs from its most significant bit."""
        for i in reversed(range(width)):
            self.put((value >> i) & 1, 1)

    def zeros(self, width: int) -> None:
        while width and self.count:
            self.put(0, 1)
            width -= 1
        self.out += bytes(width // 8)
        self.put(0, width % 8)

    def bytes(self) -> bytes:
        return bytes(self.out) + (bytes([self.byte]) if self.count else b"")


def flate_filters(times: int) -> bytes:
    return b"/Filter [%s]" % b" ".join([b"/FlateDecode"] * times)


def signed_evidence(seed: int = 5) -> bytes:
    """A generated plan, signed as printed (person, then agency) by a demo PKI."""
    spec = make_spec(random.Random(seed), DocType.KE_HOACH)
    return sign_as_printed(render_pdf(spec), spec, DemoPKI.create("hostile"))


# -- cut, locked, or not a PDF ---------------------------------------------------------------

def truncated(pdf: bytes, fraction: float) -> bytes:
    """The first `fraction` of a PDF, as an interrupted upload or download leaves it."""
    return pdf[: max(1, int(len(pdf) * fraction))]


def encrypted(*, user_password: str = "mật-khẩu", owner_password: str = "chủ") -> bytes:
    """AES-256 encrypted; with an empty user password it opens without asking (owner password
    only: printing or copying may be restricted, reading is not)."""
    doc = pymupdf.open(stream=text_pdf(), filetype="pdf")
    return doc.tobytes(encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, user_pw=user_password,
                       owner_pw=owner_password, permissions=pymupdf.mupdf.PDF_PERM_PRINT,
                       no_new_id=True)


def owner_password_only() -> bytes:
    return encrypted(user_password="")


def empty() -> bytes:
    return b""


def plain_text() -> bytes:
    return "Tài liệu kiểm chứng: xem tệp đính kèm.\n".encode()


def html_page() -> bytes:
    return (b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>"
            b"<body><h1>Forbidden</h1></body></html>\n")


def docx_header() -> bytes:
    """The first bytes of a Word document: a ZIP archive whose first entry is its types."""
    name = b"[Content_Types].xml"
    body = b'<?xml version="1.0" encoding="UTF-8"?><Types/>'
    header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0,
                         zlib.crc32(body), len(body), len(body), len(name), 0)
    return header + name + body


def gif_image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(out, "GIF")
    return out.getvalue()


def pdf_header_then_garbage() -> bytes:
    """A PDF header and then nothing a PDF reader can use."""
    return HEADER + random.Random(7).randbytes(4096)


# -- broken structure ------------------------------------------------------------------------

def broken_xref(pdf: bytes | None = None, shift: int = 37) -> bytes:
    """Every offset of the (first) cross-reference table moved by `shift` bytes; readers
    must rebuild the table by scanning the file."""
    pdf = pdf or text_pdf(pages=2, text=PAGE_TEXT)
    pdf = pymupdf.open(stream=pdf, filetype="pdf").tobytes(no_new_id=True)  # classic xref
    start = pdf.rindex(b"\nxref\n") + 1
    end = pdf.index(b"trailer", start)
    table = pdf[start:end].split(b"\n")
    moved = [_shift_entry(row, shift) for row in table]
    return pdf[:start] + b"\n".join(moved) + pdf[end:]


def _shift_entry(row: bytes, shift: int) -> bytes:
    if len(row) >= 18 and row[17:18] == b"n":
        return b"%010d%s" % (int(row[:10]) + shift, row[10:])
    return row


def deeply_nested(depth: int = 50_000, kind: str = "array", where: str = "catalog") -> bytes:
    """An array (or a dictionary) nested `depth` levels deep, directly in the catalog, which
    every reader parses on opening, or in the page's resources, which only some read."""
    if kind == "array":
        value = b"[" * depth + b"1" + b"]" * depth
    else:
        value = b"<< /A " * depth + b"1" + b" >>" * depth
    resources = b"<< /Font << /F1 5 0 R >> %s>>" % (b"/Deep " + value + b" " if where == "page"
                                                    else b"")
    objects = page_objects(b"BT /F1 12 Tf 72 760 Td (Nested) Tj ET", resources=resources)
    if where == "catalog":
        objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Deep %s >>" % value
    return raw_pdf(objects + [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def page_tree_loop() -> bytes:
    """The page tree's second node lists the root among its kids: walking it never ends
    unless the reader notices."""
    content = b"BT /F1 12 Tf 72 760 Td (Loop) Tj ET"
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 3 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 6 0 R >> >> /Contents 4 0 R >>",
        stream(b"", content),
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 2 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def field_tree_loop() -> bytes:
    """A form whose field lists itself among its kids (signature readers walk form fields)."""
    base = page_objects(b"BT /F1 12 Tf 72 760 Td (Fields) Tj ET",
                        resources=b"<< /Font << /F1 6 0 R >> >>")
    base[0] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>"
    return raw_pdf(base + [
        b"<< /T (Signature1) /FT /Sig /Kids [5 0 R] >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def xref_prev_loop() -> bytes:
    """An incremental update whose /Prev points at its own cross-reference section."""
    pdf = pymupdf.open(stream=text_pdf(), filetype="pdf").tobytes(no_new_id=True)
    found = re.search(rb"/Size (\d+)", pdf[pdf.rindex(b"trailer"):])
    assert found is not None   # MuPDF writes /Size in every trailer
    size = int(found.group(1))
    start = len(pdf)
    return pdf + (b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size %d /Prev %d /Root 1 0 R >>\n"
                  b"startxref\n%d\n%%%%EOF\n" % (size, start, start))


# -- too big once opened ---------------------------------------------------------------------

def bomb_after_signing(signed: bytes, size: int = 4 << 30) -> bytes:
    """`signed` with an incremental update that adds a content stream inflating to `size`
    bytes to page 1: whatever compares the signed revision with the final one meets it."""
    def add_bomb(writer: IncrementalPdfFileWriter) -> None:
        bomb = generic.StreamObject(
            {generic.pdf_name("/Filter"): generic.ArrayObject(
                [generic.pdf_name("/FlateDecode")] * 2)},
            encoded_data=zeros_deflated(size, times=2))
        writer.add_stream_to_page(0, writer.add_object(bomb))

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    add_bomb(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def many_pages(count: int = 5000) -> bytes:
    """`count` small pages, each showing one shared 8×8 image (so each would need OCR)."""
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(count))
    image = stream(b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
                   b"/BitsPerComponent 8", bytes(range(0, 256, 4)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        image,
    ]
    content_number = 4 + count
    for _ in range(count):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] "
                       b"/Resources << /XObject << /Im 3 0 R >> >> /Contents %d 0 R >>"
                       % content_number)
    objects.append(stream(b"", b"q 100 0 0 100 50 50 cm /Im Do Q"))
    return raw_pdf(objects)


def content_stream_bomb(size: int = 4 << 30, *, layers: int = 2) -> bytes:
    """A page whose content stream inflates to `size` bytes of zeros (PDF whitespace)."""
    objects = page_objects(b"")
    objects[3] = stream(flate_filters(layers), zeros_deflated(size, times=layers))
    return raw_pdf(objects)


def drawing_bomb(operations: int = 500_000) -> bytes:
    """A page whose content stream inflates to `operations` tiny filled squares: 30 KB on
    disk, and a Python object per square for anything that lists the page's drawings."""
    objects = page_objects(b"")
    objects[3] = stream(flate_filters(1), zlib.compress(b"1 0 0 rg 0 0 1 1 re f\n" * operations))
    return raw_pdf(objects)


def form_bomb(fan_out: int = 1000, depth: int = 3) -> bytes:
    """Forms drawing forms ("billion laughs"): each of `depth` form XObjects paints the next
    one `fan_out` times, the last paints ten squares; 10 × fan_out ** (depth - 1) squares."""
    objects = page_objects(b"/F%d Do" % depth,
                           resources=b"<< /XObject << /F%d %d 0 R >> >>" % (depth, 4 + depth))
    for level in range(1, depth + 1):
        if level == 1:
            body, inner = b"1 0 0 rg 0 0 1 1 re f\n" * 10, b"<< >>"
        else:
            body = b"/F%d Do\n" % (level - 1) * fan_out
            inner = b"<< /XObject << /F%d %d 0 R >> >>" % (level - 1, 4 + level - 1)
        objects.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources "
                              + inner, body))
    return raw_pdf(objects)


def form_cycle() -> bytes:
    """A form XObject that paints itself."""
    objects = page_objects(b"BT /F1 12 Tf 72 760 Td (A form that draws itself) Tj ET /Fx Do",
                           resources=b"<< /Font << /F1 6 0 R >> /XObject << /Fx 5 0 R >> >>")
    objects.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] "
                          b"/Resources << /XObject << /Fx 5 0 R >> >>", b"0 0 1 1 re f /Fx Do"))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return raw_pdf(objects)


def metadata_bomb(size: int = 4 << 30, *, layers: int = 2) -> bytes:
    """An ordinary text page, and a metadata stream (the catalog's /Metadata) that inflates
    to `size` bytes: nothing needs to read it."""
    content = b"BT /F1 12 Tf 72 760 Td (Metadata) Tj ET"
    objects = page_objects(content, resources=b"<< /Font << /F1 6 0 R >> >>")
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R >>"
    objects.append(stream(b"/Type /Metadata /Subtype /XML " + flate_filters(layers),
                          zeros_deflated(size, times=layers)))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return raw_pdf(objects)


def huge_image_pdf(width: int = 100_000, height: int = 100_000) -> bytes:
    """A page covered by one image declared `width`×`height` RGB pixels, whose data (Deflate
    twice over) inflates to all of them: 30 GB for the default size."""
    image = stream(b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                   b"/BitsPerComponent 8 %s" % (width, height, flate_filters(2)),
                   zeros_deflated(width * height * 3, times=2))
    objects = page_objects(b"q 595 0 0 842 0 0 cm /Im Do Q",
                           resources=b"<< /XObject << /Im 5 0 R >> >>")
    return raw_pdf(objects + [image])


def huge_inline_image_pdf(width: int = 100_000, height: int = 100_000) -> bytes:
    """The same, as an inline image inside the content stream (not listed as a resource)."""
    data = zeros_deflated(1 << 16)
    content = (b"q 595 0 0 842 0 0 cm BI /W %d /H %d /CS /RGB /BPC 8 /F /Fl /L %d ID\n"
               % (width, height, len(data)) + data + b"\nEI Q")
    return raw_pdf(page_objects(content))


def huge_page(side: float = 14_400) -> bytes:
    """A page `side`×`side` points (200 inches: the largest PDF allows) holding a small image,
    so it needs OCR: at 300 dpi the rendering would be 60000×60000 pixels."""
    image = stream(b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
                   b"/BitsPerComponent 8", bytes(range(0, 256, 4)))
    objects = page_objects(b"q 1000 0 0 1000 100 100 cm /Im Do Q 1 0 0 rg 0 0 100 100 re f",
                           resources=b"<< /XObject << /Im 5 0 R >> >>",
                           media_box=(side, side))
    return raw_pdf(objects + [image])


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG header declaring `width`×`height` RGB pixels over a little real data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zeros_deflated(1 << 20)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def large_png(width: int = 9000, height: int = 8000) -> bytes:
    """A real image just under the pixel limit (A3 at 600 dpi is 7016 × 9921): ruled lines
    on paper, stored at 600 dpi. Small on disk, 216 MB once decoded."""
    image = Image.new("RGB", (width, height), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for y in range(height // 16, height - height // 16, height // 20):
        draw.rectangle((width // 18, y, width - width // 18, y + height // 130), fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(600, 600))
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_tiff(width: int = 100_000, height: int = 100_000) -> bytes:
    """An uncompressed grayscale TIFF declaring `width`×`height` pixels in one strip of which
    only a few bytes exist."""
    return _tiff([(width, height)], strip=bytes(4096))


def many_frames_tiff(count: int = 3000) -> bytes:
    """A multi-page TIFF of `count` 16×16 white frames (all sharing one strip)."""
    return _tiff([(16, 16)] * count, strip=b"\xff" * 256)


def tiff_frame_loop() -> bytes:
    """A two-page TIFF whose second page points back to the first as the next one."""
    data = bytearray(_tiff([(16, 16), (16, 16)], strip=b"\xff" * 256))
    first = int.from_bytes(data[4:8], "little")
    second = int.from_bytes(data[first + 2 + 12 * 9: first + 2 + 12 * 9 + 4], "little")
    data[second + 2 + 12 * 9: second + 2 + 12 * 9 + 4] = first.to_bytes(4, "little")
    return bytes(data)


def _tiff(sizes: list[tuple[int, int]], strip: bytes) -> bytes:
    """A little-endian TIFF: the strip at offset 8, then one 9-entry IFD per (width, height),
    each chained to the next."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00" + strip)
    if len(out) % 2:
        out += b"\x00"
    first = len(out)
    for index, (width, height) in enumerate(sizes):
        ifd = len(out)
        following = ifd + 2 + 12 * 9 + 4 if index + 1 < len(sizes) else 0
        entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                   (273, 4, 8), (277, 3, 1), (278, 4, height),
                   (279, 4, min(width * height, 0xFFFFFFFF))]
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            out += struct.pack("<HHIH2x" if kind == 3 else "<HHII", tag, kind, 1, value)
        out += struct.pack("<I", following)
    out[4:8] = struct.pack("<I", first)
    return bytes(out)


# -- names -----------------------------------------------------------------------------------

# File names as uploads and file systems deliver them: Vietnamese in NFD (macOS), emoji,
# right-to-left script with a bidi override, control characters, Latin-1 bytes that are not
# UTF-8 (Python keeps them as lone surrogates), and a very long one.
AWKWARD_NAMES = (
    "Ke\u0302\u0301 hoa\u0323ch chuye\u0302\u0309n \u0111o\u0302\u0309i so\u0302\u0301.pdf",
    "báo cáo 📄✅ 2024.pdf",
    "\u062a\u0642\u0631\u064a\u0631 \u202efdp.exe",
    "dòng\nthứ hai\r\t.pdf",
    "b\udce1o c\udce1o.pdf",
    "quyết định " + "rất dài " * 400 + ".pdf",
)
