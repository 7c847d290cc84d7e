"""What the updates appended after a signature changed.

pyHanko's difference analysis says whether later revisions stay within what a signature
permits; it counts new form values as legitimate form filling. For evidence a changed value
is still a change, so this module also compares the signed revision (the bytes up to the end
of the signature's /ByteRange) with the final file as a reader sees them: form field values,
the words of the text layer, and a low-resolution rendering of every page.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np
import pymupdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.diff_analysis.policy_api import SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields

from models.document import BBox, nfc
from models.signatures import ChangedWord, SignatureChanges

log = logging.getLogger(__name__)

RENDER_DPI = 50
# A rendered pixel counts as changed when a channel moves by more than this (0–255); a page
# counts as changed from a few such pixels, so anti-aliasing noise alone never does.
PIXEL_DELTA = 40
MIN_CHANGED_PIXELS = 4
MAX_WORDS = 200             # a rewritten page should not bloat the report


def analyse_changes(pdf_bytes: bytes, reader: PdfFileReader, signed_revision: int,
                    signed_end: int) -> SignatureChanges:
    """Compare the revision signed (ending at byte `signed_end`) with the final file."""
    signature_names = _signature_names(reader)
    later = _later_revisions(reader, signed_revision, signature_names)
    try:
        old = pymupdf.open(stream=pdf_bytes[:signed_end], filetype="pdf")
        new = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    except Exception as exc:   # noqa: BLE001 — MuPDF refuses: the revision list still stands
        log.debug("cannot open revisions for comparison: %s", exc)
        return SignatureChanges(later_revisions=later, summary=_first_harmful(later))
    with old, new:
        field_changes = _field_changes(old, new)
        words, text_summary = _word_changes(old, new)
        pages = _changed_pages(old, new)
    summary = ""
    if field_changes:
        name, (before, after) = next(iter(sorted(field_changes.items())))
        summary = f"form field '{name}' changed after signing: '{before}' → '{after}'"
    summary = summary or text_summary
    if not summary and pages:
        summary = f"page {pages[0]} appearance changed after signing"
        harmful = _first_harmful(later)
        if harmful:
            summary += f" ({harmful})"
    if not summary:
        summary = _first_harmful(later)
    return SignatureChanges(later_revisions=later, changed_fields=tuple(sorted(field_changes)),
                            changed_words=words, changed_pages=pages, summary=summary)


# -- revisions -------------------------------------------------------------------------------

def _signature_names(reader: PdfFileReader) -> set[str]:
    try:
        return {nfc(str(name)) for name, _, _ in enumerate_sig_fields(reader)}
    except Exception:   # noqa: BLE001 — a broken form only loses the names
        return set()


def _later_revisions(reader: PdfFileReader, signed_revision: int, signature_names: set[str]
                     ) -> tuple[str, ...]:
    """One line per revision after the signed one, each diffed against its predecessor so
    that the line says what that revision itself did."""
    lines = []
    for revision in range(signed_revision + 1, reader.xrefs.total_revisions):
        try:
            old = reader.get_historical_resolver(revision - 1)
            new = reader.get_historical_resolver(revision)
            try:
                result = DEFAULT_DIFF_POLICY.apply(old, new)
            except SuspiciousModification as exc:
                first = str(exc).split("\n")[0].split(": Reference")[0][:120]
                lines.append(f"revision {revision + 1}: content or structure changed "
                             f"(not harmless): {first}")
                continue
            added = _signatures_added(new)
            lines.append(f"revision {revision + 1}: "
                         + _describe(result.modification_level, added,
                                     set(result.changed_form_fields) - signature_names))
        except Exception as exc:   # noqa: BLE001 — a revision we cannot read is not harmless
            lines.append(f"revision {revision + 1}: unreadable (not harmless): "
                         f"{type(exc).__name__}")
    return tuple(lines)


def _signatures_added(resolver) -> list[str]:
    kinds = []
    for ref in resolver.explicit_refs_in_revision():
        try:
            obj = resolver(generic.Reference(ref.idnum, ref.generation))
        except Exception:   # noqa: BLE001
            continue
        if isinstance(obj, generic.DictionaryObject) and \
                obj.get("/Type") in ("/Sig", "/DocTimeStamp"):
            kinds.append("document timestamp" if obj.get("/Type") == "/DocTimeStamp"
                         else "signature")
    return kinds


def _describe(level: ModificationLevel, signatures: list[str], fields: set[str]) -> str:
    if signatures:
        return f"{', '.join(sorted(set(signatures)))} added (harmless)"
    if level == ModificationLevel.NONE:
        return "no effective change (harmless)"
    if level == ModificationLevel.LTA_UPDATES:
        return "validation data (DSS/LTV) added (harmless)"
    if level == ModificationLevel.FORM_FILLING and not fields:
        return "signature field changed (harmless)"
    if level == ModificationLevel.FORM_FILLING:
        named = ", ".join(sorted(fields)) or "unnamed"
        return f"form field values changed: {named} (not harmless)"
    if level == ModificationLevel.ANNOTATIONS:
        return "annotations added or changed (not harmless)"
    return "content or structure changed (not harmless)"


def _first_harmful(lines: tuple[str, ...]) -> str:
    for line in lines:
        if "(not harmless)" in line:
            return line
    return ""


# -- form fields -----------------------------------------------------------------------------

def _field_values(doc: pymupdf.Document) -> dict[str, str]:
    values = {}
    for page in doc:
        for widget in page.widgets() or ():
            if widget.field_type == pymupdf.PDF_WIDGET_TYPE_SIGNATURE:
                continue
            values[nfc(widget.field_name or "")] = nfc(str(widget.field_value or ""))
    return values


def _field_changes(old: pymupdf.Document, new: pymupdf.Document) -> dict[str, tuple[str, str]]:
    before, after = _field_values(old), _field_values(new)
    return {name: (before.get(name, ""), after.get(name, ""))
            for name in before.keys() | after.keys()
            if before.get(name, "") != after.get(name, "")}


# -- text ------------------------------------------------------------------------------------

def _page_words(doc: pymupdf.Document, index: int) -> list[tuple[str, BBox]]:
    if index >= doc.page_count:
        return []
    return [(nfc(w[4]), BBox(*w[:4])) for w in doc[index].get_text("words", sort=True)]


def _word_changes(old: pymupdf.Document, new: pymupdf.Document
                  ) -> tuple[tuple[ChangedWord, ...], str]:
    changes: list[ChangedWord] = []
    summary = ""
    for index in range(max(old.page_count, new.page_count)):
        before, after = _page_words(old, index), _page_words(new, index)
        matcher = difflib.SequenceMatcher(None, [w for w, _ in before], [w for w, _ in after],
                                          autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            removed, added = before[i1:i2], after[j1:j2]
            changes += [ChangedWord(index + 1, t, b, "removed") for t, b in removed]
            changes += [ChangedWord(index + 1, t, b, "added") for t, b in added]
            if not summary:
                old_text = " ".join(t for t, _ in removed)[:80]
                new_text = " ".join(t for t, _ in added)[:80]
                change = f"added '{new_text}'" if not old_text else \
                    f"removed '{old_text}'" if not new_text else f"'{old_text}' → '{new_text}'"
                summary = f"page {index + 1} text changed after signing: {change}"
    return tuple(changes[:MAX_WORDS]), summary


# -- rendering -------------------------------------------------------------------------------

def _render(page: pymupdf.Page) -> np.ndarray:
    pix = page.get_pixmap(dpi=RENDER_DPI, alpha=False, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)


def _signature_boxes(page: pymupdf.Page) -> list[pymupdf.Rect]:
    return [w.rect for w in page.widgets() or ()
            if w.field_type == pymupdf.PDF_WIDGET_TYPE_SIGNATURE]


def _changed_pages(old: pymupdf.Document, new: pymupdf.Document) -> tuple[int, ...]:
    changed = []
    for index in range(max(old.page_count, new.page_count)):
        if index >= old.page_count or index >= new.page_count:
            changed.append(index + 1)
            continue
        before, after = _render(old[index]), _render(new[index])
        if before.shape != after.shape:
            changed.append(index + 1)
            continue
        delta = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
        # Signature appearances added later are expected; their boxes are not compared.
        scale = RENDER_DPI / 72
        for rect in _signature_boxes(new[index]):
            delta[max(int(rect.y0 * scale) - 1, 0):int(rect.y1 * scale) + 2,
                  max(int(rect.x0 * scale) - 1, 0):int(rect.x1 * scale) + 2] = 0
        if int((delta > PIXEL_DELTA).sum()) >= MIN_CHANGED_PIXELS:
            changed.append(index + 1)
    return tuple(changed)
