"""The leadership's weekly scorecard (每周计分卡): one ISO week on one page — the department ranking with grade
and the change from the week before, the city's figures, the week's red (overdue) cases and the cards issued.
The page, the XLSX and the PDF are drawn from the same `Scorecard` and the same tables (`sheets`), with every
header, sheet name and text from the catalogue (app/i18n.py) in the reader's language, so they say the same thing.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import polars as pl
import sqlalchemy as sa

from app import public_ratings
from app.public_ratings import GRADE_COLORS, grade_label
from app import schema as s
from app.catalogue import department_names
from app.db import Database
from app.i18n import DEFAULT_LANGUAGE, t

# The frames of a Scorecard have these columns; their headers are the catalogue's scorecard.col_<column>.
RANKING_COLUMNS = ("rank", "department", "score", "grade", "change", "efficiency", "quality", "satisfaction",
                   "received", "completed")
RED_CASE_COLUMNS = ("case_no", "department", "item", "raised_at")
CARD_COLUMNS = ("color", "department", "officer", "reason", "issued_at")
FIGURES = ("received", "completed", "on_time_rate", "online_share", "satisfaction")   # scorecard.fig_<name>
SHEETS = ("overview", "ranking", "red_cases", "cards")   # scorecard.sheet_<part> (page, XLSX), .h_<part> (PDF)
_WIDE = ("department", "item", "reason", "case_no")   # wider XLSX columns


@dataclass(frozen=True)
class Scorecard:
    week: date
    ranking: pl.DataFrame
    figures: dict[str, float | int | None]
    red_cases: pl.DataFrame
    cards: pl.DataFrame
    weights: dict[str, int] = field(default_factory=lambda: {"e": 40, "q": 30, "s": 30})   # % as published


def weeks(db: Database) -> list[date]:
    return public_ratings.rating_weeks(db)


def build(db: Database, week: date) -> Scorecard:
    from pipelines import marts

    prev = week - timedelta(days=7)
    # The ranking and the week's figures from one build (several servers: a refresh may be published between
    # two reads).
    with marts.reader(db) as wh:
        rows = pl.from_arrow(wh.sql("""
            SELECT r.dept_code, r.score, r.grade, r.efficiency, r.quality, r.satisfaction, r.received, r.completed,
                   p.score AS prev_score
            FROM marts.mart_dept_rating_week AS r
            LEFT JOIN marts.mart_dept_rating_week AS p ON p.dept_code = r.dept_code AND p.week = ?
            WHERE r.week = ? ORDER BY r.score DESC, r.dept_code""", params=[prev, week]).to_arrow_table())
        week_rows = pl.from_arrow(wh.sql("""
            SELECT SUM(received) AS received, SUM(completed) AS completed, SUM(completed_on_time) AS on_time,
                   SUM(online_share * received) AS online, SUM(satisfaction * rated) AS satisfied, SUM(rated) AS rated
            FROM marts.mart_dept_week WHERE week = ?""", params=[week]).to_arrow_table()).row(0, named=True)
    names = department_names(db)
    ranking = pl.DataFrame()
    if not rows.is_empty():
        ranking = rows.with_columns(
            pl.col("dept_code").replace_strict(names, default=pl.col("dept_code")).alias("department"),
            pl.col("score").rank("min", descending=True).cast(pl.Int64).alias("rank"),
            (pl.col("score") - pl.col("prev_score")).round(1).alias("change"),
            pl.col("efficiency").round(1), pl.col("quality").round(1), pl.col("satisfaction").round(1),
        ).select(list(RANKING_COLUMNS))
    week_rows = {k: float(v or 0) for k, v in week_rows.items()}   # DuckDB sums of integers come as DECIMAL
    received, completed = int(week_rows["received"]), int(week_rows["completed"])
    figures = {
        "received": received, "completed": completed,
        "on_time_rate": week_rows["on_time"] / completed if completed else None,
        "online_share": week_rows["online"] / received if received else None,
        "satisfaction": week_rows["satisfied"] / week_rows["rated"] if week_rows["rated"] else None,
    }
    start, end = datetime.combine(week, time()), datetime.combine(week + timedelta(days=7), time())
    return Scorecard(week, ranking, figures, _red_cases(db, start, end, names), _cards(db, start, end, names),
                     public_ratings.published_weights(db))


def _red_cases(db: Database, start: datetime, end: datetime, names: dict[str, str]) -> pl.DataFrame:
    a, c, i = s.alarms.c, s.cases.c, s.items.c
    q = (sa.select(c.case_no, c.dept_code, i.name.label("item"), a.raised_at)
         .select_from(s.alarms.join(s.cases, c.case_id == a.case_id)
                      .join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version)))
         .where(a.rule == "overdue", a.raised_at >= start, a.raised_at < end).order_by(c.dept_code, c.case_no))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return pl.DataFrame([{"case_no": r["case_no"], "department": names.get(r["dept_code"], r["dept_code"]),
                          "item": r["item"], "raised_at": r["raised_at"].strftime("%Y-%m-%d %H:%M")} for r in rows],
                        schema={c: pl.Utf8 for c in RED_CASE_COLUMNS})


def _cards(db: Database, start: datetime, end: datetime, names: dict[str, str]) -> pl.DataFrame:
    k, u = s.cards.c, s.users.c
    q = (sa.select(k.color, k.dept_code, u.display_name, k.reason, k.issued_at)
         .select_from(s.cards.outerjoin(s.users, u.user_id == k.officer_user_id))
         .where(k.issued_at >= start, k.issued_at < end).order_by(k.issued_at))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return pl.DataFrame([{"color": r["color"], "department": names.get(r["dept_code"], r["dept_code"]),
                          "officer": r["display_name"] or "", "reason": r["reason"],
                          "issued_at": r["issued_at"].strftime("%Y-%m-%d %H:%M")} for r in rows],
                        schema={c: pl.Utf8 for c in CARD_COLUMNS})


# -- as shown: the page, the XLSX and the PDF --------------------------------------------------------------------
def _headers(frame: pl.DataFrame, lang: str) -> pl.DataFrame:
    return frame.rename({c: t(f"scorecard.col_{c}", lang) for c in frame.columns})


def ranking_table(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> pl.DataFrame:
    """The ranking as printed: headers and grades in `lang`, change signed."""
    if card.ranking.is_empty():
        return pl.DataFrame()
    return _headers(card.ranking.with_columns(
        pl.col("change").map_elements(lambda v: "—" if v is None else f"{v:+.1f}", return_dtype=pl.String,
                                      skip_nulls=False),
        pl.col("grade").map_elements(lambda g: grade_label(g, lang), return_dtype=pl.String, skip_nulls=False)),
        lang)


def figures_table(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> pl.DataFrame:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    f = card.figures
    return _headers(pl.DataFrame({
        "measure": [t(f"scorecard.fig_{name}", lang) for name in FIGURES],
        "this_week": [str(f["received"]), str(f["completed"]), pct(f["on_time_rate"]), pct(f["online_share"]),
                      pct(f["satisfaction"])]}), lang)


def red_cases_table(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> pl.DataFrame:
    return _headers(card.red_cases, lang)


def cards_table(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> pl.DataFrame:
    colors = {"red": t("card.red", lang), "yellow": t("card.yellow", lang)}
    return _headers(card.cards.with_columns(
        pl.col("color").replace_strict(colors, default=pl.col("color"), return_dtype=pl.String)), lang)


def _parts(card: Scorecard, lang: str) -> list[tuple[str, pl.DataFrame]]:
    """(part of SHEETS, its table in `lang`), in the order the page, the XLSX and the PDF show them."""
    return list(zip(SHEETS, (figures_table(card, lang), ranking_table(card, lang), red_cases_table(card, lang),
                             cards_table(card, lang)), strict=True))


def sheets(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> list[tuple[str, pl.DataFrame]]:
    """The scorecard's parts as (title, table) in `lang`, in the order the page, the XLSX and the PDF show them."""
    return [(t(f"scorecard.sheet_{part}", lang), frame) for part, frame in _parts(card, lang)]


def to_xlsx(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> bytes:
    import xlsxwriter

    wide = {t(f"scorecard.col_{c}", lang) for c in _WIDE}
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        for sheet, frame in sheets(card, lang):
            if frame.is_empty():   # as the page and the PDF: "(none)"
                frame = pl.DataFrame({t("scorecard.col_note", lang): [t("scorecard.none", lang)]})
            frame.write_excel(book, worksheet=sheet, autofit=False,
                              column_widths={c: 32 if c in wide else 12 for c in frame.columns})
    return buffer.getvalue()


def _bars_svg(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> str:
    """The ranking as a horizontal bar chart, inline SVG (vector, its text extracts from the PDF)."""
    from app.documents import _e

    rows = card.ranking.head(15).iter_rows(named=True) if not card.ranking.is_empty() else []
    rows = list(rows)
    height = 22 * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{height}" '
             'font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif" font-size="11">']
    for n, r in enumerate(rows):
        y = 5 + 22 * n
        width = max(0.0, min(100.0, r["score"] or 0)) * 3.6
        color = GRADE_COLORS.get(r["grade"], GRADE_COLORS["不合格"])
        parts.append(f'<text x="0" y="{y + 14}">{_e(r["department"])}</text>'
                     f'<rect x="200" y="{y}" width="{width:.1f}" height="16" fill="{color}"/>'
                     f'<text x="{205 + width:.1f}" y="{y + 13}">{r["score"]:.1f} {_e(grade_label(r["grade"], lang))}'
                     '</text>')
    parts.append("</svg>")
    return "".join(parts)


def _footer_css(lang: str) -> str:
    """The page footer in `lang` (the shared style sheet's is the Chinese documents' 第 n 页 / 共 m 页)."""
    parts = re.split("\x00(pages?)\x00", t("scorecard.page_footer", lang, page="\x00page\x00", pages="\x00pages\x00"))
    content = " ".join(f"counter({p})" if k % 2 else '"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"'
                       for k, p in enumerate(parts) if p or k % 2)
    return (f"@page {{ @bottom-center {{ content: {content} !important; }} }}\n"
            # many columns: headers wrap (English ones are long) instead of running off the page
            "body.scorecard table.info th, body.scorecard table.info td { font-size: 9.5pt; padding: 1.2mm 1.5mm; }\n"
            "body.scorecard table.info th { width: auto; white-space: normal; }")


def to_pdf(card: Scorecard, lang: str = DEFAULT_LANGUAGE) -> bytes:
    from app.documents import _e, render_pdf

    def html_table(frame: pl.DataFrame) -> str:
        if frame.is_empty():
            return f"<p>{_e(t('scorecard.none', lang))}</p>"
        head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
        body = "".join("<tr>" + "".join(f"<td>{_e('' if v is None else v)}</td>" for v in row) + "</tr>"
                       for row in frame.iter_rows())
        return f'<table class="info"><tr>{head}</tr>{body}</table>'

    title = t("page.scorecard", lang)
    period = t("scorecard.period", lang, start=card.week, end=card.week + timedelta(days=6),
               week=card.week.isocalendar().week)
    body = "".join(f"<h2>{_e(t(f'scorecard.h_{part}', lang))}</h2>"
                   + (f"<div>{_bars_svg(card, lang)}</div>" if part == "ranking" else "") + html_table(frame)
                   for part, frame in _parts(card, lang))
    html_text = f"""<!DOCTYPE html><html lang="{'en' if lang == 'en' else 'zh-CN'}"><head><meta charset="utf-8">
<title>{_e(title)}</title><style>{_footer_css(lang)}</style></head>
<body class="notice scorecard"><h1 class="top">{_e(t("app.title", lang))} {_e(title)}</h1>
<p class="subtitle">{_e(period)}</p>
{body}
<p class="hint">{_e(t("scorecard.weights", lang, **card.weights))}</p>
</body></html>"""
    return render_pdf(html_text)
