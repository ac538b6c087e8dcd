"""The leadership's weekly scorecard (每周计分卡): one ISO week on one page — the department ranking with grade
and the change from the week before, the city's figures, the week's red (overdue) cases and the cards issued.
The page, the XLSX and the PDF are drawn from the same `Scorecard`, so they say the same thing.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl
import sqlalchemy as sa

from app import public_ratings
from app import schema as s
from app.catalogue import department_names
from app.db import Database

RANKING_COLUMNS = {"rank": "名次", "department": "部门", "score": "综合得分", "grade": "等次", "change": "较上周",
                   "efficiency": "效率", "quality": "质量", "satisfaction": "满意度", "received": "收件",
                   "completed": "办结"}


@dataclass(frozen=True)
class Scorecard:
    week: date
    ranking: pl.DataFrame
    figures: dict[str, float | int | None]
    red_cases: pl.DataFrame
    cards: pl.DataFrame


def weeks(db: Database) -> list[date]:
    return public_ratings.rating_weeks(db)


def build(db: Database, week: date) -> Scorecard:
    from pipelines import marts

    prev = week - timedelta(days=7)
    rows = marts.read(db, """
        SELECT r.dept_code, r.score, r.grade, r.efficiency, r.quality, r.satisfaction, r.received, r.completed,
               p.score AS prev_score
        FROM marts.mart_dept_rating_week AS r
        LEFT JOIN marts.mart_dept_rating_week AS p ON p.dept_code = r.dept_code AND p.week = ?
        WHERE r.week = ? ORDER BY r.score DESC, r.dept_code""", [prev, week])
    names = department_names(db)
    ranking = pl.DataFrame()
    if not rows.is_empty():
        ranking = rows.with_columns(
            pl.col("dept_code").replace_strict(names, default=pl.col("dept_code")).alias("department"),
            pl.col("score").rank("min", descending=True).cast(pl.Int64).alias("rank"),
            (pl.col("score") - pl.col("prev_score")).round(1).alias("change"),
            pl.col("efficiency").round(1), pl.col("quality").round(1), pl.col("satisfaction").round(1),
        ).select(list(RANKING_COLUMNS))
    week_rows = marts.read(db, """
        SELECT SUM(received) AS received, SUM(completed) AS completed, SUM(completed_on_time) AS on_time,
               SUM(online_share * received) AS online, SUM(satisfaction * rated) AS satisfied, SUM(rated) AS rated
        FROM marts.mart_dept_week WHERE week = ?""", [week]).row(0, named=True)
    week_rows = {k: float(v or 0) for k, v in week_rows.items()}   # DuckDB sums of integers come as DECIMAL
    received, completed = int(week_rows["received"]), int(week_rows["completed"])
    figures = {
        "received": received, "completed": completed,
        "on_time_rate": week_rows["on_time"] / completed if completed else None,
        "online_share": week_rows["online"] / received if received else None,
        "satisfaction": week_rows["satisfied"] / week_rows["rated"] if week_rows["rated"] else None,
    }
    start, end = datetime.combine(week, time()), datetime.combine(week + timedelta(days=7), time())
    return Scorecard(week, ranking, figures, _red_cases(db, start, end, names), _cards(db, start, end, names))


def _red_cases(db: Database, start: datetime, end: datetime, names: dict[str, str]) -> pl.DataFrame:
    a, c, i = s.alarms.c, s.cases.c, s.items.c
    q = (sa.select(c.case_no, c.dept_code, i.name.label("item"), a.raised_at)
         .select_from(s.alarms.join(s.cases, c.case_id == a.case_id)
                      .join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version)))
         .where(a.rule == "overdue", a.raised_at >= start, a.raised_at < end).order_by(c.dept_code, c.case_no))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return pl.DataFrame([{"办件编号": r["case_no"], "部门": names.get(r["dept_code"], r["dept_code"]),
                          "事项": r["item"], "亮红灯时间": r["raised_at"].strftime("%Y-%m-%d %H:%M")} for r in rows],
                        schema={"办件编号": pl.Utf8, "部门": pl.Utf8, "事项": pl.Utf8, "亮红灯时间": pl.Utf8})


def _cards(db: Database, start: datetime, end: datetime, names: dict[str, str]) -> pl.DataFrame:
    k, u = s.cards.c, s.users.c
    q = (sa.select(k.color, k.dept_code, u.display_name, k.reason, k.issued_at)
         .select_from(s.cards.outerjoin(s.users, u.user_id == k.officer_user_id))
         .where(k.issued_at >= start, k.issued_at < end).order_by(k.issued_at))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return pl.DataFrame([{"类别": "红牌" if r["color"] == "red" else "黄牌", "部门": names.get(r["dept_code"], r["dept_code"]),
                          "承办人": r["display_name"] or "", "理由": r["reason"],
                          "时间": r["issued_at"].strftime("%Y-%m-%d %H:%M")} for r in rows],
                        schema={"类别": pl.Utf8, "部门": pl.Utf8, "承办人": pl.Utf8, "理由": pl.Utf8, "时间": pl.Utf8})


def ranking_table(card: Scorecard) -> pl.DataFrame:
    """The ranking as printed: Chinese headers, change signed."""
    if card.ranking.is_empty():
        return pl.DataFrame()
    return card.ranking.with_columns(
        pl.col("change").map_elements(lambda v: "—" if v is None else f"{v:+.1f}", return_dtype=pl.String,
                                      skip_nulls=False)).rename(RANKING_COLUMNS)


def figures_table(card: Scorecard) -> pl.DataFrame:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f}%"

    f = card.figures
    return pl.DataFrame({"指标": ["收件", "办结", "按时办结率", "网上申报率", "满意度"],
                         "本周": [str(f["received"]), str(f["completed"]), pct(f["on_time_rate"]),
                                pct(f["online_share"]), pct(f["satisfaction"])]})


def sheets(card: Scorecard) -> list[tuple[str, pl.DataFrame]]:
    """The scorecard's parts, in the order the page, the XLSX and the PDF show them."""
    return [("概况", figures_table(card)), ("排名", ranking_table(card)), ("红灯办件", card.red_cases),
            ("红黄牌", card.cards)]


def to_xlsx(card: Scorecard) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        for sheet, frame in sheets(card):
            if frame.width == 0:
                frame = pl.DataFrame({"说明": ["（无）"]})
            wide = ("部门", "事项", "理由", "办件编号")
            frame.write_excel(book, worksheet=sheet, autofit=False,
                              column_widths={c: 32 if c in wide else 12 for c in frame.columns})
    return buffer.getvalue()


def _bars_svg(card: Scorecard) -> str:
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
        color = {"优秀": "#2e7d32", "良好": "#1565c0", "合格": "#f9a825"}.get(r["grade"], "#c62828")
        parts.append(f'<text x="0" y="{y + 14}">{_e(r["department"])}</text>'
                     f'<rect x="200" y="{y}" width="{width:.1f}" height="16" fill="{color}"/>'
                     f'<text x="{205 + width:.1f}" y="{y + 13}">{r["score"]:.1f} {_e(r["grade"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_pdf(card: Scorecard) -> bytes:
    from app.documents import _e, render_pdf

    def html_table(frame: pl.DataFrame) -> str:
        if frame.is_empty():
            return "<p>（无）</p>"
        head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
        body = "".join("<tr>" + "".join(f"<td>{_e('' if v is None else v)}</td>" for v in row) + "</tr>"
                       for row in frame.iter_rows())
        return f'<table class="info"><tr>{head}</tr>{body}</table>'

    end = card.week + timedelta(days=6)
    html_text = f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>每周计分卡</title></head>
<body class="notice"><h1 class="top">鄂州e政通 每周计分卡</h1>
<p class="subtitle">{card.week:%Y年%m月%d日}—{end:%Y年%m月%d日}（第{card.week.isocalendar().week}周）</p>
<h2>一、本周概况</h2>{html_table(figures_table(card))}
<h2>二、部门评定排名</h2><div>{_bars_svg(card)}</div>{html_table(ranking_table(card))}
<h2>三、本周红灯办件</h2>{html_table(card.red_cases)}
<h2>四、本周红黄牌</h2>{html_table(card.cards)}
<p class="hint">评定权重：效率40%、质量30%、满意度30%；等次：优秀≥90，良好≥80，合格≥60。</p>
</body></html>"""
    return render_pdf(html_text)
