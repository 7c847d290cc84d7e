"""Image files as evidence (PNG, JPEG, TIFF including multi-page TIFF): every frame is OCR'd.

A frame's size in points follows the resolution stored in the file (300 dpi when absent or
implausible), so boxes compare with those of PDF pages. A file of more than MAX_PAGES frames,
or with a frame over MAX_IMAGE_PIXELS, is refused (extractors/limits.py); a large frame within
that is reduced before any copy of it is made, to the OCR budget.
"""

from __future__ import annotations

import io
import math
import re
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from kiemchung.extractors.limits import MAX_IMAGE_PIXELS, MAX_PAGES, OCR_PIXELS, pixels_text
from kiemchung.extractors.ocr import check_tesseract, ink_gray, ocr_image
from kiemchung.extractors.written_digits import with_written_digits
from kiemchung.models.document import BBox, Page, TextSource
from kiemchung.models.errors import InputFileError, OcrUnavailableError

DEFAULT_DPI = 300.0
MIN_DPI = 50.0        # below this the stored value is an aspect ratio or a placeholder
OCR_MAX_DPI = 400.0   # finer scans are reduced to this before OCR: no better, much slower
IMAGE_FORMATS = {"PNG", "JPEG", "TIFF"}
RESCAN = "scan the page again at 300 dpi"
_REDUCIBLE = {"L", "LA", "RGB", "RGBA", "I", "F"}   # modes Image.reduce accepts
# What Pillow raises on a damaged or cut file, as its decoders find it (TypeError: a TIFF
# page without its dimensions).
DAMAGED_IMAGE = (OSError, ValueError, SyntaxError, EOFError, TypeError, struct.error)


def read_image_pages(data: bytes, name: str = "image") -> tuple[Page, ...]:
    """OCR every frame of an image file given as bytes; one Page per frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # e.g. "Corrupt EXIF data": not the user's concern
        return _read_image_pages(data, name)


def _read_image_pages(data: bytes, name: str) -> tuple[Page, ...]:
    try:
        image = Image.open(io.BytesIO(data))
        image_format = image.format
    except Image.DecompressionBombError as exc:
        # Pillow refuses before the size is known to us; its message has the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too many pixels"
        raise InputFileError(f"{name}: the image has {size}, over the limit of "
                             f"{MAX_IMAGE_PIXELS / 1e6:.0f}: {RESCAN}") from exc
    except (UnidentifiedImageError, *DAMAGED_IMAGE) as exc:
        raise InputFileError(f"{name}: the image is damaged or truncated and cannot be "
                             "read") from exc
    if image_format not in IMAGE_FORMATS:
        raise InputFileError(f"{name}: {image_format} images are not supported "
                             "(use PDF, PNG, JPEG or TIFF)")
    check_frame_count(image, name)
    check_image_size(image, name)
    check_tesseract()
    pages: list[Page] = []
    try:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            check_image_size(frame, name)
            pages.append(_read_frame(frame, number))
    except (OcrUnavailableError, InputFileError):
        raise
    except DAMAGED_IMAGE as exc:   # a truncated file: keep the frames already read
        if not pages:
            raise InputFileError(f"{name}: the image is damaged or truncated ({exc})") from exc
        pages.append(Page(number=len(pages) + 1, width=0.0, height=0.0, source=TextSource.OCR,
                          lines=(), text_layer_verdict="image",
                          error=f"frame {len(pages) + 1} is damaged or truncated: {exc}"))
    return tuple(pages)


def check_frame_count(image: Image.Image, name: str) -> None:
    try:
        frames = getattr(image, "n_frames", 1)
    except DAMAGED_IMAGE:   # damaged: reading the frames will say where
        return
    if frames > MAX_PAGES:
        raise InputFileError(f"{name}: the image file has {frames} pages, more than the "
                             f"{MAX_PAGES} one evidence file may have: split it and submit "
                             "the part that is evidence")


def check_image_size(image: Image.Image, name: str) -> None:
    """InputFileError for a frame (the current one) over MAX_IMAGE_PIXELS, from its header:
    before its pixels are decoded."""
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise InputFileError(f"{name}: the image is {pixels_text(image.width, image.height)}: "
                             f"{RESCAN}")


def image_dpi(image: Image.Image) -> float:
    """The horizontal resolution stored in the image, or DEFAULT_DPI."""
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        value = 0.0
    return value if value >= MIN_DPI else DEFAULT_DPI


def _read_frame(frame: Image.Image, number: int) -> Page:
    dpi = image_dpi(frame)
    factor = math.ceil(math.sqrt(frame.width * frame.height / OCR_PIXELS))
    if factor > 1:   # a large scan or photo: averaged down first, before any copy of it
        if frame.mode not in _REDUCIBLE:
            frame = frame.convert("L" if frame.mode == "1" else "RGBA")
        frame = frame.reduce(factor)
        dpi /= factor
    # Phone photos are stored sideways with an EXIF orientation tag: turn them upright.
    upright = ImageOps.exif_transpose(frame) or frame
    gray = _grayscale(upright)
    width_pt, height_pt = gray.width * 72.0 / dpi, gray.height * 72.0 / dpi
    if dpi > OCR_MAX_DPI:
        scale = OCR_MAX_DPI / dpi
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    try:
        lines = ocr_image(gray, px_per_pt=gray.width / width_pt, stamps=number == 1)
        error = None
    except OcrUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - one frame failing leaves the others usable
        lines, error = (), f"OCR failed: {exc}"
    page = Page(number=number, width=width_pt, height=height_pt, source=TextSource.OCR,
                lines=lines, text_layer_verdict="image", error=error)
    if number > 1 or error:
        return page

    def crop(box: BBox, _dpi: int) -> Image.Image | None:
        """The region in colour, at the image's own resolution (never enlarged)."""
        ratio = dpi / 72.0
        area = (max(0, round(box.x0 * ratio)), max(0, round(box.y0 * ratio)),
                min(upright.width, round(box.x1 * ratio)),
                min(upright.height, round(box.y1 * ratio)))
        if area[2] <= area[0] or area[3] <= area[1]:
            return None
        return upright.crop(area).convert("RGB")

    return with_written_digits(page, crop)


def _grayscale(frame: Image.Image) -> Image.Image:
    """8-bit grayscale for OCR: seal and signature colours dropped (`ink_gray`), transparency
    made white paper, 16-bit samples scaled."""
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return ink_gray(Image.alpha_composite(paper, rgba).convert("RGB"))
    if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        samples = np.asarray(frame).astype(np.float64)
        top = 65535.0 if samples.max() > 255 else 255.0
        return Image.fromarray((samples * 255.0 / top).clip(0, 255).astype(np.uint8))
    if frame.mode in ("1", "L"):
        return frame.convert("L")
    return ink_gray(frame.convert("RGB"))
