"""Deterministic generator of realistic Vietnamese administrative documents (Decree 30/2020)."""
