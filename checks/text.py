"""Comparing Vietnamese names, agencies and phrases the way a reader would.

Comparison forms are NFC, lower case, with the old and new tone placements made equal
("uỷ" = "ủy", "hoà" = "hòa") and the usual abbreviations spelled out ("UBND"). They are for
comparing only: what is shown to people is always the text as printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from kiemchung.checks.registry import Where
from kiemchung.models.document import nfc, without_marks
from kiemchung.models.inspection import Inspection

# Old-style tone placement → the style Decree 30's templates use. Applied to both sides of a
# comparison, so a syllable like "quý" changing shape does not matter.
_TONE_PLACEMENT = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}
_TONE_RE = re.compile("|".join(_TONE_PLACEMENT))
_ABBREVIATIONS = [
    (re.compile(r"\bubnd\b"), "ủy ban nhân dân"),
    (re.compile(r"\bhđnd\b"), "hội đồng nhân dân"),
    (re.compile(r"\btp\.?(?=\s)"), "thành phố"),
    (re.compile(r"\btx\.?(?=\s)"), "thị xã"),
    (re.compile(r"\btt\s*(?:&|và)\s*tt\b"), "thông tin và truyền thông"),
]
# Words naming the kind of body or place, not which one: "Ủy ban nhân dân huyện Phú Vang"
# and "UBND xã Phú Mỹ" differ only in what is left without them.
_GENERIC = re.compile(r"\b(?:ủy ban nhân dân|hội đồng nhân dân|sở|huyện|thị xã|thành phố|xã|"
                      r"phường|thị trấn|tỉnh|quận)\b")


def fold(text: str) -> str:
    """The comparison form of a text."""
    text = nfc(text).lower()
    text = _TONE_RE.sub(lambda m: _TONE_PLACEMENT[m.group()], text)
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def fold_name(text: str) -> str:
    """Comparison form of a name: also without punctuation."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", fold(text))).strip()




class Match(StrEnum):
    SAME = "same"
    CLOSE = "close"          # near enough to be a misreading, too far to be sure
    DIFFERENT = "different"


@dataclass(frozen=True)
class NameMatch:
    match: Match
    score: float
    note: str = ""           # e.g. "the certificate writes the name without diacritics"


def compare_person_names(a: str, b: str) -> NameMatch:
    fa, fb = fold_name(a), fold_name(b)
    score = fuzz.ratio(fa, fb)
    if score >= 92:
        return NameMatch(Match.SAME, score)
    bare = fuzz.ratio(without_marks(fa), without_marks(fb))
    if bare >= 97 and (fa == without_marks(fa) or fb == without_marks(fb)):
        # One side has no diacritics at all (a certificate in ASCII): same letters, same person.
        return NameMatch(Match.SAME, bare, "one of the names is written without diacritics")
    return NameMatch(Match.CLOSE if max(score, bare) >= 80 else Match.DIFFERENT, score)


def agency_distinction(name: str) -> str:
    """What tells one agency from another of the same kind: "phú vang", "y tế"."""
    return re.sub(r"\s+", " ", _GENERIC.sub(" ", fold_name(name))).strip()


def compare_agencies(a: str, b: str) -> NameMatch:
    """Fuzzy on the whole name, strict on the part that says which agency it is."""
    fa, fb = fold_name(a), fold_name(b)
    ta, tb = agency_distinction(a), agency_distinction(b)
    if not ta or not tb:
        # "Sở" alone, or "UBND huyện": nothing to tell agencies apart by.
        score = fuzz.ratio(fa, fb)
        return NameMatch(Match.SAME if score >= 95 else Match.CLOSE if score >= 80
                         else Match.DIFFERENT, score)
    tail = fuzz.ratio(ta, tb)
    # A bare place name ("Phú Vang") names its agency: compare only what distinguishes.
    whole = tail if fa == ta or fb == tb else fuzz.ratio(fa, fb)
    if tail >= 85 and whole >= 85:
        return NameMatch(Match.SAME, min(tail, whole))
    if tail >= 70 and whole >= 70:
        return NameMatch(Match.CLOSE, min(tail, whole))
    return NameMatch(Match.DIFFERENT, min(tail, whole))


@dataclass(frozen=True)
class Found:
    score: float
    where: Where


def find_phrase(inspection: Inspection, phrase: str, *, min_score: float = 90) -> Found | None:
    """The best fuzzy occurrence of `phrase` in the page text, looking at each line joined with
    the next so that a phrase broken across lines is still found."""
    needle = fold(phrase)
    best: Found | None = None
    for page in inspection.text.pages:
        lines = page.lines
        for i, line in enumerate(lines):
            window = line.text + (" " + lines[i + 1].text if i + 1 < len(lines) else "")
            score = fuzz.partial_ratio(needle, fold(window))
            if score >= min_score and (best is None or score > best.score):
                best = Found(score, Where(page.number, line.text, line.bbox))
                if score == 100:
                    return best
    return best


def find_in_text(inspection: Inspection, needle: str) -> Where:
    """Where a piece of already-extracted text stands (its first line), or page 1."""
    target = fold(needle)[:40]
    for page in inspection.text.pages:
        for line in page.lines:
            if target and target[:20] in fold(line.text):
                return Where(page.number, line.text, line.bbox)
    return Where()


def joined_text(inspection: Inspection) -> tuple[str, list[tuple[int, int, Where]]]:
    """All pages as one string with single spaces, and where each line starts in it."""
    parts: list[str] = []
    offsets: list[tuple[int, int, Where]] = []
    position = 0
    for page in inspection.text.pages:
        for line in page.lines:
            text = nfc(line.text)
            offsets.append((position, position + len(text), Where(page.number, line.text,
                                                                  line.bbox)))
            parts.append(text)
            position += len(text) + 1
    return " ".join(parts), offsets


def where_at(offsets: list[tuple[int, int, Where]], position: int) -> Where:
    for start, end, where in offsets:
        if start <= position <= end:
            return where
    return Where()
