"""植入: importing an old system's export (app/legacy_import.py) — every row ends imported or rejected with its
reason, a rerun imports nothing twice, a killed import leaves no partial batch, the imported records verify and
the marts include the imported history. The fixtures are written here, in GBK and UTF-8 CSV and in XLSX, each
with every kind of fault."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from app import calendar_store, files, legacy_import, legacy_read, legacy_report, record_check
from app import schema as s
from app import workflow as wf
from app.db import bulk_insert
from app.validators import make_credit_code, make_resident_id
from pipelines import import_legacy, marts
from tests.conftest import drop_database, make_database

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = "city_approval"
SCJG = "鄂州市市场监督管理局"
FOOD = "食品经营许可"                     # 4207-SCJG-003: two review steps, promised 3 working days
FIRM = "企业设立、变更、注销登记"          # 4207-SCJG-001: on the spot (即办件)


def pid(n: int) -> str:
    return make_resident_id("420704", date(1980, 1, 1 + n % 28), n % 1000)


CASE_HEAD = ["办件编号", "事项名称", "办理部门", "申请人", "证件号码", "所在地区", "申报方式", "申请时间", "办件状态",
             "受理时间", "决定时间", "办结时间", "结果文号"]
EVENT_HEAD = ["办件编号", "环节名称", "处理时间", "处理人", "处理意见"]
MATERIAL_HEAD = ["办件编号", "材料名称", "文件名", "SHA256", "文件大小", "提交时间", "补正轮次"]
RATING_HEAD = ["办件编号", "评价等级", "评价时间", "评价内容"]
COMPLAINT_HEAD = ["办件编号", "投诉内容", "投诉时间", "答复时间", "答复内容"]
HASH = "ab" * 32


def case(no, item=FOOD, dept=SCJG, name="张三", id_no=None, region="吴都社区", channel="窗口",
         submitted="2014-03-03 09:30", state="办结", accepted="", decided="", completed="", result=""):  # noqa: ANN001, ANN201
    return [no, item, dept, name, id_no or pid(len(no) * 7 + sum(map(ord, no))), region, channel, submitted, state,
            accepted, decided, completed, result]


def full_story(no: str, start: int = 3) -> list[list[str]]:
    """收件 → 受理 → 承办 → 审核 (a second opinion) → 批准 → 办结, on working days of March 2014."""
    d = start
    return [[no, "收件", f"2014-03-{d:02d} 09:30", "窗口王", ""],
            [no, "受理", f"2014-03-{d + 1:02d} 10:00", "窗口王", "材料齐全"],
            [no, "承办", f"2014-03-{d + 1:02d} 14:00", "李科员", ""],
            [no, "审核", f"2014-03-{d + 2:02d} 09:00", "刘科长", "同意"],
            [no, "批准", f"2014-03-{d + 2:02d} 16:00", "刘科长", ""],
            [no, "办结", f"2014-03-{d + 3:02d} 10:00", "窗口王", ""]]


def export_rows() -> dict[str, list[list]]:
    """The old system's tables: good cases in several shapes, then one case per fault."""
    cases = [
        case("SP2014-0001", completed="2014-03-06 10:00"),
        # mapped names (餐饮服务许可 → 食品经营许可; the old 食药监局 → SCJG), other time formats, a supplement
        # round, a refusal, a bad rating and an answered complaint
        case("SP2014-0002", item="餐饮服务许可", dept="鄂州市食品药品监督管理局", submitted="2014/3/4 9:05",
             region="420704002", state="办结", decided="20140312160000"),
        case("SP2014-0003", state="受理", region="鄂城区", submitted="2014-03-05 08:45"),      # still open
        case("SP2014-0004", item=FIRM, state="即办", submitted="2014-03-05 10:00", channel="网上申报",
             id_no=make_credit_code("91420700MA4" + "F0G1H3")),                                 # on the spot
        case("SP2014-0005", state="撤件", submitted="2014-03-06 11:00"),
        case("SP2014-0006", state="申报", submitted="2014-03-07 15:00"),                      # no events needed
        # faults
        case("", state="申报"),                                                             # missing key
        case("BAD-ITEM", item="不存在的事项", state="申报"),
        case("BAD-UNREVIEWED", item="房屋登记", dept="", state="申报"),                       # mapping not reviewed
        case("BAD-DATES", state="办结", submitted="2014-03-10 09:00", decided="2014-03-01 10:00"),
        case("SP2014-0001", completed="2014-03-06 10:00"),                                 # identical repeat
        case("BAD-CONFLICT", name="甲"), case("BAD-CONFLICT", name="乙"),                   # repeats that differ
        case("BAD-TIME", state="受理"),
        case("BAD-STATE", state="受理"),
        case("BAD-ENC", state="申报"),                                                      # CSV: undecodable bytes
        case("BAD-MOVE", state="批准"),
        case("BAD-ID", id_no="420704198001011234", state="申报"),
        case("BAD-RATED", state="受理"),
        case("BAD-FINAL", state="办结"),
        case("BAD-NOEVENTS", state="办结"),
        case("BAD-MATERIAL", state="申报"),
        case("BAD-DEPT", dept="鄂州市公安局", state="申报"),
    ]
    events = [
        *full_story("SP2014-0001"),
        full_story("SP2014-0001")[3],                                                       # an identical repeat
        ["SP2014-0002", "收件", "2014/3/4 9:05", "窗口王", ""],
        ["SP2014-0002", "补正告知", "20140305100000", "李科员", "营业执照复印件不清晰"],
        ["SP2014-0002", "补齐材料", "2014-03-07 09:00", "", ""],
        ["SP2014-0002", "受理", "2014-03-07 10:00", "李科员", ""],
        ["SP2014-0002", "承办", "2014-03-10 09:00", "李科员", ""],
        ["SP2014-0002", "不予许可", "2014-03-12 16:00", "刘科长", "经营场所不符合食品安全要求"],
        ["SP2014-0002", "办结", "2014-03-13 09:00", "窗口王", ""],
        ["SP2014-0003", "收件", "2014-03-05 08:45", "窗口王", ""],
        ["SP2014-0003", "受理", "2014-03-05 11:00", "李科员", ""],
        ["SP2014-0004", "即办", "2014-03-05 10:20", "窗口王", ""],
        ["SP2014-0005", "受理", "2014-03-06 14:00", "李科员", ""],
        ["SP2014-0005", "撤件", "2014-03-07 09:00", "", "申请人主动撤回"],
        ["NOPE-1", "受理", "2014-03-06 14:00", "李科员", ""],                                # unknown case
        ["BAD-DATES", "受理", "2014-03-10 10:00", "", ""],
        ["BAD-TIME", "受理", "2014-13-45 10:00", "", ""],                                   # no such day
        ["BAD-STATE", "神秘环节", "2014-03-04 10:00", "", ""],
        ["BAD-MOVE", "批准", "2014-03-04 10:00", "", ""],                                    # submitted → approved
        ["BAD-RATED", "受理", "2014-03-04 10:00", "", ""],
        ["BAD-FINAL", "受理", "2014-03-04 10:00", "", ""],
    ]
    materials = [
        ["SP2014-0001", "食品经营许可申请书", "申请书.pdf", HASH, "20480", "2014-03-03 09:30", "0"],
        ["SP2014-0002", "工商营业执照", "执照.jpg", "cd" * 32, "1024", "", "0"],             # mapped material name
        ["SP2014-0002", "营业执照", "执照-补正.jpg", "ef" * 32, "2048", "2014-03-07 09:00", "1"],
        ["BAD-MATERIAL", "不知道的材料", "x.pdf", HASH, "1", "", "0"],
    ]
    ratings = [
        ["SP2014-0001", "满意", "2014-03-07 10:00", "办事很快"],
        ["SP2014-0002", "不满意", "2014-03-14 11:00", "不予许可的理由没讲清楚"],
        ["BAD-RATED", "5", "2014-03-05 10:00", ""],                                         # rated before completion
    ]
    complaints = [
        ["SP2014-0002", "补正材料要求与办事指南不一致", "2014-03-06 15:00", "2014-03-10 10:00", "已核实并整改"],
        ["SP2014-0003", "受理后迟迟没有进展", "2014-03-06 09:00", "", ""],
    ]
    return {"办件": [CASE_HEAD, *cases], "流程": [EVENT_HEAD, *events], "材料": [MATERIAL_HEAD, *materials],
            "评价": [RATING_HEAD, *ratings], "投诉": [COMPLAINT_HEAD, *complaints]}


# The expected outcome of each case row (legacy number → reason, "" = imported).
EXPECTED_CASES = {
    "SP2014-0001": "", "SP2014-0002": "", "SP2014-0003": "", "SP2014-0004": "", "SP2014-0005": "",
    "SP2014-0006": "", "BAD-ITEM": "unknown_item", "BAD-UNREVIEWED": "mapping_unreviewed",
    "BAD-DATES": "impossible_dates", "BAD-CONFLICT": "duplicate_conflict", "BAD-TIME": "dependent_rejected",
    "BAD-STATE": "dependent_rejected", "BAD-ENC": "bad_encoding", "BAD-MOVE": "dependent_rejected",
    "BAD-ID": "bad_id", "BAD-RATED": "dependent_rejected", "BAD-FINAL": "state_mismatch",
    "BAD-NOEVENTS": "no_events", "BAD-MATERIAL": "dependent_rejected", "BAD-DEPT": "department_mismatch",
}
GOOD = [k for k, v in EXPECTED_CASES.items() if not v]


def write_export(folder: Path, fmt: str, encoding: str = "gbk", only: list[str] | None = None) -> list[Path]:
    """The export as the old system would hand it over: CSV in `encoding` (with one line whose bytes are not
    valid in it) or an XLSX workbook per table (with real Excel dates in some cells); `only`: just the rows of
    these cases."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in export_rows().items():
        if only is not None:   # and without the repeated lines
            rows = rows[:1] + [r for n, r in enumerate(rows) if n and r[0] in only and r not in rows[:n]]
        if fmt == "xlsx":
            book = openpyxl.Workbook()
            sheet = book.active
            for row in rows:
                sheet.append([_excel_cell(v) for v in row])
            path = folder / f"{name}.xlsx"
            book.save(path)
        else:
            lines = [b"\xef\xbb\xbf"] if encoding == "utf-8-sig" else []
            line_encoding = "utf-8" if encoding == "utf-8-sig" else encoding
            for row in rows:
                data = (",".join(row) + "\r\n").encode(line_encoding)
                if row[0] == "BAD-ENC":
                    # bytes no decoder of this file's encoding accepts: GBK text in a UTF-8 file, 0xFF in a GBK one
                    bad = "不可读".encode("gbk") if encoding.startswith("utf") else b"\xff\xfe"
                    data = data.replace("张三".encode(line_encoding), bad)
                lines.append(data)
            path = folder / f"{name}.csv"
            path.write_bytes(b"".join(lines))
        paths.append(path)
    return paths


def _excel_cell(value: str):  # noqa: ANN202
    """Some time stamps as Excel date cells, as a workbook the old system exported would hold them."""
    if len(value) == 16 and value[4] == "-" and value[10] == " " and value.startswith("2014-03-0"):
        return datetime.strptime(value, "%Y-%m-%d %H:%M")
    return value


def run(db, paths: list[Path], **kw) -> legacy_import.ImportResult:  # noqa: ANN001
    return legacy_import.run_import(db, SYSTEM, legacy_import.sources_from_paths(paths), **kw)


def outcome(result) -> dict[str, str]:  # noqa: ANN001
    """Legacy number → reason of its (first) case row, "" when imported."""
    out: dict[str, str] = {}
    for r in result.rows:
        if r.kind == "cases":
            out.setdefault(r.legacy_no or "", r.reason)
    return out


def by_reason(result, kind: str) -> Counter:  # noqa: ANN001
    return Counter(r.reason for r in result.rows if r.kind == kind)


def imported_cases(db) -> dict[str, dict]:  # noqa: ANN001
    with db.read() as conn:
        rows = conn.execute(sa.select(s.cases).where(s.cases.c.source_system == SYSTEM)).fetchall()
    return {r.legacy_no: dict(r._mapping) for r in rows}


def events_of(db, case_id: int) -> list[dict]:  # noqa: ANN001
    with db.read() as conn:
        rows = conn.execute(sa.select(s.case_events).where(s.case_events.c.case_id == case_id)
                            .order_by(s.case_events.c.seq)).fetchall()
    return [dict(r._mapping) for r in rows]


def count(db, table: sa.Table, where=None) -> int:  # noqa: ANN001
    q = sa.select(sa.func.count()).select_from(table)
    if where is not None:
        q = q.where(where)
    with db.read() as conn:
        return int(conn.execute(q).scalar_one())


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def fresh(request, tmp_path_factory):  # noqa: ANN001, ANN201
    """A migrated, seeded database per backend, with no cases: the marts' counts are the import's alone."""
    from pipelines.seed_reference import seed_reference

    db = make_database(request.param, tmp_path_factory.mktemp(request.param))
    db.migrate()
    seed_reference(db)
    calendar_store.invalidate()
    os.environ["EZZ_WAREHOUSE"] = str(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    yield db
    os.environ.pop("EZZ_WAREHOUSE", None)
    drop_database(db)
    calendar_store.invalidate()


@pytest.fixture
def own_db(tmp_path):  # noqa: ANN001, ANN201
    """A DuckDB database of the test's own, migrated and seeded, with the test users (tests/factories.py)."""
    from pipelines.seed_reference import seed_reference
    from tests.factories import create_users

    db = make_database("duckdb", tmp_path)
    db.migrate()
    seed_reference(db)
    calendar_store.invalidate()
    db.actors = create_users(db)  # type: ignore[attr-defined]
    yield db
    db.dispose()
    calendar_store.invalidate()


# -- the main path, on both databases ----------------------------------------------------------------------------
def test_gbk_csv_import_then_rerun_then_marts(fresh, tmp_path, monkeypatch):
    db = fresh
    marts.build(db, build_day=date(2026, 11, 26))
    before = marts.read(db, "SELECT COUNT(*) AS n FROM marts.fct_case")["n"][0]
    paths = write_export(tmp_path / "gbk", "csv", "gbk")
    result = run(db, paths)

    # every row read ends in exactly one place, file by file
    for f in legacy_report.file_summary(result).iter_rows(named=True):
        assert f["encoding"] == "gb18030" and f["rows_read"] == f["imported"] + f["rejected"] > 0
    assert sum(len(rows) - 1 for rows in export_rows().values()) == len(result.rows)
    assert outcome(result) == {"": "missing_key", **EXPECTED_CASES}
    events = by_reason(result, "events")
    assert events["unknown_case"] == 1 and events["bad_time"] == 1 and events["unknown_state"] == 1
    assert events["illegal_transition"] == 1 and events["duplicate_row"] == 1
    assert by_reason(result, "ratings")["not_allowed_now"] == 1
    assert by_reason(result, "materials")["unknown_material"] == 1
    assert all(r.status == "rejected" for r in result.rows if r.legacy_no and r.legacy_no.startswith("BAD"))
    assert all(legacy_report.message(r) for r in result.rows if r.status == "rejected")
    assert not any(r.reason == "unplaced" for r in result.rows)
    assert not result.clean

    got = imported_cases(db)
    assert sorted(got) == sorted(GOOD)
    _check_imported_cases(db, got)

    # the record of every imported case verifies as the services' records do
    n_cases, n_events, problems = record_check.verify(db, case_ids=[c["case_id"] for c in got.values()])
    assert (n_cases, problems) == (len(GOOD), []) and n_events == sum(c["version"] for c in got.values())
    from pipelines import verify_record
    if db.schema:
        monkeypatch.setenv("EZZ_DATABASE_SCHEMA", db.schema)
    assert verify_record.main(["--database-url", db.url] + (["--case", got["SP2014-0002"]["case_no"]])) == 0

    # a rerun imports nothing twice
    again = run(db, paths)
    assert again.cases_imported == 0
    assert {r.legacy_no for r in again.rows if r.reason == "already_imported"} == set(GOOD)
    assert all(r.status == "rejected" for r in again.rows)
    assert imported_cases(db).keys() == got.keys() and count(db, s.ratings) == 2

    # the marts include the imported history: received in the weeks of March 2014, for 市场监管局
    # an incremental refresh picks up the new case ids
    assert marts.refresh(db, build_day=date(2026, 11, 26)).mode == "incremental"
    after = marts.read(db, "SELECT COUNT(*) AS n FROM marts.fct_case")["n"][0]
    assert after == before + len(GOOD)
    weeks = marts.read(db, "SELECT week, received, completed FROM marts.mart_dept_week WHERE dept_code = 'SCJG' "
                           "ORDER BY week")
    received = dict(zip(weeks["week"].to_list(), weeks["received"].to_list()))
    assert received == {date(2014, 3, 3): 6, date(2014, 3, 10): 0}   # the second week: completions only
    completed = dict(zip(weeks["week"].to_list(), weeks["completed"].to_list()))
    assert completed[date(2014, 3, 3)] == 2 and completed[date(2014, 3, 10)] == 1
    rated = marts.read(db, "SELECT rating_level FROM marts.fct_case WHERE rating_level IS NOT NULL "
                           "ORDER BY rating_level")
    assert rated["rating_level"].to_list() == [2, 4]


def _check_imported_cases(db, got: dict[str, dict]) -> None:  # noqa: ANN001
    one, two, three, four, five, six = (got[f"SP2014-000{n}"] for n in range(1, 7))
    for c in got.values():
        assert c["source_system"] == SYSTEM and c["case_no"].startswith("420700-2014030")
        assert c["version"] == len(events_of(db, c["case_id"]))
        assert c["applicant_user_id"] is None and c["dept_code"] == "SCJG"
    # the first: the old steps as the workflow's moves, in time order, with the old names kept
    ev = events_of(db, one["case_id"])
    assert [e["action"] for e in ev] == ["create", "submit", "accept", "start_review", "review_opinion", "approve",
                                         "complete", "rate"]
    assert ev[0]["payload"]["legacy_no"] == "SP2014-0001" and ev[0]["payload"]["source_system"] == SYSTEM
    assert ev[1]["payload"]["legacy_step"] == "收件" and ev[5]["payload"]["legacy_handler"] == "刘科长"
    assert [e["actor_role"] for e in ev[2:6]] == [wf.OFFICER, wf.OFFICER, wf.OFFICER, wf.HEAD]
    assert ev[6]["payload"]["result_no"] == one["result_no"] == f"JG-{one['case_no']}"
    assert (one["state"], one["submitted_at"], one["completed_at"]) == (
        "completed", datetime(2014, 3, 3, 9, 30), datetime(2014, 3, 6, 10, 0))
    assert one["accepted_unit_id"] == one["unit_id"] == "U-420704-SCJG"   # the district handles it for 吴都社区
    assert one["clock_start"] == date(2014, 3, 4) and one["promised_due"] == date(2014, 3, 7)
    assert one["warning_level"] is None
    # the second: mapped names, the supplement stop, the refusal, the bad review's follow-up and the complaint
    ev = events_of(db, two["case_id"])
    assert [e["action"] for e in ev] == ["create", "submit", "request_supplement", "complain", "supplement",
                                         "accept", "start_review", "refuse", "complete", "rate"]
    assert two["item_code"] == "4207-SCJG-003" and two["supplement_count"] == 1 and two["region_code"] == "420704002"
    assert ev[2]["payload"]["supplement_number"] == 1 and ev[7]["comment"] == "经营场所不符合食品安全要求"
    with db.read() as conn:
        stops = conn.execute(sa.select(s.clock_stops).where(s.clock_stops.c.case_id == two["case_id"])).fetchall()
        followup = conn.execute(sa.select(s.review_followups).where(
            s.review_followups.c.case_id == two["case_id"])).fetchone()
        complaint = conn.execute(sa.select(s.complaints).where(s.complaints.c.case_id == two["case_id"])).fetchone()
        mats = conn.execute(sa.select(s.case_materials, s.stored_files.c.sha256, s.stored_files.c.file_name)
                            .join(s.stored_files, s.stored_files.c.file_id == s.case_materials.c.file_id)
                            .where(s.case_materials.c.case_id == two["case_id"])
                            .order_by(s.case_materials.c.round)).fetchall()
    assert [(x.kind, x.started_on, x.ended_on) for x in stops] == [("supplement", date(2014, 3, 5), date(2014, 3, 7))]
    assert (followup.level, followup.state, followup.unit_id) == (2, "open", "U-420704-SCJG")
    assert (complaint.answer, complaint.due_on) == ("已核实并整改", date(2014, 3, 13))
    assert [(m.material_seq, m.round, m.sha256, m.file_name) for m in mats] == [
        (2, 0, "cd" * 32, "执照.jpg"), (2, 1, "ef" * 32, "执照-补正.jpg")]
    # the third is still open: its clock ran on to today, long overdue
    assert (three["state"], three["warning_level"], three["region_code"]) == ("accepted", "red", "420704")
    assert [e["action"] for e in events_of(db, three["case_id"])][-1] == "complain"
    # the fourth: one old step (即办) as the four moves of an on-the-spot item, at the same time
    assert [e["action"] for e in events_of(db, four["case_id"])] == [
        "create", "submit", "accept", "start_review", "approve", "complete"]
    assert (four["channel"], four["applicant_id_kind"], four["item_code"]) == ("online", "credit_code", "4207-SCJG-001")
    assert (five["state"], five["closed_at"]) == ("withdrawn", datetime(2014, 3, 7, 9, 0))
    assert (six["state"], six["version"], six["warning_level"]) == ("submitted", 2, "red")


def test_a_killed_import_leaves_no_partial_batch(fresh, tmp_path):
    """The import runs in a subprocess that dies inside the transaction of its second batch (two cases a batch,
    killed on writing the third case): the first batch is there, whole, the second not at all; the next run
    imports the rest."""
    db = fresh
    system = "crash_test"
    config_dir = _config_copy(tmp_path, system)
    paths = write_export(tmp_path / "export", "csv", "utf-8-sig")
    env = {**os.environ, "EZZ_IMPORT_CRASH_AFTER_CASES": "3", "PYTHONPATH": str(ROOT)}
    if db.schema:
        env["EZZ_DATABASE_SCHEMA"] = db.schema
    db.dispose()   # DuckDB: one process per file
    done = subprocess.run([sys.executable, "-m", "pipelines.import_legacy", "--system", system, "--config-dir",
                           str(config_dir), "--database-url", db.url, "--batch-size", "2",
                           "--report", str(tmp_path / "r.csv"), *map(str, paths)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 75, done.stderr
    with db.read() as conn:
        got = conn.execute(sa.select(s.cases.c.case_id, s.cases.c.legacy_no, s.cases.c.version)
                           .where(s.cases.c.source_system == system)).fetchall()
        n_events = conn.execute(sa.select(sa.func.count()).select_from(s.case_events).where(
            s.case_events.c.case_id.in_([r.case_id for r in got]))).scalar_one()
    assert sorted(r.legacy_no for r in got) == ["SP2014-0001", "SP2014-0002"]   # the first batch, whole
    assert n_events == sum(r.version for r in got)
    assert record_check.verify(db, case_ids=[r.case_id for r in got])[2] == []
    assert count(db, s.ratings, s.ratings.c.case_id.in_([r.case_id for r in got])) == 2

    rest = legacy_import.run_import(db, system, legacy_import.sources_from_paths(paths), config_dir=config_dir)
    assert rest.cases_imported == len(GOOD) - 2
    assert {r.legacy_no for r in rest.rows if r.reason == "already_imported"} == {"SP2014-0001", "SP2014-0002"}
    assert count(db, s.cases, s.cases.c.source_system == system) == len(GOOD)


def _config_copy(tmp_path: Path, system: str) -> Path:
    """The shipped configuration under another source-system name (its cases are told apart from the main
    test's)."""
    folder = tmp_path / "config"
    folder.mkdir()
    text = (ROOT / "data" / "import" / f"{SYSTEM}.toml").read_text(encoding="utf-8")
    (folder / f"{system}.toml").write_text(text.replace(f'source_system = "{SYSTEM}"', f'source_system = "{system}"'),
                                           encoding="utf-8")
    (folder / f"{system}_mapping.csv").write_bytes((ROOT / "data" / "import" / f"{SYSTEM}_mapping.csv").read_bytes())
    return folder


# -- the other encodings and file types (DuckDB) ---------------------------------------------------------------
@pytest.mark.parametrize("fmt,encoding", [("csv", "utf-8"), ("csv", "utf-8-sig"), ("xlsx", None)])
def test_utf8_and_xlsx_exports_give_the_same_outcome(own_db, tmp_path, fmt, encoding):
    db = own_db
    result = run(db, write_export(tmp_path / "export", fmt, encoding or "utf-8"))
    expected = dict(EXPECTED_CASES)
    if fmt == "xlsx":
        expected["BAD-ENC"] = ""     # a workbook has no encoding to get wrong: the row is a good case
    assert outcome(result) == {"": "missing_key", **expected}
    for f in legacy_report.file_summary(result).iter_rows(named=True):
        assert f["rows_read"] == f["imported"] + f["rejected"]
        assert f["encoding"] == (encoding or "xlsx")
    got = imported_cases(db)
    assert sorted(got) == sorted(k for k, v in expected.items() if not v)
    assert record_check.verify(db, case_ids=[c["case_id"] for c in got.values()])[2] == []
    if fmt == "xlsx":   # Excel's own dates and the text stamps arrive the same
        assert got["SP2014-0001"]["submitted_at"] == datetime(2014, 3, 3, 9, 30)


def test_report_files_and_the_command(own_db, tmp_path):
    db = own_db
    paths = write_export(tmp_path / "export", "csv", "gbk")
    db.dispose()
    report = tmp_path / "report.xlsx"
    code = import_legacy.main(["--system", SYSTEM, "--database-url", db.url, "--report", str(report),
                               str(tmp_path / "export")])
    assert code == 1      # rows were rejected: the report needs reading
    book = openpyxl.load_workbook(report, read_only=True)
    assert book.sheetnames == ["导入报告", "各文件", "拒绝原因"]
    header = next(book["导入报告"].iter_rows(values_only=True))
    assert header == ("文件", "类别", "行号", "原办件编号", "结果", "原因代码", "说明", "平台办件编号")
    rows = list(book["导入报告"].iter_rows(values_only=True))[1:]
    assert len(rows) == sum(len(r) - 1 for r in export_rows().values())
    bad_dates = next(r for r in rows if r[3] == "BAD-DATES" and r[1] == "办件")
    assert bad_dates[6] == "时间不合理：决定时间（2014-03-01 10:00:00）早于申请时间（2014-03-10 09:00:00）。"
    # the CSV, in English: the same rows
    result = run(db, paths)
    csv_text = legacy_report.report_bytes(result, "csv", "en").decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "File,Kind,Line,Old case number,Result,Reason code,Explanation," \
                                       "Platform case number"
    assert len(csv_text.strip().splitlines()) == len(rows) + 1
    # an export with nothing wrong in it exits 0 (here: the good cases again, all imported before)
    good = write_export(tmp_path / "good", "csv", "gbk", only=GOOD)
    db.dispose()
    assert import_legacy.main(["--system", SYSTEM, "--database-url", db.url, "--report", str(tmp_path / "g.csv"),
                               *map(str, good)]) == 0
    with db.read() as conn:
        audit = conn.execute(sa.select(s.audit_log.c.action).where(s.audit_log.c.action.like("legacy_import%"))
                             ).fetchall()
    assert [a.action for a in audit].count("legacy_import") == 3


def test_an_unusable_file_holds_the_whole_import_back(own_db, tmp_path):
    db = own_db
    paths = write_export(tmp_path / "export", "csv", "utf-8")
    (tmp_path / "export" / "评价.csv").write_bytes(bytes(range(128, 256)) * 40)   # neither UTF-8 nor GBK
    (tmp_path / "export" / "说明.csv").write_text("随导出附带的说明\n第一行\n", encoding="utf-8")  # not an export
    result = run(db, [tmp_path / "export"])
    assert result.cases_imported == 0 and count(db, s.cases) == 0
    reasons = Counter(r.reason for r in result.rows)
    assert reasons["bad_encoding_file"] >= 1 and reasons["unknown_file"] == 1
    assert reasons["bad_encoding"] == 1      # the broken line of the cases file keeps its own reason
    assert reasons["blocked_by_file"] == len(result.rows) - 3
    assert len(paths) == 5


def test_configuration_errors_stop_the_import_before_anything_is_read(tmp_path, seeded_db):
    folder = _config_copy(tmp_path, "broken")
    (folder / "broken_mapping.csv").write_text("kind,old_name,code,reviewed_by\nitem,旧事项,4207-NOPE-999,审核人\n",
                                               encoding="utf-8")
    with pytest.raises(legacy_import.ImportConfigError) as err:
        legacy_import.run_import(seeded_db, "broken", [], config_dir=folder)
    assert "4207-NOPE-999" in err.value.params["detail"]
    with pytest.raises(legacy_import.ImportConfigError) as err:
        legacy_import.run_import(seeded_db, "no_such_system", [])
    assert err.value.key == "import.config_missing"
    text = (folder / "broken.toml").read_text(encoding="utf-8").replace('"受理" = "accepted"', '"受理" = "accpeted"')
    (folder / "broken.toml").write_text(text, encoding="utf-8")
    with pytest.raises(legacy_import.ImportConfigError) as err:
        legacy_import.load_config("broken", folder)
    assert "accpeted" in err.value.params["detail"]
    assert legacy_import.systems()[SYSTEM] == "鄂州市网上审批系统（旧）"


# -- reading ------------------------------------------------------------------------------------------------------
def test_encodings_are_detected_and_a_broken_line_isolated():
    text = "办件编号,申请人\nA1,张三\nA2,李四\n"
    assert legacy_read.decode(text.encode("utf-8")) == (text, "utf-8")
    assert legacy_read.decode(b"\xef\xbb\xbf" + text.encode("utf-8"))[1] == "utf-8-sig"
    assert legacy_read.decode(text.encode("gbk")) == (text, "gb18030")
    mixed = text.encode("utf-8") + "A3,王五\n".encode("gbk")        # one GBK line in a UTF-8 file
    sheet = legacy_read.csv_sheet("x.csv", mixed)
    assert sheet.encoding == "utf-8" and sheet.undecodable == {4}
    assert [cells[0] for _, cells in sheet.rows] == ["A1", "A2", "A3"]
    with pytest.raises(legacy_read.UnreadableFile) as err:
        legacy_read.csv_sheet("x.csv", b"a,b\n" + bytes(range(128, 256)) * 8 + b"\n" + b"\xff\xfe\n")
    assert err.value.reason == "bad_encoding_file" and err.value.lines == [2, 3]


@pytest.mark.parametrize("text,expected", [
    ("2013-06-27 09:30", datetime(2013, 6, 27, 9, 30)),
    ("2013-06-27 09:30:15", datetime(2013, 6, 27, 9, 30, 15)),
    ("2013/6/27", datetime(2013, 6, 27)),
    ("2013/6/27 9:05", datetime(2013, 6, 27, 9, 5)),
    ("20130627093000", datetime(2013, 6, 27, 9, 30)),
    ("201306270930", datetime(2013, 6, 27, 9, 30)),
    ("20130627", datetime(2013, 6, 27)),
    ("2013年6月27日", datetime(2013, 6, 27)),
    ("2013-06-27T09:30:00.0", datetime(2013, 6, 27, 9, 30)),
    ("2013-06-27T01:30:00Z", datetime(2013, 6, 27, 9, 30)),               # UTC → Beijing time
    ("2013-06-27 09:30:00+08:00", datetime(2013, 6, 27, 9, 30)),
    (datetime(2013, 6, 27, 9, 30, 0, 500), datetime(2013, 6, 27, 9, 30)),
    (20130627093000, datetime(2013, 6, 27, 9, 30)),
])
def test_old_time_stamps(text, expected):
    assert legacy_read.parse_time(legacy_read.clean_cell(text)) == expected


@pytest.mark.parametrize("text", ["2013-13-01", "2013-02-30 10:00", "27/06/2013", "2013062", "昨天", "2013-06-27 25:00"])
def test_impossible_time_stamps_are_refused(text):
    with pytest.raises(legacy_read.BadTime):
        legacy_read.parse_time(text)


def test_a_material_whose_file_is_not_here_says_so(tmp_path, monkeypatch):
    """Imported materials are metadata: a preview finds no file and says so instead of failing."""
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path))
    db = make_database("duckdb", tmp_path)
    db.migrate()
    with db.engine.begin() as conn:
        file_id = conn.execute(s.stored_files.insert().values(
            file_name="申请书.pdf", extension="pdf", size_bytes=1, sha256=HASH, storage_path=f"{HASH[:2]}/{HASH}",
            uploaded_at=datetime(2014, 3, 3)).returning(s.stored_files.c.file_id)).scalar_one()
        with pytest.raises(files.FileRejected) as err:
            files.read(conn, file_id)
    assert err.value.key == "file.missing"
    db.dispose()


def test_page_is_for_administrators_only(env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "admin_import.py"), default_timeout=60)
    at.session_state["ezz_actor"] = env.actors["officer"]
    at.run()
    assert at.error and not at.file_uploader and not at.metric


def test_page_imports_uploaded_files_and_shows_the_report(own_db, tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    env = own_db   # its own database: the import's cases stay out of the shared one
    monkeypatch.setenv("EZZ_DATABASE_URL", env.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()

    paths = write_export(tmp_path / "export", "csv", "gbk")
    at = AppTest.from_file(str(ROOT / "pages" / "admin_import.py"), default_timeout=60)
    at.session_state["ezz_actor"] = env.actors["admin"]
    at.run()
    assert not at.exception
    assert at.selectbox(key="import-system").value == SYSTEM
    at.file_uploader(key="import-files").set_value([(p.name, p.read_bytes(), "text/csv") for p in paths])
    at.run()
    at.button(key="import-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    figures = {m.label: m.value for m in at.metric}
    total = sum(len(r) - 1 for r in export_rows().values())
    assert figures["读取行数"] == str(total) and figures["导入办件"] == str(len(GOOD))
    assert int(figures["已导入"]) + int(figures["已拒绝"]) == total
    report = [d.value for d in at.dataframe if "说明" in d.value.columns]
    assert report and len(report[-1]) == total
    assert count(env, s.cases, s.cases.c.source_system == SYSTEM) == len(GOOD)


def test_bulk_insert_matches_the_orm_encoding(tmp_path):
    """JSON written by the bulk path reads back as the services' JSONText would have written it."""
    db = make_database("duckdb", tmp_path)
    db.migrate()
    row = dict(case_id=1, seq=1, occurred_at=datetime(2014, 3, 3, 9, 30), actor_user_id=None, actor_role="officer",
               actor_unit_id="U-4207-SCJG", action="accept", from_state="submitted", to_state="accepted",
               comment="同意", payload={"b": 1, "a": "甲"}, prev_hash=None, hash="x")
    with db.engine.begin() as conn:
        bulk_insert(conn, s.case_events, [row])
    with db.read() as conn:
        raw = conn.execute(sa.text("SELECT payload FROM case_events")).scalar_one()
        back = conn.execute(sa.select(s.case_events.c.payload)).scalar_one()
    assert raw == '{"a": "甲", "b": 1}' and back == {"a": "甲", "b": 1}
    db.dispose()


# -- the same as the services would have left it -------------------------------------------------------------------
SAME_AS_SERVICES = ("state", "unit_id", "accepted_unit_id", "dept_code", "region_code", "submitted_at", "accepted_at",
                    "decided_at", "completed_at", "closed_at", "clock_start", "promised_due", "statutory_due",
                    "supplement_count", "clock_stopped", "extension_days", "version")


def _services_story(db, steps) -> dict:  # noqa: ANN001
    """The story told through app/cases (create_case, perform) with the test users, at the given times."""
    from app import cases
    from tests.factories import enterprise_applicant

    a = db.actors
    _, at0 = steps[0]
    case = cases.create_case(db, a["clerk"], item_code="4207-SCJG-003", applicant=enterprise_applicant(),
                             region_code="420704002", channel="window", submit=True, at=at0)
    for (action, who, comment, payload), at in steps[1:]:
        case = cases.perform(db, a[who], case["case_id"], action, expected_version=case["version"], comment=comment,
                             payload=payload, at=at)
    return case


def test_imported_records_leave_the_case_as_the_services_would(own_db, tmp_path):
    """Three stories imported, and told again through the services: the clock (supplement stop, art. 32's deemed
    acceptance, a special procedure), the times and the units end the same. The imported record keeps the old
    steps only (no review opinions, no documents), so events are compared by their moves."""
    db = own_db
    firm = make_credit_code("91420700MA4" + "F0G1H2")
    export = tmp_path / "export"
    export.mkdir()
    t = datetime
    stories = {
        # a supplement round, then a refusal
        "EQ-1": [("收件", t(2014, 3, 4, 9, 5)), ("补正告知", t(2014, 3, 5, 10, 0)), ("补齐材料", t(2014, 3, 7, 9, 0)),
                 ("受理", t(2014, 3, 7, 10, 0)), ("承办", t(2014, 3, 10, 9, 0)), ("不予许可", t(2014, 3, 12, 16, 0)),
                 ("办结", t(2014, 3, 13, 9, 0))],
        # accepted eight working days after receipt: counts from receipt (art. 32), still open
        "EQ-2": [("收件", t(2014, 3, 3, 9, 0)), ("受理", t(2014, 3, 13, 10, 0))],
        # a special procedure (the clock stops), resumed, approved and completed late
        "EQ-3": [("收件", t(2014, 4, 1, 9, 0)), ("受理", t(2014, 4, 2, 9, 0)), ("承办", t(2014, 4, 2, 10, 0)),
                 ("挂起", t(2014, 4, 3, 10, 0)), ("恢复", t(2014, 4, 15, 10, 0)), ("批准", t(2014, 4, 21, 10, 0)),
                 ("办结", t(2014, 4, 22, 10, 0))],
    }
    final = {"EQ-1": "办结", "EQ-2": "受理", "EQ-3": "办结"}
    (export / "办件.csv").write_text("\n".join([",".join(CASE_HEAD)] + [
        ",".join([no, FOOD, SCJG, "鄂州示例科技有限公司", firm, "420704002", "窗口", f"{steps[0][1]:%Y-%m-%d %H:%M}",
                  final[no], "", "", "", ""]) for no, steps in stories.items()]) + "\n", encoding="utf-8")
    (export / "流程.csv").write_text("\n".join([",".join(EVENT_HEAD)] + [
        ",".join([no, step, f"{at:%Y-%m-%d %H:%M}", "", "理由" if step in ("补正告知", "不予许可", "挂起") else ""])
        for no, steps in stories.items() for step, at in steps]) + "\n", encoding="utf-8")
    result = run(db, [export])
    assert result.clean, [(r.legacy_no, r.reason, r.params) for r in result.rows if r.reason]
    imported = imported_cases(db)

    reviewed = [("review_opinion", "district_officer", "同意", {"step": "审查"}),
                ("review_opinion", "district_head", "同意", {"step": "审核"})]
    told = {
        "EQ-1": [(None, t(2014, 3, 4, 9, 5)),
                 (("request_supplement", "district_officer", "理由", {"materials": [2]}), t(2014, 3, 5, 10, 0)),
                 (("supplement", "clerk", None, None), t(2014, 3, 7, 9, 0)),
                 (("accept", "district_officer", None, None), t(2014, 3, 7, 10, 0)),
                 (("start_review", "district_officer", None, None), t(2014, 3, 10, 9, 0)),
                 *[(step, t(2014, 3, 10, 9, 0)) for step in reviewed],
                 (("refuse", "district_head", "理由", None), t(2014, 3, 12, 16, 0)),
                 (("complete", "district_officer", None, None), t(2014, 3, 13, 9, 0))],
        "EQ-2": [(None, t(2014, 3, 3, 9, 0)), (("accept", "district_officer", None, None), t(2014, 3, 13, 10, 0))],
        "EQ-3": [(None, t(2014, 4, 1, 9, 0)), (("accept", "district_officer", None, None), t(2014, 4, 2, 9, 0)),
                 (("start_review", "district_officer", None, None), t(2014, 4, 2, 10, 0)),
                 *[(step, t(2014, 4, 2, 10, 0)) for step in reviewed],
                 (("suspend", "district_officer", "理由", None), t(2014, 4, 3, 10, 0)),
                 (("resume", "district_officer", None, None), t(2014, 4, 15, 10, 0)),
                 (("approve", "district_head", None, None), t(2014, 4, 21, 10, 0)),
                 (("complete", "district_officer", None, None), t(2014, 4, 22, 10, 0))],
    }
    for no, steps in told.items():
        mine, theirs = imported[no], _services_story(db, steps)
        opinions = sum(1 for step, _ in steps[1:] if step[0] == "review_opinion")
        theirs = {**theirs, "version": theirs["version"] - opinions}   # the old record has no opinions
        assert {k: mine[k] for k in SAME_AS_SERVICES} == {k: theirs[k] for k in SAME_AS_SERVICES}, no
        if no != "EQ-2":   # an open case's level is today's for the import, the last move's day for the services
            assert mine["warning_level"] == theirs["warning_level"], no
        with db.read() as conn:
            def stops(case_id: int) -> list[tuple]:
                return [tuple(r)[1:] for r in conn.execute(
                    sa.select(s.clock_stops).where(s.clock_stops.c.case_id == case_id).order_by(s.clock_stops.c.seq))]
            assert stops(mine["case_id"]) == stops(theirs["case_id"]), no
        moves = [e["action"] for e in events_of(db, theirs["case_id"]) if e["action"] != "review_opinion"]
        assert [e["action"] for e in events_of(db, mine["case_id"])] == moves, no
    deemed = events_of(db, imported["EQ-2"]["case_id"])[-1]["payload"]
    assert deemed["deemed_accepted_on"] == "2014-03-03" and imported["EQ-2"]["clock_start"] == date(2014, 3, 3)


def test_bare_dates_are_a_day_and_a_missing_column_is_named(own_db, tmp_path):
    """Old exports mix 2014-03-05 with 2014-03-05 16:00: a bare date is "that day", never an impossible order.
    A file without a required column is unusable as a whole, and the report names the old column."""
    db = own_db
    export = tmp_path / "export"
    export.mkdir()
    firm = make_credit_code("91420700MA4" + "F0G1H2")
    (export / "办件.csv").write_text(",".join(CASE_HEAD) + "\n" + ",".join(
        ["D-1", FOOD, SCJG, "某公司", firm, "420704002", "窗口", "2014-03-03 09:00", "办结", "2014-03-04",
         "2014-03-05 16:00", "2014-03-05", ""]) + "\n", encoding="utf-8")
    (export / "流程.csv").write_text(",".join(EVENT_HEAD) + "\n" + "\n".join(",".join(r) for r in [
        ["D-1", "收件", "2014-03-03", "", ""], ["D-1", "受理", "2014-03-04", "", ""],
        ["D-1", "承办", "2014-03-04 10:00", "", ""], ["D-1", "批准", "2014-03-05 16:00", "", ""],
        ["D-1", "办结", "2014-03-05 17:00", "", ""]]) + "\n", encoding="utf-8")
    result = run(db, [export])
    assert result.clean, [(r.line, r.reason, r.params) for r in result.rows if r.reason]
    case = imported_cases(db)["D-1"]
    times = [e["occurred_at"] for e in events_of(db, case["case_id"])]
    assert times == sorted(times) and case["submitted_at"] == datetime(2014, 3, 3, 9, 0)

    (export / "流程.csv").write_text("办件编号,环节名称,处理人\nD-2,受理,李\n", encoding="utf-8")
    blocked = run(db, [export])
    [bad] = [r for r in blocked.rows if r.file == "流程.csv"]
    assert bad.reason == "missing_column" and legacy_report.message(bad) == \
        "文件缺少必需的列“处理时间”（处理时间），整个文件无法使用。"
    assert {r.reason for r in blocked.rows if r.file == "办件.csv"} == {"blocked_by_file"}
