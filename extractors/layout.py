"""Lines as a person reads them: by position on the page, never by the order of the text.

E-office systems stamp the number and the day into the agency signature's appearance when the
document is issued; their text comes after the page's own text, far from the `Số:` and `ngày`
gaps it fills. OCR and PDF writers also split one printed line into fragments. A fragment that
stands on another line's baseline, inside it or just beside it, is put into that line at its
place.
"""

from __future__ import annotations

from kiemchung.models.document import Line

FRAGMENT_WORDS = 3        # a line of this many words or fewer may be a stamped fragment
SAME_BASELINE = 0.5       # vertical overlap, as a share of the shorter line's height
ADJACENT_GAP = 0.6        # a gap narrower than this many line heights joins two lines
# After `Số:` and `ngày` the form leaves a blank for the number and the day, filled by hand on
# paper: OCR reads the two sides as two lines, which are one line to a person.
BLANK_GAP = 4.0
BEFORE_BLANK = ("số", "ngày")


def _on_baseline(a: Line, b: Line) -> bool:
    overlap = min(a.bbox.y1, b.bbox.y1) - max(a.bbox.y0, b.bbox.y0)
    return overlap >= SAME_BASELINE * min(a.height, b.height) \
        and max(a.height, b.height) <= 2.0 * min(a.height, b.height)


def _overlaps(a: Line, b: Line) -> bool:
    """Whether a word of `a` covers a word of `b` (a stamp over the text, not in its gap)."""
    for x in a.words:
        for y in b.words:
            cover = min(x.bbox.x1, y.bbox.x1) - max(x.bbox.x0, y.bbox.x0)
            if cover > 0.3 * min(x.bbox.x1 - x.bbox.x0, y.bbox.x1 - y.bbox.x0):
                return True
    return False


def _belongs_to(fragment: Line, host: Line) -> bool:
    """`fragment` fills a gap of `host`, or continues it right beside."""
    if fragment.coloured != host.coloured or not _on_baseline(fragment, host) \
            or _overlaps(fragment, host):
        return False
    f, h = fragment.bbox, host.bbox
    centre = (f.x0 + f.x1) / 2
    if h.x0 <= centre <= h.x1:
        return len(fragment.words) <= FRAGMENT_WORDS
    left, gap = (host, f.x0 - h.x1) if f.x0 >= h.x1 else (fragment, h.x0 - f.x1)
    limit = BLANK_GAP if _ends_before_blank(left) else ADJACENT_GAP
    return 0 <= gap <= limit * min(fragment.height, host.height)


def _ends_before_blank(line: Line) -> bool:
    last = line.words[-1].text.strip(" :.,").lower() if line.words else ""
    return last in BEFORE_BLANK


def merge_fragments(lines: tuple[Line, ...] | list[Line]) -> tuple[Line, ...]:
    """`lines` with each fragment merged into the line it stands in or continues (words in x
    order): a short one anywhere within, a longer one right beside. Lines keep their order; a
    merged fragment disappears from it."""
    merged = list(lines)
    for fragment in sorted(lines, key=lambda ln: len(ln.words)):
        # Specks OCR reads beside a line ("„") stay apart: they would only widen it.
        if fragment not in merged or not any(ch.isalnum() for ch in fragment.text):
            continue
        hosts = [ln for ln in merged if ln is not fragment and _belongs_to(fragment, ln)]
        if not hosts:
            continue
        host = max(hosts, key=lambda ln: len(ln.words))
        words = tuple(sorted(host.words + fragment.words, key=lambda w: w.bbox.x0))
        merged[merged.index(host)] = Line(words=words, block=host.block, coloured=host.coloured)
        merged.remove(fragment)
    return tuple(merged)
