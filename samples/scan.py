"""Scanned variants of a rendered document: what a unit uploads after printing, signing,
stamping and scanning the paper original.

The last signed page gets a handwritten-looking signature and the agency's red round seal
(overlapping the left third of the signature, as Decree 30 describes), then every page gets
paper tone, sensor noise, a slight skew and JPEG artefacts. Everything is drawn from `seed`.
"""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from samples.render import Layout, font_file

SEAL_RED = (205, 28, 38)
INK_COLOURS = [(24, 48, 160), (30, 30, 120), (20, 20, 28), (18, 70, 170)]


def _rasterise(page: pymupdf.Page, dpi: int) -> Image.Image:
    pix = page.get_pixmap(dpi=dpi, alpha=False)
    return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)


def _bezier(p0, p1, p2, p3, steps: int) -> list[tuple[float, float]]:
    out = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        out.append((u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                    u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]))
    return out


def _signature_points(rng: random.Random, box: tuple[float, float, float, float]
                      ) -> list[list[tuple[float, float]]]:
    """A few connected cubic curves looping left to right, plus an underline flourish."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    strokes: list[list[tuple[float, float]]] = []
    points: list[tuple[float, float]] = []
    x, y = x0, y0 + h * rng.uniform(0.45, 0.75)
    segments = rng.randint(6, 10)
    step = (x1 - x0) / segments
    for _ in range(segments):
        nx = x + step * rng.uniform(0.7, 1.2)
        ny = y0 + h * rng.uniform(0.15, 0.85)
        # Control points overshoot backwards: the loops of cursive handwriting.
        c1 = (x + step * rng.uniform(-0.6, 1.2), y0 + h * rng.uniform(-0.2, 1.1))
        c2 = (nx - step * rng.uniform(-0.6, 1.2), y0 + h * rng.uniform(-0.2, 1.1))
        points.extend(_bezier((x, y), c1, c2, (nx, ny), 24))
        x, y = nx, ny
    strokes.append(points)
    fy = y0 + h * rng.uniform(0.8, 0.95)
    strokes.append(_bezier((x0 + (x1 - x0) * 0.1, fy + h * 0.05),
                           (x0 + (x1 - x0) * 0.4, fy - h * 0.2),
                           (x0 + (x1 - x0) * 0.7, fy + h * 0.15),
                           (x1 + (x1 - x0) * 0.05, fy - h * 0.1), 40))
    return strokes


def _draw_signature(img: Image.Image, rng: random.Random, box_px) -> tuple[float, float, float,
                                                                              float]:
    """Signature strokes inside `box_px`; returns the box the strokes occupy."""
    x0, y0, x1, y1 = box_px
    cx = (x0 + x1) / 2 + (x1 - x0) * rng.uniform(-0.06, 0.06)
    w = (x1 - x0) * rng.uniform(0.38, 0.5)
    h = (y1 - y0) * rng.uniform(0.55, 0.8)
    top = y0 + (y1 - y0 - h) / 2
    stroke_box = (cx - w / 2, top, cx + w / 2, top + h)
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    colour = rng.choice(INK_COLOURS)
    scale = img.size[0] / 595.0
    width = max(2, round(rng.uniform(1.0, 1.6) * scale))
    for stroke in _signature_points(rng, stroke_box):
        draw.line(stroke, fill=colour + (235,), width=width, joint="curve")
    img.paste(overlay, (0, 0), overlay)
    return stroke_box


# Digits as a hand writes them: polylines in a unit box (x to the right, y down).
_DIGIT_STROKES = {
    "0": [[(0.5, 0), (0.15, 0.2), (0.1, 0.6), (0.35, 1), (0.75, 0.9), (0.9, 0.45), (0.7, 0.05),
           (0.5, 0)]],
    "1": [[(0.2, 0.3), (0.6, 0), (0.55, 1)]],
    "2": [[(0.1, 0.25), (0.4, 0), (0.8, 0.1), (0.8, 0.4), (0.1, 1), (0.95, 0.95)]],
    "3": [[(0.15, 0.1), (0.6, 0), (0.8, 0.2), (0.45, 0.45), (0.85, 0.65), (0.7, 0.95),
           (0.15, 0.9)]],
    "4": [[(0.65, 1), (0.65, 0), (0.05, 0.7), (0.95, 0.7)]],
    "5": [[(0.85, 0), (0.25, 0), (0.15, 0.45), (0.6, 0.4), (0.85, 0.7), (0.6, 1), (0.1, 0.9)]],
    "6": [[(0.75, 0.05), (0.3, 0.3), (0.15, 0.75), (0.45, 1), (0.8, 0.8), (0.65, 0.5),
           (0.2, 0.6)]],
    "7": [[(0.05, 0.05), (0.9, 0), (0.4, 1)], [(0.3, 0.5), (0.75, 0.5)]],
    "8": [[(0.5, 0.45), (0.15, 0.2), (0.5, 0), (0.85, 0.2), (0.5, 0.45), (0.1, 0.75), (0.5, 1),
           (0.9, 0.75), (0.5, 0.45)]],
    "9": [[(0.85, 0.3), (0.5, 0.5), (0.15, 0.3), (0.5, 0), (0.85, 0.3), (0.7, 1)]],
}


def draw_written_digits(img: Image.Image, layout: Layout, scale: float,
                        rng: random.Random) -> None:
    """The number's digits and the day written by hand into the header's blanks (the PDF
    rendered with them blank), as the văn thư does on the printed copy: taller than the print,
    slanted, in marker or pen, each digit a little different, sometimes touching its neighbour
    or starting over the label's end (../shared/realdocs 08, 09)."""
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    colour = rng.choice(INK_COLOURS) + (240,)
    width = max(2, round(rng.uniform(1.0, 1.8) * scale))
    for digits, box in ((layout.number_digits, layout.number_digits_bbox),
                        (layout.day_text, layout.day_bbox)):
        if not digits or box is None:
            continue
        height = rng.uniform(11.0, 14.0) * scale
        slant = rng.uniform(0.1, 0.3)
        x = (box.x0 + rng.uniform(-3.0, 2.0)) * scale     # may start over the label's end
        bottom = (box.y1 - 3.5 + rng.uniform(-0.5, 1.0)) * scale   # the print's baseline
        for ch in digits:
            w = height * rng.uniform(0.5, 0.6)
            for stroke in _DIGIT_STROKES[ch]:
                points = [(x + (px + slant * (1 - py)) * w + rng.uniform(-0.4, 0.4) * scale,
                           bottom - (1 - py) * height + rng.uniform(-0.4, 0.4) * scale)
                          for px, py in stroke]
                draw.line(points, fill=colour, width=width, joint="curve")
            x += w * rng.uniform(0.85, 1.25)                # some digits touch
    img.paste(overlay, (0, 0), overlay)


def _seal_image(rng: random.Random, agency_text: str, place_text: str, radius: int
                ) -> Image.Image:
    """A red round seal: two rings, the agency's name around, a star and the place inside."""
    size = 2 * radius + 4
    seal = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(seal)
    c = size / 2
    colour = SEAL_RED + (255,)
    outer_w = max(2, radius // 22)
    draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=colour, width=outer_w)
    inner = radius * 0.68
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), outline=colour,
                 width=max(1, outer_w // 2))

    # The name runs clockwise around the ring, centred on the top.
    text = f"{agency_text} ★ {place_text} ★" if place_text else f"{agency_text} ★"
    text_r = (radius + inner) / 2
    font_size = int(radius * 0.17)
    font = ImageFont.truetype(font_file("B"), font_size)
    # Long names get a smaller font so that they fit round the ring, as engravers do.
    while font_size > 6 and sum(font.getlength(ch) for ch in text) * 1.05 > 2 * math.pi * \
            text_r * 0.94:
        font_size -= 1
        font = ImageFont.truetype(font_file("B"), font_size)
    widths = [font.getlength(ch) for ch in text]
    total_angle = min(2 * math.pi * 0.94, sum(widths) * 1.05 / text_r)
    angle = -math.pi / 2 - total_angle / 2
    for ch, w in zip(text, widths):
        step = total_angle * w / sum(widths)
        mid = angle + step / 2
        angle += step
        if ch == " ":
            continue
        glyph = Image.new("RGBA", (int(radius * 0.35), int(radius * 0.35)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((glyph.size[0] / 2, glyph.size[1] / 2), ch, font=font,
                                   fill=colour, anchor="mm")
        glyph = glyph.rotate(-math.degrees(mid) - 90, resample=Image.Resampling.BICUBIC)
        gx = c + text_r * math.cos(mid) - glyph.size[0] / 2
        gy = c + text_r * math.sin(mid) - glyph.size[1] / 2
        seal.alpha_composite(glyph, (int(round(gx)), int(round(gy))))

    # Five-pointed star in the middle.
    star_r = inner * 0.45
    pts = []
    for i in range(10):
        r = star_r if i % 2 == 0 else star_r * 0.4
        a = -math.pi / 2 + i * math.pi / 5
        pts.append((c + r * math.cos(a), c - inner * 0.12 + r * math.sin(a)))
    draw.polygon(pts, fill=colour)

    # Uneven ink: thin the alpha with smooth noise and rotate the whole seal a little.
    alpha = np.asarray(seal.getchannel("A"), dtype=np.float32)
    nrng = np.random.default_rng(rng.randrange(2**32))
    noise = Image.fromarray((nrng.random((size // 8 + 1, size // 8 + 1)) * 255).astype(np.uint8))
    blotch = np.asarray(noise.resize((size, size), Image.Resampling.BICUBIC),
                        dtype=np.float32) / 255.0
    alpha *= 0.55 + 0.35 * blotch
    seal.putalpha(Image.fromarray(alpha.clip(0, 255).astype(np.uint8)))
    return seal.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC)


def _add_seal(img: Image.Image, rng: random.Random, stroke_box, scale: float,
              texts: tuple[str, str],
              over_name: tuple[float, float, float, float] | None = None) -> None:
    """The seal over the left third of the signature, its red ink darkening the print under
    it; or, with `over_name` (the name line's pixel box), a seal image pasted on the page as
    digital copies do: opaque, its ring over the first letters of the name."""
    radius = int(rng.uniform(50, 58) * scale)  # ~36–41 mm across, as real round seals
    seal = _seal_image(rng, texts[0], texts[1], radius)
    sx0, sy0, sx1, sy1 = stroke_box
    cx = sx0 + (sx1 - sx0) / 3 - radius * rng.uniform(0.7, 0.85)
    cy = (sy0 + sy1) / 2 + rng.uniform(-0.1, 0.1) * radius
    if over_name is not None:
        nx0, ny0, nx1, ny1 = over_name
        # At the name's height the ring stands 0.8 of the radius right of the centre.
        cx = nx0 + (nx1 - nx0) * rng.uniform(0.06, 0.12) - radius * 0.8
        cy = (ny0 + ny1) / 2 - radius * 0.6
    left, top = int(cx - seal.size[0] / 2), int(cy - seal.size[1] / 2)
    region = (left, top, left + seal.size[0], top + seal.size[1])
    base = np.asarray(img.crop(region), dtype=np.float32)
    a = np.asarray(seal.getchannel("A"), dtype=np.float32)[..., None] / 255.0
    red = np.array(SEAL_RED, dtype=np.float32)
    ink = red if over_name is not None else base * red / 255.0   # pasted, or multiplied
    out = base * (1 - a) + ink * a
    img.paste(Image.fromarray(out.clip(0, 255).astype(np.uint8)), region[:2])


def _degrade(img: Image.Image, rng: random.Random) -> Image.Image:
    """Paper tone, noise, slight blur, skew and JPEG artefacts."""
    nrng = np.random.default_rng(rng.randrange(2**32))
    arr = np.asarray(img, dtype=np.float32)
    grey = rng.uniform(0.93, 0.99)
    tone = np.array([grey, grey * rng.uniform(0.99, 1.0), grey * rng.uniform(0.96, 1.0)],
                    dtype=np.float32)
    noise = nrng.standard_normal(arr.shape[:2], dtype=np.float32) * rng.uniform(3.0, 7.0)
    arr *= tone
    arr += noise[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255, out=arr).astype(np.uint8))
    if rng.random() < 0.6:
        img = img.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 0.6)))
    fill = tuple(int(255 * t) for t in tone)
    img = img.rotate(rng.uniform(-1.5, 1.5), resample=Image.Resampling.BILINEAR, fillcolor=fill)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(60, 85))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def scan_pages(pdf_bytes: bytes, layout: Layout, *, dpi: int, seed: int, seal: bool = True,
               handwriting: bool = True) -> list[Image.Image]:
    """The pages of `pdf_bytes` as they come out of a scanner, at `dpi`."""
    rng = random.Random(seed)
    scale = dpi / 72.0
    images = []
    with pymupdf.open(stream=pdf_bytes, filetype="pdf") as doc:
        for number, page in enumerate(doc, start=1):
            img = _rasterise(page, dpi)
            if number == layout.signer_page and (seal or handwriting):
                b = layout.signature_bbox
                box = (b.x0 * scale, b.y0 * scale, b.x1 * scale, b.y1 * scale)
                stroke_box = _draw_signature(img, rng, box) if handwriting else (
                    box[0] + (box[2] - box[0]) * 0.28, box[1], box[2] - (box[2] - box[0]) * 0.28,
                    box[3])
                if seal:
                    _add_seal(img, rng, stroke_box, scale,
                              (layout.agency_name.upper(), layout.agency_place.upper()))
            img = _degrade(img, rng)
            img.info["dpi"] = (dpi, dpi)
            images.append(img)
    return images


def _jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_image_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """An image-only PDF: each page one JPEG at its physical size, no text layer."""
    doc = pymupdf.open()
    for img in images:
        w, h = img.size[0] * 72.0 / dpi, img.size[1] * 72.0 / dpi
        page = doc.new_page(width=w, height=h)
        page.insert_image(page.rect, stream=_jpeg(img))
    doc.set_metadata({"producer": "kiemchung scan", "creator": "kiemchung scan"})
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data


def _page_paths(images: list[Image.Image], path: Path) -> list[Path]:
    """One file per page: `path` itself for a single page, `stem-1.ext`, … otherwise."""
    path = Path(path)
    if len(images) == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, len(images) + 1)]


def save_png(images: list[Image.Image], path: Path) -> list[Path]:
    paths = _page_paths(images, path)
    for img, p in zip(images, paths):
        dpi = img.info.get("dpi", (300, 300))
        img.save(p, "PNG", dpi=dpi)
    return paths


def save_jpg(images: list[Image.Image], path: Path, quality: int = 85) -> list[Path]:
    paths = _page_paths(images, path)
    for img, p in zip(images, paths):
        dpi = img.info.get("dpi", (300, 300))
        img.convert("RGB").save(p, "JPEG", quality=quality, dpi=dpi)
    return paths


def save_tiff(images: list[Image.Image], path: Path) -> list[Path]:
    """All pages in one multi-page TIFF."""
    path = Path(path)
    dpi = images[0].info.get("dpi", (300, 300))
    # Copies: Pillow keeps the options of an earlier save (e.g. PNG) on the image objects,
    # and the TIFF writer would pass them to libtiff for the appended pages.
    pages = [img.copy() for img in images]
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw",
                  dpi=dpi)
    return [path]


# --- real-file scan patterns (issue 10) ---------------------------------------------------

def _stamp_font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_file("B" if bold else "R"), max(6, size))


def draw_incoming_stamp(img: Image.Image, stamp, layout: Layout, scale: float,
                        rng: random.Random) -> None:
    """The registry's rectangular stamp `ĐẾN Số: … Ngày: …` in red or blue ink, slightly
    rotated, over the agency header or left of the title (`stamp` is a render.IncomingStamp)."""
    lines = stamp.lines()
    widest = max(_stamp_font(int(10.5 * scale)).getlength(x) for x in lines)
    w, line_h = int(max(150 * scale, widest + 18 * scale)), int(14 * scale)
    h = line_h * len(lines) + int(10 * scale)
    box = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(box)
    colour = tuple(stamp.colour) + (235,)
    draw.rectangle((1, 1, w - 2, h - 2), outline=colour, width=max(2, int(1.4 * scale)))
    y = int(5 * scale)
    for line in lines:
        big = line == "ĐẾN"
        font = _stamp_font(int((15 if big else 10.5) * scale))
        x = int((55 if big else 8) * scale)
        draw.text((x, y), line, font=font, fill=colour)
        y += line_h
    box = box.rotate(rng.uniform(-4, 4), resample=Image.Resampling.BICUBIC, expand=True)
    if stamp.where == "title" and layout.title_bbox is not None:
        x0, y0 = 38 * scale, (layout.title_bbox.y0 + 6) * scale
    else:
        x0, y0 = 46 * scale, 36 * scale
    _multiply(img, box, int(x0 + rng.uniform(-6, 6) * scale), int(y0 + rng.uniform(-4, 4) * scale))


def draw_gazette_stamp(img: Image.Image, text: str, scale: float) -> None:
    """The gazette centre's small `Ký bởi: … Thời gian ký: …` text with its round logo, top
    right of page 1, as the e-gazette copies of scans show."""
    font = _stamp_font(int(6.5 * scale), bold=False)
    x, y = int(400 * scale), int(10 * scale)
    draw = ImageDraw.Draw(img)
    r = int(11 * scale)
    draw.ellipse((x - 2 * r - 4, y, x - 4, y + 2 * r), outline=SEAL_RED, width=max(1, r // 6))
    for i, line in enumerate(text.splitlines()):
        draw.text((x, y + i * int(8 * scale)), line, font=font, fill=(40, 40, 40))


def _multiply(img: Image.Image, overlay: Image.Image, left: int, top: int) -> None:
    """Ink over paper: the overlay's colour multiplies what is under it."""
    left, top = max(0, left), max(0, top)
    region = (left, top, min(img.size[0], left + overlay.size[0]),
              min(img.size[1], top + overlay.size[1]))
    overlay = overlay.crop((0, 0, region[2] - left, region[3] - top))
    base = np.asarray(img.crop(region), dtype=np.float32)
    a = np.asarray(overlay.getchannel("A"), dtype=np.float32)[..., None] / 255.0
    ink = np.asarray(overlay.convert("RGB"), dtype=np.float32)
    out = base * (1 - a) + (base * ink / 255.0) * a
    img.paste(Image.fromarray(out.clip(0, 255).astype(np.uint8)), region[:2])


def _show_through(img: Image.Image, back: Image.Image, rng: random.Random) -> Image.Image:
    """The back page seen through thin paper: mirrored, blurred and faint."""
    back = back.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize(img.size).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.8, 1.6)))
    strength = rng.uniform(0.10, 0.22)
    a = np.asarray(img, dtype=np.float32)
    b = np.asarray(back.convert("RGB"), dtype=np.float32) / 255.0
    return Image.fromarray((a * (1 - strength * (1 - b))).clip(0, 255).astype(np.uint8))


def _degrade_gazette(img: Image.Image, rng: random.Random) -> tuple[Image.Image, int]:
    """Grey paper, noise, blur and a slight skew; returns the image and its JPEG quality."""
    nrng = np.random.default_rng(rng.randrange(2**32))
    arr = np.asarray(img, dtype=np.float32)
    grey = rng.uniform(0.80, 0.90)
    arr = arr * grey + nrng.standard_normal(arr.shape[:2], dtype=np.float32)[..., None] * \
        rng.uniform(4.0, 8.0)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8)).filter(
        ImageFilter.BoxBlur(rng.uniform(0.3, 0.7)))
    fill = (int(255 * grey),) * 3
    img = img.rotate(rng.uniform(-2.0, 2.0), resample=Image.Resampling.BILINEAR, fillcolor=fill)
    return img, rng.randint(40, 60)


def _photo(img: Image.Image, rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A phone capture: perspective, uneven light from one side, cropped to `size` pixels."""
    w, h = img.size
    d = [rng.uniform(0.01, 0.06) * s for s in (w, h, w, h, w, h, w, h)]
    quad = (d[0], d[1], d[2] * 0.5, h - d[3], w - d[4], h - d[5] * 0.5, w - d[6] * 0.5, d[7])
    img = img.transform((w, h), Image.Transform.QUAD, quad, resample=Image.Resampling.BILINEAR,
                        fillcolor=(120, 115, 105))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    light = 1.0 - 0.28 * np.hypot(xx - cx, yy - cy) / np.hypot(w, h)
    warm = np.array([1.0, 0.97, 0.9], dtype=np.float32)
    arr = np.asarray(img, dtype=np.float32) * light[..., None] * warm
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    return img.resize(size, Image.Resampling.BILINEAR)


def real_scan_pages(pdf_bytes: bytes, layout: Layout, *, kind: str, dpi: int, seed: int,
                    incoming=None, gazette_text: str | None = None,
                    written: bool = False, seal_over_name: bool = False) -> list[Image.Image]:
    """Pages as real uploads look (issue 10): `kind` "scan150" (low dpi, JPEG-worn, grey,
    show-through), "gazette" (the same with the seal over the text and the gazette's stamp),
    "photo" (a phone capture, not A4). `incoming`: a render.IncomingStamp drawn on page 1.
    `written`: the number's digits and the day, blank in `pdf_bytes`, written by hand.
    `seal_over_name`: the seal pasted opaque over the start of the signer's name."""
    rng = random.Random(seed)
    scale = dpi / 72.0
    clean: list[Image.Image] = []
    with pymupdf.open(stream=pdf_bytes, filetype="pdf") as doc:
        for page in doc:
            clean.append(_rasterise(page, dpi))
    out = []
    for number, img in enumerate(clean, start=1):
        img = img.copy()
        if number == layout.signer_page:
            b = layout.signature_bbox
            box = (b.x0 * scale, b.y0 * scale, b.x1 * scale, b.y1 * scale)
            stroke_box = _draw_signature(img, rng, box)
            if kind == "gazette":
                # Pressed hard and high: the seal covers the title line above the blank.
                x0, y0, x1, y1 = stroke_box
                lift = rng.uniform(14, 24) * scale
                stroke_box = (x0, y0 - lift, x1, y1 - lift)
            name = layout.name_bbox if seal_over_name else None
            _add_seal(img, rng, stroke_box, scale,
                      (layout.agency_name.upper(), layout.agency_place.upper()),
                      over_name=None if name is None else (
                          name.x0 * scale, name.y0 * scale, name.x1 * scale, name.y1 * scale))
        if number == 1 and incoming is not None:
            draw_incoming_stamp(img, incoming, layout, scale, rng)
        if number == 1 and gazette_text:
            draw_gazette_stamp(img, gazette_text, scale)
        if number == 1 and written:
            draw_written_digits(img, layout, scale, random.Random(f"{seed}:written"))
        if kind == "photo":
            w, h = int(545 * scale), int(792 * scale)   # Adobe Scan's letter-like page
            img = _photo(img, rng, (w, h))
            quality = rng.randint(70, 85)
        else:
            # The back of the sheet: the next page printed duplex, else another page (the
            # attached form, the next letter in the pile) off its register.
            if number < len(clean):
                back = clean[number]
            else:
                other = clean[number - 2] if number > 1 else clean[0]
                back = Image.fromarray(np.roll(np.asarray(other), int(other.size[1] *
                                                                      rng.uniform(0.15, 0.35)),
                                               axis=0))
            if kind == "gazette" or rng.random() < 0.8:
                img = _show_through(img, back, rng)
            img, quality = _degrade_gazette(img, rng)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        img.info["dpi"] = (dpi, dpi)
        img.info["quality"] = quality
        out.append(img)
    return out


def image_pdf_with_quality(images: list[Image.Image], dpi: int) -> bytes:
    """An image-only PDF keeping each page's own JPEG quality (`info["quality"]`) and size."""
    doc = pymupdf.open()
    for img in images:
        w, h = img.size[0] * 72.0 / dpi, img.size[1] * 72.0 / dpi
        page = doc.new_page(width=w, height=h)
        page.insert_image(page.rect, stream=_jpeg(img, img.info.get("quality", 85)))
    doc.set_metadata({"producer": "kiemchung scan", "creator": "kiemchung scan"})
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data


def _strip_marks(text: str) -> str:
    """Vietnamese without diacritics, as an OCR engine trained for English reads it."""
    import unicodedata
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text)
                   if unicodedata.category(ch) != "Mn")


def wrong_ocr_text(text: str, mode: str, rng: random.Random) -> str:
    """Someone else's OCR of `text`: "no_diacritics" (`UY BAN NHAN DAN TINH`, a few misread
    letters) or "mojibake" (UTF-8 bytes read as Windows-1252: `á»¦Y BAN`)."""
    if mode == "mojibake":
        return text.encode("utf-8").decode("cp1252", errors="replace")
    out = []
    for ch in _strip_marks(text):
        if ch.isalpha() and rng.random() < 0.03:
            ch = rng.choice("il1o0~:")
        out.append(ch)
    return "".join(out)


def add_ocr_layer(image_pdf: bytes, runs: list[list], *, mode: str, seed: int) -> bytes:
    """Lay an invisible text layer (render mode 3) over an image-only PDF, line by line where
    the print stands (`runs`: render.page_runs), with the wrong text of `wrong_ocr_text`."""
    rng = random.Random(seed)
    doc = pymupdf.open(stream=image_pdf, filetype="pdf")
    for page, page_runs in zip(doc.pages(), runs):
        sx, sy = page.rect.width / 595.0, page.rect.height / 842.0
        for run in page_runs:
            text = wrong_ocr_text(run.text, mode, rng)
            page.insert_text((run.x * sx, run.y * sy), text, fontname="helv",
                             fontsize=run.size * 0.95, render_mode=3)
    doc.set_metadata({"producer": "kiemchung scan (OCR)", "creator": "kiemchung scan"})
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data
