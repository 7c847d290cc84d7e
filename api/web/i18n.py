"""The pages speak Vietnamese; English is the second locale. Templates and routes write the
Vietnamese text itself and pass it through `translate`; `locales/en/*.json` map it to English
(one file per area of the pages). A text without an English entry stays Vietnamese."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from kiemchung.models.document import nfc

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LOCALE_COOKIE = "kc_lang"
_HERE = Path(__file__).parent / "locales"


@functools.cache
def catalogue(locale: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((_HERE / locale).glob("*.json")):
        merged.update({nfc(vi): text for vi, text in json.loads(path.read_text("utf-8")).items()})
    return merged


def translate(text: str, locale: str) -> str:
    if locale == DEFAULT_LOCALE:
        return text
    return catalogue(locale).get(nfc(text), text)


def locale_of(cookie: str | None) -> str:
    return cookie if cookie in LOCALES else DEFAULT_LOCALE
