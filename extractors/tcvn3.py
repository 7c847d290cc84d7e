"""Legacy Vietnamese 8-bit encodings found in old PDF text layers: TCVN3 (ABC) and VNI.

Before Unicode, Vietnamese offices typed with ".VnTime"-style fonts (TCVN 5712:1993, "ABC")
or "VNI-Times" fonts. A PDF made from such a document has a text layer whose characters are
the font's byte codes read as Latin-1, e.g. "Céng hoµ x· héi" for "Cộng hoà xã hội".

TCVN3 (the VN3 level of TCVN 5712, the one ABC fonts implement) has precomposed *lowercase*
letters in 0xA8–0xFE and only seven capitals (Ă Â Ê Ô Ơ Ư Đ in 0xA1–0xA7). Capitals with a
tone mark were typed with the lowercase code in a caps font (".VnTimeH"), so the text layer
alone cannot tell "é" (ộ) from Ộ. The fuller VN1 level places the toned capitals in
0x80–0x9F, a few other high codes and the control range 0x01–0x17; we decode those too.

Choices made here:
- `encode_tcvn3(text)` writes VN3, as ABC fonts do: toned capitals become the lowercase code.
  `encode_tcvn3(text, full=True)` writes VN1 codes for them instead (lossless round trip).
- `decode_tcvn3(text)` restores capitals where the text shows they were meant: `caps=True`
  (the caller saw a caps font such as ".VnTimeH"); a word with two capitals or a capital after
  its toned letter ("CéNG" → "CỘNG", "ñY" → "ỦY", but "Hµ" → "Hà", "Sè:" → "Số:"); a
  one-capital word next to such a word ("HßA X· HéI" → "HÒA XÃ HỘI") or in a line of
  capitals without digits ("Së Y TÕ" → "SỞ Y TẾ"); the first letter of a word after ". ",
  "! " or "? ".
- "ư" is code 0xAD, the soft hyphen, which PDF text extraction often shows as "-": a hyphen
  touching a letter becomes "ư" when that makes a Vietnamese syllable ("n-íc" → "nước").
- In decoding, characters 0x80–0x9F are read only as raw C1 code points, never as their
  Windows-1252 forms (“ ” – …), because ABC documents use those as real punctuation.

So `decode_tcvn3(encode_tcvn3(s)) == s` for lowercase words, for the seven TCVN3 capitals,
for all-capital words, and for any text with `full=True` (except where the two decoding
guesses above apply: a letter after a full stop, a hyphen between letters).
"""

from __future__ import annotations

import functools
import re
import unicodedata

# VN3 lowercase letters and the seven capitals (ABC fonts).
_VN3 = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
    "à": 0xB5, "ả": 0xB6, "ã": 0xB7, "á": 0xB8, "ạ": 0xB9,
    "ằ": 0xBB, "ẳ": 0xBC, "ẵ": 0xBD, "ắ": 0xBE, "ặ": 0xC6,
    "ầ": 0xC7, "ẩ": 0xC8, "ẫ": 0xC9, "ấ": 0xCA, "ậ": 0xCB,
    "è": 0xCC, "ẻ": 0xCE, "ẽ": 0xCF, "é": 0xD0, "ẹ": 0xD1,
    "ề": 0xD2, "ể": 0xD3, "ễ": 0xD4, "ế": 0xD5, "ệ": 0xD6,
    "ì": 0xD7, "ỉ": 0xD8, "ĩ": 0xDC, "í": 0xDD, "ị": 0xDE,
    "ò": 0xDF, "ỏ": 0xE1, "õ": 0xE2, "ó": 0xE3, "ọ": 0xE4,
    "ồ": 0xE5, "ổ": 0xE6, "ỗ": 0xE7, "ố": 0xE8, "ộ": 0xE9,
    "ờ": 0xEA, "ở": 0xEB, "ỡ": 0xEC, "ớ": 0xED, "ợ": 0xEE,
    "ù": 0xEF, "ủ": 0xF1, "ũ": 0xF2, "ú": 0xF3, "ụ": 0xF4,
    "ừ": 0xF5, "ử": 0xF6, "ữ": 0xF7, "ứ": 0xF8, "ự": 0xF9,
    "ỳ": 0xFA, "ỷ": 0xFB, "ỹ": 0xFC, "ý": 0xFD, "ỵ": 0xFE,
}

# VN1 additions: capitals with a tone mark (TCVN 5712:1993 level 1, as in glibc's TCVN5712-1).
_VN1_CAPITALS = {
    "Ú": 0x01, "Ụ": 0x02, "Ừ": 0x04, "Ử": 0x05, "Ữ": 0x06,
    "Ứ": 0x11, "Ự": 0x12, "Ỳ": 0x13, "Ỷ": 0x14, "Ỹ": 0x15, "Ý": 0x16, "Ỵ": 0x17,
    "À": 0x80, "Ả": 0x81, "Ã": 0x82, "Á": 0x83, "Ạ": 0x84, "Ặ": 0x85, "Ậ": 0x86,
    "È": 0x87, "Ẻ": 0x88, "Ẽ": 0x89, "É": 0x8A, "Ẹ": 0x8B, "Ệ": 0x8C,
    "Ì": 0x8D, "Ỉ": 0x8E, "Ĩ": 0x8F, "Í": 0x90, "Ị": 0x91,
    "Ò": 0x92, "Ỏ": 0x93, "Õ": 0x94, "Ó": 0x95, "Ọ": 0x96, "Ộ": 0x97,
    "Ờ": 0x98, "Ở": 0x99, "Ỡ": 0x9A, "Ớ": 0x9B, "Ợ": 0x9C,
    "Ù": 0x9D, "Ủ": 0x9E, "Ũ": 0x9F,
    "Ằ": 0xAF, "Ẳ": 0xBA, "Ẵ": 0xBF, "Ắ": 0xC0,
    "Ầ": 0xC1, "Ẩ": 0xC2, "Ẫ": 0xC3, "Ấ": 0xC4, "Ề": 0xC5, "Ể": 0xCD,
    "Ễ": 0xD9, "Ế": 0xDA, "Ồ": 0xDB, "Ổ": 0xE0, "Ỗ": 0xF0, "Ố": 0xFF,
}

_ENCODE_VN3 = {u: chr(b) for u, b in _VN3.items()}
_ENCODE_VN1 = {**_ENCODE_VN3, **{u: chr(b) for u, b in _VN1_CAPITALS.items()}}
_DECODE = {chr(b): u for u, b in {**_VN3, **_VN1_CAPITALS}.items()}
# The seven capitals as VN3 codes: evidence that a word was typed in capitals.
_TCVN3_CAPITAL_CODES = {chr(b) for u, b in _VN3.items() if u.isupper()}
_TCVN3_LOWER_CODES = {chr(b) for u, b in _VN3.items() if u.islower()}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def encode_tcvn3(text: str, *, full: bool = False) -> str:
    """Unicode → TCVN3 bytes shown as Latin-1 characters (what a PDF text layer shows).

    Toned capitals become the lowercase code (as typed in a ".VnTimeH" caps font) unless
    `full`, which uses the VN1 capital codes. Other characters are kept as they are.
    """
    table = _ENCODE_VN1 if full else _ENCODE_VN3
    out = []
    for ch in nfc(text):
        code = table.get(ch)
        if code is None and ch.isupper() and ch.lower() in table:
            code = table[ch.lower()]
        out.append(code if code is not None else ch)
    return "".join(out)


# ASCII whitespace only: 0x85 (NEL) is a TCVN3 capital code, not a space.
_WORD = re.compile(r"[^ \t\n\r\f\v]+")


def _capitals_in(word: str) -> int:
    return sum(1 for ch in word if ("A" <= ch <= "Z") or ch in _TCVN3_CAPITAL_CODES)


def _has_lower_ascii(word: str) -> bool:
    return any("a" <= ch <= "z" for ch in word)


def _is_capital(ch: str) -> bool:
    return "A" <= ch <= "Z" or ch in _TCVN3_CAPITAL_CODES


def _capital_word(word: str) -> bool:
    """A word with a toned letter typed in capitals: "CéNG", "ñY", "§éC" (but not "Sè")."""
    toned = [i for i, ch in enumerate(word) if ch in _TCVN3_LOWER_CODES]
    if not toned or _has_lower_ascii(word):
        return False
    return _capitals_in(word) >= 2 or any(_is_capital(ch) for ch in word[toned[0]:])


def _initial_capital_word(word: str) -> bool:
    """"X·", "Sè": one capital, then toned letters; capitals or not, the line decides."""
    return (any(ch in _TCVN3_LOWER_CODES for ch in word) and not _has_lower_ascii(word)
            and _capitals_in(word) == 1)


def _restore_u_horn(word: str) -> str:
    """Put back "ư" (code 0xAD, the soft hyphen) that PDF extraction shows as "-".

    Done for a hyphen touching a letter when that makes a syllable: "n-íc" → "nưíc" (nước),
    "-¬ng" → "ư¬ng" (ương); "15/KH-UBND" and "Hue-S" stay as they are.
    """
    if "-" not in word:
        return word
    candidate = "".join(
        "\xad" if ch == "-" and _touches_letter(word, i) else ch for i, ch in enumerate(word))
    if candidate != word and is_vietnamese_syllable(_decode_chars(candidate)):
        return candidate
    return word


def _touches_letter(word: str, i: int) -> bool:
    return any(0 <= j < len(word) and (word[j].isalpha() or word[j] in _DECODE)
               for j in (i - 1, i + 1))


def _decode_chars(word: str) -> str:
    return "".join(_DECODE.get(ch, ch) for ch in word)


@functools.lru_cache(maxsize=65536)    # the encoding test decodes every word of each page
def decode_tcvn3(text: str, *, caps: bool = False) -> str:
    """TCVN3 text (bytes shown as Latin-1 characters) → Unicode, NFC.

    `caps`: the text was set in a caps font (".VnTimeH"): everything is upper case.
    Capitals are guessed line by line (see the module notes).
    """
    return nfc("".join(_decode_line(line, caps) for line in text.splitlines(keepends=True)))


def _decode_line(text: str, caps: bool) -> str:
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    words = [_restore_u_horn(text[a:b]) for a, b in spans]
    capital = [caps or _capital_word(w) for w in words]
    capital_line = _capital_line(words, capital)
    out, pos = [], 0
    for i, ((a, b), word) in enumerate(zip(spans, words)):
        out.append(text[pos:a])
        upper = capital[i]
        if not upper and _initial_capital_word(word):
            # "X·" among capital words, as in "HßA X· HéI"; "Sè:" before "15/KH" stays "Số:".
            upper = (capital_line or (i > 0 and capital[i - 1])
                     or (i + 1 < len(words) and capital[i + 1]))
        decoded = _decode_chars(word)
        if upper:
            decoded = decoded.upper()
        elif word[0] in _TCVN3_LOWER_CODES and i > 0 and words[i - 1][-1] in ".!?":
            # A sentence (or "9. Ứng dụng …") starts with a capital that VN3 cannot show.
            decoded = decoded[0].upper() + decoded[1:]
        out.append(decoded)
        pos = b
    out.append(text[pos:])
    return "".join(out)


def _capital_line(words: list[str], capital: list[bool]) -> bool:
    """A line of capitals only, with no digits, and at least one word that is plainly capitals
    ("Së Y TÕ" is "SỞ Y TẾ"; "Hµ Néi" stays "Hà Nội", "Sè: 15/KH" stays "Số: 15/KH")."""
    lettered = [w for w in words if any(ch.isalpha() or ch in _DECODE for ch in w)]
    if len(lettered) < 2 or any(ch.isdigit() for w in words for ch in w):
        return False
    if any(_has_lower_ascii(w) for w in lettered):
        return False
    plain_capitals = any(w.isascii() and w.isalpha() and w.isupper() for w in lettered)
    return plain_capitals or any(capital)


# --- VNI (VNI-Times fonts): a base letter followed by a mark byte --------------------------

_TONES = {"sac": "\u0301", "huyen": "\u0300", "hoi": "\u0309", "nga": "\u0303", "nang": "\u0323"}
# Mark bytes after a, e, o, u, y, ô(ơ), ö(ư) carrying a tone only.
_VNI_TONE = {"ù": "sac", "ø": "huyen", "û": "hoi", "õ": "nga", "ï": "nang"}
# Mark bytes after a, e, o carrying the circumflex and a tone; after a: breve and a tone.
_VNI_HAT = {"â": None, "á": "sac", "à": "huyen", "å": "hoi", "ã": "nga", "ä": "nang"}
_VNI_BREVE = {"ê": None, "é": "sac", "è": "huyen", "ú": "hoi", "ü": "nga", "ë": "nang"}
_VNI_SINGLE = {"ô": "ơ", "ö": "ư", "ñ": "đ", "í": "í", "ì": "ì", "æ": "ỉ", "ó": "ĩ", "ò": "ị",
               "î": "ỵ"}


def _vni_pairs() -> dict[str, str]:
    pairs: dict[str, str] = {}
    for base in "aeouy":
        for mark, tone in _VNI_TONE.items():
            pairs[base + mark] = nfc(base + _TONES[tone])
    for base in "aeo":
        for mark, hat_tone in _VNI_HAT.items():
            pairs[base + mark] = nfc(base + "\u0302" + (_TONES[hat_tone] if hat_tone else ""))
    for mark, breve_tone in _VNI_BREVE.items():
        pairs["a" + mark] = nfc("a\u0306" + (_TONES[breve_tone] if breve_tone else ""))
    for base, unicode_base in (("ô", "ơ"), ("ö", "ư")):
        for mark, tone in _VNI_TONE.items():
            pairs[base + mark] = nfc(unicode_base + _TONES[tone])
    # Capitals use the upper-case forms of both the letter and the mark byte.
    pairs.update({k.upper(): v.upper() for k, v in list(pairs.items())})
    return pairs


_VNI_PAIRS = _vni_pairs()
_VNI_SINGLES = {**_VNI_SINGLE, **{k.upper(): v.upper() for k, v in _VNI_SINGLE.items()}}
_VNI_PATTERN = re.compile("|".join(sorted(map(re.escape, _VNI_PAIRS), key=len, reverse=True)
                                   + [re.escape(k) for k in _VNI_SINGLES]))


@functools.lru_cache(maxsize=65536)
def decode_vni(text: str) -> str:
    """VNI text (bytes shown as Latin-1 characters) → Unicode, NFC. Best effort."""
    # The pattern matches only keys of the two tables; the pairs' values are never empty.
    return nfc(_VNI_PATTERN.sub(lambda m: _VNI_PAIRS.get(m.group()) or _VNI_SINGLES[m.group()],
                                text))


# --- Vietnamese syllables -----------------------------------------------------------------

_TONE_MARKS = set(_TONES.values())
# Vowel nuclei (with any semivowel ending) of Vietnamese syllables, tone marks removed.
_NUCLEI = ("a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi ôi ơi oo ua "
           "uâ uê ui uô uơ uy ưa ưi ưu ươ yê iêu oai oao oay oeo uây uôi uya uyê uyu ươi ươu "
           "yêu").split()
_SYLLABLE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    "(" + "|".join(sorted(_NUCLEI, key=len, reverse=True)) + ")"
    r"(ch|nh|ng|[cmnpt])?")
_EDGE_PUNCTUATION = "\"'()[]{}<>,.;:!?-–—…“”‘’/*_=+"


@functools.lru_cache(maxsize=65536)     # a page repeats its words; pages repeat each other's
def is_vietnamese_syllable(word: str) -> bool:
    """Whether a word (punctuation at its edges ignored) spells a Vietnamese syllable."""
    word = word.strip(_EDGE_PUNCTUATION)
    if not word:
        return False
    decomposed = unicodedata.normalize("NFD", word.lower())
    if sum(1 for ch in decomposed if ch in _TONE_MARKS) > 1:
        return False
    base = nfc("".join(ch for ch in decomposed if ch not in _TONE_MARKS))
    return _SYLLABLE.fullmatch(base) is not None


@functools.lru_cache(maxsize=8)    # a page's text is judged three ways (TCVN3, VNI, Unicode)
def _non_ascii_words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _WORD.findall(nfc(text)) if not w.isascii())


_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")


def _legacy_score(text: str, decode) -> float:
    """Share of the telling non-ASCII words that are Vietnamese only once decoded.

    A word valid both as it is and decoded ("céng" is both a Unicode syllable and TCVN3 for
    "cộng") tells nothing and is left out; a letter beyond Latin-1 cannot come from an
    8-bit font, so such a valid word counts for Unicode.
    """
    legacy = other = 0
    for word in _non_ascii_words(text):
        as_is = is_vietnamese_syllable(word)
        if as_is and _BEYOND_LATIN1.search(word):
            other += 1          # valid Unicode beyond Latin-1: no need to decode it
            continue
        decoded = is_vietnamese_syllable(decode(word))
        if as_is and decoded:
            continue
        if decoded and not as_is:
            legacy += 1
        else:
            other += 1
    return legacy / (legacy + other) if legacy + other else 0.0


def looks_like_tcvn3(text: str) -> float:
    """0..1: share of the words with non-ASCII letters that only make Vietnamese syllables once
    decoded from TCVN3. Unicode Vietnamese scores near 0, a TCVN3 text layer near 1."""
    return _legacy_score(text, decode_tcvn3)


def looks_like_vni(text: str) -> float:
    """0..1: the same score for VNI ("Coäng hoøa" for "Cộng hòa")."""
    return _legacy_score(text, decode_vni)


def unicode_vietnamese_share(text: str) -> float:
    """0..1: share of the words with non-ASCII letters that are Vietnamese syllables as they are."""
    words = _non_ascii_words(text)
    if not words:
        return 0.0
    return sum(1 for w in words if is_vietnamese_syllable(w)) / len(words)
