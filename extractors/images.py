"""Image files as evidence (PNG, JPEG, TIFF including multi-page TIFF): every frame is OCR'd.

A frame's size in points follows the resolution stored in the file (300 dpi when absent or
implausible), so boxes compare with those of PDF pages.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from extractors.ocr import check_tesseract, ink_gray, ocr_image
from models.document import Page, TextSource
from models.errors import InputFileError, OcrUnavailableError

DEFAULT_DPI = 300.0
MIN_DPI = 50.0        # below this the stored value is an aspect ratio or a placeholder
OCR_MAX_DPI = 400.0   # finer scans are reduced to this before OCR: no better, much slower
IMAGE_FORMATS = {"PNG", "JPEG", "TIFF"}


def read_image_pages(data: bytes, name: str = "image") -> tuple[Page, ...]:
    """OCR every frame of an image file given as bytes; one Page per frame."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # e.g. "Corrupt EXIF data": not the user's concern
            image = Image.open(io.BytesIO(data))
        image_format = image.format
    except Image.DecompressionBombError as exc:
        raise InputFileError(f"{name}: the image is too large to process ({exc})") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise InputFileError(f"{name}: the image is damaged or truncated and cannot be "
                             "read") from exc
    if image_format not in IMAGE_FORMATS:
        raise InputFileError(f"{name}: {image_format} images are not supported "
                             "(use PDF, PNG, JPEG or TIFF)")
    check_tesseract()
    pages: list[Page] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                pages.append(_read_frame(frame, number))
    except OcrUnavailableError:
        raise
    except (OSError, ValueError) as exc:   # a truncated file: keep the frames already read
        if not pages:
            raise InputFileError(f"{name}: the image is damaged or truncated ({exc})") from exc
        pages.append(Page(number=len(pages) + 1, width=0.0, height=0.0, source=TextSource.OCR,
                          lines=(), text_layer_verdict="image",
                          error=f"frame {len(pages) + 1} is damaged or truncated: {exc}"))
    return tuple(pages)


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
    # Phone photos are stored sideways with an EXIF orientation tag: turn them upright.
    gray = _grayscale(ImageOps.exif_transpose(frame) or frame)
    width_pt, height_pt = gray.width * 72.0 / dpi, gray.height * 72.0 / dpi
    if dpi > OCR_MAX_DPI:
        factor = OCR_MAX_DPI / dpi
        size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    try:
        lines = ocr_image(gray, px_per_pt=gray.width / width_pt)
        error = None
    except OcrUnavailableError:
        raise
    except Exception as exc:   # one frame failing leaves the others usable
        lines, error = (), f"OCR failed: {exc}"
    return Page(number=number, width=width_pt, height=height_pt, source=TextSource.OCR,
                lines=lines, text_layer_verdict="image", error=error)


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
