"""Evidence reused across units and years: the same bytes handed in again (a batch's
`not_reused` sees only its own batch), and the same document re-saved, re-scanned, renamed or
lightly edited, handed in by two units, or last year's document handed in again.

Candidates come from indexes, never from comparing every pair:
- text: datasketch's MinHashLSH at THRESHOLD (Jaccard of word 5-grams, estimated from the
  MinHash); a candidate is kept when its estimate reaches THRESHOLD too;
- image: the 256-bit pHash split into PHASH_BOUND + 1 bands; two hashes within PHASH_BOUND
  bits agree on one band at least (pigeonhole), so a band's bucket holds every candidate;
  a candidate is kept within PHASH_BOUND bits. Only where one of the two was read by OCR.

A pair of documents is reported for each two submissions of them that differ in unit, in
year, or (same unit, same year) in criterion: `not_reused` also counts one file handed in for
two criteria of one unit as reuse. The same unit handing in two versions of a document for
the same criterion and year (a better scan, a corrected copy) is not reuse.

Pure: submissions in, pairs out.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kiemchung.extractors.fingerprint import (
    MINHASH_SCHEME,
    MINHASH_SEED,
    NUM_PERM,
    PHASH_SIZE,
    Fingerprint,
)
from kiemchung.models.inspection import Inspection

THRESHOLD = 0.8          # Jaccard of word 5-grams: measured 0.96–1.0 for the same text, ≤ 0.41
                         # for different documents of one kind and agency
PHASH_BOUND = 36         # of 256 bits: measured ≤ 34 between scans of one page at 150–300
                         # dpi and ≤ 30 to its original, ≥ 38 between different documents of
                         # one kind and agency (`make eval-reuse`)
PHASH_BITS = PHASH_SIZE * PHASH_SIZE
FACT_NAMES = ("number", "issue_date", "issuer")
FACT_LABELS = {"number": "number", "issue_date": "date", "issuer": "issuer"}


@dataclass(frozen=True)
class Facts:
    """What the document says of itself, as read: compared between the two of a pair."""

    number: str | None = None
    issue_date: str | None = None      # ISO date
    issuer: str | None = None

    @classmethod
    def of(cls, inspection: Inspection) -> Facts:
        date = inspection.fields.value("issue_date")
        return cls(number=inspection.fields.value("number"),
                   issue_date=date.isoformat() if date is not None else None,
                   issuer=inspection.fields.value("issuer"))


@dataclass(frozen=True)
class Submission:
    """One document handed in by a unit for a criterion of a year."""

    sha256: str
    unit: str
    criterion: str
    year: int
    facts: Facts
    fingerprint: Fingerprint
    name: str = ""

    @property
    def use(self) -> tuple[str, str, int]:
        return (self.unit, self.criterion, self.year)

    def to_json(self) -> dict:
        return {"sha256": self.sha256, "name": self.name, "unit": self.unit,
                "criterion": self.criterion, "year": self.year,
                "number": self.facts.number, "issue_date": self.facts.issue_date,
                "issuer": self.facts.issuer}


@dataclass(frozen=True)
class Difference:
    field: str
    first: str | None
    second: str | None

    def text(self) -> str:
        return f"{FACT_LABELS[self.field]} {self.first or '—'} vs {self.second or '—'}"


@dataclass(frozen=True)
class ReusePair:
    first: Submission
    second: Submission
    jaccard: float | None              # estimated from the MinHash; None: not compared
    phash_distance: int | None         # bits of 256; None: not compared
    differences: tuple[Difference, ...] = ()
    why: tuple[str, ...] = field(default=())   # "another unit", "another year", …

    @property
    def same_bytes(self) -> bool:
        return self.first.sha256 == self.second.sha256

    @property
    def summary(self) -> str:
        if self.same_bytes:
            return "the same file (same bytes)"
        basis = []
        if self.jaccard is not None and self.jaccard >= THRESHOLD:
            basis.append(f"same text (Jaccard {self.jaccard:.2f})")
        if self.phash_distance is not None and self.phash_distance <= PHASH_BOUND:
            basis.append(f"same first page (pHash {self.phash_distance}/{PHASH_BITS} bits)")
        changed = ", ".join(d.text() for d in self.differences)
        return "; ".join(basis) + (f", {changed}" if changed else ", same number, date, issuer")

    def to_json(self) -> dict:
        return {"first": self.first.to_json(), "second": self.second.to_json(),
                "jaccard": None if self.jaccard is None else round(self.jaccard, 3),
                "phash_distance": self.phash_distance,
                "differs": [{"field": d.field, "first": d.first, "second": d.second}
                            for d in self.differences],
                "why": list(self.why), "same_bytes": self.same_bytes, "summary": self.summary}


def _comparable(value: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", value or "").casefold().split())


def differences(a: Facts, b: Facts) -> tuple[Difference, ...]:
    out = []
    for name in FACT_NAMES:
        first, second = getattr(a, name), getattr(b, name)
        if _comparable(first) != _comparable(second):
            out.append(Difference(name, first, second))
    return tuple(out)


def why_reuse(a: Submission, b: Submission) -> tuple[str, ...]:
    """Why two submissions of similar documents are reuse; () when they are not (same unit,
    criterion and year)."""
    reasons = []
    if a.unit != b.unit:
        reasons.append("another unit")
    if a.year != b.year:
        reasons.append("another year")
    if a.unit == b.unit and a.year == b.year and a.criterion != b.criterion:
        reasons.append("another criterion")
    return tuple(reasons)


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """MinHash estimate of the Jaccard similarity: the share of equal hash values."""
    return float(np.mean(np.asarray(a, dtype=np.uint64) == np.asarray(b, dtype=np.uint64)))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _bands(value: str, bound: int) -> list[tuple[int, int]]:
    bits = int(value, 16)
    count = bound + 1
    edges = [round(i * PHASH_BITS / count) for i in range(count + 1)]
    return [(i, (bits >> edges[i]) & ((1 << (edges[i + 1] - edges[i])) - 1))
            for i in range(count)]


class ReuseIndex:
    """Documents by fingerprint; `pairs()` the submissions of similar documents."""

    def __init__(self, threshold: float = THRESHOLD, phash_bound: int = PHASH_BOUND):
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.phash_bound = phash_bound
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._buckets: dict[tuple[int, int], set[str]] = defaultdict(set)
        self._fingerprints: dict[str, Fingerprint] = {}
        self._submissions: dict[str, list[Submission]] = defaultdict(list)

    def add(self, submission: Submission) -> None:
        sha = submission.sha256
        uses = self._submissions[sha]
        if any(s.use == submission.use for s in uses):
            return
        uses.append(submission)
        if sha in self._fingerprints:
            return
        fp = submission.fingerprint
        self._fingerprints[sha] = fp
        if fp.minhash is not None:
            self._lsh.insert(sha, _minhash(fp.minhash))
        if fp.phash is not None:
            for band in _bands(fp.phash, self.phash_bound):
                self._buckets[band].add(sha)

    def similar_documents(self) -> dict[tuple[str, str], tuple[float | None, int | None]]:
        """{(sha a, sha b) with a < b: (Jaccard estimate, pHash distance)} of similar
        documents; each measure None when it was not compared."""
        found: dict[tuple[str, str], tuple[float | None, int | None]] = {}
        for sha, fp in self._fingerprints.items():
            if fp.minhash is not None:
                for other in self._lsh.query(_minhash(fp.minhash)):
                    theirs = self._fingerprints[other].minhash
                    if other == sha or theirs is None:
                        continue
                    score = jaccard(fp.minhash, theirs)
                    if score >= self.threshold:
                        found[_key(sha, other)] = (score, self._distance(sha, other))
            if fp.phash is None or not fp.scanned:
                continue
            candidates = set().union(*(self._buckets[band]
                                       for band in _bands(fp.phash, self.phash_bound)))
            for other in candidates - {sha}:
                distance = self._distance(sha, other)
                if distance is not None and distance <= self.phash_bound \
                        and _key(sha, other) not in found:
                    found[_key(sha, other)] = (self._jaccard(sha, other), distance)
        return found

    def pairs(self) -> list[ReusePair]:
        out = []

        def pair(first: Submission, second: Submission, score: float | None,
                 distance: int | None) -> None:
            first, second = sorted((first, second), key=lambda s: (s.year, s.unit, s.criterion))
            if reasons := why_reuse(first, second):
                out.append(ReusePair(first, second, score, distance,
                                     differences(first.facts, second.facts), reasons))

        for (a, b), (score, distance) in sorted(self.similar_documents().items()):
            for first in self._submissions[a]:
                for second in self._submissions[b]:
                    pair(first, second, score, distance)
        # The same bytes handed in again (another unit, another year: a batch's `not_reused`
        # sees only its own batch).
        for uses in self._submissions.values():
            for i, first in enumerate(uses):
                for second in uses[i + 1:]:
                    pair(first, second, 1.0, 0)
        return sorted(out, key=lambda p: (p.first.year, p.first.unit, p.first.criterion,
                                          p.second.year, p.second.unit, p.second.criterion,
                                          p.first.sha256, p.second.sha256))

    def _distance(self, a: str, b: str) -> int | None:
        x, y = self._fingerprints[a].phash, self._fingerprints[b].phash
        # Images are compared only where one of the two was read by OCR.
        if x is None or y is None or not (self._fingerprints[a].scanned
                                          or self._fingerprints[b].scanned):
            return None
        return hamming(x, y)

    def _jaccard(self, a: str, b: str) -> float | None:
        x, y = self._fingerprints[a].minhash, self._fingerprints[b].minhash
        return None if x is None or y is None else jaccard(x, y)


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _minhash(values: Sequence[int]):
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME,
                   hashvalues=np.asarray(values, dtype=np.uint64))


def find_reuse(submissions: Iterable[Submission], *, threshold: float = THRESHOLD,
               phash_bound: int = PHASH_BOUND) -> list[ReusePair]:
    """Every pair of submissions of similar, not identical, documents that is reuse."""
    index = ReuseIndex(threshold, phash_bound)
    for submission in submissions:
        index.add(submission)
    return index.pairs()


def involving(pairs: Iterable[ReusePair], *, year: int | None = None,
              unit: str | None = None) -> list[ReusePair]:
    """The pairs with one side at least in `year` (and, given a unit, one side of that unit
    in that year)."""
    def matches(s: Submission) -> bool:
        return (year is None or s.year == year) and (unit is None or s.unit == unit)

    return [p for p in pairs if matches(p.first) or matches(p.second)]
