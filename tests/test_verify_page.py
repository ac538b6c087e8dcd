"""证照核验 (public): a genuine document number shows what was issued, by whom, to a masked holder; a forged
number — right shape, never issued — and garbage are told "not found" and show nothing else."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import i18n, issuing
from tests.factories import REVIEWED, advance, applicant_of, file_case

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "verify.py")


@pytest.fixture
def page_env(seeded_db, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("EZZ_DATABASE_URL", seeded_db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    yield seeded_db
    st.cache_resource.clear()


def _open(doc: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["doc"] = doc
    return at.run()


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_verify_page_genuine_forged_and_garbage(page_env):
    db, a = page_env, page_env.actors
    case = file_case(db, a["applicant"], item_code="4207-SCJG-003", applicant=applicant_of(db, a["applicant"]))
    case = advance(db, a, case, [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                 ("approve", "head"), ("complete", "officer")])
    genuine = _open(case["result_no"])
    assert not genuine.exception
    assert [s.value for s in genuine.success] == [i18n.t("verify.genuine")]
    shown = " ".join(t.value for t in genuine.text)
    assert case["result_no"] in shown
    assert case["applicant_name"] not in shown and case["applicant_id_number"] not in shown   # masked holder

    forged_no = case["result_no"][:-1] + ("0" if case["result_no"][-1] != "0" else "1")
    assert issuing.verify(db, forged_no) is None
    for doc in (forged_no, "<script>alert(1)</script>", "ZS-" + "9" * 40):
        at = _open(doc)
        assert not at.exception and not at.success and len(at.error) == 1
        assert at.error[0].value == i18n.t("verify.not_found")
        assert not at.text   # nothing else shown for a number that was never issued
