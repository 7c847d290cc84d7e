"""Fingerprints of an evidence file, to find the same document again when its bytes differ:
re-saved, renamed, lightly edited, re-scanned, or handed in again a year later.

- Text: a MinHash (datasketch, 128 permutations) of the set of word 5-grams of the document's
  text, NFC-normalised, lower-cased, whitespace collapsed, diacritics kept. Word 5-grams, not
  character shingles: Vietnamese documents of one kind share most of their syllables and
  character n-grams (on generated plans of one district, different documents reach a
  character-5-gram Jaccard of 0.74, the same document with a new number 0.99), while word
  5-grams keep them apart (0.41 against 0.99). Coloured lines (incoming-registry stamps,
  signing tools' notes) are left out: they differ between copies of one document.
  A document with fewer than MIN_WORDS words gets no text fingerprint (its header alone would
  match every document of its agency), nor one read in part by OCR (only the header and the
  signer area: the parts all documents of an agency share).
- Image: a perceptual hash (imagehash pHash, 16×16 = 256 bits, as hex) of the first page,
  rendered at 50 dpi, coloured ink (seal, signature) removed, straightened when it is a picture
  of paper (a scan, a photo; a drawn page is straight already), cropped to its ink,
  without the top fifth of the ink (the national motto and the agency's header, the same on
  every document of an agency). It is kept for every document, but only compared when one of
  the two was read by OCR (`scanned`): a scan and its born-digital original share no text
  fingerprint, and two born-digital documents are told apart by their text better than by
  their look.

Pure: bytes and a DocumentText in, a Fingerprint out; nothing is stored here.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pymupdf
from PIL import Image, ImageOps

from kiemchung.extractors.text_layer import IMAGE_COVERAGE, image_coverage
from kiemchung.models.document import DocumentText, TextSource

FINGERPRINT_VERSION = "fp1-w5-mh128-ph256"
NUM_PERM = 128
MINHASH_SEED = 1
# datasketch 2 names its permutation scheme; stored values are only comparable within one.
MINHASH_SCHEME = "affine32"
SHINGLE_WORDS = 5
MIN_WORDS = 50
PHASH_SIZE = 16                 # 16×16 bits
PHASH_DPI = 50
PHASH_MAX_PIXELS = 4_000_000    # a huge page is rendered smaller
HEADER_SHARE = 0.2              # of the inked height: the header every document shares

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Fingerprint:
    """What is compared. `minhash`: the MinHash hash values (None: too little text, or read
    in part); `phash`: the first page's pHash as hex (None: no image could be made);
    `scanned`: page 1 was read by OCR (a scan or a photo), so its image is compared."""

    minhash: tuple[int, ...] | None
    phash: str | None
    scanned: bool
    words: int = 0
    version: str = FINGERPRINT_VERSION


def normalise(text: str) -> str:
    """NFC, lower case, whitespace collapsed; diacritics kept."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text).lower()).strip()


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    words = normalise(text).split(" ")
    if len(words) < size:
        return {" ".join(words)} if words != [""] else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def document_words(text: DocumentText) -> str:
    """The document's text for its fingerprint: every page's lines but coloured ones."""
    return "\n".join(line.text for page in text.pages for line in page.lines
                     if not line.coloured)


def minhash_values(items: Iterable[str]) -> tuple[int, ...]:
    from datasketch import MinHash  # scipy behind it: loaded only where fingerprints are made

    minhash = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME)
    minhash.update_batch([item.encode("utf-8") for item in items])
    return tuple(int(v) for v in minhash.hashvalues)


def text_fingerprint(text: DocumentText) -> tuple[tuple[int, ...] | None, int]:
    """(the MinHash values or None, the number of words read)."""
    words = normalise(document_words(text))
    count = len(words.split(" ")) if words else 0
    if count < MIN_WORDS or text.partial:
        return None, count
    return minhash_values(shingles(words)), count


def is_scanned(text: DocumentText) -> bool:
    return bool(text.pages) and (text.kind == "image" or text.pages[0].source == TextSource.OCR)


def fingerprint(data: bytes, text: DocumentText) -> Fingerprint:
    """The fingerprint of a file (its bytes) as read (`text`, from the inspection)."""
    minhash, words = text_fingerprint(text)
    return Fingerprint(minhash=minhash, phash=first_page_phash(data, text.kind),
                       scanned=is_scanned(text), words=words)


def first_page_phash(data: bytes, kind: str) -> str | None:
    """The pHash of page 1 (hex), or None when no image of it can be made."""
    try:
        found = _first_page_image(data, kind)
        return None if found is None else phash_hex(*found)
    except Exception:   # noqa: BLE001 - a broken file has no image hash; reading reports it
        return None


def phash_hex(image: Image.Image, drawn: bool = False) -> str | None:
    """`drawn`: the page is drawn, not a picture of paper (it needs no straightening)."""
    import imagehash  # scipy behind it: loaded only where fingerprints are made

    prepared = _prepared(image, drawn)
    if prepared is None:
        return None
    return str(imagehash.phash(prepared, hash_size=PHASH_SIZE))


def _first_page_image(data: bytes, kind: str) -> tuple[Image.Image, bool] | None:
    """Page 1 as an image, and whether it is drawn (a PDF page no image covers the most of)."""
    if kind == "image":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > 80_000_000:
                    return None
                image.draft("RGB", (image.width // 4 or 1, image.height // 4 or 1))
                frame = image.convert("RGB")
        dpi = (frame.info.get("dpi") or (300, 300))[0] or 300
        scale = PHASH_DPI / max(float(dpi), 50.0)
        size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        return (frame.resize(size, Image.Resampling.BILINEAR) if scale < 1 else frame), False
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        if doc.needs_pass or doc.page_count == 0:
            return None
        page = doc.load_page(0)
        area = max(page.rect.width * page.rect.height, 1.0)
        dpi = min(PHASH_DPI, 72 * math.sqrt(PHASH_MAX_PIXELS / area))
        pix = page.get_pixmap(dpi=max(int(dpi), 5), alpha=False)
        drawn = image_coverage(page) < IMAGE_COVERAGE
        return Image.frombytes("RGB", (pix.width, pix.height), pix.samples), drawn


def _prepared(image: Image.Image, drawn: bool) -> Image.Image | None:
    """Grey, coloured ink removed, straightened (unless drawn: a drawn page is straight),
    cropped to the ink below the header."""
    from kiemchung.extractors.ocr import estimate_skew, ink_gray

    gray = ink_gray(image.convert("RGB"))
    angle = 0.0 if drawn else estimate_skew(gray)
    if angle:
        gray = gray.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
    gray = ImageOps.autocontrast(gray, cutoff=1)
    ys, xs = np.nonzero(np.asarray(gray) < 128)
    if len(xs) < 20:
        return None     # a blank page: nothing to recognise it by
    gray = gray.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    top = int(gray.height * HEADER_SHARE)
    return gray.crop((0, top, gray.width, gray.height)) if gray.height - top >= 8 else gray
