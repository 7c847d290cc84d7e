"""Which criteria a document may serve: a rule set's criteria of one level, ranked by whether
their checks ask for the document's type (`doc_type_is`) and by how close its subject is to
what they look for (`mentions` phrases, the criterion's name). Pure: fields in, suggestions
out; a person picks one (the check page preselects the best)."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from kiemchung.models.document import nfc
from kiemchung.models.fields import DocumentFields
from kiemchung.verifier.ruleset import Criterion, Level, RuleSet

# Below this a criterion is not suggested: the right type with an unrelated subject, or a
# related subject in a type the criterion does not take, stays under it.
FLOOR = 0.6
TYPE_WEIGHT = 0.5
# Fuzzy similarity of any two Vietnamese phrases is rarely below this: only what is above
# it says that the subject is about the criterion.
CHANCE = 0.5
ONE_OF_MANY = 0.85          # the type is one of several the criterion accepts: less specific
NO_TYPE_ASKED = 0.5         # the criterion names no type (or the document's is unknown)


@dataclass(frozen=True)
class Suggestion:
    criterion: str          # its id, e.g. "2.1"
    title: str
    score: float            # 0..1
    reason: str             # one line, Vietnamese


def _folded(text: str | None) -> str:
    return nfc(text or "").lower().strip()


def _asked_types(criterion: Criterion) -> set[str]:
    checks = criterion.evidence.document if criterion.evidence else []
    return {str(t) for c in checks if c.check == "doc_type_is" for t in c.params.get("types", [])}


def _phrase_groups(criterion: Criterion) -> list[list[str]]:
    """Each `mentions` check's phrases (alternatives; every check is required)."""
    checks = criterion.evidence.document if criterion.evidence else []
    return [[_folded(p) for p in c.params.get("phrases", [])] for c in checks
            if c.check == "mentions" and c.params.get("phrases")]


def _type_score(doc_type: str | None, asked: set[str]) -> tuple[float, str]:
    if not asked:
        return NO_TYPE_ASKED, "tiêu chí không đòi loại văn bản cụ thể"
    if not doc_type:
        return NO_TYPE_ASKED, "chưa đọc được loại văn bản"
    if doc_type not in asked:
        return 0.0, "tiêu chí đòi loại văn bản khác"
    if len(asked) == 1:
        return 1.0, "đúng loại văn bản tiêu chí yêu cầu"
    return ONE_OF_MANY, "là một trong các loại văn bản tiêu chí chấp nhận"


def _text_score(subject: str, criterion: Criterion) -> tuple[float, str]:
    if not subject:
        return 0.0, "không đọc được trích yếu"
    title = fuzz.token_set_ratio(subject, _folded(criterion.name)) / 100
    groups = _phrase_groups(criterion)
    if not groups:
        return title, f"trích yếu gần với tên tiêu chí ({round(title * 100)} %)"
    best = [max((fuzz.partial_ratio(phrase, subject) / 100, phrase) for phrase in group)
            for group in groups]
    mentions = sum(score for score, _ in best) / len(best)
    quoted = ", ".join(f"“{phrase}”" for score, phrase in best if score >= 0.9)
    said = f"trích yếu nêu {quoted}" if quoted else \
        f"trích yếu gần với từ khoá của tiêu chí ({round(mentions * 100)} %)"
    return 0.7 * mentions + 0.3 * title, said


def suggest_criteria(ruleset: RuleSet, level: Level | str, fields: DocumentFields,
                     floor: float = FLOOR) -> list[Suggestion]:
    """The criteria of `level` backed by documents this one may serve, best first; an empty
    list when none reaches `floor`."""
    doc_type = fields.value("doc_type")
    doc_type = str(doc_type) if doc_type else None
    subject = _folded(" ".join(str(v) for v in (fields.value("type_name"),
                                                fields.value("subject")) if v))
    found = []
    for criterion in ruleset.criteria(Level(level)):
        if criterion.backed_by != "documents":
            continue
        by_type, type_reason = _type_score(doc_type, _asked_types(criterion))
        similarity, text_reason = _text_score(subject, criterion)
        by_text = max(0.0, similarity - CHANCE) / (1 - CHANCE)
        score = TYPE_WEIGHT * by_type + (1 - TYPE_WEIGHT) * by_text
        if score >= floor:
            found.append(Suggestion(criterion.id, criterion.name, round(score, 3),
                                    f"{type_reason[0].upper()}{type_reason[1:]}; {text_reason}."))
    return sorted(found, key=lambda s: -s.score)
