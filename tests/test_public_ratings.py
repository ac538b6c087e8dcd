"""评价公示 (public): ratings by week, 好差评 counts, published bad-review handling, service measures — and no
personal data anywhere on the page."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import alarms, applications, public_ratings, timeutil
from pipelines import marts
from tests.factories import REVIEWED, advance, applicant_of, file_case

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "ratings.py")


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)   # the marts are checked on both in test_marts
def test_public_page_shows_ratings_and_handling_but_no_personal_data(seeded_db, monkeypatch):
    db, a = seeded_db, seeded_db.actors
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    last_week = timeutil.now() - timedelta(days=8)
    case = file_case(db, a["applicant"], at=last_week, applicant=applicant_of(db, a["applicant"]))
    case = advance(db, a, case, [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                 ("approve", "head"), ("complete", "officer")], at=last_week)
    applications.rate(db, a["applicant"], case["case_id"], expected_version=case["version"], level=2,
                      comment="等了很久，张三不满意")
    alarms.handle_followup(db, a["officer"], case["case_id"], verification="电话回访属实",
                           rectification="增加窗口并公示办理进度", answer="已致歉并说明改进措施", publish=True)
    marts.build(db)

    at = AppTest.from_file(PAGE, default_timeout=60).run()   # nobody signed in
    assert not at.exception
    shown = " ".join(df.value.to_string() for df in at.dataframe) + " ".join(
        str(x.value) for x in [*at.markdown, *at.caption, *at.metric, *at.text])
    assert "增加窗口并公示办理进度" in shown                                  # the published handling
    assert "鄂州市市场监督管理局" in shown                                    # by department
    person = applicant_of(db, a["applicant"])
    for private in (person.name, person.id_number, person.id_number[-4:], case["case_no"], "张三不满意"):
        assert private not in shown, private
    # as the browser draws them: a missing score as a dash (not "None"), the review rates as percentages
    assert all(df.proto.placeholder == "—" for df in at.dataframe)
    formats = {name: column.get("type_config", {}).get("format")
               for df in at.dataframe for name, column in json.loads(df.proto.columns).items()}
    assert formats["好评率"] == formats["差评率"] == "percent"
    assert public_ratings.rating_weeks(db)                                   # a complete week is published
    counts = public_ratings.review_counts(db)
    row = counts.filter(counts["department"] == "鄂州市市场监督管理局").row(0, named=True)
    assert row["bad"] >= 1 and 0 < row["bad_rate"] <= 1
    st.cache_resource.clear()


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_ratings_are_published_by_week_and_by_month(seeded_db, monkeypatch):
    """A complete month is published beside the weeks; a period still running is not; grades read in English."""
    db, a = seeded_db, seeded_db.actors
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    today = timeutil.today()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=10)
    at_time = timeutil.now().replace(year=last_month.year, month=last_month.month, day=10)
    case = advance(db, a, file_case(db, a["applicant"], at=at_time), [
        ("accept", "officer"), ("start_review", "officer"), *REVIEWED, ("approve", "head"), ("complete", "officer")],
        at=at_time)
    marts.build(db)
    months = public_ratings.rating_periods(db, "month")
    assert last_month.replace(day=1) in months and today.replace(day=1) not in months
    frame = public_ratings.department_ratings(db, last_month.replace(day=1), "month", "en")
    row = frame.filter(frame["department"] == "鄂州市市场监督管理局").row(0, named=True)
    assert row["completed"] >= 1 and row["grade"] in ("Excellent", "Good", "Pass", "Fail")

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="ratings-kind").set_value("month").run()
    assert not at.exception
    assert at.selectbox(key="ratings-month").value == months[0]
    assert case["case_no"] not in " ".join(df.value.to_string() for df in at.dataframe)
    st.cache_resource.clear()
