"""Two REAL servers on one PostgreSQL (issue 8), driven with Playwright in Debian's chromium: a user moved to the
other server stays signed in and a sign-out on one ends the session on both; two officers on two servers press
受理 on one case at once and exactly one wins while the other is told the case changed; case numbers stay unique
when two processes file at once; the background jobs run on one server, and when it is killed the other takes
them over within a minute.

The servers are started once for the module (tests/multi_server_support.py); the jobs test kills one, so it runs
last.

    .venv/bin/python -m pytest tests/test_multi_server.py -q -x
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import timedelta

import duckdb
import pytest

pytest.importorskip("playwright.sync_api")
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app import auth, cases
from app import schema as s
from app import timeutil
from tests.browser_support import (  # noqa: F401 - fixtures are used by name
    COOKIE,
    ROOT,
    USERS,
    chromium,
    expect_signed_in,
    expect_signed_out,
    idle,
    main,
    open_app,
    sidebar,
    sign_in,
    sign_out,
)
from tests.multi_server_support import (  # noqa: F401 - fixtures are used by name
    OFFICER2,
    Cluster,
    jobs_lock_holders,
    new_context,
    pg_cluster,
    user_id,
)

OFFICER = USERS["officer"]
APPLICANT = USERS["applicant"]
FOOD_ITEM, FOOD_NAME = "4207-SCJG-003", "食品经营许可"
VILLAGE = "420704001002"
STALE = "该办件已被他人更新，请刷新后重试。"


def file_case(cluster: Cluster, *, days_ago: int = 0) -> dict:
    """A submitted 食品经营许可 case of the applicant, filed through the services on the shared schema."""
    db = cluster.db
    uid = user_id(db, APPLICANT.username)
    at = timeutil.now() - timedelta(days=days_ago) if days_ago else None
    return cases.create_case(db, auth.actor_for(db, uid), item_code=FOOD_ITEM, region_code=VILLAGE,
                             applicant=cases.Applicant(APPLICANT.display_name, "resident_id", APPLICANT.id_number,
                                                       uid), channel="online", submit=True, at=at)


# -- 1. sessions ---------------------------------------------------------------------------------------------------
def test_a_user_moved_to_the_other_server_stays_signed_in_and_a_sign_out_ends_it_on_both(pg_cluster, new_context):
    a, b = pg_cluster.server("A"), pg_cluster.server("B")
    user = new_context(a.base)
    on_a = user.new_page()
    cookie = sign_in(on_a, OFFICER)                              # signed in on A
    expect_signed_in(on_a, OFFICER, "待办工作台")

    on_b = user.new_page()                                       # the load balancer sends the next request to B
    open_app(on_b, b.base + "/")
    expect_signed_in(on_b, OFFICER, "待办工作台")
    on_b.goto(b.base + "/public")                                # a sub-page of B, opened by its address
    expect(sidebar(on_b).get_by_text(f"当前用户：{OFFICER.display_name}")).to_be_visible()

    sign_out(on_b)                                               # signed out on B ...
    expect_signed_out(on_b)

    # ... ends the page still open on A at its next click (A's page session knew the session, not the cookie)
    on_a.get_by_test_id("stSidebarNav").get_by_role("link", name="首页").click()
    expect(on_a.get_by_test_id("stToast").filter(has_text="登录已失效，请重新登录。")).to_be_visible()
    expect_signed_out(on_a)
    on_a.reload()                                                # and a reload of A is signed out too
    expect_signed_out(on_a)
    on_a.goto(a.base + "/desk")
    expect_signed_out(on_a)

    # The cookie as it was before the sign-out, replayed in a fresh browser, opens neither server.
    replay = new_context()
    replay.add_cookies([{"name": COOKIE, "value": cookie["value"], "domain": "127.0.0.1", "path": "/",
                         "httpOnly": True, "sameSite": "Lax"}])
    for server in (a, b):
        page = replay.new_page()
        open_app(page, server.base + "/desk")
        expect_signed_out(page)
        assert any(c["name"] == COOKIE for c in replay.cookies())   # it was sent, and refused


# -- 2. concurrency at the database ----------------------------------------------------------------------------------
CLICK_AT = """([label, at]) => {
  const button = [...document.querySelectorAll('[data-testid="stMain"] button')]
    .find(b => b.innerText.trim() === label);
  if (!button) throw new Error('no button ' + label);
  setTimeout(() => button.click(), Math.max(0, at - Date.now()));
}"""


def test_two_officers_on_two_servers_accept_one_case_exactly_one_wins(pg_cluster, new_context):
    a, b = pg_cluster.server("A"), pg_cluster.server("B")
    pages = {}
    for server, officer in ((a, OFFICER), (b, OFFICER2)):
        page = new_context(server.base).new_page()
        sign_in(page, officer)
        pages[server.name] = page

    for round_ in range(2):
        case = file_case(pg_cluster)
        for page in pages.values():
            page.goto(f"/case?no={case['case_no']}")
            expect(main(page).get_by_role("heading", name=FOOD_NAME, exact=True)).to_be_visible()
            expect(main(page).get_by_test_id("stMetric").filter(has_text="状态")).to_contain_text("已提交")
            expect(main(page).get_by_role("button", name="受理", exact=True)).to_be_enabled()
            idle(page)
        # Both browsers (one chromium, one clock) press 受理 at the same planned millisecond.
        at = pages["A"].evaluate("() => Date.now()") + 300
        for page in pages.values():
            page.evaluate(CLICK_AT, ["受理", at])

        said = {}
        for name, page in pages.items():
            outcome = main(page).get_by_test_id("stAlert").filter(has_text=re.compile(f"已完成：受理|{STALE}"))
            expect(outcome).to_be_visible()
            said[name] = outcome.first.inner_text().strip()
        assert sorted(said.values()) == sorted(["已完成：受理", STALE]), (round_, said, pg_cluster.logs())
        loser = next(n for n, text in said.items() if text == STALE)
        # The loser's screen is redrawn with what the winner did: it now says 已受理.
        expect(main(pages[loser]).get_by_test_id("stMetric").filter(has_text="状态")).to_contain_text("已受理")

        with pg_cluster.db.read() as conn:
            row = conn.execute(sa.select(s.cases.c.case_id, s.cases.c.state, s.cases.c.version)
                               .where(s.cases.c.case_no == case["case_no"])).one()
            accepts = conn.execute(sa.select(sa.func.count()).select_from(s.case_events).where(
                s.case_events.c.case_id == row.case_id, s.case_events.c.action == "accept")).scalar_one()
        assert (row.state, accepts, row.version) == ("accepted", 1, case["version"] + 1)


FILER = """
import json, sys, threading, time
from app import auth, cases
from app.db import Database
url, schema, uid, name, id_number, start, n = sys.argv[1:8]
db = Database(url, schema=schema)
actor = auth.actor_for(db, int(uid))
applicant = cases.Applicant(name, "resident_id", id_number, int(uid))
numbers, errors = [], []
def file():
    for _ in range(int(n)):
        try:
            case = cases.create_case(db, actor, item_code="4207-SCJG-003", region_code="420704001002",
                                     applicant=applicant, channel="online", submit=True)
            numbers.append(case["case_no"])
        except Exception as exc:
            errors.append(repr(exc))
time.sleep(max(0.0, float(start) - time.time()))   # every filer of every process begins at once
threads = [threading.Thread(target=file) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"numbers": numbers, "errors": errors}))
"""


def test_case_numbers_stay_unique_when_two_processes_file_at_once(pg_cluster):
    db = pg_cluster.db
    uid = user_id(db, APPLICANT.username)
    start, per_thread = time.time() + 3, 5
    args = [db.url, db.schema, str(uid), APPLICANT.display_name, APPLICANT.id_number, str(start), str(per_thread)]
    procs = [subprocess.Popen([sys.executable, "-c", FILER, *args], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    numbers = [n for r in results for n in r["numbers"]]
    assert [e for r in results for e in r["errors"]] == []
    assert len(numbers) == 2 * 4 * per_thread
    assert len(set(numbers)) == len(numbers)
    with db.read() as conn:
        stored = conn.execute(sa.select(s.cases.c.case_no).where(s.cases.c.case_no.in_(numbers))).scalars().all()
    assert sorted(stored) == sorted(numbers)


# -- 3. background jobs (kills a server: last) ---------------------------------------------------------------------
def test_the_jobs_run_on_one_server_and_the_other_takes_them_over_when_it_is_killed(pg_cluster, monkeypatch):
    from pipelines import marts

    db = pg_cluster.db
    monkeypatch.setenv("EZZ_WAREHOUSE", str(pg_cluster.warehouse))   # read the marts the servers publish
    names = {s.app_name: s for s in pg_cluster.servers}
    deadline = time.monotonic() + 30
    holders = jobs_lock_holders(db)
    while not holders and time.monotonic() < deadline:
        time.sleep(0.5)
        holders = jobs_lock_holders(db)
    assert len(holders) == 1 and holders[0] in names, (holders, pg_cluster.logs())   # one server, never both
    leader = names[holders[0]]
    survivor = next(s for s in pg_cluster.servers if s is not leader)

    leader.kill()
    killed_at = time.monotonic()
    # A case filed (through the services) after the kill, submitted 40 days ago and never accepted: at its
    # submission its intake clock was fresh; only the warning job can see that it is overdue now.
    case = file_case(pg_cluster, days_ago=40)
    assert case["warning_level"] != "red"

    level = None
    while time.monotonic() < killed_at + 60:
        with db.read() as conn:
            level = conn.execute(sa.select(s.cases.c.warning_level)
                                 .where(s.cases.c.case_no == case["case_no"])).scalar_one()
        if level == "red":
            break
        time.sleep(0.5)
    took = time.monotonic() - killed_at
    assert level == "red", (f"no warning recomputed {took:.0f} s after the kill", pg_cluster.logs())
    # ... and the survivor's mart refresh publishes a build that has the case in it.
    in_marts = 0
    while time.monotonic() < killed_at + 60:
        try:
            in_marts = marts.read(db, "SELECT COUNT(*) AS n FROM marts.fct_case WHERE case_id = ?",
                                  [case["case_id"]])["n"][0]
        except duckdb.CatalogException:   # no build published yet
            in_marts = 0
        if in_marts:
            break
        time.sleep(0.5)
    refreshed = time.monotonic() - killed_at
    assert in_marts == 1, (f"no mart refresh with the new case {refreshed:.0f} s after the kill", pg_cluster.logs())
    assert survivor.alive() and not leader.alive()
    assert jobs_lock_holders(db) == [survivor.app_name]
    print(f"\njobs taken over by server {survivor.name} after server {leader.name} was killed: warning level "
          f"recomputed after {took:.1f} s, marts published with the new case after {refreshed:.1f} s")
