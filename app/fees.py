"""Fees (domain.md §9): assess a case's fee from the item's standard, issue the payment notice (缴款通知书), and
mark notices paid from the reconciliation file the non-tax revenue system (非税系统) exports.

Amounts are integers in fen (分): money is never a float. An officer chooses only quantities; the amount is the
standard times the quantity, so a fee above the standard cannot be assessed. Reconciliation checks every row
against the notice it names: an amount that differs from the notice, an unknown notice, a second receipt for a
paid notice — each is refused and reported, never silently accepted; good rows are recorded, each as an event
on its case; the run and its report are kept.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, calendar_store, cases, clock, timeutil
from app import schema as s
from app.db import Database, StaleVersionError
from app.permissions import Actor, PermissionDenied, case_scope
from app.workflow import WorkflowError

DATA = Path(__file__).resolve().parents[1] / "data" / "fees" / "fee_standards.csv"
PAYMENT_DAYS = 10            # working days to pay a notice
MAX_QUANTITY = 100_000
HEADERS = {  # the reconciliation file's columns, under the names the non-tax system and people use
    "notice_no": ("notice_no", "通知书编号", "缴款通知书编号", "缴款书编号"),
    "amount": ("amount", "金额", "缴款金额", "实缴金额"),
    "paid_at": ("paid_at", "缴款时间", "缴费时间", "到账时间"),
    "receipt_no": ("receipt_no", "票据号", "收据号", "电子票据号"),
}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d", "%Y/%m/%d")


class FeeError(cases.CaseError):
    """A refused fee request; `key` names the i18n message."""


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def to_fen(text: str) -> int:
    value = Decimal(str(text).strip().replace(",", ""))
    if value != value.quantize(Decimal("0.01")) or value < 0:
        raise InvalidOperation(text)
    return int(value * 100)


# -- standards -------------------------------------------------------------------------------------------------
def load_fee_standards(path: Path = DATA) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [{"item_code": r["item_code"], "fee_code": r["fee_code"], "name": r["name"],
                 "unit_amount_fen": to_fen(r["unit_amount_yuan"]), "unit_label": r["unit_label"],
                 "basis": r["basis"], "note": r["note"]} for r in csv.DictReader(f)]


def standards_for(db: Database, item_code: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(sa.select(s.fee_standards).where(s.fee_standards.c.item_code == item_code)
                            .order_by(s.fee_standards.c.fee_code)).fetchall()
    return [dict(r._mapping) for r in rows]


def notices_of(db: Database, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    cases.get_case(db, actor, case_id)
    with db.read() as conn:
        rows = conn.execute(sa.select(s.fee_notices).where(s.fee_notices.c.case_id == case_id)
                            .order_by(s.fee_notices.c.issued_at)).fetchall()
    return [dict(r._mapping) for r in rows]


def unpaid_notices(db: Database, actor: Actor) -> pl.DataFrame:
    """The unpaid payment notices on cases the actor may see (收费对账's worklist)."""

    n, c = s.fee_notices.c, s.cases.c
    q = (sa.select(n.notice_no, c.case_no, c.applicant_name, n.amount_fen, n.issued_at, n.due_on)
         .select_from(s.fee_notices.join(s.cases, c.case_id == n.case_id))
         .where(case_scope(actor), n.state == "unpaid").order_by(n.due_on, n.notice_no))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r["amount"] = yuan(r.pop("amount_fen"))
    return pl.DataFrame(rows)


# -- assessment ------------------------------------------------------------------------------------------------
def assess(db: Database, actor: Actor, case_id: int, *, expected_version: int, quantities: dict[str, int],
           at: datetime | None = None) -> dict[str, Any]:
    """Assess the fee from the item's standard and issue a payment notice; returns the notice."""
    case = cases.get_case(db, actor, case_id)
    with db.read() as conn:
        item = cases.item_version(conn, case["item_code"], case["item_version"])
    if not item.charges_fee:
        raise FeeError("fee.free_item")
    standards = {r["fee_code"]: r for r in standards_for(db, case["item_code"])}
    if not standards:
        raise FeeError("fee.no_standard")
    lines, total = [], 0
    for code, qty in quantities.items():
        if code not in standards:
            raise FeeError("fee.unknown_line")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0 or qty > MAX_QUANTITY:
            raise FeeError("fee.quantity")
        if qty == 0:
            continue
        st = standards[code]
        amount = st["unit_amount_fen"] * qty
        total += amount
        lines.append({"name": st["name"], "standard": f"{yuan(st['unit_amount_fen'])}元/{st['unit_label']}",
                      "quantity": qty, "amount": yuan(amount), "fee_code": code})
    if not lines:
        raise FeeError("fee.nothing_assessed")
    at = (at or timeutil.now()).replace(microsecond=0)
    cal = calendar_store.load_calendar(db)
    due = clock.due_date(cal, at.date(), PAYMENT_DAYS, clock.WORKING)
    # The notice number is drawn first: a sequence never gives a number twice, even if the move is refused.
    serial = db.write(lambda conn: conn.execute(sa.text("SELECT nextval('fee_notice_seq')")).scalar_one())
    notice_no = f"JK-{at:%Y}-{int(serial):06d}"

    def apply(conn: Connection, current: dict[str, Any]) -> None:
        unpaid = conn.execute(sa.select(sa.func.count()).select_from(s.fee_notices).where(
            s.fee_notices.c.case_id == case_id, s.fee_notices.c.state == "unpaid")).scalar_one()
        if unpaid:
            raise FeeError("fee.unpaid_exists")
        conn.execute(s.fee_notices.insert().values(
            notice_no=notice_no, case_id=case_id, lines=lines, amount_fen=total, issued_at=at,
            issued_by=actor.user_id, due_on=due, state="unpaid"))

    payload_lines = [{k: v for k, v in line.items() if k != "fee_code"} for line in lines]
    cases.perform(db, actor, case_id, "assess_fee", expected_version=expected_version, at=at, apply=apply,
                  payload={"notice_no": notice_no, "lines": payload_lines, "total": yuan(total),
                           "amount_fen": total, "due_on": due.isoformat()})
    return {"notice_no": notice_no, "amount_fen": total, "due_on": due, "lines": lines}


# -- reconciliation --------------------------------------------------------------------------------------------
@dataclass
class Report:
    file_name: str
    sha256: str
    rows_total: int = 0
    paid: list[dict[str, Any]] = field(default_factory=list)
    already: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)   # line, notice_no, reason (i18n key), params
    reconciliation_id: int | None = None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FeeError("fee.file_encoding")


def _parse_time(text: str) -> datetime | None:
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def parse_reconciliation(data: bytes) -> list[dict[str, Any]]:
    """The rows of a reconciliation file, each with its line number and either values or a problem."""
    if not data.strip():
        raise FeeError("fee.file_empty")
    reader = csv.reader(io.StringIO(_decode(data)))
    header = [h.strip().lower() for h in next(reader, [])]
    where: dict[str, int] = {}
    for key, names in HEADERS.items():
        found = [i for i, h in enumerate(header) if h in names]
        if not found:
            raise FeeError("fee.file_header", column=names[1])
        where[key] = found[0]
    rows = []
    for line_no, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        cells = [raw[i].strip() if i < len(raw) else "" for i in range(len(header))]
        row: dict[str, Any] = {"line": line_no, "notice_no": cells[where["notice_no"]]}
        try:
            row["amount_fen"] = to_fen(cells[where["amount"]])
        except (InvalidOperation, ValueError):
            row["problem"] = ("fee.row_amount", {"value": cells[where["amount"]]})
        row["paid_at"] = _parse_time(cells[where["paid_at"]])
        row["receipt_no"] = cells[where["receipt_no"]]
        if "problem" not in row:
            if not row["notice_no"]:
                row["problem"] = ("fee.row_notice_missing", {})
            elif row["paid_at"] is None:
                row["problem"] = ("fee.row_time", {"value": cells[where["paid_at"]]})
            elif not row["receipt_no"]:
                row["problem"] = ("fee.row_receipt_missing", {})
        rows.append(row)
    return rows


def reconcile(db: Database, actor: Actor, file_name: str, data: bytes, *, progress=None) -> Report:
    """Match a reconciliation file against the payment notices the actor's department issued."""
    if actor.role not in ("officer", "head"):
        raise PermissionDenied("perm.fees")
    report = Report(file_name=file_name, sha256=hashlib.sha256(data).hexdigest())
    rows = parse_reconciliation(data)
    report.rows_total = len(rows)
    seen: set[str] = set()
    for n, row in enumerate(rows):
        if progress:
            progress(n + 1, len(rows))
        outcome = _reconcile_row(db, actor, report, row, seen)
        kind, params = outcome
        entry = {"line": row["line"], "notice_no": row["notice_no"], **params}
        if kind == "paid":
            report.paid.append(entry)
        elif kind == "already":
            report.already.append(entry)
        else:
            report.refused.append({**entry, "reason": kind})

    def save(conn: Connection) -> int:
        rid = conn.execute(s.fee_reconciliations.insert().values(
            file_name=file_name, sha256=report.sha256, uploaded_at=timeutil.now(), uploaded_by=actor.user_id,
            dept_code=actor.dept_code, rows_total=report.rows_total, rows_paid=len(report.paid),
            rows_already=len(report.already), rows_refused=len(report.refused),
            report={"paid": report.paid, "already": report.already, "refused": report.refused},
        ).returning(s.fee_reconciliations.c.reconciliation_id)).scalar_one()
        audit.record(conn, "fee_reconciliation", user_id=actor.user_id, username=actor.username,
                     detail={"reconciliation_id": rid, "file": file_name, "paid": len(report.paid),
                             "refused": len(report.refused)})
        return int(rid)

    report.reconciliation_id = db.write(save)
    return report


def _reconcile_row(db: Database, actor: Actor, report: Report, row: dict[str, Any],
                   seen: set[str]) -> tuple[str, dict[str, Any]]:
    if "problem" in row:
        key, params = row["problem"]
        return key, params
    if row["notice_no"] in seen:
        return "fee.row_duplicate", {}
    seen.add(row["notice_no"])
    with db.read() as conn:
        notice = conn.execute(sa.select(s.fee_notices).where(s.fee_notices.c.notice_no == row["notice_no"])).fetchone()
    if notice is None:
        return "fee.row_unknown_notice", {}
    try:
        case = cases.get_case(db, actor, notice.case_id)
    except cases.CaseError:
        return "fee.row_unknown_notice", {}  # another department's notice: not ours to mark
    got, want = row["amount_fen"], int(notice.amount_fen)
    if notice.state == "paid":
        if notice.receipt_no == row["receipt_no"] and int(notice.paid_amount_fen) == got:
            return "already", {"receipt_no": row["receipt_no"]}
        return "fee.row_paid_twice", {"receipt_no": notice.receipt_no}
    if notice.state != "unpaid":
        return "fee.row_cancelled", {}
    if got != want:
        return "fee.row_amount_mismatch", {"expected": yuan(want), "got": yuan(got)}

    def apply(conn: Connection, current: dict[str, Any]) -> None:
        done = conn.execute(s.fee_notices.update().where(s.fee_notices.c.notice_no == notice.notice_no,
                                                         s.fee_notices.c.state == "unpaid")
                            .values(state="paid", paid_at=row["paid_at"], paid_amount_fen=got,
                                    receipt_no=row["receipt_no"]).returning(s.fee_notices.c.notice_no)).fetchall()
        if not done:
            raise StaleVersionError("notice changed")

    for attempt in range(3):
        try:
            cases.perform(db, actor, notice.case_id, "record_payment", expected_version=case["version"], apply=apply,
                          payload={"notice_no": notice.notice_no, "amount": yuan(got), "receipt_no": row["receipt_no"],
                                   "paid_at": row["paid_at"].isoformat(sep=" "), "file_sha256": report.sha256})
            return "paid", {"amount": yuan(got), "receipt_no": row["receipt_no"], "case_no": case["case_no"]}
        except StaleVersionError:
            if attempt == 2:
                return "fee.row_busy", {}
            case = cases.get_case(db, actor, notice.case_id)
        except cases.CaseError as exc:
            return exc.key, dict(exc.params)
        except (PermissionDenied, WorkflowError) as exc:
            return exc.key, dict(getattr(exc, "params", {}))
    return "fee.row_busy", {}
