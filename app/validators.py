"""Identifier checks: resident ID (GB 11643-1999) and unified social credit code (GB 32100-2015).

Validators return None when the value is valid, else a short error key ("id.checksum", …) for the
UI to translate. Both accept surrounding blanks and lower case, as people type them.
"""
from __future__ import annotations

import re
from datetime import date

__all__ = [
    "normalize_id",
    "validate_resident_id",
    "validate_credit_code",
    "mask_id",
    "make_resident_id",
    "make_credit_code",
    "resident_id_check_char",
    "credit_code_check_char",
]

# ---- resident ID: ISO 7064 MOD 11-2 -----------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"\d{17}[\dX]")

# ---- credit code: MOD 31 over a 31-character alphabet -----------------------------------------

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I O S V Z: they read as 1 0 5 U 2
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^i mod 31


def normalize_id(s: str) -> str:
    """Strip blanks and upper-case (so a typed 'x' check character becomes 'X')."""
    return (s or "").strip().upper()


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def validate_resident_id(s: str, today: date | None = None) -> str | None:
    """None if ``s`` is a valid 18-character resident ID, else "id.length" / "id.chars" /
    "id.birth" / "id.checksum". ``today`` bounds the birth date (default: the real today)."""
    v = normalize_id(s)
    if len(v) != 18:
        return "id.length"
    if not _ID_SHAPE.fullmatch(v) or not v.isascii():
        return "id.chars"
    try:
        birth = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "id.birth"
    if birth.year < 1900 or birth > (today or date.today()):
        return "id.birth"
    if resident_id_check_char(v[:17]) != v[17]:
        return "id.checksum"
    return None


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]  # a result of 31 is written '0'


def validate_credit_code(s: str) -> str | None:
    """None if ``s`` is a valid unified social credit code, else "uscc.length" / "uscc.chars" /
    "uscc.checksum". The embedded organisation code's own check (GB 11714) is not tested."""
    v = normalize_id(s)
    if len(v) != 18:
        return "uscc.length"
    if any(c not in _USCC_VALUE for c in v) or not v[2:8].isdigit():
        return "uscc.chars"
    if credit_code_check_char(v[:17]) != v[17]:
        return "uscc.checksum"
    return None


def mask_id(s: str) -> str:
    """Keep the first 4 and last 4 characters, star the rest (4201**********1234).

    Anything 8 characters or shorter is starred entirely: keeping 4+4 would show all of it.
    """
    v = normalize_id(s)
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def make_resident_id(region6: str, birth: date, seq3: int) -> str:
    """Build a resident ID with its check character (for demo data and tests)."""
    if not (len(region6) == 6 and region6.isdigit() and region6.isascii()):
        raise ValueError("region code must be 6 digits")
    if not 0 <= seq3 <= 999:
        raise ValueError("sequence must be 0..999")
    first17 = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    if len(first17) != 17:
        raise ValueError("birth year must have 4 digits")
    return first17 + resident_id_check_char(first17)


def make_credit_code(prefix17_without_check: str) -> str:
    """Append the check character to a 17-character credit code prefix."""
    v = normalize_id(prefix17_without_check)
    if len(v) != 17:
        raise ValueError("credit code prefix must be 17 characters")
    bad = [c for c in v if c not in _USCC_VALUE]
    if bad:
        raise ValueError(f"characters not allowed in a credit code: {''.join(bad)}")
    if not v[2:8].isdigit():
        raise ValueError("positions 3-8 (region code) must be digits")
    return v + credit_code_check_char(v)
