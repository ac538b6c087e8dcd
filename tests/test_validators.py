"""Identifier checks. Check characters in the comments are worked out by hand."""
from __future__ import annotations

from datetime import date

import pytest

from app.validators import (
    make_credit_code,
    make_resident_id,
    mask_id,
    normalize_id,
    validate_credit_code,
    validate_resident_id,
)

# Resident ID weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; check = "10X98765432"[sum mod 11].
#
# 11010519491231002X (the GB 11643 sample): 1·7 + 1·9 + 0 + 1·5 + 0 + 5·4 + 1·2 + 9·1 + 4·6 + 9·3
#   + 1·7 + 2·9 + 3·10 + 1·5 + 0 + 0 + 2·2 = 167; 167 mod 11 = 2 → 'X'
SAMPLE_ID = "11010519491231002X"
# 420704 (鄂城区) 1985-06-15 seq 123: 4·7 + 2·9 + 0 + 7·5 + 0 + 4·4 + 1·2 + 9·1 + 8·6 + 5·3 + 0
#   + 6·9 + 1·10 + 5·5 + 1·8 + 2·4 + 3·2 = 282; 282 mod 11 = 7 → '5'
EZHOU_ID = "420704198506151235"
# 420104 1990-01-01 seq 123: 28 + 18 + 0 + 5 + 0 + 16 + 2 + 9 + 54 + 0 + 0 + 9 + 0 + 5 + 8 + 8 + 6
#   = 168; 168 mod 11 = 3 → '9'. So the domain doc's mask example …1234 has a wrong check digit.
WUCHANG_ID = "420104199001011239"

# Credit code values 0–9, A=10 B C D E F G H J=18 K L M=21 N P Q R=25 T U W X Y=30;
# weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28; check = 31 − (sum mod 31), 31 → '0'.
#
# 91350100M000100Y43: 9 + 3 + 27 + 135 + 0 + 26 + 0 + 0 + M 21·20 + 0 + 0 + 0 + 8 + 0 + 0
#   + Y 30·30 + 4·28 = 1640; 1640 mod 31 = 28; 31 − 28 = 3 → '3'
SAMPLE_USCC = "91350100M000100Y43"
# 91420704MA49D4KL0: 9 + 3 + 36 + 54 + 0 + 182 + 0 + 68 + 420 + A 10·29 + 100 + 117 + D 13·8
#   + 96 + K 19·10 + L 20·30 + 0 = 2269; 2269 mod 31 = 6; 31 − 6 = 25 → 'R'
EZHOU_USCC = "91420704MA49D4KL0R"
# 91350100M000100Y3: as the sample but the 17th is 3·28 = 84 instead of 112 → 1612 = 52·31,
#   mod 31 = 0 → 31 → written '0'
ZERO_CHECK_USCC = "91350100M000100Y30"

TODAY = date(2026, 3, 11)


# ---- resident ID ----------------------------------------------------------------------------


@pytest.mark.parametrize("s", [SAMPLE_ID, EZHOU_ID, WUCHANG_ID])
def test_valid_resident_ids(s):
    assert validate_resident_id(s, today=TODAY) is None


@pytest.mark.parametrize(
    "seq, check",
    # 420704 19850615 weighs 260 ≡ 7 (mod 11) before the sequence; sequence digits weigh 8, 4, 2,
    # so "00c" adds 2c and "018" adds 4 + 16 = 20. Together they hit every remainder 0–10 once.
    [("000", "5"), ("001", "3"), ("002", "1"), ("003", "X"), ("004", "8"), ("005", "6"),
     ("006", "4"), ("007", "2"), ("008", "0"), ("009", "9"), ("018", "7")],
)
def test_every_check_character(seq, check):
    s = f"42070419850615{seq}{check}"
    assert validate_resident_id(s, today=TODAY) is None
    assert make_resident_id("420704", date(1985, 6, 15), int(seq)) == s


def test_lower_case_x_and_blanks_are_accepted():
    assert validate_resident_id("11010519491231002x", today=TODAY) is None
    assert validate_resident_id("  11010519491231002x ", today=TODAY) is None
    assert normalize_id(" 11010519491231002x ") == SAMPLE_ID


@pytest.mark.parametrize(
    "s",
    [
        "110105194912310021",   # X expected
        "420104199001011234",   # 9 expected (see WUCHANG_ID)
        "420704198506151236",   # 5 expected
        "420704198506151325",   # sequence digits swapped: weights 4 and 2 differ → sum changes
    ],
)
def test_bad_resident_id_checksum(s):
    assert validate_resident_id(s, today=TODAY) == "id.checksum"


@pytest.mark.parametrize(
    "s",
    [
        "420704198502301235",   # 30 February
        "420704198513011235",   # month 13
        "420704198506001235",   # day 0
        "420704189912311235",   # before 1900
        "420704202603121235",   # 2026-03-12: the day after TODAY
    ],
)
def test_bad_birth_dates(s):
    assert validate_resident_id(s, today=TODAY) == "id.birth"


def test_birth_today_is_allowed():
    assert validate_resident_id(make_resident_id("420704", TODAY, 1), today=TODAY) is None


@pytest.mark.parametrize("s", ["", "42070419850615123", "4207041985061512355", "420704850615123"])
def test_wrong_length(s):
    # the last is an old 15-digit ID: not accepted as an 18-digit one
    assert validate_resident_id(s, today=TODAY) == "id.length"


@pytest.mark.parametrize(
    "s",
    [
        "42070419850615123A",   # only X may be the check character
        "4207041985X6151235",   # X only in the last place
        "42070４198506151235",  # full-width digit
        "420704-98506151235",
    ],
)
def test_bad_resident_id_characters(s):
    assert validate_resident_id(s, today=TODAY) == "id.chars"


def test_make_resident_id():
    assert make_resident_id("110105", date(1949, 12, 31), 2) == SAMPLE_ID
    assert make_resident_id("420704", date(1985, 6, 15), 123) == EZHOU_ID
    with pytest.raises(ValueError):
        make_resident_id("42070", date(1985, 6, 15), 123)
    with pytest.raises(ValueError):
        make_resident_id("420704", date(1985, 6, 15), 1000)


# ---- unified social credit code -------------------------------------------------------------


@pytest.mark.parametrize("s", [SAMPLE_USCC, EZHOU_USCC, ZERO_CHECK_USCC, "91350100m000100y43 "])
def test_valid_credit_codes(s):
    assert validate_credit_code(s) is None


@pytest.mark.parametrize(
    "s",
    [
        "91350100M000100Y44",   # 3 expected
        "91350100M000100Y4A",
        "91350100M000100Y31",   # 0 expected (the 31 → '0' case)
        "91420704MA49D4KL0Q",   # R expected
        "91350100M001000Y43",   # two characters transposed
    ],
)
def test_bad_credit_code_checksum(s):
    assert validate_credit_code(s) == "uscc.checksum"


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_forbidden_letters(letter):
    assert validate_credit_code(f"91350100M000100{letter}43") == "uscc.chars"


def test_region_part_must_be_digits():
    assert validate_credit_code("9135A100M000100Y43") == "uscc.chars"


@pytest.mark.parametrize("s", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_credit_code_length(s):
    assert validate_credit_code(s) == "uscc.length"


def test_make_credit_code():
    assert make_credit_code("91350100M000100Y4") == SAMPLE_USCC
    assert make_credit_code("91420704MA49D4KL0") == EZHOU_USCC
    assert make_credit_code("91350100M000100Y3") == ZERO_CHECK_USCC
    # all zeros: sum 0 → 31 → '0'
    assert make_credit_code("0" * 17) == "0" * 18
    with pytest.raises(ValueError):
        make_credit_code("91350100M000100O4")  # O is not in the alphabet
    with pytest.raises(ValueError):
        make_credit_code("91350100M000100Y")


# ---- masking --------------------------------------------------------------------------------


def test_mask_id():
    assert mask_id("420104199001011234") == "4201**********1234"
    assert mask_id(SAMPLE_USCC) == "9135**********0Y43"
    assert mask_id(" 11010519491231002x") == "1101**********002X"
    # too short to keep 4 + 4 without showing everything
    assert mask_id("12345678") == "********"
