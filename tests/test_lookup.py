"""Public progress look-up: the right pair shows progress and nothing personal; a wrong number and a wrong
pair get the same answer; guessing is rate-limited in the database."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import lookup
from tests.factories import file_case

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "lookup.py")


def test_progress_by_number_and_id_tail(seeded_db):
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    tail = case["applicant_id_number"][-4:]
    result = lookup.progress(seeded_db, case["case_no"], tail.lower(), client="t1")
    assert result.state == "submitted" and result.promised_due == case["promised_due"]
    assert [s["action"] for s in result.steps] == ["submit"]
    assert case["applicant_id_number"] not in repr(result) and case["applicant_name"] not in repr(result)


def test_wrong_number_and_wrong_pair_get_the_same_answer(seeded_db):
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    wrong_tail = "0000" if not case["applicant_id_number"].endswith("0000") else "1111"
    answers = []
    for number, tail in ((case["case_no"], wrong_tail), ("420700-20990101-999999", case["applicant_id_number"][-4:])):
        with pytest.raises(lookup.LookupRefused) as err:
            lookup.progress(seeded_db, number, tail, client="t2")
        answers.append(err.value.key)
    assert answers == ["lookup.no_match", "lookup.no_match"]


def test_guessing_is_rate_limited(seeded_db):
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    for n in range(lookup.MAX_FAILURES_PER_HOUR):
        with pytest.raises(lookup.LookupRefused):
            lookup.progress(seeded_db, case["case_no"], f"{n:04d}" if not case["applicant_id_number"].endswith(f"{n:04d}") else "ZZZZ", client=f"c{n}")
    with pytest.raises(lookup.LookupRefused) as err:  # now even the right pair waits
        lookup.progress(seeded_db, case["case_no"], case["applicant_id_number"][-4:], client="other")
    assert err.value.key == "lookup.too_many"


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_lookup_page(seeded_db, monkeypatch):
    monkeypatch.setenv("EZZ_DATABASE_URL", seeded_db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["case"] = case["case_no"]
    at.run()
    assert at.text_input(key="lookup_case").value == case["case_no"]  # the QR code fills it in
    at.text_input(key="lookup_tail").input(case["applicant_id_number"][-4:])
    at.button[0].click().run()
    assert not at.error
    assert any(m.value == "已提交" for m in at.metric)
