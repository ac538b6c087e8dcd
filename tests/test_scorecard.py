"""The leadership's weekly scorecard: the page, the XLSX and the PDF say the same thing (read back: openpyxl and
pdftotext), for a week picked on the page."""
from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import scorecard, timeutil
from pipelines import marts
from tests.factories import REVIEWED, advance, applicant_of, file_case
from tests.test_documents import pdf_text

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "scorecard.py")


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)   # the marts are checked on both in test_marts
def test_page_xlsx_and_pdf_match(seeded_db, monkeypatch):
    db, a = seeded_db, seeded_db.actors
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    last_week = timeutil.now() - timedelta(days=7)
    for _ in range(2):
        case = file_case(db, a["applicant"], at=last_week, applicant=applicant_of(db, a["applicant"]))
        advance(db, a, case, [("accept", "officer"), ("start_review", "officer"), *REVIEWED, ("approve", "head"),
                              ("complete", "officer")], at=last_week)
    marts.build(db)

    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ezz_actor"] = a["leader"]
    at.run()
    assert not at.exception
    week = at.selectbox(key="sc-week").value
    card = scorecard.build(db, week)
    shown = {h.value: df.value for h, df in zip([x for x in at.subheader if x.value in ("概况", "排名")],
                                                 at.dataframe, strict=False)}
    ranking = shown["排名"]
    assert "鄂州市市场监督管理局" in ranking["部门"].tolist()

    book = openpyxl.load_workbook(io.BytesIO(scorecard.to_xlsx(card)), read_only=True)
    assert book.sheetnames == ["概况", "排名", "红灯办件", "红黄牌"]
    rows = list(book["排名"].iter_rows(values_only=True))
    assert list(rows[0]) == list(ranking.columns)
    assert [r[1] for r in rows[1:]] == ranking["部门"].tolist()
    assert [float(r[2]) for r in rows[1:]] == [float(x) for x in ranking["综合得分"].tolist()]
    figures = list(book["概况"].iter_rows(values_only=True))
    assert [list(r) for r in figures[1:]] == shown["概况"].values.tolist()

    text = pdf_text(scorecard.to_pdf(card), layout=False)
    assert "每周计分卡" in text
    for name, score in zip(ranking["部门"], ranking["综合得分"], strict=True):
        assert name in text and f"{score:.1f}" in text

    head = AppTest.from_file(PAGE, default_timeout=60)
    head.session_state["ezz_actor"] = a["head"]   # a department head does not read the city's scorecard
    head.run()
    assert not any(getattr(x, "key", None) == "sc-week" for x in head.selectbox)
    st.cache_resource.clear()
