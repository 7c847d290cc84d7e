"""A short fuzz run: evidence files mutated byte by byte (flips, insertions, deletions, cuts,
splices: samples/fuzz.py) are inspected or refused with a KiemchungError, never anything else.
The examples are fixed (derandomised) so a run is repeatable; `make fuzz` runs the same
property for minutes, coverage-guided."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from samples.fuzz import inspect_or_refuse, mutated_inputs


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_inputs())
def test_mutated_evidence_is_inspected_or_refused(data):
    inspect_or_refuse(data)
