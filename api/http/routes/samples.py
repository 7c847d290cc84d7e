"""Auditor sampling over the API; the draw itself is `api.sampling.draw_sample`, shared with
the pages."""

from __future__ import annotations

from fastapi import APIRouter

from kiemchung.api import sampling
from kiemchung.api.http.deps import Auditor, StoreDep
from kiemchung.api.http.schemas import SampleCreate, SamplePublic

router = APIRouter(prefix="/samples", tags=["samples"])


@router.post("", status_code=201, response_model=SamplePublic,
             summary="Draw a reproducible random sample (auditor, admin)")
def draw_sample(body: SampleCreate, key: Auditor, store: StoreDep):
    return sampling.draw_sample(store, key.id, size=body.size, rate=body.rate, seed=body.seed,
                                only_flagged=body.only_flagged, unit=body.unit,
                                criterion=body.criterion)
