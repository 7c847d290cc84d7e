"""Auditor sampling: a random sample of the flagged (or all) verdicts, by size or by rate.
The same seed over the same verdicts draws the same sample, and every draw is in the audit log
with its seed and what it picked, so a sample can be shown to have been drawn fairly."""

from __future__ import annotations

import math
import random
import secrets

from fastapi import APIRouter

from kiemchung.api.http.deps import Auditor, StoreDep
from kiemchung.api.http.routes.flagged import flagged_items
from kiemchung.api.http.schemas import SampleCreate, SamplePublic

router = APIRouter(prefix="/samples", tags=["samples"])


@router.post("", status_code=201, response_model=SamplePublic,
             summary="Draw a reproducible random sample (auditor, admin)")
def draw_sample(body: SampleCreate, key: Auditor, store: StoreDep):
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    population = flagged_items(store, unit=body.unit, criterion=body.criterion,
                               only_flagged=body.only_flagged)
    if body.size is not None:
        wanted = body.size
    else:
        assert body.rate is not None   # the model asks for one of the two
        wanted = math.ceil(body.rate * len(population))
    # The population is in verdict-id order, so the draw depends on the seed alone.
    chosen = random.Random(seed).sample(population, min(wanted, len(population)))
    chosen.sort(key=lambda item: item["verdict_id"])
    store.audit(key.id, "sample.draw", f"sample:{seed}", {
        "seed": seed, "size": body.size, "rate": body.rate, "only_flagged": body.only_flagged,
        "unit": body.unit, "criterion": body.criterion, "population": len(population),
        "verdicts": [item["verdict_id"] for item in chosen]})
    return {"seed": seed, "population": len(population), "size": len(chosen),
            "only_flagged": body.only_flagged, "items": chosen}
