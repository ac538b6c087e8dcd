"""The report of an import (植入, app/legacy_import.py): every row read, imported or rejected with its reason, in the
reader's language — as a table, per file (rows read = imported + rejected), per reason, as CSV or XLSX, and as
the summary the command prints."""
from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import polars as pl

from app.i18n import t
from app.legacy_import import ImportResult, Row

_STATE_PARAMS = ("state", "from_state", "to_state", "final")


def message(row: Row, lang: str = "zh") -> str:
    """The reason a row was rejected, in the reader's language."""
    if not row.reason:
        return ""
    params = dict(row.params)
    for key in ("field", "earlier", "later"):
        if key in params:
            params[key] = t(f"import.field.{params[key]}", lang)
    for key in _STATE_PARAMS:
        if params.get(key):
            params[key] = t(f"state.{params[key]}", lang)
    if "kind" in params:
        params["kind"] = t(f"import.kind.{params['kind']}", lang)
    if "action" in params:
        params["action"] = t(f"action.{params['action']}", lang)
    return t(f"import.reason.{row.reason}", lang, **params)


def report_frame(result: ImportResult, lang: str = "zh") -> pl.DataFrame:
    """One line per row read: file, line, legacy number, imported or rejected, the reason and the new case
    number."""
    return pl.DataFrame({
        "file": [r.file for r in result.rows],
        "kind": [t(f"import.kind.{r.kind}", lang) for r in result.rows],
        "line": [r.line for r in result.rows],
        "legacy_no": [r.legacy_no for r in result.rows],
        "status": [t(f"import.status.{r.status or 'rejected'}", lang) for r in result.rows],
        "reason": [r.reason for r in result.rows],
        "message": [message(r, lang) for r in result.rows],
        "case_no": [r.case_no for r in result.rows],
    }, schema={"file": pl.String, "kind": pl.String, "line": pl.Int64, "legacy_no": pl.String, "status": pl.String,
               "reason": pl.String, "message": pl.String, "case_no": pl.String})


def file_summary(result: ImportResult, lang: str = "zh") -> pl.DataFrame:
    """Per file: rows read = imported + rejected."""
    by_file: dict[str, list[Row]] = defaultdict(list)
    for r in result.rows:
        by_file[r.file].append(r)
    out = []
    for f in result.files:
        rows = by_file.get(f.name, [])
        imported = sum(1 for r in rows if r.status == "imported")
        out.append({"file": f.name, "kind": t(f"import.kind.{f.kind}", lang) if f.kind else "",
                    "encoding": f.encoding or "", "rows_read": len(rows), "imported": imported,
                    "rejected": len(rows) - imported})
    return pl.DataFrame(out, schema={"file": pl.String, "kind": pl.String, "encoding": pl.String,
                                     "rows_read": pl.Int64, "imported": pl.Int64, "rejected": pl.Int64})


def reason_counts(result: ImportResult, lang: str = "zh") -> pl.DataFrame:
    counts: dict[str, int] = defaultdict(int)
    for r in result.rows:
        if r.status != "imported":
            counts[r.reason] += 1
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    return pl.DataFrame({"reason": [k for k, _ in rows],
                         "meaning": [t(f"import.reason_name.{k}", lang) for k, _ in rows],
                         "count": [v for _, v in rows]},
                        schema={"reason": pl.String, "meaning": pl.String, "count": pl.Int64})


def report_bytes(result: ImportResult, fmt: str, lang: str = "zh") -> bytes:
    """The report as a file: CSV (UTF-8 with BOM, which Excel opens correctly) or XLSX (report and summary
    sheets). Column headers in the reader's language."""
    frame = headed(report_frame(result, lang), lang)
    if fmt == "csv":
        return frame.write_csv().encode("utf-8-sig")
    import xlsxwriter

    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        frame.write_excel(book, worksheet=t("import.sheet_report", lang), autofit=True)
        headed(file_summary(result, lang), lang).write_excel(book, worksheet=t("import.sheet_files", lang),
                                                              autofit=True)
        headed(reason_counts(result, lang), lang).write_excel(book, worksheet=t("import.sheet_reasons", lang),
                                                               autofit=True)
    return buffer.getvalue()


def write_report(result: ImportResult, path: Path, lang: str = "zh") -> Path:
    path.write_bytes(report_bytes(result, "xlsx" if path.suffix.lower() == ".xlsx" else "csv", lang))
    return path


def headed(frame: pl.DataFrame, lang: str) -> pl.DataFrame:
    return frame.rename({c: t(f"import.col.{c}", lang) for c in frame.columns})




def summary_lines(result: ImportResult, lang: str = "zh") -> list[str]:
    """The report summary as text (the command prints it), numbers with thousands separators."""
    counts = result.counts()
    rate = counts["rows_read"] / result.seconds if result.seconds else 0.0
    lines = [t("import.summary", lang, system=result.title, **_grouped(counts)),
             t("import.speed", lang, seconds=f"{result.seconds:.1f}", rate=f"{rate:,.0f}")]
    for f in file_summary(result, lang).iter_rows(named=True):
        lines.append(t("import.file_line", lang, **_grouped(f)))
    for r in reason_counts(result, lang).iter_rows(named=True):
        lines.append(t("import.reason_line", lang, **_grouped(r)))
    return lines


def _grouped(values: dict) -> dict:
    return {k: f"{v:,}" if isinstance(v, int) else v for k, v in values.items()}
