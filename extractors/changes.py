"""What the updates appended after a signature changed.

pyHanko's difference analysis says whether later revisions stay within what a signature
permits; it counts new form values as legitimate form filling. For evidence a changed value
is still a change, so this module also compares the signed revision (the bytes up to the end
of the signature's /ByteRange) with the final file as a reader sees them: form field values,
the words of the text layer, and a low-resolution rendering of every page.

Both are costly on long documents, and a file usually holds several signatures over the same
revisions, so `RevisionHistory` keeps them per file: each pair of revisions is diffed once,
whichever signature asks, and the content comparison runs only when some revision after the
signature is not harmless — the common e-document (a person's signature, then the agency's
signature appended) needs neither words nor renderings.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pymupdf
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.diff_analysis.form_rules_api import FormUpdate, FormUpdatingRule
from pyhanko.sign.diff_analysis.policies import StandardDiffPolicy
from pyhanko.sign.diff_analysis.policy_api import DiffResult, SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields

from kiemchung.extractors.limits import (
    MARKS_PIXELS,
    MAX_PAGE_CONTENT,
    TooLargeToRender,
    content_bytes,
    render_dpi,
)
from kiemchung.models.document import BBox, nfc
from kiemchung.models.signatures import HARMLESS_MODIFICATIONS, ChangedWord, SignatureChanges

log = logging.getLogger(__name__)

RENDER_DPI = 50
# A rendered pixel counts as changed when a channel moves by more than this (0–255); a page
# counts as changed from a few such pixels, so anti-aliasing noise alone never does.
PIXEL_DELTA = 40
MIN_CHANGED_PIXELS = 4
MAX_WORDS = 200             # a rewritten page should not bloat the report
HARMLESS_LEVELS = frozenset(ModificationLevel[name] for name in HARMLESS_MODIFICATIONS)


class _FormRuleRecorder(FormUpdatingRule):
    """pyHanko's form rule, keeping the form updates it approved for each pair of revisions.
    pyHanko's `changed_form_fields` also names fields whose appearance was merely allowed to
    change; the updates tell which fields a revision really rewrote."""

    def __init__(self, rule: FormUpdatingRule) -> None:
        super().__init__(rule.field_rules, rule.ignored_acroform_keys)
        self.updates: dict[tuple[int, int], list[FormUpdate]] = {}

    def apply(self, old: HistoricalResolver, new: HistoricalResolver
              ) -> Iterable[tuple[ModificationLevel, FormUpdate]]:
        updates = self.updates.setdefault((old.revision, new.revision), [])
        for level, update in super().apply(old, new):
            updates.append(update)
            yield level, update


class _DiffOncePerPair(StandardDiffPolicy):
    """pyHanko's default difference analysis, remembering each pair of revisions it reviewed.
    pyHanko reviews every revision after a signature against the signed one, and the report
    describes each revision against its predecessor: the same pairs come up again and again.
    FieldMDP and DocMDP reviews depend on the signature, so they are never shared."""

    def __init__(self) -> None:
        base = DEFAULT_DIFF_POLICY
        assert base.form_rule is not None   # pyHanko's default policy reviews form updates
        self.form_rule_recorder = _FormRuleRecorder(base.form_rule)
        super().__init__(base.global_rules, self.form_rule_recorder,
                         reject_object_freeing=base.reject_object_freeing,
                         ignore_orphaned_objects=base.ignore_orphaned_objects,
                         ignore_identical_objects=base.ignore_identical_objects)
        self._results: dict[tuple[int, int], DiffResult | SuspiciousModification] = {}

    def apply(self, old: HistoricalResolver, new: HistoricalResolver,
              field_mdp_spec=None, doc_mdp=None) -> DiffResult:
        if field_mdp_spec is not None or doc_mdp is not None:
            return super().apply(old, new, field_mdp_spec, doc_mdp)
        key = (old.revision, new.revision)
        if key not in self._results:
            try:
                self._results[key] = super().apply(old, new)
            except SuspiciousModification as exc:
                self._results[key] = exc
        result = self._results[key]
        if isinstance(result, SuspiciousModification):
            raise result
        return result

    def fields_rewritten(self, old: HistoricalResolver, new: HistoricalResolver) -> set[str]:
        """Form fields whose value or appearance `new` rewrote (updates pyHanko would refuse
        on a locked field); call after `apply` on the same pair."""
        written = set(new.explicit_refs_in_revision())
        return {nfc(update.field_name)
                for update in self.form_rule_recorder.updates.get((old.revision, new.revision), ())
                if update.field_name and not update.valid_when_locked
                and update.updated_ref in written}


@dataclass(frozen=True)
class RevisionChange:
    """What one revision did, judged against the revision before it."""

    index: int                  # 0-based, as pyHanko counts
    description: str
    harmless: bool
    detail: str = ""            # pyHanko's objection, when there is one

    @property
    def line(self) -> str:
        verdict = "harmless" if self.harmless else "not harmless"
        line = f"revision {self.index + 1}: {self.description} ({verdict})"
        return f"{line}: {self.detail}" if self.detail else line


class RevisionHistory:
    """The revisions of one file, each judged once however many signatures cover it. Pass
    `diff_policy` to pyHanko's validation so that its reviews are shared too."""

    def __init__(self, pdf_bytes: bytes, reader: PdfFileReader) -> None:
        self.pdf_bytes = pdf_bytes
        self.reader = reader
        self.diff_policy = _DiffOncePerPair()
        self._revisions: dict[int, RevisionChange] = {}
        self._signature_names: set[str] | None = None

    @property
    def signature_names(self) -> set[str]:
        if self._signature_names is None:
            self._signature_names = _signature_names(self.reader)
        return self._signature_names

    def revision(self, index: int) -> RevisionChange:
        if index not in self._revisions:
            self._revisions[index] = self._judge(index)
        return self._revisions[index]

    def harmless_after(self, signed_revision: int) -> bool:
        """Whether every revision after `signed_revision`, judged against its predecessor,
        only added signatures, validation data or nothing effective."""
        return all(self.revision(index).harmless for index in
                   range(signed_revision + 1, self.reader.xrefs.total_revisions))

    def changes_after(self, signed_revision: int, signed_end: int,
                      diff_result: DiffResult | SuspiciousModification | None
                      ) -> SignatureChanges:
        """What happened after the revision signed (ending at byte `signed_end`); the signed
        and final files are compared as a reader sees them only when pyHanko's review of the
        signature (`diff_result`) or one of the later revisions is not harmless."""
        later = tuple(self.revision(index) for index in
                      range(signed_revision + 1, self.reader.xrefs.total_revisions))
        lines = tuple(revision.line for revision in later)
        first_harmful = next((r.line for r in later if not r.harmless), "")
        # pyHanko's own review of the signature has the last word on its level; which form
        # fields changed comes from the revisions themselves (see `fields_rewritten`).
        signature_harmless = isinstance(diff_result, DiffResult) and \
            diff_result.modification_level in HARMLESS_LEVELS
        if signature_harmless and all(r.harmless for r in later):
            return SignatureChanges(later_revisions=lines)
        return _compare_content(self.pdf_bytes, signed_end, lines, first_harmful)

    def _judge(self, index: int) -> RevisionChange:
        try:
            old = self.reader.get_historical_resolver(index - 1)
            new = self.reader.get_historical_resolver(index)
            try:
                result = self.diff_policy.apply(old, new)
            except SuspiciousModification as exc:
                first = str(exc).split("\n")[0].split(": Reference")[0][:120]
                return RevisionChange(index, "content or structure changed", False, first)
            fields = self.diff_policy.fields_rewritten(old, new) - self.signature_names
            return _describe(index, result.modification_level, _signatures_added(new), fields)
        except Exception as exc:   # noqa: BLE001 — a revision we cannot read is not harmless
            return RevisionChange(index, "unreadable", False, type(exc).__name__)


def _compare_content(pdf_bytes: bytes, signed_end: int, lines: tuple[str, ...],
                     first_harmful: str) -> SignatureChanges:
    """Compare the revision signed (ending at byte `signed_end`) with the final file."""
    try:
        old = pymupdf.open(stream=pdf_bytes[:signed_end], filetype="pdf")
        new = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    except Exception as exc:   # noqa: BLE001 — MuPDF refuses: the revision list still stands
        log.debug("cannot open revisions for comparison: %s", exc)
        return SignatureChanges(later_revisions=lines, summary=first_harmful)
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
        if first_harmful:
            summary += f" ({first_harmful})"
    if not summary:
        summary = first_harmful
    return SignatureChanges(later_revisions=lines, changed_fields=tuple(sorted(field_changes)),
                            changed_words=words, changed_pages=pages, summary=summary)


# -- revisions -------------------------------------------------------------------------------

def _signature_names(reader: PdfFileReader) -> set[str]:
    try:
        return {nfc(str(name)) for name, _, _ in enumerate_sig_fields(reader)}
    except Exception:   # noqa: BLE001 — a broken form only loses the names
        return set()


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


def _describe(index: int, level: ModificationLevel, signatures: list[str], fields: set[str]
              ) -> RevisionChange:
    added = f"{', '.join(sorted(set(signatures)))} added" if signatures else ""
    if fields:
        problem = f"form field values changed: {', '.join(sorted(fields))}"
    elif level == ModificationLevel.ANNOTATIONS:
        problem = "annotations added or changed"
    elif level not in HARMLESS_LEVELS:
        problem = "content or structure changed"
    else:
        problem = ""
    if problem:
        # A signature added in the same revision does not excuse anything else it changed.
        return RevisionChange(index, "; ".join(filter(None, (added, problem))), False)
    if added:
        return RevisionChange(index, added, True)
    if level == ModificationLevel.NONE:
        return RevisionChange(index, "no effective change", True)
    if level == ModificationLevel.LTA_UPDATES:
        return RevisionChange(index, "validation data (DSS/LTV) added", True)
    return RevisionChange(index, "signature field changed", True)


# -- form fields -----------------------------------------------------------------------------

def _field_values(doc: pymupdf.Document) -> dict[str, str]:
    values = {}
    for page in doc.pages():
        for widget in page.widgets() or ():
            if widget.field_type == pymupdf.mupdf.PDF_WIDGET_TYPE_SIGNATURE:
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
    if index >= doc.page_count or not _comparable(doc[index]):
        return []
    return [(nfc(w[4]), BBox(*w[:4])) for w in doc[index].get_text("words", sort=True)]


def _comparable(page: pymupdf.Page) -> bool:
    """Whether a page can be read and rendered within the limits of extractors/limits.py: a
    decompression bomb appended after signing would otherwise cost minutes here."""
    return content_bytes(page) <= MAX_PAGE_CONTENT


def _word_changes(old: pymupdf.Document, new: pymupdf.Document
                  ) -> tuple[tuple[ChangedWord, ...], str]:
    changes: list[ChangedWord] = []
    summary = ""
    for index in range(max(old.page_count, new.page_count)):
        # The text of signature appearances added later is expected, as in the renderings;
        # and what lies under them is covered, not removed: real agency seals are drawn over
        # the signer's title ("GIÁM ĐỐC"), and words there may come out split or merged with
        # the appearance. A change anywhere else on the page is still a change.
        added = _added_signature_boxes(old, new, index)
        before = [(text, box) for text, box in _page_words(old, index)
                  if not any(_centre_inside(box, rect) for rect in added)]
        after = [(text, box) for text, box in _page_words(new, index)
                 if not any(_centre_inside(box, rect) for rect in added)]
        matcher = difflib.SequenceMatcher(None, [w for w, _ in before], [w for w, _ in after],
                                          autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            removed, inserted = before[i1:i2], after[j1:j2]
            changes += [ChangedWord(index + 1, t, b, "removed") for t, b in removed]
            changes += [ChangedWord(index + 1, t, b, "added") for t, b in inserted]
            if not summary:
                old_text = " ".join(t for t, _ in removed)[:80]
                new_text = " ".join(t for t, _ in inserted)[:80]
                change = f"added '{new_text}'" if not old_text else \
                    f"removed '{old_text}'" if not new_text else f"'{old_text}' → '{new_text}'"
                summary = f"page {index + 1} text changed after signing: {change}"
    return tuple(changes[:MAX_WORDS]), summary


def _added_signature_boxes(old: pymupdf.Document, new: pymupdf.Document, index: int
                           ) -> list[pymupdf.Rect]:
    """Boxes of the signatures made since the old revision (new fields, or empty ones signed)."""
    if index >= new.page_count:
        return []
    signed_before = {w.field_name for w in old[index].widgets() or ()
                     if w.field_type == pymupdf.mupdf.PDF_WIDGET_TYPE_SIGNATURE and w.is_signed} \
        if index < old.page_count else set()
    return [w.rect for w in new[index].widgets() or ()
            if w.field_type == pymupdf.mupdf.PDF_WIDGET_TYPE_SIGNATURE
            and w.field_name not in signed_before]


def _centre_inside(box: BBox, rect: pymupdf.Rect) -> bool:
    return rect.x0 <= (box.x0 + box.x1) / 2 <= rect.x1 and \
        rect.y0 <= (box.y0 + box.y1) / 2 <= rect.y1


# -- rendering -------------------------------------------------------------------------------

def _render(page: pymupdf.Page) -> np.ndarray:
    dpi = render_dpi(page, page.rect, RENDER_DPI, MARKS_PIXELS)
    pix = page.get_pixmap(dpi=dpi, alpha=False, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)


def _signature_boxes(page: pymupdf.Page) -> list[pymupdf.Rect]:
    return [w.rect for w in page.widgets() or ()
            if w.field_type == pymupdf.mupdf.PDF_WIDGET_TYPE_SIGNATURE]


def _changed_pages(old: pymupdf.Document, new: pymupdf.Document) -> tuple[int, ...]:
    changed = []
    for index in range(max(old.page_count, new.page_count)):
        if index >= old.page_count or index >= new.page_count \
                or not (_comparable(old[index]) and _comparable(new[index])):
            changed.append(index + 1)
            continue
        try:
            before, after = _render(old[index]), _render(new[index])
        except TooLargeToRender:           # not comparable, so changed
            changed.append(index + 1)
            continue
        if before.shape != after.shape:
            changed.append(index + 1)
            continue
        delta = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
        # Signature appearances added later are expected; their boxes are not compared.
        scale = after.shape[1] / new[index].rect.width
        for rect in _signature_boxes(new[index]):
            delta[max(int(rect.y0 * scale) - 1, 0):int(rect.y1 * scale) + 2,
                  max(int(rect.x0 * scale) - 1, 0):int(rect.x1 * scale) + 2] = 0
        if int((delta > PIXEL_DELTA).sum()) >= MIN_CHANGED_PIXELS:
            changed.append(index + 1)
    return tuple(changed)
