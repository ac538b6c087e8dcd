"""植入 at scale: an old system's export of N cases (default 20,000) with their events, materials, ratings and
complaints — GBK CSV, as the old system writes it, with a sprinkling of the faults real exports have — imported
into a fresh database; prints the import report's summary and rows per second, then checks the imported
records (app/record_check), reruns the import (nothing may be imported twice) and refreshes the marts.

    .venv/bin/python -m bench.import_legacy                       # 20,000 cases into a temporary DuckDB file
    .venv/bin/python -m bench.import_legacy --cases 100000 --database-url postgresql://postgres@127.0.0.1/test

Nothing is asserted but what the run reports; the numbers are for the closing note of issue 7.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYSTEM = "city_approval"
# The shape of the old history (a demo's, not rules): how a case ended, in shares.
ENDINGS = (("approved", 0.70), ("refused", 0.04), ("refuse_intake", 0.03), ("withdrawn", 0.02),
           ("open_accepted", 0.03), ("open_review", 0.02), ("on_the_spot", 0.15), ("submitted", 0.01))
P_SUPPLEMENT = 0.12
P_RATED = 0.6
P_COMPLAINT = 0.005
P_MATERIALS = 0.5
# Faults of a real export, per case (each case at most one): the report must list every one.
FAULTS = (("unknown_item", 0.004), ("impossible_dates", 0.002), ("duplicate_case", 0.002), ("bad_time", 0.002),
          ("unknown_case_event", 0.002), ("bad_id", 0.001))
CASE_HEAD = "办件编号,事项名称,办理部门,申请人,证件号码,所在地区,申报方式,申请时间,办件状态,受理时间,决定时间,办结时间,结果文号"
EVENT_HEAD = "办件编号,环节名称,处理时间,处理人,处理意见"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆帅旭宁婷雪琳晨欣怡佳悦"


def working_moments(start: date, days: int) -> list[datetime]:
    """Office hours on weekdays (the old system's history; holidays are not singled out here)."""
    out, d = [], start
    while len(out) < days:
        if d.weekday() < 5:
            out.append(datetime(d.year, d.month, d.day, 8, 30))
        d += timedelta(days=1)
    return out


def generate(folder: Path, n: int, seed: int, items: list[tuple[str, str, str, bool, list[str]]],
             regions: list[str]) -> dict[str, int]:
    """Write 办件.csv, 流程.csv, 材料.csv, 评价.csv, 投诉.csv in GBK; returns the rows written per file."""
    from app.validators import USCC_CHARSET, make_credit_code, make_resident_id

    rng = random.Random(seed)
    days = working_moments(date(2013, 7, 1), 520)   # two years of the old system
    endings = [e for e, _ in ENDINGS]
    weights = [w for _, w in ENDINGS]
    files = {k: [] for k in ("办件", "流程", "材料", "评价", "投诉")}
    files["办件"].append(CASE_HEAD)
    files["流程"].append(EVENT_HEAD)
    files["材料"].append("办件编号,材料名称,文件名,SHA256,文件大小,提交时间,补正轮次")
    files["评价"].append("办件编号,评价等级,评价时间,评价内容")
    files["投诉"].append("办件编号,投诉内容,投诉时间,答复时间,答复内容")

    def at(day: int, minutes: int) -> datetime:
        base = days[min(day, len(days) - 1)]
        return base + timedelta(minutes=minutes if minutes < 210 else minutes + 120)   # lunch 12:00–14:00

    def stamp(t: datetime, style: int) -> str:   # the formats old systems mix
        return (t.strftime("%Y-%m-%d %H:%M:%S"), f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}",
                t.strftime("%Y%m%d%H%M%S"))[style]

    for k in range(n):
        no = f"EZSP{k + 1:07d}"
        code, name, dept, immediate, materials = items[rng.randrange(len(items))]
        day = int(k * (len(days) - 40) / n)
        t0 = at(day, rng.randrange(0, 400))
        style = rng.randrange(3)
        person = rng.random() < 0.7
        if person:
            born = date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
            id_no = make_resident_id("420704", born, rng.randrange(1000))
        else:
            id_no = make_credit_code("91420700MA4" + "".join(rng.choice(USCC_CHARSET) for _ in range(6)))
        applicant = (rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)) if person else f"鄂州{no[-4:]}商贸有限公司"
        ending = "on_the_spot" if immediate else rng.choices(endings, weights)[0]
        if ending == "on_the_spot" and not immediate:
            ending = "approved"
        events: list[tuple[str, datetime, str, str]] = [("收件", t0, "窗口" + rng.choice(SURNAMES) + "某", "")]
        t = t0
        supplemented = False

        def later(hours: int) -> datetime:
            nonlocal t
            t = t + timedelta(hours=hours, minutes=rng.randrange(60))
            while t.weekday() >= 5:
                t += timedelta(days=1)
            return t

        state_name = "申报"
        accepted = decided = completed = None
        if ending == "on_the_spot":
            events = [("即办", later(0), "窗口人员", "")]
            state_name, accepted, decided, completed = "即办", t, t, t
        elif ending == "submitted":
            state_name = "收件"
        else:
            if rng.random() < P_SUPPLEMENT and ending != "refuse_intake":
                events.append(("补正告知", later(20), "受理人员", "申请书未签字"))
                events.append(("补齐材料", later(48), "", ""))
                supplemented = True
            if ending == "refuse_intake":
                events.append(("不予受理", later(20), "受理人员", "申请事项不属于本机关职权范围"))
                state_name, decided = "不予受理", t
            else:
                events.append(("受理", later(20), "受理人员", "材料齐全"))
                accepted, state_name = t, "受理"
                if ending == "withdrawn":
                    events.append(("撤件", later(30), "", "申请人主动撤回"))
                    state_name, completed = "撤件", t
                elif ending != "open_accepted":
                    events.append(("承办", later(2), "承办人", ""))
                    events.append(("审核", later(24), "科长", "同意"))
                    state_name = "承办"
                    if ending in ("approved", "refused"):
                        decision = "批准" if ending == "approved" else "不予许可"
                        events.append((decision, later(24), "分管领导", "" if ending == "approved" else "不符合法定条件"))
                        events.append(("办结", later(24), "窗口人员", ""))
                        state_name, decided, completed = "办结", events[-2][1], t
        fault = None
        r = rng.random()
        acc = 0.0
        for f, p in FAULTS:
            acc += p
            if r < acc:
                fault = f
                break
        item_name = "已取消的旧事项" if fault == "unknown_item" else name
        if fault == "bad_id":
            id_no = id_no[:-1] + ("0" if id_no[-1] != "0" else "1")
        submitted = t0
        decided_text = stamp(decided, style) if decided else ""
        if fault == "impossible_dates" and decided:
            decided_text = stamp(submitted - timedelta(days=3), style)
        row = ",".join([no, item_name, dept, applicant, id_no, rng.choice(regions), rng.choice(("窗口", "网上申报")),
                        stamp(submitted, style), state_name, stamp(accepted, style) if accepted else "",
                        decided_text, stamp(completed, style) if completed and state_name == "办结" else "", ""])
        files["办件"].append(row)
        if fault == "duplicate_case":
            files["办件"].append(row)
        for n_ev, (step, when, who, comment) in enumerate(events):
            text = stamp(when, style)
            if fault == "bad_time" and n_ev == len(events) - 1:
                text = f"{when.year}-02-30 10:00"      # no such day
            files["流程"].append(",".join([no, step, text, who, comment]))
        if fault == "unknown_case_event":
            files["流程"].append(",".join([f"XX{no}", "受理", stamp(t0, style), "", ""]))
        if materials and rng.random() < P_MATERIALS:
            for m in materials[:2]:
                digest = hashlib.sha256(f"{no}/{m}".encode()).hexdigest()
                files["材料"].append(",".join([no, m, f"{m[:10]}.pdf", digest, str(10_000 + rng.randrange(900_000)),
                                              stamp(t0, style), "0"]))
            if supplemented:
                m = materials[0]
                digest = hashlib.sha256(f"{no}/{m}/1".encode()).hexdigest()
                files["材料"].append(",".join([no, m, f"{m[:10]}-补正.pdf", digest, "20480", "", "1"]))
        if completed and state_name in ("办结", "即办") and rng.random() < P_RATED:
            level = rng.choices(("非常满意", "满意", "基本满意", "不满意", "非常不满意"), (0.7, 0.2, 0.06, 0.03, 0.01))[0]
            files["评价"].append(",".join([no, level, stamp(completed + timedelta(days=1), style), ""]))
        if state_name not in ("撤件",) and rng.random() < P_COMPLAINT:
            files["投诉"].append(",".join([no, "窗口人员态度生硬，多次往返", stamp(t0 + timedelta(hours=3), style),
                                           stamp(t0 + timedelta(days=2), style), "已约谈窗口人员并致歉"]))
    counts = {}
    for name, lines in files.items():
        (folder / f"{name}.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
        counts[name] = len(lines) - 1
    return counts


def _catalogue(db) -> tuple[list[tuple[str, str, str, bool, list[str]]], list[str]]:  # noqa: ANN001
    import sqlalchemy as sa

    from app import schema as s

    with db.read() as conn:
        depts = {r.dept_code: r.name for r in conn.execute(sa.select(s.departments))}
        mats: dict[str, list[str]] = {}
        for m in conn.execute(sa.select(s.item_materials).order_by(s.item_materials.c.seq)):
            mats.setdefault(m.item_code, []).append(m.name)
        items = [(r.item_code, r.name, depts[r.dept_code], bool(r.immediate), mats.get(r.item_code, []))
                 for r in conn.execute(sa.select(s.items).where(s.items.c.is_current).order_by(s.items.c.item_code))]
        regions = [r[0] for r in conn.execute(sa.select(s.regions.c.name).where(
            s.regions.c.code.like("4207%"), sa.func.length(s.regions.c.code) == 9))]
    return items, regions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--database-url", default=None, help="default: a new DuckDB file in a temporary folder")
    parser.add_argument("--schema", default=None, help="PostgreSQL: the schema to create and drop")
    args = parser.parse_args(argv)

    from app import calendar_store, legacy_import, legacy_report, record_check
    from app.db import Database
    from pipelines import marts
    from pipelines.seed_reference import seed_reference

    work = Path(tempfile.mkdtemp(prefix="ezz-import-bench-"))
    url = args.database_url or f"duckdb:///{work / 'bench.duckdb'}"
    db = Database(url, schema=args.schema)
    if not db.is_duckdb:
        db.drop_everything()
    os.environ.setdefault("EZZ_WAREHOUSE", str(work / "warehouse.duckdb"))
    db.migrate()
    seed_reference(db)
    calendar_store.invalidate()
    items, regions = _catalogue(db)

    started = time.perf_counter()
    export = work / "export"
    export.mkdir()
    written = generate(export, args.cases, args.seed, items, regions)
    sizes = {p.name: p.stat().st_size for p in export.iterdir()}
    print(f"export: {args.cases:,} cases, GBK CSV, {sum(sizes.values()) / 1e6:.1f} MB in "
          f"{time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in written.items()))

    sources = legacy_import.sources_from_paths([export])
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "write" and (time.perf_counter() - last[0] > 5 or done == total):
            last[0] = time.perf_counter()
            print(f"  {stage}: {done:,}/{total:,} cases", file=sys.stderr, flush=True)

    result = legacy_import.run_import(db, SYSTEM, sources, username="bench", progress=progress)
    print()
    for line in legacy_report.summary_lines(result):
        print(line)
    counts = result.counts()
    print(f"\nrows read {counts['rows_read']:,} in {result.seconds:.1f} s = {counts['rows_read'] / result.seconds:,.0f} "
          f"rows/s; {counts['cases_imported']:,} cases = {counts['cases_imported'] / result.seconds:,.0f} cases/s; "
          f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    report = work / "report.xlsx"
    legacy_report.write_report(result, report)
    print(f"report: {report}")

    t = time.perf_counter()
    ids = legacy_import.case_ids_of(db, result.system)
    n_cases, n_events, problems = record_check.verify(db, case_ids=ids)
    print(f"record check: {n_cases:,} cases, {n_events:,} events, {len(problems)} problems "
          f"({time.perf_counter() - t:.1f} s)")
    again = legacy_import.run_import(db, SYSTEM, sources, username="bench")
    print(f"rerun: {again.cases_imported} cases imported, {again.counts()['already_imported']:,} rows already "
          f"imported ({again.seconds:.1f} s)")
    t = time.perf_counter()
    marts.build(db, build_day=date(2026, 11, 26))
    weeks = marts.read(db, "SELECT COUNT(*) AS weeks, SUM(received) AS received FROM marts.mart_dept_week")
    print(f"marts: full build {time.perf_counter() - t:.1f} s; {weeks['received'][0]:,} received over "
          f"{weeks['weeks'][0]:,} department-weeks")
    if not db.is_duckdb:
        db.drop_everything()
        if args.schema:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {db.schema} CASCADE")
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
