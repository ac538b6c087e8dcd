"""Case submissions per second through the service layer — the 我要办 page's own calls — with concurrent
applicants, on the DuckDB file and on PostgreSQL with one and with two app processes; then every case number is
checked unique and every submitted case's hash-chained record verified. Printed as a table; nothing is asserted.

    .venv/bin/python -m bench.submissions                                  # duckdb, pg ×1, pg ×2; 20 s each
    .venv/bin/python -m bench.submissions --runs duckdb --seconds 60
    .venv/bin/python -m bench.submissions --runs pg1,pg2,pg2x8 --count 4000 --material-kb 256
    .venv/bin/python -m bench.submissions --profile 200                    # cProfile of 200 DuckDB submissions

One submission is what pages/apply.py does when an applicant presses 提交 on a new form: applications.file_new —
the form and the materials checked first, as check_application, the five materials of 食品经营许可 written
(content-addressed under EZZ_FILES_DIR, beside the database file), then the case opened and submitted in one
transaction with the form answers, its files, locker entries and the create and submit events of its record.
Filings that arrive together share that transaction (app/group_commit.py), and their uploads are flushed to disk
together before it commits; "per batch" is the mean number of submissions per transaction.
Every submitter is its own applicant account; every upload has its own content (nothing is deduplicated away).

Runs (--runs, comma-separated):
  duckdb  a DuckDB file, one process, --submitters threads (DuckDB: one process per file)
  pg1     PostgreSQL (schema --schema, dropped and recreated), one process, --submitters threads
  pg2     PostgreSQL, two processes with --submitters/2 threads each: the same number of applicants, spread
          over two app servers' worth of processes
  pg2x8   PostgreSQL, two processes with --submitters threads each (twice the applicants: two full servers)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402 - after the path is set

PG_URL = os.environ.get("EZZ_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
ITEM = "4207-SCJG-003"   # 食品经营许可: the most frequent item, five materials
RUNS = {"duckdb": ("duckdb", 1, 1), "pg1": ("postgresql", 1, 1), "pg2": ("postgresql", 2, 2),
        "pg2x8": ("postgresql", 2, 1)}   # name: (backend, processes, divisor of --submitters per process)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)   # seconds, one per submission in the window
    case_ids: list[int] = field(default_factory=list)      # every case this worker submitted (warm-up included)
    errors: list[str] = field(default_factory=list)
    batches: int = 0     # the group writer's transactions for these submissions (per process)
    first: float = 0.0
    last: float = 0.0


def _database(url: str, schema: str | None):  # noqa: ANN202
    from app.db import get_database

    return get_database(url, schema=schema)


def prepare(url: str, schema: str | None, applicants: int) -> list[int]:
    """A fresh database: migrated, seeded, with `applicants` applicant accounts; returns their user ids."""
    from app import auth
    from app import workflow as wf
    from app.db import Database
    from app.validators import make_resident_id
    from pipelines.seed_reference import seed_reference

    if url.startswith("duckdb"):
        from app.db import forget_databases

        forget_databases()   # an earlier run's check may still hold the file open
        path = Path(url.split("///", 1)[1])
        for p in (path, path.with_name(path.name + ".wal")):
            p.unlink(missing_ok=True)
    else:
        Database(url, schema=schema).drop_everything()
    db = _database(url, schema)
    db.migrate()
    seed_reference(db)
    digest = auth.hash_password("Ezhou@2026")
    ids: list[int] = []

    def work(conn):  # noqa: ANN001, ANN202
        for n in range(applicants):
            ids.append(auth.create_user(
                conn, username=f"bench_applicant_{n}", password=None, password_hash=digest,
                display_name=f"申请人{n:02d}", role=wf.APPLICANT, id_kind="resident_id",
                id_number=make_resident_id("420704", date(1980 + n % 20, 1 + n % 12, 1 + n % 28), 100 + n)))

    db.write(work)
    return ids


def _answers(account: dict) -> dict:
    """The form of 食品经营许可 as an applicant fills it in (the fields tests/test_applications.py uses)."""
    return {"applicant_name": account["display_name"], "applicant_id": account["id_number"], "phone": "13807110000",
            "address": "鄂城区古楼街道吴都社区1号", "premises_area": "35", "business_scope": ["预包装食品销售"],
            "request": "申请食品经营许可（预包装食品销售）", "delivery": "窗口领取", "consent": True}


def _uploads(mats, block: bytes, tag: str):  # noqa: ANN001, ANN202
    """One upload per material, each with its own content: a PDF (or PNG / JPG where only those are taken)."""
    from app import files

    heads = {"pdf": b"%PDF-1.4\n", "png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0", "jpeg": b"\xff\xd8\xff\xe0"}
    out = {}
    for m in mats:
        ext = "pdf" if "pdf" in m.formats else next(f for f in m.formats if f in heads)
        out[m.seq] = files.Upload(f"{m.name[:12]}.{ext}", heads[ext] + block + f"{tag}-{m.seq}".encode())
    return out


def submitter(db, actor, villages: list[str], start_at: float, stop_at: float | None, count: int | None,  # noqa: ANN001
              material_kb: int, result: Result, lock: threading.Lock) -> None:
    """One applicant filing cases one after another, as pages/apply.py's act("submit") does for a new form."""
    from app import applications

    account = applications.account(db, actor.user_id)
    values = _answers(account)
    mats = applications.item_materials(db, ITEM, applications.published_item(db, ITEM)["version"])
    rng = random.Random(actor.user_id)
    block = rng.randbytes(material_kb * 1024)

    item = applications.published_item(db, ITEM)   # the form as the page drew it (its version is the page's state)

    def one() -> int:
        key = uuid.uuid4().hex
        uploads = _uploads(mats, block, key)
        done = applications.file_new(db, actor, ITEM, item_version=item["version"], region_code=rng.choice(villages),
                                     request_key=key, values=values, materials=uploads)
        return int(done["case_id"])

    warm = one()   # the first call of a thread reads the form, the calendar…: not part of the window
    with lock:
        result.case_ids.append(warm)
    time.sleep(max(0.0, start_at - time.time()))
    done = 0
    while (stop_at is None and done < count) or (stop_at is not None and time.time() < stop_at):
        t0 = time.perf_counter()
        try:
            case_id = one()
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            done += 1
            continue
        elapsed = time.perf_counter() - t0
        with lock:
            result.latencies.append(elapsed)
            result.case_ids.append(case_id)
            result.last = max(result.last, time.time())
        done += 1


def process_main(url: str, schema: str | None, user_ids: list[int], start_at: float, stop_at: float | None,
                 counts: list[int] | None, material_kb: int, files_dir: str, out) -> None:  # noqa: ANN001
    """One app process: one Database, a thread per applicant."""
    os.environ["EZZ_FILES_DIR"] = files_dir
    os.environ["EZZ_BACKGROUND_JOBS"] = "0"
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    import sqlalchemy as sa

    from app import auth
    from app import schema as s

    db = _database(url, schema)
    with db.read() as conn:
        villages = [r[0] for r in conn.execute(sa.select(s.regions.c.code).where(
            s.regions.c.level == sa.select(sa.func.max(s.regions.c.level)).scalar_subquery()))]
    result, lock = Result(), threading.Lock()
    threads = [threading.Thread(target=submitter, args=(db, auth.actor_for(db, uid), villages, start_at, stop_at,
                                                        None if counts is None else counts[i], material_kb,
                                                        result, lock))
               for i, uid in enumerate(user_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer = db.group_writers().get("file_new")
    result.batches = writer.batches if writer is not None else 0
    if out is None:
        return result
    out.put(result)
    return None


def run(name: str, *, submitters: int, seconds: float | None, count: int | None, material_kb: int,
        schema: str, pg_url: str) -> dict:
    backend, processes, divisor = RUNS[name]
    per_process = submitters // divisor
    total = per_process * processes
    data = ROOT / "bench" / ".data"
    data.mkdir(parents=True, exist_ok=True)
    url = f"duckdb:///{data / 'submissions.duckdb'}" if backend == "duckdb" else pg_url
    sch = None if backend == "duckdb" else schema
    user_ids = prepare(url, sch, total)
    # beside the database file, as data/files is beside data/ezz.duckdb (/tmp here creates files 30× slower)
    files_dir = tempfile.mkdtemp(prefix="ezz-bench-files-", dir=os.environ.get("BENCH_FILES_BASE", data))
    counts_all = None
    if count is not None:
        counts_all = [count // total + (1 if i < count % total else 0) for i in range(total)]
    lead = 3.0 + 2.0 * processes                      # time for the processes to start and warm up
    start_at = time.time() + lead
    stop_at = None if seconds is None else start_at + seconds
    results: list[Result] = []
    try:
        if processes == 1:
            from app.db import forget_databases

            results.append(process_main(url, sch, user_ids, start_at, stop_at, counts_all, material_kb, files_dir,
                                        None))
            forget_databases()
        else:
            from app.db import forget_databases

            forget_databases()   # the parent holds no connection while the children work
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            procs = []
            for p in range(processes):
                ids = user_ids[p * per_process:(p + 1) * per_process]
                cnt = None if counts_all is None else counts_all[p * per_process:(p + 1) * per_process]
                procs.append(ctx.Process(target=process_main,
                                         args=(url, sch, ids, start_at, stop_at, cnt, material_kb, files_dir, out)))
            for proc in procs:
                proc.start()
            results = [out.get() for _ in procs]
            for proc in procs:
                proc.join()
        latencies = sorted(x for r in results for x in r.latencies)
        errors = [e for r in results for e in r.errors]
        case_ids = [c for r in results for c in r.case_ids]
        batches = sum(r.batches for r in results)
        end = max(r.last for r in results) if latencies else start_at
        elapsed = (stop_at - start_at) if seconds is not None else end - start_at
        check = verify(url, sch, case_ids)
    except BaseException:
        shutil.rmtree(files_dir, ignore_errors=True)
        raise
    n = len(latencies)
    return {"backend": "DuckDB file" if backend == "duckdb" else "PostgreSQL", "processes": processes,
            "submitters": f"{total}" if processes == 1 else f"{per_process}+{per_process}",
            "submissions": n, "seconds": elapsed, "rate": n / elapsed if elapsed else 0.0,
            "p50": _pct(latencies, 50), "p95": _pct(latencies, 95), "errors": len(errors),
            "per_batch": len(case_ids) / batches if batches else float("nan"),
            "error_samples": sorted(set(errors))[:3], "check": check, "files_dir": files_dir}


def _pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def verify(url: str, schema: str | None, case_ids: list[int]) -> str:
    """Afterwards: every case number unique, every submitted case whole (five materials, events = version) and
    its record chain verified. Returns 'ok' or what is wrong."""
    import sqlalchemy as sa

    from app import record_check
    from app import schema as s
    from app import workflow as wf

    db = _database(url, schema)
    c = s.cases.c
    with db.read() as conn:
        n, distinct = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(c.case_no)))
                                   .select_from(s.cases)).one()
        states = dict(conn.execute(sa.select(c.state, sa.func.count()).group_by(c.state)).fetchall())
        short = conn.execute(sa.select(sa.func.count()).select_from(
            sa.select(s.case_materials.c.case_id).group_by(s.case_materials.c.case_id)
            .having(sa.func.count() < 5).subquery())).scalar_one()
    problems = []
    if n != distinct:
        problems.append(f"{n - distinct} duplicate case numbers")
    if len(set(case_ids)) != len(case_ids) or states.get(wf.SUBMITTED, 0) != len(case_ids) or n != len(case_ids):
        problems.append(f"{n} cases, {states} by state, {len(case_ids)} submitted by the bench")
    if short:
        problems.append(f"{short} cases with fewer than five materials")
    checked, events, chain = record_check.verify(db, case_ids=case_ids)
    if chain:
        problems.append(f"{len(chain)} record problems, e.g. {chain[0]}")
    if checked != len(case_ids):
        problems.append(f"{checked} of {len(case_ids)} records checked")
    return "ok" if not problems else "; ".join(problems)


def profile(submissions: int, material_kb: int) -> None:
    """cProfile of `submissions` submissions by one applicant on a fresh DuckDB file (cumulative top 40)."""
    import cProfile
    import pstats

    data = ROOT / "bench" / ".data"
    data.mkdir(parents=True, exist_ok=True)
    url = f"duckdb:///{data / 'submissions-profile.duckdb'}"
    ids = prepare(url, None, 1)
    files_dir = tempfile.mkdtemp(prefix="ezz-bench-files-", dir=os.environ.get("BENCH_FILES_BASE", data))
    os.environ["EZZ_FILES_DIR"] = files_dir
    import sqlalchemy as sa

    from app import auth
    from app import schema as s

    db = _database(url, None)
    with db.read() as conn:
        villages = [r[0] for r in conn.execute(sa.select(s.regions.c.code).where(s.regions.c.level == 5))]
    result = Result()
    prof = cProfile.Profile()
    try:
        prof.enable()   # in this thread: the submitter runs here, not in a thread of its own
        submitter(db, auth.actor_for(db, ids[0]), villages, time.time(), None, submissions, material_kb, result,
                  threading.Lock())
        prof.disable()
    finally:
        shutil.rmtree(files_dir, ignore_errors=True)
    lat = sorted(result.latencies)
    print(f"{len(lat)} submissions, mean {statistics.mean(lat) * 1000:.1f} ms, p50 {_pct(lat, 50):.1f} ms")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="duckdb,pg1,pg2", help=f"comma-separated of {', '.join(RUNS)}")
    parser.add_argument("--submitters", type=int, default=8, help="concurrent applicants (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run's window (default 20)")
    parser.add_argument("--count", type=int, default=None, help="a fixed number of submissions instead of --seconds")
    parser.add_argument("--material-kb", type=int, default=64, help="size of each of the five uploads (default 64)")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--schema", default="ezz_bench", help="PostgreSQL schema, dropped and recreated per run")
    parser.add_argument("--profile", type=int, default=None, metavar="N",
                        help="instead: cProfile N submissions of one applicant on DuckDB")
    args = parser.parse_args(argv)
    os.environ.setdefault("EZZ_BACKGROUND_JOBS", "0")
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    if args.profile:
        profile(args.profile, args.material_kb)
        return 0
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown run {unknown}; choose from {', '.join(RUNS)}")
    seconds = None if args.count is not None else args.seconds
    rows = []
    for name in names:
        print(f"{name}: preparing and running…", file=sys.stderr, flush=True)
        loop = machine.reference_loop()   # the machine's speed just before this run: it drifts between runs
        rows.append({**run(name, submitters=args.submitters, seconds=seconds, count=args.count,
                           material_kb=args.material_kb, schema=args.schema, pg_url=args.pg_url), "loop": loop})
    print(f"\n{ITEM} (食品经营许可): form + 5 uploads of {args.material_kb} KB each per submission; "
          f"{machine.describe()}; \"ref loop\": that loop just before the run\n")
    print("| backend     | processes | submitters | submissions | seconds | submissions/s | p50 ms | p95 ms "
          "| per batch | errors | data check | ref loop s |")
    print("|-------------|----------:|-----------:|------------:|--------:|--------------:|-------:|-------:"
          "|----------:|-------:|------------|-----------:|")
    for r in rows:
        print(f"| {r['backend']:11} | {r['processes']:9} | {r['submitters']:>10} | {r['submissions']:11,} "
              f"| {r['seconds']:7.1f} | {r['rate']:13.1f} | {r['p50']:6.1f} | {r['p95']:6.1f} | {r['per_batch']:9.1f} "
              f"| {r['errors']:6} "
              f"| {r['check']} | {r['loop']:10.2f} |")
    for r in rows:
        for sample in r["error_samples"]:
            print(f"  error ({r['backend']}, {r['processes']} process): {sample}")
    # The runs' uploads are deleted only now: deleting tens of thousands of files keeps the disk busy for a while
    # (the filesystem discards the freed blocks), and the run after a deletion measured up to a third slower.
    for r in rows:
        shutil.rmtree(r["files_dir"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
