"""指标探索: the explorer's figures against the case table itself, each drill step's groups adding up to the step
above, and the page driven from the city to a village and on to a case's record."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import calendar_store, explorer
from app import schema as s
from pipelines import demo, marts

BUILD_DAY = date(2026, 11, 26)
PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "explorer.py")


@pytest.fixture(scope="module")
def history(tmp_path_factory):  # noqa: ANN201
    from tests.conftest import drop_database, make_database

    db = make_database("duckdb", tmp_path_factory.mktemp("explore"))
    db.migrate()
    demo.generate(db, cases=1200, seed=11, end=BUILD_DAY)
    calendar_store.invalidate()
    marts.build(db, build_day=BUILD_DAY)
    yield db
    drop_database(db)
    calendar_store.invalidate()


def test_groups_match_the_cases_and_add_up(history):
    q = explorer.Query(start=date(2025, 1, 1), end=BUILD_DAY)
    top = explorer.explore(history, q)
    from collections import Counter

    with history.read() as conn:
        regions = conn.execute(sa.select(s.cases.c.region_code).where(
            s.cases.c.state != "draft", s.cases.c.submitted_at >= date(2025, 1, 1))).scalars().all()
    by_district = dict(Counter(r[:6] for r in regions))
    assert dict(zip(top["key"].to_list(), top["received"].to_list(), strict=True)) == by_district
    district = top["key"][0]
    q.drill.append(("district_code", district))
    towns = explorer.explore(history, q)
    assert towns["received"].sum() <= top.filter(top["key"] == district)["received"][0]
    assert set(towns["name"].to_list()) - {None} and all(k.startswith(district) for k in towns["key"].to_list())


def test_a_supervisor_drills_from_the_city_to_a_village_and_a_case(history, monkeypatch):
    from tests.factories import create_users

    monkeypatch.setenv("EZZ_DATABASE_URL", history.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    actors = create_users(history)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ezz_actor"] = actors["supervisor"]
    at.run()
    at.date_input(key="ex-period").set_value((date(2025, 1, 1), BUILD_DAY)).run()
    for _ in range(3):   # the city's districts → a district's towns → a town's villages → a village's cases
        at.button(key="ex-drill-go").click().run()
        assert not at.exception
    assert at.caption[0].value.count("›") == 3            # 全市 › 区 › 乡镇街道 › 村社区
    assert any(df.value.shape[0] >= 1 for df in at.dataframe)
    assert at.selectbox(key="ex-case").value                # a case to open
    st.cache_resource.clear()


def test_the_department_path_drills_to_an_officers_cases(history):
    """department → officer → case: the officer's groups add up to the department's, and the officer's case
    list is exactly that officer's cases of the period (the officer is compared as a number)."""
    q = explorer.Query(start=date(2025, 1, 1), end=BUILD_DAY, path="department")
    top = explorer.explore(history, q)
    dept = top["key"][0]
    q.drill.append(("dept_code", dept))
    officers = explorer.explore(history, q)
    assert officers["received"].sum() <= top.filter(top["key"] == dept)["received"][0]
    officer = officers["key"][0]
    q.drill.append(("officer_user_id", officer))
    cases = explorer.explore(history, q)
    expected = marts.read(history, "SELECT n.case_no FROM marts.fct_case JOIN marts.case_numbers AS n USING (case_id) "
                                   "WHERE CAST(officer_user_id AS VARCHAR) = ? AND dept_code = ? "
                                   "AND submitted_day BETWEEN ? AND ?", [officer, dept, date(2025, 1, 1), BUILD_DAY])
    assert cases.height == min(500, expected.height) == officers["received"][0]
    assert set(cases["key"].to_list()) <= set(expected["case_no"].to_list())
    q.drill[-1] = ("officer_user_id", f"0{officer}")   # not an id's text: nothing, as the text comparison gave
    assert explorer.explore(history, q).is_empty()
