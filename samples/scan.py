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
        glyph = glyph.rotate(-math.degrees(mid) - 90, resample=Image.BICUBIC)
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
    blotch = Image.fromarray((nrng.random((size // 8 + 1, size // 8 + 1)) * 255).astype(np.uint8))
    blotch = np.asarray(blotch.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255.0
    alpha *= 0.55 + 0.35 * blotch
    seal.putalpha(Image.fromarray(alpha.clip(0, 255).astype(np.uint8)))
    return seal.rotate(rng.uniform(-25, 25), resample=Image.BICUBIC)


def _add_seal(img: Image.Image, rng: random.Random, stroke_box, scale: float,
              texts: tuple[str, str]) -> None:
    radius = int(rng.uniform(50, 58) * scale)  # ~36–41 mm across, as real round seals
    seal = _seal_image(rng, texts[0], texts[1], radius)
    sx0, sy0, sx1, sy1 = stroke_box
    # The seal covers the left third of the signature.
    cx = sx0 + (sx1 - sx0) / 3 - radius * rng.uniform(0.7, 0.85)
    cy = (sy0 + sy1) / 2 + rng.uniform(-0.1, 0.1) * radius
    left, top = int(cx - seal.size[0] / 2), int(cy - seal.size[1] / 2)
    # Multiply-like blend on the seal's square only: red ink darkens the paper and the print.
    region = (left, top, left + seal.size[0], top + seal.size[1])
    base = np.asarray(img.crop(region), dtype=np.float32)
    a = np.asarray(seal.getchannel("A"), dtype=np.float32)[..., None] / 255.0
    red = np.array(SEAL_RED, dtype=np.float32)
    out = base * (1 - a) + (base * red / 255.0) * a
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
    img = img.rotate(rng.uniform(-1.5, 1.5), resample=Image.BILINEAR, fillcolor=fill)
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
