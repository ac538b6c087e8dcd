"""The leadership's weekly scorecard: the page, the XLSX and the PDF say the same thing (read back: openpyxl and
pdftotext), for a week picked on the page, in Chinese and in English (every header from the catalogue)."""
from __future__ import annotations

import io
import math
import re
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import alarms, scorecard, timeutil
from app.i18n import t
from pipelines import marts
from app.supervision import recompute_warning_levels
from tests.factories import REVIEWED, advance, applicant_of, file_case
from tests.test_documents import pdf_text

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "scorecard.py")


def _rows(frame) -> list[list]:  # noqa: ANN001
    """A shown (pandas) table's rows, an empty cell as None."""
    return [[None if isinstance(v, float) and math.isnan(v) else v for v in r] for r in frame.values.tolist()]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)   # the marts are checked on both in test_marts
def test_page_xlsx_and_pdf_match(seeded_db, monkeypatch, lang):
    db, a = seeded_db, seeded_db.actors
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    last_week = timeutil.now() - timedelta(days=7)
    for _ in range(2):
        case = file_case(db, a["applicant"], at=last_week, applicant=applicant_of(db, a["applicant"]))
        advance(db, a, case, [("accept", "officer"), ("start_review", "officer"), *REVIEWED, ("approve", "head"),
                              ("complete", "officer")], at=last_week)
    # the week's red case (its intake window long past) and a card
    file_case(db, a["applicant"], at=last_week - timedelta(days=30), applicant=applicant_of(db, a["applicant"]))
    recompute_warning_levels(db, today=last_week.date())
    alarms.recompute(db, today=last_week.date(), at=last_week)
    timeutil.freeze(last_week)
    try:
        alarms.issue_card(db, a["supervisor"], color="yellow", dept_code="SCJG", reason="超期未办结，责令整改")
    finally:
        timeutil.freeze(None)
    marts.build(db)

    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ezz_actor"] = a["leader"]
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    week = at.selectbox(key="sc-week").value
    card = scorecard.build(db, week)
    overview, ranking_sheet, *others = names = [t(f"scorecard.sheet_{part}", lang) for part in scorecard.SHEETS]
    assert [x.value for x in at.subheader] == names and at.title[0].value == t("page.scorecard", lang)
    shown = {h.value: df.value for h, df in zip(at.subheader, at.dataframe, strict=True)}   # every table has rows
    department, score = t("scorecard.col_department", lang), t("scorecard.col_score", lang)
    ranking = shown[ranking_sheet]
    assert "鄂州市市场监督管理局" in ranking[department].tolist()
    tables = scorecard.sheets(card, lang)
    assert [title for title, _ in tables] == names
    for title, frame in tables:   # the page shows the tables the exports are made of
        assert list(shown[title].columns) == frame.columns and _rows(shown[title]) == [list(r) for r in frame.rows()]
    headers = [c for _, frame in tables for c in frame.columns]
    assert {t(f"scorecard.col_{c}", lang) for c in scorecard.RANKING_COLUMNS} <= set(headers)
    if lang == "en":   # no Chinese but the data's own (department and item names, reasons)
        assert all(x.isascii() for x in names + headers)
        grades = ranking[t("scorecard.col_grade", lang)].tolist()
        assert all(x.isascii() for x in shown[overview].values[:, 0].tolist() + grades)

    book = openpyxl.load_workbook(io.BytesIO(scorecard.to_xlsx(card, lang)), read_only=True)
    assert book.sheetnames == names
    rows = list(book[ranking_sheet].iter_rows(values_only=True))
    assert list(rows[0]) == list(ranking.columns)
    assert [list(r) for r in rows[1:]] == _rows(ranking)
    assert [float(r[2]) for r in rows[1:]] == [float(x) for x in ranking[score].tolist()]
    figures = list(book[overview].iter_rows(values_only=True))
    assert [list(r) for r in figures] == [list(shown[overview].columns), *_rows(shown[overview])]
    for title, frame in tables[2:]:
        assert [["" if v is None else v for v in r] for r in book[title].iter_rows(values_only=True)] == \
            [frame.columns, *_rows(shown[title])]   # (an empty text cell reads back as None)
    assert set(shown[others[1]][t("scorecard.col_color", lang)]) == {t("card.yellow", lang)}

    text = pdf_text(scorecard.to_pdf(card, lang), layout=False)   # white space removed
    said = [t("page.scorecard", lang), t("scorecard.weights", lang, e=40, q=30, s=30), t("scorecard.page_footer", lang, page=1, pages=1),
            *(t(f"scorecard.h_{part}", lang) for part in scorecard.SHEETS), *headers]
    assert [x for x in said if re.sub(r"\s+", "", x) not in text] == []
    if lang == "en":
        assert "第1页" not in text
    for name, value, grade in zip(ranking[department], ranking[score], ranking[t("scorecard.col_grade", lang)],
                                  strict=True):
        assert name in text and f"{value:.1f}" in text and grade in text
    for title, frame in tables[2:]:
        assert all(re.sub(r"\s+", "", str(v)) in text for row in frame.rows() for v in row), title

    head = AppTest.from_file(PAGE, default_timeout=60)
    head.session_state["ezz_actor"] = a["head"]   # a department head does not read the city's scorecard
    head.run()
    assert not any(getattr(x, "key", None) == "sc-week" for x in head.selectbox)
    st.cache_resource.clear()
