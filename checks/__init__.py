"""Checks: small pure functions over extracted facts, registered by the names rule sets use.

    from kiemchung.checks import run_check, EvidenceContext, Scope
    result = run_check("doc_type_is", EvidenceContext(inspection, scope), {"types": ["ke_hoach"]})
"""

from kiemchung.checks import aggregate, document, people, signatures  # noqa: F401 - registers the checks
from kiemchung.checks.registry import (
                             REGISTRY,
                             EvidenceContext,
                             QualifyingSet,
                             Scope,
                             UnknownCheckError,
                             get_check,
                             run_check,
)

__all__ = ["REGISTRY", "EvidenceContext", "QualifyingSet", "Scope", "UnknownCheckError",
           "get_check", "run_check"]
