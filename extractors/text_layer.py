"""Per page: is the PDF's own text layer usable, or must the page be OCR'd?

Verdicts (stored in `Page.text_layer_verdict`):
- usable: "text" (Unicode text layer), "tcvn3" (legacy TCVN3 converted to Unicode),
  "blank" (nothing on the page at all), "short_text" (a few words and nothing else drawn);
- OCR: "empty" (no text but images or drawings: a scan), "too_short" (a page number or a
  "Ký bởi" stamp over a scan), "image_little_text" (a page-size image with little text),
  "vni" (VNI-encoded text: not converted), "garbled" (unknown encoding, unmapped glyphs),
  "no_diacritics" (plenty of words, few or none with a Vietnamese letter: glyphs mapped
  wrongly, or someone else's OCR that dropped the marks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pymupdf

from kiemchung.extractors.limits import LIST_DRAWINGS_CONTENT, content_bytes
from kiemchung.extractors.pdf_text import read_text_layer
from kiemchung.extractors.tcvn3 import (
    decode_tcvn3,
    is_vietnamese_syllable,
    looks_like_tcvn3,
    looks_like_vni,
    unicode_vietnamese_share,
)
from kiemchung.models.document import Page, TextSource

MIN_LETTERS = 20            # fewer letters: a page number or a signing stamp, not the text
LITTLE_TEXT_LETTERS = 200   # over a page-size image, this little text is a stamp or a header
IMAGE_COVERAGE = 0.5        # share of the page covered by images that makes it a scan
LEGACY_SCORE = 0.5          # looks_like_tcvn3/vni score from which the layer is legacy text
MIN_TELLING_WORDS = 3       # non-ASCII words needed before judging an encoding
GARBLED_SHARE = 0.05        # share of U+FFFD / private-use characters that spoils a layer
NO_DIACRITICS_WORDS = 40    # this many words without one Vietnamese letter is not Vietnamese
# Someone else's OCR layer over a scan: Vietnamese prose has a mark on most syllables and
# nearly every lower-case word is a syllable; a layer far below either is not the page's text.
MIN_MARKED_SHARE = 0.25
MIN_SYLLABLE_SHARE = 0.6

USABLE = frozenset({"text", "tcvn3", "blank", "short_text"})

# ".VnTimeH", ".VnArialH,Bold", "VnTimeH-Italic": ABC caps fonts show every letter capital.
_CAPS_FONT = re.compile(r"^\.?Vn[A-Za-z ]*?H(?:[-,].*)?$")


@dataclass(frozen=True)
class TextLayerDecision:
    verdict: str
    page: Page | None     # the usable text (Unicode or converted); None: OCR the page

    @property
    def usable(self) -> bool:
        return self.page is not None


def decide_text_layer(page: pymupdf.Page, number: int) -> TextLayerDecision:
    """Read the text layer of `page` (1-based `number`) and say whether it can be used."""
    layer = read_text_layer(page, number)
    text = layer.text
    letters = sum(map(str.isalpha, text))

    def use(verdict: str, result: Page = layer) -> TextLayerDecision:
        return TextLayerDecision(verdict, _with_verdict(result, verdict))

    def ocr(verdict: str) -> TextLayerDecision:
        return TextLayerDecision(verdict, None)

    if not text.strip():
        return ocr("empty") if _has_graphics(page) else use("blank")
    if _garbled_share(text) > GARBLED_SHARE:
        return ocr("garbled")

    words = text.split()
    non_ascii_words = sum(1 for w in words if not w.isascii())
    if non_ascii_words >= MIN_TELLING_WORDS:
        tcvn3, vni = looks_like_tcvn3(text), looks_like_vni(text)
        if tcvn3 >= LEGACY_SCORE and tcvn3 >= vni:
            converted = read_text_layer(page, number, decode=_decode_tcvn3_line,
                                        source=TextSource.TCVN3, verdict="tcvn3")
            return TextLayerDecision("tcvn3", converted)
        if vni >= LEGACY_SCORE:
            return ocr("vni")
        if unicode_vietnamese_share(text) < 0.5:
            return ocr("garbled")

    if letters < MIN_LETTERS:
        return ocr("too_short") if _has_graphics(page) else use("short_text")
    if letters < LITTLE_TEXT_LETTERS and image_coverage(page) >= IMAGE_COVERAGE:
        return ocr("image_little_text")
    words_with_letters = sum(1 for w in words if any(map(str.isalpha, w)))
    if words_with_letters >= NO_DIACRITICS_WORDS:
        if non_ascii_words < MIN_MARKED_SHARE * words_with_letters:
            return ocr("no_diacritics")
        if syllable_share(text) < MIN_SYLLABLE_SHARE:
            return ocr("garbled")
    return use("text")


def syllable_share(text: str) -> float:
    """0..1: share of the words in lower case (capitalised or not) that spell a Vietnamese
    syllable. Capitals are left out: abbreviations (UBND, QĐ) are no syllables."""
    words = [w.strip(".,;:!?()\"'“”-–") for w in text.split()]
    words = [w for w in words if w.isalpha() and not w.isupper() and w[1:].islower()]
    if not words:
        return 1.0
    return sum(1 for w in words if is_vietnamese_syllable(w)) / len(words)


def image_coverage(page: pymupdf.Page) -> float:
    """Share (0..1) of the page area covered by placed images."""
    area = abs(page.rect)
    if not area:
        return 0.0
    covered = 0.0
    for info in page.get_image_info():
        box = pymupdf.Rect(info["bbox"]) & page.mediabox
        covered += abs(box) if not box.is_empty else 0.0
    return min(1.0, covered / area)


def _has_graphics(page: pymupdf.Page) -> bool:
    """Images or vector drawings (text drawn as outlines, a scan) that OCR could read."""
    if page.get_image_info():
        return True
    # Listing millions of drawings would take gigabytes: that much content draws something.
    if content_bytes(page, LIST_DRAWINGS_CONTENT) > LIST_DRAWINGS_CONTENT:
        return True
    return bool(page.get_cdrawings())


_SPACE = re.compile(r"\s")                    # str.isspace's characters
_UNMAPPED = re.compile("[\ufffd\ue000-\uf8ff]")  # replacement and private-use characters


def _garbled_share(text: str) -> float:
    chars = len(text) - len(_SPACE.findall(text))
    if not chars:
        return 0.0
    return len(_UNMAPPED.findall(text)) / chars


def _decode_tcvn3_line(words: list[str], fonts: list[str]) -> list[str]:
    # Words of a caps font are capitals whatever their codes; others decode with the
    # line as context, so that "X·" among capital words becomes "XÃ".
    plain = [i for i, f in enumerate(fonts) if not _CAPS_FONT.match(f)]
    decoded = [decode_tcvn3(w, caps=True) for w in words]
    if plain:
        joined = decode_tcvn3(" ".join(words[i] for i in plain)).split(" ")
        if len(joined) == len(plain):
            for i, text in zip(plain, joined):
                decoded[i] = text
        else:
            for i in plain:
                decoded[i] = decode_tcvn3(words[i])
    return decoded


def _with_verdict(page: Page, verdict: str) -> Page:
    if page.text_layer_verdict == verdict:
        return page
    return replace(page, text_layer_verdict=verdict)
