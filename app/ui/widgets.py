"""Small shared widgets: figures, tables with CSV/Excel export, state and level labels."""
from __future__ import annotations

import io

import polars as pl
import streamlit as st

from app.ui.session import tr

# Count a Chinese character as two when sizing Excel columns (xlsxwriter's autofit underestimates CJK).
def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def to_xlsx(df: pl.DataFrame, sheet: str = "data") -> bytes:
    buffer = io.BytesIO()
    widths = {}
    for col in df.columns:
        values = [str(v) for v in df[col].head(500).to_list() if v is not None]
        widths[col] = min(60, max([_display_width(col)] + [_display_width(v) for v in values]) + 2)
    df.write_excel(buffer, worksheet=sheet, column_widths=widths, autofit=False)
    return buffer.getvalue()


def translate_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Show state and warning codes as words, and column names from the catalogue."""
    out = df
    for col in ("promised_due", "statutory_due"):  # dates, not timestamps
        if col in out.columns and out[col].dtype == pl.Datetime:
            out = out.with_columns(pl.col(col).dt.date())
    if "state" in out.columns:
        out = out.with_columns(pl.col("state").map_elements(lambda v: tr(f"state.{v}"), return_dtype=pl.String))
    if "warning_level" in out.columns:
        out = out.with_columns(pl.col("warning_level").map_elements(
            lambda v: tr(f"level.{v}") if v else "", return_dtype=pl.String))
    return out.rename({c: _column_label(c, _NAMES) for c in out.columns})


_NAMES = {"case_no": "col.case_no", "item": "col.item", "state": "col.state", "applicant_name": "col.applicant",
          "submitted_at": "col.submitted_at", "promised_due": "col.due", "warning_level": "col.level",
          "department": "col.department", "count": "col.count"}
MISSING = "—"   # a cell with no value (no case completed, nobody rated): not Python's "None"


def is_share(column: str) -> bool:
    """A measure that is a fraction of cases (on-time rate, online share, satisfaction as level / 5): shown as a
    percentage."""
    if column.startswith("prev_"):
        column = column[5:]
    return column.endswith(("_rate", "_share")) or column == "satisfaction"


def column_config(df: pl.DataFrame, percent: tuple[str, ...] = ()) -> dict[str, object]:
    """How a shown table's columns are drawn: days as dates (not midnight timestamps), shares (`percent`, by the
    shown names) as percentages."""
    config: dict[str, object] = {c: st.column_config.DateColumn(format="YYYY-MM-DD")
                                 for c, kind in df.schema.items() if kind == pl.Date}
    config |= {c: st.column_config.NumberColumn(format="percent") for c in percent if c in df.columns}
    return config


def _column_label(column: str, names: dict[str, str]) -> str:
    """A column's header from the catalogue: the common names, then col.<name>, then the explorer's measures
    (and their previous-period twins); an unknown column keeps its name."""
    from app.i18n import M

    if column in names:
        return tr(names[column])
    for key in (f"col.{column}", f"explore.m_{column}", f"explore.col_{column}"):
        if key in M:
            return tr(key)
    if column.startswith("prev_") and f"explore.m_{column[5:]}" in M:
        return tr("explore.prev", measure=tr(f"explore.m_{column[5:]}"))
    return column


def grid(data: object, **options: object) -> object:
    """st.dataframe as every screen draws it: no index column, a missing value as MISSING (not "None"). Returns
    what st.dataframe returns (the selection, for a table one picks a row in)."""
    return st.dataframe(data, hide_index=True, placeholder=MISSING, **options)


def table(df: pl.DataFrame, name: str, *, percent: tuple[str, ...] = ()) -> None:
    """A read-only table (st.dataframe never renders cell text as HTML) with CSV and Excel export. Shares among
    the columns (is_share; or named, as shown, in `percent`) are drawn as percentages, missing values as a dash."""
    shown = translate_columns(df)
    if shown.is_empty():
        st.info(tr("home.no_cases"))
        return
    percent = percent + tuple(_column_label(c, _NAMES) for c in df.columns if is_share(c))
    grid(shown, column_config=column_config(shown, percent))
    export_buttons(shown, name)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_buttons(shown: pl.DataFrame, name: str, sheet: str = "data") -> None:
    """导出 CSV and 导出 Excel of a table as shown. The files are made when asked for (a callable), not on every
    run of the page; a click only downloads (on_click="ignore"): a rerun would redo the page's queries for
    nothing, and a click while one ran could ask for a file that rerun had dropped ("Failed to generate file
    for download", seen in a browser on clicks right after opening a page)."""
    left, right = st.columns(2)
    left.download_button(tr("export.csv"), lambda: shown.write_csv().encode("utf-8-sig"), f"{name}.csv", "text/csv",
                         key=f"csv-{name}", on_click="ignore")
    right.download_button(tr("export.xlsx"), lambda: to_xlsx(shown, sheet), f"{name}.xlsx", XLSX,
                          key=f"xlsx-{name}", on_click="ignore")


def percent(value: float | None) -> str:
    return MISSING if value is None else f"{value * 100:.1f}%"
