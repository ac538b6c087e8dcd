"""The demo data generator: a believable history of the platform, made through the rules and bulk-loaded.

    python -m pipelines.demo [--database-url URL] [--cases 100000] [--years 2] [--seed 42] [--end 2026-11-26]
                             [--if-empty] [--chunk 50000] [--workers N]

What it makes (domain.md §4–§8):

* the demo accounts of DEMO_ACCOUNTS (every role, one password), a named officer and head for every department
  unit and a clerk at every service window (these share one bcrypt hash of the same password);
* a pool of applicants, persons by resident ID and enterprises by credit code, who can never sign in;
* cases over every catalogue item (frequent items more often), both channels (the online share rising), every
  town and village, with supplements, refusals, special procedures, extensions, withdrawals, transfers, late
  decisions, open cases in every state at the end date, ratings (好差评), the follow-up of every bad review (差评
  整改: handled within its limit but for a few, those of the last weeks still open) and complaints. Every
  timestamp falls on a working day of the official calendar, within office hours;
* the officer workbench's side of every case (app/rules.py, migration 0004): the unit that accepts decides (a
  department unit: a service centre or station has no one to decide, so there the department accepts), its officer
  claims cases now and then and gives the first review step's opinion, its head the later steps' and the decision;
  parallel approval tasks (并联审批) opened by the acceptance and answered by the co-departments' officers; the
  documents every move issues (受理通知书, 补正材料告知书, 不予受理决定书, decisions, certificates, 缴款通知书) with the
  facts app/issuing.issue_for stores; fees assessed from the standards (app/fees.assess) and paid through a
  reconciliation file (app/fees.reconcile) before the result; and for the demo officers' and heads' units, cases of
  their own left open to work on (DESK_STALLS).

Through the rules: every case is a legal path through app/workflow.py's TRANSITIONS (each step is checked with
`check_transition` while it is generated, with the acting role), its row carries what app/cases.perform would
have left there (open cases' due dates and warning level from app/cases.clock_fields as of the end date; what
app/rules.check adds to a move, such as art. 32's deemed acceptance or a late or repeated notice), the rows its
moves leave (tasks, documents, payment notices, reconciliation runs with their audit entries; a bad rating's
follow-up as app/alarms opens and handles it, with its audit entry) are those the services write, and its
events are chained with app/record.event_hash exactly as append_event chains them.
tests/test_demo.py replays sample cases through the services and compares all of it. Only the writing differs:
cases are generated in chunks, oldest first, and bulk-loaded (Arrow into DuckDB, COPY into PostgreSQL), with
identifiers reserved from the sequences the app uses (for what enters the record — task ids, payment notice
numbers, reconciliation ids — before the unit is built), so the app's later inserts never collide.

Speed: cases are built in units of up to BUILD_UNIT by worker processes (or a thread, for small runs) while the
main thread reserves identifiers and loads the previous chunk (one transaction per chunk); the clock's O(1)
working-day arithmetic, cached due dates and memoised workflow checks keep a unit's Python work small.

Deterministic for a given seed, chunk size, catalogue and calendar, whatever the number of workers.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import math
import multiprocessing
import os
import pickle
import random
import re
import sys
import types
import tempfile
import time
import zlib
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from app import alarms, audit, calendar_store, clock, fees, inquiries, issuing, rules
from app import cases as case_service
from app import schema as s
from app import workflow as wf
from app.applications import complaint_days
from app.auth import create_user, hash_password, password_problem
from app.db import Database, get_database
from app.record import GENESIS
from app.reference import CITY_CODE, GENERAL_WINDOW_ID, LEADERSHIP_UNIT_ID, SERVICE_CENTRE_UNIT_ID, SUPERVISION_UNIT_ID
from app.validators import make_credit_code, make_resident_id, mask_id
from pipelines.seed_reference import seed_reference

# -- demo accounts ---------------------------------------------------------------------------------------------
# One password for every account that can sign in; it passes streamlit-authenticator's Validator
# (8–20 characters, upper and lower case, a digit and a special character).
DEMO_PASSWORD = "Ezhou@2026"
# Stored for the generated applicants: not a bcrypt hash, so app.auth refuses it before bcrypt even runs.
NO_LOGIN_HASH = "!demo-no-login"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    display_name: str
    role: str
    unit_id: str | None
    id_kind: str | None = None      # applicants: "resident_id" | "credit_code"
    id_number: str | None = None


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("zhangsan", DEMO_PASSWORD, "张三", wf.APPLICANT, None,
                "resident_id", make_resident_id("420704", date(1988, 5, 16), 123)),
    DemoAccount("ezhou_qiye", DEMO_PASSWORD, "鄂州市临空示范科技有限公司", wf.APPLICANT, None,
                "credit_code", make_credit_code("91420704MA49XK2P3")),
    DemoAccount("window_city", DEMO_PASSWORD, "李静", wf.WINDOW_CLERK, SERVICE_CENTRE_UNIT_ID),  # 市民中心综合受理窗口
    DemoAccount("window_town", DEMO_PASSWORD, "陈芳", wf.WINDOW_CLERK, "U-420704001-BMFW"),        # 凤凰街道便民服务中心
    DemoAccount("scjg_officer", DEMO_PASSWORD, "王磊", wf.OFFICER, "U-4207-SCJG"),
    DemoAccount("scjg_head", DEMO_PASSWORD, "刘洋", wf.HEAD, "U-4207-SCJG"),
    DemoAccount("ec_scjg_officer", DEMO_PASSWORD, "赵敏", wf.OFFICER, "U-420704-SCJG"),           # 鄂城区市场监管局
    DemoAccount("supervisor", DEMO_PASSWORD, "孙建国", wf.SUPERVISOR, SUPERVISION_UNIT_ID),
    DemoAccount("leader", DEMO_PASSWORD, "周文华", wf.LEADER, LEADERSHIP_UNIT_ID),
    DemoAccount("admin", DEMO_PASSWORD, "吴涛", wf.ADMIN, SERVICE_CENTRE_UNIT_ID),
)

# -- the shape of the history (defaults of a demo, not rules) ----------------------------------------------------
ONLINE_SHARE = (0.60, 0.75)        # online share at the start and at the end of the history
P_TOWN_LEVEL_REGION = 0.10         # the applicant gave only their town, not their village
P_ABANDONED_DRAFT = 0.012          # online drafts never submitted …
P_DRAFT_WITHDRAWN = 0.15           # … of which some are withdrawn
P_SUPPLEMENT = 0.15                # a one-time supplement notice (一次性告知)
P_SECOND_NOTICE = 0.08             # a second notice after the supplement: a breach the supervision flags
P_LATE_NOTICE = 0.05               # notice later than the 5 working days of art. 32
P_SUPPLEMENT_WITHDRAWN = 0.05
P_SUPPLEMENT_ABANDONED = 0.03      # the applicant never comes back: the clock stays stopped
P_REFUSE_INTAKE = 0.03
P_TRANSFER = 0.004
P_WITHDRAW_BEFORE_ACCEPT = 0.006
P_WITHDRAW_IN_REVIEW = 0.012
P_SPECIAL = 0.06                   # of promised (承诺件) items: ≈3% of all cases
P_EXTEND = 0.055                   # of promised items: ≈2% of all cases
P_CLAIM = 0.5                      # an officer claims the case (认领) before starting the review
P_CO_LATE = 0.1                    # a co-department answers after its own limit (when the case runs longer)
P_CO_DISAGREE = 0.5                # on a case that ends refused, a co-department disagrees
P_FEE_UNASSESSED = 0.5             # of approved cases left open on a fee item: the fee not yet assessed
P_REFUSE = {True: 0.01, False: 0.07}   # by item.immediate: ≈4% of decisions
P_LATE = {True: 0.02, False: 0.05}     # decided after the promised due date: ≈5% of completed cases
P_RATED = 0.70
P_COMPLAINT = 0.0025               # plus more for late, refused and supplemented cases: ≈0.5% in all
P_FOLLOWUP_QUICK = 0.5             # a bad review's follow-up (差评整改): a simple problem fixed within 2 working days
P_FOLLOWUP_LATE = 0.04             # handled after its limit (alarms.FOLLOWUP_DAYS working days) …
P_FOLLOWUP_FORGOTTEN = 0.01        # … or never: an overdue follow-up the supervision flags (bad_review_late)
P_FOLLOWUP_PUBLISHED = 0.85        # the handling published (评价公示)
P_FOLLOWUP_BY_HEAD = 0.3           # handled by the head rather than the officer of the accepting unit
STALL_ZONE = (25, 4)               # cases created this many working days before the end may stall …
P_STALL = 0.04                     # … in an open state, so that every open state is seen at the end date
STALL_MIN_PER_STATE = 2            # at least this many per open state in the last chunk
P_FORGOTTEN = 0.0003               # older cases left lying in an open state (long overdue, red)
DEMO_APPLICANT_CASES = 40          # about this many cases for each demo applicant

# Office hours: 08:30–12:00 and 14:00–17:30. Time is counted on a continuous axis of office seconds, so
# "later" is always later and every instant falls on a working day within office hours.
MORNING_SECONDS = 12_600
DAY_SECONDS = 2 * MORNING_SECONDS
_MORNING_START = 8 * 3600 + 30 * 60
_AFTERNOON_START = 14 * 3600

REVIEW_READY = "review_ready"      # a stall in review with every opinion given: waiting for the head's decision
STALL_STATES = (wf.DRAFT, wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE,
                wf.APPROVED, wf.REFUSED, wf.TRANSFERRED, REVIEW_READY)
# The demo officers' and heads' desks: in every build unit reaching into the stall zone, cases of their own units
# left in these states (a head has cases to decide, an officer cases to accept, review and complete).
DESK_STALLS = (REVIEW_READY, REVIEW_READY, wf.ACCEPTED, wf.SUBMITTED, wf.APPROVED, wf.UNDER_REVIEW)
_DECIDING = frozenset(rules.DECIDING_ACTIONS)   # only the accepting unit's officers and heads (app/rules.py)
_INTAKE_CLOCK_STATES = frozenset({wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.TRANSFERRED})
_LIMIT_CLOCK_STATES = frozenset({wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE})
_FINAL, _INTAKE, _LIMIT = 1, 2, 3   # what a new state means for the case row: closed, intake clock, limit clock
# Actions without a clock effect that still change what the record holds (rows beyond the case's own, the holder,
# payloads the services fill in).
_RECORDED_ACTIONS = frozenset({"complete", "transfer", "rate", "complain", "claim", "review_opinion", "co_opinion",
                               "assess_fee", "record_payment"})

_ITEM_BOOST = {  # the high-volume services of a city hall
    "4207-BM-GJJ-001": 10, "4207-SCJG-001": 8, "4207-ZRGH-005": 8, "4207-BM-SHWJ-001": 6, "4207-GF-SCJG-001": 6,
    "4207-GF-YBJ-001": 5, "4207-GF-RSJ-001": 5, "4207-GF-RSJ-007": 4, "4207-BM-RSJ-001": 4, "4207-BM-RSJ-002": 5,
    "4207-GF-YBJ-003": 4, "4207-BM-GAJ-001": 4, "4207-BM-GAJ-002": 5, "4207-GF-GAJ-003": 4, "4207-BM-WJW-002": 4,
    "4207-BM-SHWJ-003": 4, "4207-BM-SHWJ-002": 3, "4207-BM-GJJ-004": 4, "4207-GF-GAJ-002": 3, "4207-GF-WJW-001": 3,
}
_CATEGORY_WEIGHT = {"approval": 0.6, "public": 1.5, "convenience": 2.0}
_ENTERPRISE_SHARE = {"approval": 0.75, "public": 0.0, "convenience": 0.08}
_DISTRICT_WEIGHT = {"420704": 1.4, "420703": 1.0, "420702": 0.8}

_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
             "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆帅旭宁婷雪琳晨欣怡佳悦子轩涵梓睿博文雅思嘉"
_BRANDS = ("鑫源", "华中", "楚天", "凤凰", "临空", "江南", "长港", "梁湖", "葛店", "顺达", "恒通", "瑞丰", "汇金", "天和",
           "宏图", "众诚", "博远", "金鹏", "新民", "同心", "兴旺", "广汇", "联创", "盛世")
_TRADES = ("商贸", "建设工程", "物流", "食品", "科技", "农业发展", "医药", "餐饮管理", "机械制造", "环保科技", "文化传媒",
           "房地产开发", "运输", "电子", "新材料", "水产养殖", "旅游开发", "家政服务")

# -- the words on the record -------------------------------------------------------------------------------------
_RIGHTS = "申请人如不服，可依法申请行政复议或者提起行政诉讼。"
_REFUSE_INTAKE = tuple(f"{r}，决定不予受理。{_RIGHTS}" for r in (
    "申请事项依法不需要取得行政许可", "申请事项不属于本机关职权范围，已告知申请人向有关行政机关申请",
    "申请人不具备申请资格", "申请材料存在虚假内容"))
_REFUSE = tuple(f"经审查，{r}，决定不予许可。申请人如不服，可在收到本决定之日起六十日内申请行政复议，或者六个月内提起行政诉讼。"
                for r in ("申请人不符合法定条件", "现场核查情况与申请材料不符", "未通过专家评审", "不符合相关规划要求"))
_SUSPEND = tuple(f"{r}（依法不计入审批时限）" for r in (
    "组织听证", "组织专家评审", "现场勘验", "委托检验检测", "需要检疫", "依法公示"))
_GRANT = {True: ("准予许可", "不予许可"), False: ("予以办理", "不予办理")}   # by category == "approval"
_STEP_OPINIONS = {  # (step, refused) -> the opinion's text; {0}: grant, {1}: deny
    ("审查", False): "审查意见：申请材料齐全，符合法定条件，建议{0}。",
    ("审查", True): "审查意见：经审查，申请人不符合法定条件，建议{1}。",
    ("审核", False): "审核意见：经核查，申请人符合条件，同意审查意见。",
    ("审核", True): "审核意见：经核查，同意审查意见，建议{1}。",
}
_RATING_LEVELS = (5, 4, 3, 2, 1)  # 非常满意 满意 基本满意 不满意 非常不满意
_RATING_P_GOOD = (0.74, 0.19, 0.055, 0.01, 0.005)
_RATING_P_POOR = (0.45, 0.25, 0.15, 0.09, 0.06)   # after a late decision or a refusal
_RATING_COMMENTS = {
    5: ("办事效率高，工作人员热情", "网上申报很方便，一次都不用跑", "一次办好，点赞", "窗口服务周到细致"),
    4: ("总体满意", "流程清楚，办得也快"),
    3: ("等待时间有点长", "材料要求可以再说明清楚一些"),
    2: ("材料要求说明不清楚，多跑了一趟", "网上查不到办理进度"),
    1: ("超过承诺时限仍未告知进度", "窗口工作人员态度差，问了也不解释"),
}
_COMPLAINTS = ("办件已超过承诺时限，仍未收到办理结果", "要求补正的材料与办事指南不一致", "多次被要求补正材料，没有一次性告知",
               "窗口工作人员服务态度差", "网上申报系统上传附件失败，无法提交", "不予许可的理由说明不清楚")
_ANSWERS = ("已核实，已督促承办单位限期办结并向申请人说明情况", "已约谈相关窗口工作人员，责令整改并向申请人致歉",
            "经核查，补正要求符合办事指南，已向申请人解释说明", "已联系技术人员修复系统问题并告知申请人")
_DELIVERY = ("窗口领取", "邮寄送达", "网上下载电子证照")
# The follow-up of a bad review (app/alarms.handle_followup): the verification (回访核实), and per review text
# (every bad review has one of _RATING_COMMENTS[1 or 2]) the rectification and the answer to the applicant.
_FOLLOWUP_VERIFICATIONS = ("电话回访申请人，反映情况属实", "电话回访申请人，核实了办理经过，情况基本属实",
                           "调取办件记录并回访申请人，问题属实", "约请申请人当面沟通，核实了反映的问题")
_FOLLOWUP_TEXTS = {
    "材料要求说明不清楚，多跑了一趟": (
        "修订办事指南的材料说明并补充填写样例，窗口严格执行一次性告知",
        "已修订办事指南的材料说明，给您带来不便深表歉意，感谢您的监督"),
    "网上查不到办理进度": (
        "督促承办人及时录入办理环节，进度查询与内网审批同步更新",
        "已完善办件进度同步，您可在进度查询中随时查看办理情况"),
    "超过承诺时限仍未告知进度": (
        "对承办人进行提醒谈话，启用临近时限预警，超期前主动告知申请人",
        "已向您说明延误原因并致歉，今后临近时限将主动告知办理进度"),
    "窗口工作人员态度差，问了也不解释": (
        "对相关窗口工作人员进行批评教育，组织服务规范培训并纳入考核",
        "已对相关工作人员批评教育并向您致歉，欢迎继续监督我们的服务"),
}


# ================================================================================================================
# static context
# ================================================================================================================
@dataclass
class _Item:
    """A catalogue item as the generator uses it, with its pre-encoded create payloads and comments."""

    index: int
    code: str
    version: int
    dept: str
    co_depts: tuple[str, ...]
    levels: tuple[str, ...]
    promised: int
    statutory: int
    unit: str
    immediate: bool
    category: str
    payload_store: dict[str, str]
    payload_hash: dict[str, str]
    materials: tuple[tuple[int, str], ...]   # (seq, name) that a supplement notice may list, required ones first
    result_name: str                          # what the locker calls the result (result_name or name)
    name: str
    kind: str                                 # 行政许可 … (a permit's completion issues a certificate)
    basis: str
    result_raw: str                           # result_name or "" (as the decision document prints it)
    steps: tuple[str, ...]                    # the review steps (app/rules.review_steps)
    opinion_texts: dict[tuple[str, bool], str]   # (step, refused) -> the opinion's text
    co_texts: tuple[tuple[str, str], ...]    # per co-department: (agree, disagree) opinion
    fees: tuple[tuple[str, str, int, str], ...]   # (fee_code, name, unit amount in fen, unit label), by fee_code


@dataclass
class _Pool:
    """The generated applicants, plus the two demo applicants at the end (indices n and n+1)."""

    user_ids: np.ndarray
    villages: np.ndarray       # index into _Context.villages
    persons: np.ndarray        # pool indices of persons
    enterprises: np.ndarray    # pool indices of enterprises
    names: pa.Array
    id_kinds: pa.Array
    id_numbers: pa.Array

    @property
    def demo_person(self) -> int:
        return len(self.user_ids) - 2

    @property
    def demo_enterprise(self) -> int:
        return len(self.user_ids) - 1


@dataclass
class _Context:
    """Everything a build unit needs, loaded once (and pickled once for worker processes).

    Time: wd_dates[i] is the i-th working day from the start of the history; an instant t is office second
    t % DAY_SECONDS of working day t // DAY_SECONDS, so "later" is always later and always within office hours.
    """

    seed: int
    end: date
    cal: clock.WorkCalendar
    wd_dates: list[date]
    wd_str: list[str]
    wd_ymd: list[str]
    wd_dt64: np.ndarray
    wd_d64: np.ndarray
    end_idx: int
    end_t: int
    cum_weight: np.ndarray
    tod_str: list[str]
    tod_sec: np.ndarray
    items: list[_Item]
    item_p: np.ndarray
    units: dict[str, tuple[str, str | None, str, str]]   # unit_id -> (kind, dept_code, region_code, name)
    window_of_unit: dict[str, str]
    villages: list[str]
    village_p: np.ndarray
    remedy: dict[str, str] = field(default_factory=dict)     # unit_id -> the remedy text of its refusals
    officer: dict[str, tuple[int, str, str]] = field(default_factory=dict)   # unit_id -> actor
    usernames: dict[int, str] = field(default_factory=dict)  # officers' and heads' user_id -> username
    head: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    clerk: dict[str, tuple[int, str, str]] = field(default_factory=dict)     # window_id -> actor
    pool: _Pool | None = None


def _history_start(end: date, years: float) -> date:
    """The first day of a history of `years` ending on `end`."""
    return end - timedelta(days=max(1, round(365.25 * years)) - 1)


def _load_context(db: Database, *, end: date, years: float, seed: int) -> _Context:
    cal = calendar_store.load_calendar(db)
    start = _history_start(end, years)
    wd_dates = []
    d = start
    horizon = end + timedelta(days=3 * 366)  # room for events scheduled after the end (then cut) and complaint dues
    while d <= horizon:
        if cal.is_working_day(d):
            wd_dates.append(d)
        d += timedelta(days=1)
    end_idx = bisect_right([x.toordinal() for x in wd_dates], end.toordinal()) - 1
    if end_idx < 0:
        raise ValueError(f"no working day between {start} and {end}")

    # Volume per working day: growing over the history, Mondays busiest, Fridays and make-up days quieter.
    weekday = np.array([1.2, 1.05, 1.0, 1.0, 0.9, 0.7, 0.7])
    days = np.arange(end_idx + 1)
    growth = 1.0 + 0.3 * days / max(1, end_idx)
    rhythm = weekday[[wd_dates[i].weekday() for i in days]]
    cum_weight = np.cumsum(growth * rhythm)

    tod = np.arange(DAY_SECONDS)
    tod_sec = np.where(tod < MORNING_SECONDS, _MORNING_START + tod, _AFTERNOON_START + tod - MORNING_SECONDS)
    tod_str = [f"{v // 3600:02d}:{v // 60 % 60:02d}:{v % 60:02d}" for v in tod_sec.tolist()]

    with db.read() as conn:
        item_rows = conn.execute(sa.select(s.items).where(s.items.c.is_current, s.items.c.status == "published")
                                 .order_by(s.items.c.item_code)).fetchall()
        materials = conn.execute(sa.select(s.item_materials.c.item_code, s.item_materials.c.version,
                                           s.item_materials.c.seq, s.item_materials.c.name,
                                           s.item_materials.c.required)
                                 .order_by(s.item_materials.c.item_code, s.item_materials.c.seq)).fetchall()
        dept_short = {r.dept_code: r.short_name.removeprefix("市") for r in conn.execute(sa.select(s.departments))}
        unit_rows = conn.execute(sa.select(s.org_units)).fetchall()
        window_rows = conn.execute(sa.select(s.service_windows).order_by(s.service_windows.c.window_id)).fetchall()
        villages = [r[0] for r in conn.execute(sa.select(s.regions.c.code).where(s.regions.c.level == 5)
                                                .order_by(s.regions.c.code))]
        fee_rows = conn.execute(sa.select(s.fee_standards).order_by(s.fee_standards.c.item_code,
                                                                     s.fee_standards.c.fee_code)).fetchall()
        # The remedy a refusal names depends on the issuing unit's level (app/issuing.remedy_text).
        remedy_of = {key: issuing.remedy_text(conn, key) for key in
                     {r.region_code[:6] if len(r.region_code) >= 6 else CITY_CODE for r in unit_rows}}

    by_item: dict[tuple[str, int], list[Any]] = {}
    for m in materials:
        by_item.setdefault((m.item_code, m.version), []).append(m)
    items = []
    for i, row in enumerate(item_rows):
        payload_store, payload_hash = {}, {}
        for channel in ("online", "window"):
            payload = {"item_code": row.item_code, "item_version": row.version, "channel": channel}
            payload_store[channel] = json.dumps(payload, ensure_ascii=False, sort_keys=True)
            payload_hash[channel] = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        mats = sorted(by_item.get((row.item_code, row.version), []), key=lambda m: (not m.required, m.seq))
        steps = tuple(rules.review_steps(row))
        grant = _GRANT[row.category == "approval"]
        texts = {(st, refused): _STEP_OPINIONS.get((st, refused), f"{st}意见：{'不同意' if refused else '同意'}。")
                 .format(*grant) for st in steps for refused in (False, True)}
        co_texts = tuple((f"并联审批：{dept_short.get(c, c)}意见：经审查，同意。",
                          f"并联审批：{dept_short.get(c, c)}意见：经审查，不符合本部门审查要求，不同意。")
                         for c in row.co_dept_codes)
        fees = tuple((f.fee_code, f.name, int(f.unit_amount_fen), f.unit_label) for f in fee_rows
                     if f.item_code == row.item_code) if row.charges_fee else ()
        items.append(_Item(
            index=i, code=row.item_code, version=row.version, dept=row.dept_code, co_depts=tuple(row.co_dept_codes),
            levels=tuple(row.handling_levels), promised=row.promised_days, statutory=row.statutory_limit,
            unit=row.statutory_unit, immediate=bool(row.immediate), category=row.category,
            payload_store=payload_store, payload_hash=payload_hash,
            materials=tuple((m.seq, m.name) for m in mats), result_name=row.result_name or row.name,
            name=row.name, kind=row.kind, basis=row.basis or "", result_raw=row.result_name or "", steps=steps,
            opinion_texts=texts, co_texts=co_texts, fees=fees))
    if not items:
        raise RuntimeError("no published items: run the seed step first")
    weights = np.array([_CATEGORY_WEIGHT.get(it.category, 1.0) * _ITEM_BOOST.get(it.code, 1.0)
                        * (0.6 + (zlib.crc32(it.code.encode()) % 1000) / 1250) for it in items])

    units = {r.unit_id: (r.kind, r.dept_code, r.region_code, r.name) for r in unit_rows}
    window_of_unit = {}
    for w in window_rows:
        window_of_unit.setdefault(w.unit_id, w.window_id)
    village_w = np.array([_DISTRICT_WEIGHT.get(v[:6], 1.0) * (0.4 + (zlib.crc32(v.encode()) % 1000) / 600)
                          for v in villages])

    return _Context(
        seed=seed, end=end, cal=cal, wd_dates=wd_dates, wd_str=[d.isoformat() for d in wd_dates],
        wd_ymd=[d.strftime("%Y%m%d") for d in wd_dates],
        wd_dt64=np.array(wd_dates, dtype="datetime64[D]").astype("datetime64[s]"),
        wd_d64=np.array(wd_dates, dtype="datetime64[D]"),
        end_idx=end_idx, end_t=(end_idx + 1) * DAY_SECONDS, cum_weight=cum_weight, tod_str=tod_str,
        tod_sec=tod_sec.astype(np.int64), items=items, item_p=weights / weights.sum(), units=units,
        window_of_unit=window_of_unit, villages=villages, village_p=village_w / village_w.sum(),
        remedy={r.unit_id: remedy_of[r.region_code[:6] if len(r.region_code) >= 6 else CITY_CODE]
                for r in unit_rows})


def _attach_staff(db: Database, ctx: _Context) -> None:
    """The actors of the cases: an officer and a head per department unit, a clerk per window."""
    with db.read() as conn:
        staff = conn.execute(sa.select(s.users.c.user_id, s.users.c.role, s.users.c.unit_id, s.users.c.username)
                             .where(s.users.c.role.in_([wf.OFFICER, wf.HEAD, wf.WINDOW_CLERK]), s.users.c.active)
                             .order_by(s.users.c.user_id)).fetchall()
        windows = conn.execute(sa.select(s.service_windows.c.window_id, s.service_windows.c.unit_id)).fetchall()
    clerk_by_unit: dict[str, tuple[int, str, str]] = {}
    for u in staff:  # lowest user_id first: the demo accounts were created before the generated staff
        target = {wf.OFFICER: ctx.officer, wf.HEAD: ctx.head, wf.WINDOW_CLERK: clerk_by_unit}[u.role]
        target.setdefault(u.unit_id, (int(u.user_id), u.role, u.unit_id))
        if u.role != wf.WINDOW_CLERK:
            ctx.usernames[int(u.user_id)] = u.username
    ctx.clerk.update({w.window_id: clerk_by_unit[w.unit_id] for w in windows if w.unit_id in clerk_by_unit})


def handling_unit(units: dict[str, Any], levels: tuple[str, ...] | list[str], dept: str, region_code: str) -> str:
    """app.cases.handling_unit without the database: the lowest level the item is handled at that exists above
    the applicant's place (must give the same answer; the tests compare them)."""
    candidates = []
    if "村社区" in levels and len(region_code) >= 12:
        candidates.append(f"U-{region_code[:12]}-BMFW")
    if "乡镇街道" in levels and len(region_code) >= 9:
        candidates.append(f"U-{region_code[:9]}-BMFW")
    if "区" in levels and len(region_code) >= 6:
        candidates.append(f"U-{region_code[:6]}-{dept}")
    candidates.append(f"U-{CITY_CODE}-{dept}")
    for unit in candidates:
        if unit in units:
            return unit
    raise case_service.CaseError("case.no_unit", dept=dept)


def co_unit(units: dict[str, Any], lead_unit_id: str, dept: str) -> str | None:
    """app.rules.co_unit without the database: a co-department's unit at the lead unit's level, else the city's
    (must give the same answer; the tests compare them)."""
    lead = units.get(lead_unit_id)
    region = lead[2] if lead is not None else CITY_CODE
    candidates = [f"U-{region[:6]}-{dept}"] if len(region) >= 6 else []
    candidates.append(f"U-{CITY_CODE}-{dept}")
    return next((unit for unit in candidates if unit in units), None)


def reconciliation_file(notice_no: str, amount: str, paid_at: str, receipt_no: str) -> bytes:
    """The non-tax system's reconciliation file that reports one payment (what app/fees.reconcile reads; its
    SHA-256 is in the record_payment event)."""
    return f"缴款通知书编号,缴款金额,缴款时间,电子票据号\n{notice_no},{amount},{paid_at},{receipt_no}\n".encode()


def reconciliation_file_name(notice_no: str, day: str) -> str:
    return f"非税缴款对账_{day}_{notice_no}.csv"


# ================================================================================================================
# names and identifiers
# ================================================================================================================
def _person_name(r: random.Random) -> str:
    given = r.choice(_GIVEN) + (r.choice(_GIVEN) if r.random() < 0.7 else "")
    return r.choice(_SURNAMES) + given


def _enterprise_name(r: random.Random) -> str:
    prefix = "湖北" if r.random() < 0.2 else "鄂州市"
    return f"{prefix}{r.choice(_BRANDS)}{r.choice(_TRADES)}有限{'责任' if r.random() < 0.3 else ''}公司"


_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _resident_id_for(user_id: int, region6: str, end: date) -> str:
    """A resident ID unique per user_id (a bijection of the id onto birth day × sequence), aged 18–80."""
    first = date(end.year - 80, 1, 1)
    span = (date(end.year - 18, 1, 1) - first).days
    code = (user_id * 1_000_003) % (span * 1000)
    return make_resident_id(region6, first + timedelta(days=code // 1000), code % 1000)


def _credit_code_for(user_id: int, region6: str) -> str:
    value = (user_id * 1_000_003) % 31**7
    org = ""
    for _ in range(7):
        value, digit = divmod(value, 31)
        org = _CREDIT_CHARS[digit] + org
    return make_credit_code(f"91{region6}MA{org}")


# ================================================================================================================
# writing: DuckDB (Arrow) and PostgreSQL (COPY)
# ================================================================================================================
class _Loader:
    """Reserves identifiers from the app's sequences and loads Arrow tables, one transaction per call."""

    def __init__(self, db: Database):
        self.db = db
        if db.is_duckdb:
            self.fairy, self.conn = db.raw_duckdb()
        else:
            self.fairy = db.engine.raw_connection()
            self.conn = self.fairy.driver_connection

    def close(self) -> None:
        self.fairy.close()

    def reserve(self, sequence: str, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        if self.db.is_duckdb:
            got = self.conn.execute(f"SELECT nextval('{sequence}') AS v FROM range({int(n)})").fetchnumpy()["v"]
        else:
            with self.conn.cursor() as cur:
                cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", (sequence, int(n)))
                got = [r[0] for r in cur.fetchall()]
            self.conn.commit()
        return np.sort(np.asarray(got, dtype=np.int64))

    def load(self, tables: dict[str, pa.Table]) -> None:
        tables = {name: t for name, t in tables.items() if t.num_rows}
        if self.db.is_duckdb:
            self.conn.execute("BEGIN TRANSACTION")
            try:
                for name, table in tables.items():
                    view = f"demo_{name}"
                    self.conn.register(view, table)
                    cols = ", ".join(table.column_names)
                    self.conn.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM {view}")
                    self.conn.unregister(view)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        else:
            import pyarrow.csv as pacsv

            try:
                with self.conn.cursor() as cur:
                    for name, table in tables.items():
                        buf = io.BytesIO()
                        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
                        cols = ", ".join(table.column_names)
                        with cur.copy(f"COPY {name} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                            copy.write(buf.getvalue())
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise


def _ts(ctx: _Context, t: np.ndarray) -> pa.Array:
    """Office-axis instants (−1: none) as a TIMESTAMP column."""
    t = np.asarray(t, dtype=np.int64)
    mask = t < 0
    safe = np.where(mask, 0, t)
    values = ctx.wd_dt64[safe // DAY_SECONDS] + ctx.tod_sec[safe % DAY_SECONDS].astype("timedelta64[s]")
    return pa.array(values, type=pa.timestamp("s"), mask=mask)


def _day(ctx: _Context, d: np.ndarray) -> pa.Array:
    d = np.asarray(d, dtype=np.int64)
    mask = d < 0
    return pa.array(ctx.wd_d64[np.where(mask, 0, d)], type=pa.date32(), mask=mask)


def _str(values: list[Any]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _i64(values: list[Any]) -> pa.Array:
    return pa.array(values, type=pa.int64())


# ================================================================================================================
# accounts
# ================================================================================================================
def _staff_username(role: str, unit_id: str, dept: str | None) -> str:
    region = unit_id.split("-")[1]
    if role == wf.WINDOW_CLERK:
        return f"clerk_{region}" if dept is None else f"clerk_{region}_{dept.lower()}"
    prefix = "off" if role == wf.OFFICER else "head"
    return f"{prefix}_{dept.lower()}" if region == CITY_CODE else f"{prefix}_{dept.lower()}_{region}"


def _missing_accounts(db: Database) -> tuple[list[DemoAccount], list[tuple[str, str, str]]]:
    """Demo accounts not there yet, and (username, role, unit_id) of the generated staff not there yet: an
    officer and a head for every department unit, a clerk for every window (where no demo account sits)."""
    with db.read() as conn:
        existing = {r[0] for r in conn.execute(sa.select(s.users.c.username))}
        units = conn.execute(sa.select(s.org_units).order_by(s.org_units.c.unit_id)).fetchall()
        window_units = {r[0] for r in conn.execute(sa.select(s.service_windows.c.unit_id))}
    covered = {(a.role, a.unit_id) for a in DEMO_ACCOUNTS}
    staff = []
    for u in units:
        roles = [wf.OFFICER, wf.HEAD] if u.kind == "department" else []
        if u.unit_id in window_units:
            roles.append(wf.WINDOW_CLERK)
        for role in roles:
            name = _staff_username(role, u.unit_id, u.dept_code if u.kind == "department" else None)
            if (role, u.unit_id) not in covered and name not in existing:
                staff.append((name, role, u.unit_id))
    return [a for a in DEMO_ACCOUNTS if a.username not in existing], staff


def _hash_passwords(demo_missing: list[DemoAccount]) -> list[str]:
    """One bcrypt hash per missing demo account and one shared by the generated staff (the last). Runs in the
    background: bcrypt is slow by design and releases the GIL."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(hash_password, [a.password for a in demo_missing] + [DEMO_PASSWORD]))


def _ensure_accounts(db: Database, loader: _Loader, start_at: datetime, demo_missing: list[DemoAccount],
                     staff: list[tuple[str, str, str]], digests: Any) -> int:
    """Create the missing demo accounts (app.auth.create_user, own bcrypt hashes) and generated staff (bulk, one
    shared hash). Returns the number of users added."""
    if not demo_missing and not staff:
        return 0
    digests = digests.result()
    shared = digests[-1]

    def work(conn: sa.Connection) -> None:
        for account, digest in zip(demo_missing, digests):
            user_id = create_user(conn, username=account.username, password=None, password_hash=digest,
                                  display_name=account.display_name, role=account.role, unit_id=account.unit_id,
                                  id_kind=account.id_kind, id_number=account.id_number)
            conn.execute(s.users.update().where(s.users.c.user_id == user_id).values(created_at=start_at))
        if demo_missing:
            audit.record(conn, "demo_accounts", detail={"usernames": [a.username for a in demo_missing]})

    if demo_missing:
        db.write(work)
    if staff:
        ids = loader.reserve("user_id_seq", len(staff))
        loader.load({"users": _users_table(
            ids, [n for n, _, _ in staff], shared,
            [_person_name(random.Random(n)) for n, _, _ in staff], [r for _, r, _ in staff],
            [u for _, _, u in staff], [None] * len(staff), [None] * len(staff), [None] * len(staff), start_at)})
    return len(demo_missing) + len(staff)


def _users_table(ids: np.ndarray, usernames: list[str], password_hash: str, names: Any, roles: list[str],
                 unit_ids: list[str | None], id_kinds: Any, id_numbers: Any, phones: list[str | None],
                 created_at: datetime) -> pa.Table:
    n = len(ids)
    return pa.table({
        "user_id": pa.array(ids, type=pa.int64()),
        "username": _str(usernames),
        "password_hash": pa.array([password_hash] * n, type=pa.string()),
        "display_name": names if isinstance(names, pa.Array) else _str(names),
        "role": _str(roles),
        "unit_id": _str(unit_ids),
        "id_kind": id_kinds if isinstance(id_kinds, pa.Array) else _str(id_kinds),
        "id_number": id_numbers if isinstance(id_numbers, pa.Array) else _str(id_numbers),
        "phone": _str(phones),
        "failed_attempts": pa.array(np.zeros(n, dtype=np.int32)),
        "locked_until": pa.nulls(n, type=pa.timestamp("s")),
        "active": pa.array(np.ones(n, dtype=bool)),
        "created_at": pa.array([created_at] * n, type=pa.timestamp("s")),
        "version": pa.array(np.ones(n, dtype=np.int32)),
    })


def _applicant_pool(db: Database, ctx: _Context, loader: _Loader, size: int, start_at: datetime) -> int:
    """Applicants who never sign in (password hash "!demo-no-login"); 85% persons, 15% enterprises."""
    rng = np.random.default_rng([ctx.seed, 7001])
    r = random.Random(f"ezz-demo-pool:{ctx.seed}")
    user_ids = loader.reserve("user_id_seq", size)
    villages = rng.choice(len(ctx.villages), size=size, p=ctx.village_p).astype(np.int32)
    is_enterprise = rng.random(size) < 0.15
    demo = {a.id_number for a in DEMO_ACCOUNTS if a.id_number}
    names, kinds, numbers, phones = [], [], [], []
    for uid, v, ent in zip(user_ids.tolist(), villages.tolist(), is_enterprise.tolist()):
        region6 = ctx.villages[v][:6]
        if ent:
            number = _credit_code_for(uid, region6)
            names.append(_enterprise_name(r))
            kinds.append("credit_code")
        else:
            number = _resident_id_for(uid, region6, ctx.end)
            names.append(_person_name(r))
            kinds.append("resident_id")
        if number in demo:  # vanishingly rare; keep the demo accounts' numbers theirs alone
            number = _credit_code_for(uid + 1, region6) if ent else _resident_id_for(uid + 1, region6, ctx.end)
        numbers.append(number)
        phones.append(f"1{r.choice('3589')}{r.randrange(10**9):09d}")
    # Where the schema has it (migration 0003), an applicant's region is their home village.
    homes = [ctx.villages[v] for v in villages.tolist()] if "region_code" in db.table_columns("users") else None
    for chunk_start in range(0, size, 100_000):
        sl = slice(chunk_start, chunk_start + 100_000)
        table = _users_table(
            user_ids[sl], [f"a{u}" for u in user_ids[sl].tolist()], NO_LOGIN_HASH, names[sl],
            [wf.APPLICANT] * len(names[sl]), [None] * len(names[sl]), kinds[sl], numbers[sl], phones[sl], start_at)
        if homes is not None:
            table = table.append_column("region_code", _str(homes[sl]))
        loader.load({"users": table})
    ctx.pool = _Pool(user_ids=user_ids, villages=villages, persons=np.flatnonzero(~is_enterprise),
                     enterprises=np.flatnonzero(is_enterprise), names=_str(names), id_kinds=_str(kinds),
                     id_numbers=_str(numbers))
    return size


def _attach_demo_applicants(db: Database, ctx: _Context) -> None:
    """The demo applicants join the pool at its end (indices n, n+1), so that their home pages show figures."""
    pool = ctx.pool
    with db.read() as conn:
        rows = {r.username: r for r in conn.execute(sa.select(s.users).where(
            s.users.c.username.in_(["zhangsan", "ezhou_qiye"])))}
    extra = []
    for username, home in (("zhangsan", "420704001"), ("ezhou_qiye", "420704401")):  # 凤凰街道, 临空经济区
        row = rows[username]
        v = next((i for i, code in enumerate(ctx.villages) if code.startswith(home)), 0)
        extra.append((int(row.user_id), v, row.display_name, row.id_kind, row.id_number))
        if getattr(row, "region_code", "") is None:
            db.write(lambda conn, uid=row.user_id, code=ctx.villages[v]: conn.execute(
                s.users.update().where(s.users.c.user_id == uid).values(region_code=code)))
    ctx.pool = _Pool(
        user_ids=np.concatenate([pool.user_ids, np.array([e[0] for e in extra], dtype=np.int64)]),
        villages=np.concatenate([pool.villages, np.array([e[1] for e in extra], dtype=np.int32)]),
        persons=pool.persons, enterprises=pool.enterprises,
        names=pa.concat_arrays([pool.names, _str([e[2] for e in extra])]),
        id_kinds=pa.concat_arrays([pool.id_kinds, _str([e[3] for e in extra])]),
        id_numbers=pa.concat_arrays([pool.id_numbers, _str([e[4] for e in extra])]))


# ================================================================================================================
# one chunk of cases
# ================================================================================================================
@dataclass
class _ChunkPlan:
    """A build unit: `size` cases whose creation times are the quantiles [q0, q1) of the history's volume."""

    index: int
    size: int
    q0: float
    q1: float
    total: int


def _desk_pairs(ctx: _Context, unit: str) -> list[tuple[int, int]]:
    """(item index, village index) of the cases `unit` handles itself (app/cases.handling_unit) among its
    department's items that open no parallel task and charge no fee (approval items first)."""
    got = ctx.__dict__.setdefault("_desk", {}).get(unit)
    if got is None:
        _, dept, region, _ = ctx.units[unit]
        items = [it for it in ctx.items if it.dept == dept and not it.co_depts and not it.fees]
        items = [it for it in items if it.category == "approval" and not it.immediate] or items
        got = ctx._desk[unit] = [(it.index, v) for it in items for v, code in enumerate(ctx.villages)
                                 if code.startswith(region) and _handled_at(ctx, it, code) == unit]
    return got


def _handled_at(ctx: _Context, item: _Item, region: str) -> str | None:
    try:
        return handling_unit(ctx.units, item.levels, item.dept, region)
    except case_service.CaseError:
        return None


def _first_draws(ctx: _Context, plan: _ChunkPlan) -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray]:
    """A build unit's first draws: when its cases are created, their channel and their item (the main thread
    makes them too, to reserve the identifiers the unit may need). Returns the generator to go on with."""
    rng = np.random.default_rng([ctx.seed, plan.index, 11])
    n, end_idx = plan.size, ctx.end_idx
    # When: quantiles [q0, q1) of the volume over the history, oldest first.
    u = plan.q0 + (plan.q1 - plan.q0) * rng.random(n)
    day = np.minimum(np.searchsorted(ctx.cum_weight, u * ctx.cum_weight[-1], side="right"), end_idx)
    t_create = np.sort(day * DAY_SECONDS + rng.integers(0, DAY_SECONDS, n))
    frac = (t_create // DAY_SECONDS) / max(1, end_idx)
    online = rng.random(n) < ONLINE_SHARE[0] + (ONLINE_SHARE[1] - ONLINE_SHARE[0]) * frac
    item_idx = rng.choice(len(ctx.items), size=n, p=ctx.item_p)
    return rng, t_create, online, item_idx


@dataclass
class _Reserved:
    """Identifiers reserved from the app's sequences for one build unit, at most as many as it may use: task
    ids (task_id_seq), payment notice serials (fee_notice_seq) and reconciliation ids (reconciliation_id_seq).
    They enter the record (payloads, hence hashes), so they are fixed before the unit is built."""

    task_ids: np.ndarray
    fee_serials: np.ndarray
    reconciliation_ids: np.ndarray

    @classmethod
    def empty(cls) -> _Reserved:
        return cls(*(np.zeros(0, dtype=np.int64) for _ in range(3)))

    @staticmethod
    def needs(ctx: _Context, plan: _ChunkPlan) -> tuple[int, int]:
        """(tasks, payment notices) the unit's cases may need at most: each case is accepted at most once and
        assessed at most once."""
        _, _, _, item_idx = _first_draws(ctx, plan)
        counts = np.bincount(item_idx, minlength=len(ctx.items))
        tasks = sum(int(c) * len(it.co_depts) for c, it in zip(counts.tolist(), ctx.items))
        notices = sum(int(c) for c, it in zip(counts.tolist(), ctx.items) if it.fees)
        return tasks, notices


class _Chunk:
    """One chunk of cases: first their stories (what happens, when, by whom), then their records (the state
    machine of app/cases.perform and the hash chain of app/record.append_event), as Arrow tables."""

    def __init__(self, ctx: _Context, plan: _ChunkPlan, reserved: _Reserved | None = None):
        self.ctx = ctx
        self.plan = plan
        self.r = random.Random(f"ezz-demo:{ctx.seed}:{plan.index}")
        self.rand = self.r.random
        self.reserved = reserved or _Reserved.empty()
        self._unit_cache: dict[tuple[int, str], str] = {}
        self._co_cache: dict[tuple[int, str], tuple[tuple[int, str], ...]] = {}
        self._review_payloads: dict[tuple[str, str], tuple[str, str]] = {}
        self._applicants: dict[int, tuple[str, str, str]] = {}
        self._enc_cache: dict[Any, Any] = {}
        self._templates: dict[tuple[str, int], str] = ctx.__dict__.setdefault("_templates", {})
        self.task_next = self.fee_next = self.recon_next = 0
        self._json: dict[str | None, str] = {None: '""'}
        self._actors: dict[tuple[int | None, str, str | None], str] = {}
        self._steps: dict[tuple[str, str | None, str, bool], tuple] = {}
        # Cached clock results, kept for the process (a worker builds many units).
        if "_clock_caches" not in ctx.__dict__:
            ctx._clock_caches = (_due_dates(ctx), *_intake_clock(ctx))
        self.dues, self.intake_used, self.due_after = ctx._clock_caches
        self.names, self.id_kinds, self.id_numbers = _pool_lists(ctx)
        self.case_rows: list[tuple] = []
        self.task_rows: list[list[Any]] = []
        self.doc_rows: list[tuple] = []
        self.notice_rows: list[list[Any]] = []
        self.recon_rows: list[tuple] = []
        self.audit_rows: list[tuple] = []
        self.event_rows: list[tuple] = []
        self.stop_rows: list[tuple] = []
        self.rating_rows: list[tuple] = []
        self.complaint_rows: list[tuple] = []
        self.locker_rows: list[tuple] = []
        self.followup_rows: list[tuple] = []

    # -- helpers -------------------------------------------------------------------------------------------------
    def _ri(self, a: int, b: int) -> int:
        """A random integer in [a, b] (random.randint's distribution, without its overhead)."""
        return a + int(self.rand() * (b - a + 1))

    def _pick(self, options: tuple | list) -> Any:
        return options[int(self.rand() * len(options))]

    def _later(self, t: int, days: int) -> int:
        """An instant `days` working days after t (0: a few minutes later)."""
        if days <= 0:
            return t + 120 + int(self.rand() * 2280)
        return (t // DAY_SECONDS + days) * DAY_SECONDS + int(self.rand() * DAY_SECONDS)

    def _later_on(self, t: int, day: int) -> int:
        """An instant on working day `day`, after t (a few minutes after t if day is t's day or earlier)."""
        when = day * DAY_SECONDS + int(self.rand() * DAY_SECONDS)
        return when if when > t else t + 60 + int(self.rand() * 1740)

    def _listed_materials(self, item: _Item) -> list[tuple[int, str]]:
        """What a one-time notice lists: one or two of the item's materials (the required ones more often)."""
        options = item.materials[:4]
        if not options:
            return []
        first = self._pick(options)
        second = self._pick(options) if self.rand() < 0.3 else first
        return sorted({first, second})

    def _co_units(self, item: _Item, unit: str) -> tuple[tuple[int, str], ...]:
        """(index in item.co_depts, unit) of the tasks an acceptance in the name of `unit` opens (app/rules._accept:
        the co-departments at the accepting unit's level)."""
        got = self._co_cache.get((item.index, unit))
        if got is None:
            units = self.ctx.units
            got = self._co_cache[(item.index, unit)] = tuple(
                (k, u) for k, dept in enumerate(item.co_depts) if (u := co_unit(units, unit, dept)) is not None)
        return got

    def _fee_quantities(self, item: _Item) -> list[tuple[str, int]]:
        """What an officer enters on the fee form: a quantity per fee line of the item's standard."""
        rand, ri = self.rand, self._ri
        codes = [f[0] for f in item.fees]
        if "RES" in codes:  # 不动产登记: one registration by the kind of property, now and then extra certificates
            x = rand()
            lines = [("RES" if x < 0.7 else "NONRES" if x < 0.85 else "GARAGE", 1)]
            if "EXTRA_CERT" in codes and rand() < 0.1:
                lines.append(("EXTRA_CERT", ri(1, 2)))
            return lines
        if "OCCUPY" in codes:  # 占用、挖掘城市道路: area × days occupied, and the area dug
            lines = [("OCCUPY", ri(10, 200) * ri(5, 60))]
            if "DIG" in codes and rand() < 0.6:
                lines.append(("DIG", ri(5, 80)))
            return lines
        if "RELOCATE" in codes:  # 防空地下室易地建设费: the area that should have been built
            return [("RELOCATE", ri(200, 3000))]
        return [(codes[0], 1)]

    def _deciding_unit(self, unit: str, dept: str, region: str) -> str:
        """The department unit whose officers review a case handled at `unit` (a service centre or station
        takes the application; the district department, else the city department, decides)."""
        if self.ctx.units[unit][0] == "department":
            return unit
        district = f"U-{region[:6]}-{dept}"
        return district if district in self.ctx.units else f"U-{CITY_CODE}-{dept}"

    def _transfer_target(self, unit: str, dept: str, region: str) -> str | None:
        """Where a misdirected case goes: between the city and the district department, or from a service
        centre to the department that decides."""
        kind, _, unit_region, _ = self.ctx.units[unit]
        if kind != "department":
            target = self._deciding_unit(unit, dept, region)
        elif unit_region == CITY_CODE:
            target = f"U-{region[:6]}-{dept}"
        else:
            target = f"U-{CITY_CODE}-{dept}"
        return target if target != unit and target in self.ctx.officer else None

    def _step(self, action: str, state: str | None, role: str, comment: str | None) -> tuple:
        """What `action` by `role` does to a case in `state`: wf.check_transition (which raises on an illegal
        step), memoised on what it depends on (the generated comments are never blank), with the new state, the
        clock effect, the event's JSON fragment for event_hash and the phase the new state belongs to."""
        if action == "create":
            to, effect = wf.DRAFT, None
        else:
            transition = wf.check_transition(action, state, role, comment)
            to = wf.target_state(transition, state)
            effect = None if transition.clock == wf.CLOCK_NONE and action not in _RECORDED_ACTIONS \
                else transition.clock
        fragment = json.dumps([action, state, to], separators=(",", ":"))[1:-1]
        phase = _FINAL if to in wf.FINAL_STATES and to != state else _INTAKE if to in _INTAKE_CLOCK_STATES else \
            _LIMIT if to in _LIMIT_CLOCK_STATES else None
        if action == "create":
            phase = None
        got = self._steps[(action, state, role, comment is not None)] = (to, effect, fragment, phase)
        return got

    # -- the run -------------------------------------------------------------------------------------------------
    def build(self, case_ids: np.ndarray, serials: np.ndarray) -> dict[str, pa.Table]:
        # Millions of small tuples live at once here and none is part of a reference cycle: without the pause,
        # the cyclic garbage collector rescans them again and again (it cost 40% of the time).
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._build(case_ids, serials)
        finally:
            if paused:
                gc.enable()

    def _build(self, case_ids: np.ndarray, serials: np.ndarray) -> dict[str, pa.Table]:
        ctx, plan = self.ctx, self.plan
        pool = ctx.pool
        n = plan.size
        end_idx = ctx.end_idx
        rng, t_create, online, item_idx = _first_draws(ctx, plan)
        day = t_create // DAY_SECONDS
        ent_share = np.array([_ENTERPRISE_SHARE.get(it.category, 0.0) for it in ctx.items])
        is_ent = (rng.random(n) < ent_share[item_idx]) & (len(pool.enterprises) > 0)
        persons = pool.persons if len(pool.persons) else np.array([pool.demo_person])
        enterprises = pool.enterprises if len(pool.enterprises) else np.array([pool.demo_enterprise])
        applicant = np.where(is_ent, enterprises[rng.integers(0, len(enterprises), n)],
                             persons[rng.integers(0, len(persons), n)])
        # About DEMO_APPLICANT_CASES cases each for the demo person and the demo enterprise.
        share = float((ctx.item_p * ent_share).sum())
        demo_draw = rng.random(n)
        applicant = np.where(~is_ent & (demo_draw < DEMO_APPLICANT_CASES / (plan.total * max(1e-9, 1 - share))),
                             pool.demo_person, applicant)
        applicant = np.where(is_ent & (demo_draw < DEMO_APPLICANT_CASES / (plan.total * max(1e-9, share))),
                             pool.demo_enterprise, applicant)
        town_level = rng.random(n) < P_TOWN_LEVEL_REGION

        # Stalls: some cases near the end stop in a chosen open state (at least STALL_MIN_PER_STATE of each in
        # every build unit that reaches into the zone); a very few older ones are forgotten in an open state.
        stall = np.full(n, -1)
        zone = (day >= end_idx - STALL_ZONE[0]) & (day <= end_idx - STALL_ZONE[1])
        pick = zone & (rng.random(n) < P_STALL)
        stall[pick] = rng.integers(0, len(STALL_STATES), int(pick.sum()))
        if zone.any():
            for k in range(len(STALL_STATES)):
                short = STALL_MIN_PER_STATE - int((stall == k).sum())
                free = np.flatnonzero(zone & (stall < 0))
                if short > 0 and len(free):
                    stall[rng.choice(free, size=min(short, len(free)), replace=False)] = k
        if zone.any():
            self._demo_desks(zone, stall, item_idx, applicant, town_level, rng)
        old = (day < end_idx - STALL_ZONE[0]) & (rng.random(n) < P_FORGOTTEN)
        stall[old] = rng.choice([1, 3, 4], size=int(old.sum()))  # submitted, accepted, under_review
        online = np.where(stall == 0, True, online)               # a draft is an online application

        pool_uid = pool.user_ids.tolist()
        pool_village = pool.villages.tolist()
        villages, items, units, unit_cache = ctx.villages, ctx.items, ctx.units, self._unit_cache
        for cid, serial, tc, it_i, app_i, onl, town, st_i in zip(
                case_ids.tolist(), serials.tolist(), t_create.tolist(), item_idx.tolist(), applicant.tolist(),
                online.tolist(), town_level.tolist(), stall.tolist()):
            item = items[it_i]
            region = villages[pool_village[app_i]]
            if town:
                region = region[:9]
            unit = unit_cache.get((it_i, region))
            if unit is None:
                unit = unit_cache[(it_i, region)] = handling_unit(units, item.levels, item.dept, region)
            story = self._story(item, tc, pool_uid[app_i], region, unit, onl,
                                STALL_STATES[st_i] if st_i >= 0 else None)
            self._aftermath(story, pool_uid[app_i])
            self._record(cid, serial, item, app_i, pool_uid[app_i], region, unit, onl, story)
        return self._tables()

    def _demo_desks(self, zone: np.ndarray, stall: np.ndarray, item_idx: np.ndarray, applicant: np.ndarray,
                    town_level: np.ndarray, rng: np.random.Generator) -> None:
        """Give the demo officers' and heads' units cases of their own in the stall zone (DESK_STALLS), and the
        co-departments of a parallel item an open task (a case of such an item left accepted). The items chosen
        open no task and charge no fee, so the identifiers reserved for the unit (_Reserved.needs) still
        suffice."""
        ctx, pool = self.ctx, self.ctx.pool
        order = np.argsort(pool.villages, kind="stable")
        sorted_villages = pool.villages[order]
        index = {code: k for k, code in enumerate(STALL_STATES)}
        for unit in sorted({a.unit_id for a in DEMO_ACCOUNTS if a.role in (wf.OFFICER, wf.HEAD)} & set(ctx.units)):
            pairs = _desk_pairs(ctx, unit)
            for want in DESK_STALLS if pairs else ():
                free = np.flatnonzero(zone & (stall < 0))
                if not len(free):
                    return
                for k in rng.permutation(len(pairs))[:20].tolist():
                    it, village = pairs[k]
                    lo, hi = np.searchsorted(sorted_villages, [village, village + 1])
                    if hi > lo:
                        j = free[int(rng.integers(len(free)))]
                        item_idx[j], town_level[j], stall[j] = it, False, index[want]
                        applicant[j] = order[lo + int(rng.integers(hi - lo))]
                        break
        parallel = np.array([bool(it.co_depts) for it in ctx.items])[item_idx]
        free = np.flatnonzero(zone & (stall < 0) & parallel)
        if len(free):
            stall[free[int(rng.integers(len(free)))]] = index[wf.ACCEPTED]

    # -- what happens ----------------------------------------------------------------------------------------
    def _story(self, item: _Item, t: int, applicant_uid: int, region: str, unit: str, online: bool,
               stall: str | None) -> _Story:
        ctx = self.ctx
        rand, ri, pick, later, later_on = self.rand, self._ri, self._pick, self._later, self._later_on
        story = _Story(t, ctx.end_t)
        add = story.add
        applicant = (applicant_uid, wf.APPLICANT, None)
        dept = item.dept
        quick = stall is not None  # a stalled case reaches its state without delays
        ready = stall == REVIEW_READY
        if ready:
            stall = wf.UNDER_REVIEW

        # The window and its clerk (window channel only).
        clerk = None
        if not online:
            kind, _, unit_region, _ = ctx.units[unit]
            if kind != "department":
                window = ctx.window_of_unit.get(unit)
            elif unit_region == CITY_CODE:
                window = f"W-{CITY_CODE}-{dept}" if rand() < 0.5 else GENERAL_WINDOW_ID
            elif len(region) >= 9 and rand() < 0.6:
                window = ctx.window_of_unit.get(f"U-{region[:9]}-BMFW")
            else:
                window = GENERAL_WINDOW_ID
            if window not in ctx.clerk:
                window = GENERAL_WINDOW_ID
            clerk = ctx.clerk[window]
            story.window_id, story.agent_uid = window, clerk[0]

        channel = "online" if online else "window"
        add(t, applicant if online else clerk, "create", None, item.payload_store[channel], item.payload_hash[channel])
        if online:
            if stall == wf.DRAFT or (stall is None and rand() < P_ABANDONED_DRAFT):
                if stall is None and rand() < P_DRAFT_WITHDRAWN:
                    add(later(story.t, ri(1, 10)), applicant, "withdraw", "申请人主动撤回草稿")
                return story
            if not add(later(story.t, 0 if quick or rand() < 0.7 else ri(1, 3)), applicant, "submit"):
                return story
        else:
            add(t, clerk, "submit")  # create_case(submit=True): the same instant
        if stall == wf.SUBMITTED:
            return story

        def intake_actor(at_unit: str) -> tuple[int, str, str]:
            # A clerk acts only on the cases they registered (app/permissions.py); the rest is the department's.
            if clerk is not None and at_unit == unit and rand() < 0.85:
                return clerk
            deciding = self._deciding_unit(at_unit, dept, region)
            return ctx.head[deciding] if rand() < 0.1 else ctx.officer[deciding]

        def intake_delay() -> int:
            if quick or item.immediate or (not online and rand() < 0.85):
                return 0
            x = rand()
            return 0 if x < 0.4 else 1 if x < 0.75 else 2 if x < 0.9 else ri(3, 4)

        # A transfer to the unit that should handle it.
        current = unit
        actor = intake_actor(current)
        if stall == wf.TRANSFERRED or (stall is None and rand() < P_TRANSFER):
            target = self._transfer_target(current, dept, region)
            if target is not None:
                if not add(later(story.t, intake_delay()), actor, "transfer",
                           f"不属于本级管辖，移送{ctx.units[target][3]}办理", *_payload_unit(target)):
                    return story
                if stall == wf.TRANSFERRED:
                    return story
                current = target
                actor = ctx.officer[target]
                if not add(later(story.t, ri(0, 2)), actor, "receive_transfer", "已接收移送件"):
                    return story

        # Supplement notices (一次性告知: every notice lists the materials, from the item's list) and the
        # applicant's supplements.
        if item.materials and (stall == wf.AWAITING_SUPPLEMENT or (stall is None and rand() < P_SUPPLEMENT)):
            for notice in range(2):
                days = ri(6, 9) if (not quick and rand() < P_LATE_NOTICE) else intake_delay()
                listed = self._listed_materials(item)
                names = "；".join(name for _, name in listed)
                seqs = [seq for seq, _ in listed]
                if not add(later(story.t, days), actor, "request_supplement",
                           f"一次性告知：请补正以下材料：{names}", {"materials": seqs}):
                    return story
                if stall == wf.AWAITING_SUPPLEMENT:
                    return story
                x = rand()
                if x < P_SUPPLEMENT_WITHDRAWN:
                    add(later(story.t, ri(1, 10)), applicant, "withdraw", "申请人主动撤回申请")
                    return story
                if x < P_SUPPLEMENT_WITHDRAWN + P_SUPPLEMENT_ABANDONED:
                    return story
                if not add(later(story.t, ri(0, 8)), applicant if online else clerk, "supplement",
                           "已按告知书补正全部材料", *_payload({"materials": sorted(seqs)})):
                    return story
                if notice == 1 or rand() >= P_SECOND_NOTICE:
                    break

        # The intake decision. The unit that accepts decides (app/rules.py): a window accepts in the name of the
        # unit holding the case, so at a service centre or station, which has no one to decide, the department
        # that decides accepts.
        if stall is None:
            x = rand()
            if x < P_REFUSE_INTAKE:
                add(later(story.t, intake_delay()), actor, "refuse_intake", pick(_REFUSE_INTAKE))
                return story
            if x < P_REFUSE_INTAKE + P_WITHDRAW_BEFORE_ACCEPT:
                add(later(story.t, ri(0, 3)), applicant, "withdraw", "申请人主动撤回申请")
                return story
        deciding = self._deciding_unit(current, dept, region)
        officer, head = ctx.officer[deciding], ctx.head[deciding]
        acceptor = actor
        if actor[1] == wf.WINDOW_CLERK and ctx.units[current][0] != "department":
            acceptor = head if rand() < 0.1 else officer
        if not add(later(story.t, intake_delay()), acceptor, "accept",
                   "申请材料齐全、符合法定形式，予以受理" if rand() < 0.5 else None):
            return story
        if stall == wf.ACCEPTED:
            return story

        # Review and decision, counted in working days from acceptance; a special procedure's days are not counted.
        # The accepting unit's officer gives the first review step's opinion and its head the later ones and the
        # decision; every co-department (并联审批) answers its task first.
        accept_day = story.t // DAY_SECONDS
        promised = item.promised
        refuse = stall == wf.REFUSED or (stall is None and rand() < P_REFUSE[item.immediate])
        extend = withdraw = False
        special = stall == wf.SPECIAL_PROCEDURE
        if item.immediate:  # 即办件: decided on the spot, now and then not
            late = stall is None and rand() < P_LATE[True]
            used = ri(1, 3) if late else 0
        else:
            late = stall is None and rand() < P_LATE[False]
            extend = stall is None and rand() < P_EXTEND
            special = special or (stall is None and rand() < P_SPECIAL)
            withdraw = stall is None and rand() < P_WITHDRAW_IN_REVIEW
            if quick:
                used = ri(0, min(3, promised))
            elif late:
                used = promised + 1 + int(self.r.expovariate(1 / (0.3 * promised + 1.5)))
            else:
                used = min(promised, int(promised * self.r.betavariate(2.5, 1.6) + 0.5))
        on_the_spot = item.immediate and not late
        ext_days = extend_at = 0
        if extend:
            ext_days = pick((5, 10, 15) if item.co_depts else (5, 10))
            extend_at = min(used, int(0.7 * promised))
            used = used + ext_days if late else promised + ri(1, ext_days)
        start_at = 0 if (item.immediate or rand() < 0.6) else min(1, used)
        stop_len = ri(1, 3) if quick else ri(3, 20)

        def when(counted: int, resumed: bool) -> int:
            if on_the_spot:
                return story.t + 60 + int(rand() * 840)
            return later_on(story.t, accept_day + counted + (stop_len if resumed else 0))

        start = when(start_at, False)
        if not on_the_spot and rand() < P_CLAIM:
            if not add(start, officer, "claim"):
                return story
            start = story.t + 60 + int(rand() * 540)
        if not add(start, officer, "start_review"):
            return story
        # (counted day, order on that day, action, detail); the decision comes last.
        steps: list[tuple[int, int, str, Any]] = [
            (ri(start_at, max(start_at, used)), 3, "review_opinion", None) for _ in item.steps]
        if item.co_depts:
            task_days = min(rules.PARALLEL_TASK_DAYS, max(1, promised or rules.PARALLEL_TASK_DAYS))
            for k, co in self._co_units(item, deciding):   # the accepting unit leads
                if used > task_days and rand() < P_CO_LATE:
                    counted = ri(task_days + 1, used)
                else:
                    counted = ri(start_at, max(start_at, min(used, task_days)))
                steps.append((counted, 2, "co_opinion", (k, co)))
        if special:
            steps.append((ri(start_at, max(start_at, used - 1)), 1, "suspend", pick(_SUSPEND)))
        if extend:
            steps.append((max(start_at, extend_at), 4, "extend",
                          f"情况复杂，经本单位负责人批准延长{ext_days}个工作日（行政许可法第四十二条）"))
        if withdraw:
            steps.append((ri(start_at, max(start_at, used)), 5, "withdraw", "申请人主动撤回申请"))
        steps.append((max(used, start_at), 6, "decide", None))
        if len(steps) > 1:
            steps.sort(key=lambda x: (x[0], x[1]))
        if stall == wf.UNDER_REVIEW:  # left somewhere in the review: none, some or all opinions given
            steps = steps[:-1] if ready else steps[:ri(0, len(steps) - 1)]
        resumed = False
        opinions = 0
        verdict = "disagree" if refuse else "agree"
        for counted, _, action, detail in steps:
            at = when(counted, resumed)
            if action == "review_opinion":
                step = item.steps[min(opinions, len(item.steps) - 1)]
                ok = add(at, officer if opinions == 0 else head, action, item.opinion_texts[(step, refuse)],
                         {"verdict": verdict})
                opinions += 1
            elif action == "co_opinion":
                k, co = detail
                no = refuse and rand() < P_CO_DISAGREE
                ok = add(at, ctx.officer[co], action, item.co_texts[k][no], {"k": k, "verdict": "disagree" if no
                                                                            else "agree"})
            elif action == "suspend":
                if not add(at, officer, action, detail) or stall == wf.SPECIAL_PROCEDURE:
                    return story
                ok = add(later_on(story.t, story.t // DAY_SECONDS + stop_len), officer, "resume",
                         "特别程序结束，恢复计时")
                resumed = True
            elif action == "extend":
                ok = add(at, head, action, detail, *_payload_days(ext_days))
            elif action == "withdraw":
                add(at, applicant, action, detail)
                return story
            else:
                if refuse:
                    ok = add(at, head, "refuse", pick(_REFUSE))
                else:
                    ok = add(at, head, "approve", "准予许可" if item.category == "approval" else "同意办理")
                if not ok or stall == wf.REFUSED:
                    return story
                if item.fees and not refuse:  # the fee: a payment notice, the payment, then the result
                    if stall == wf.APPROVED and rand() < P_FEE_UNASSESSED:
                        return story
                    if not add(later(story.t, 0), officer, "assess_fee", None, {"q": self._fee_quantities(item)}):
                        return story
                    if stall == wf.APPROVED:
                        return story
                    paid = later(story.t, 0 if rand() < 0.3 else ri(1, 6))
                    if not add(later(paid, 0 if rand() < 0.5 else 1), officer, "record_payment", None,
                               {"paid_t": paid}):
                        return story
                elif stall == wf.APPROVED:
                    return story
                if on_the_spot and not item.fees:
                    done = story.t + 60 + int(rand() * 840)
                else:
                    x = rand()
                    done = later(story.t, 0 if x < 0.6 else 1 if x < 0.85 else ri(2, 3))
                add(done, officer, "complete", f"办理结果已送达（{pick(_DELIVERY)}）")
                story.late = late
                return story
            if not ok:
                return story
        return story

    def _aftermath(self, story: _Story, applicant_uid: int) -> None:
        """The applicant's 好差评 after completion and, now and then, a complaint: since both are transitions of
        the workflow (app/applications.rate and complain), they are events of the record too."""
        rand, events, end_t = self.rand, story.events, story.end_t
        actions = [e[2] for e in events]
        if "submit" not in actions:
            return
        applicant = (applicant_uid, wf.APPLICANT, None)
        last = actions[-1]
        refused = last == "refuse_intake" or "refuse" in actions
        if last == "complete" and rand() < P_RATED:
            rated = self._later(events[-1][0], 0 if rand() < 0.6 else self._ri(1, 3))
            if rated < end_t:
                x, level = rand(), 1
                for lv, p in zip(_RATING_LEVELS, _RATING_P_POOR if story.late or refused else _RATING_P_GOOD):
                    if x < p:
                        level = lv
                        break
                    x -= p
                story.rating_comment = self._pick(_RATING_COMMENTS[level]) if level <= 2 or rand() < 0.35 else None
                story.rating_level = level
                events.append((rated, applicant, "rate", None, f'{{"level": {level}}}', f'{{"level":{level}}}'))
        p_complaint = (P_COMPLAINT + (0.04 if story.late else 0) + (0.02 if refused else 0)
                       + (0.01 if actions.count("request_supplement") > 1 else 0))
        if rand() < p_complaint:
            # any time after submission while the case is not withdrawn (the states `complain` starts from)
            start = events[actions.index("submit")][0] + 600
            stop = events[-1][0] if last == "withdraw" else end_t
            at = start + int(rand() * max(0, stop - start))
            if start < at < stop:
                k = len(events)
                while k > 0 and events[k - 1][0] > at:
                    k -= 1
                events.insert(k, (at, applicant, "complain", self._pick(_COMPLAINTS), None, None))

    # -- the record --------------------------------------------------------------------------------------------
    def _record(self, case_id: int, serial: int, item: _Item, app_i: int, applicant_uid: int, region: str,
                unit: str, online: bool, story: _Story) -> None:
        """Apply the story as app/cases.perform would (with app/rules.check before it and app/issuing.issue_for
        after it), checking every step against the workflow table, and chain its events as
        app/record.append_event does."""
        ctx = self.ctx
        wd_str, tod_str, dates = ctx.wd_str, ctx.tod_str, ctx.wd_dates
        steps, comments, actors = self._steps, self._json, self._actors
        sha = hashlib.sha256
        event_rows = self.event_rows
        events = story.events
        created_t = events[0][0]
        case_no = f"{case_service.CITY_PREFIX}-{ctx.wd_ymd[created_t // DAY_SECONDS]}-{serial:06d}"

        state = None
        prev = GENESIS
        sub_t = acc_t = dec_t = comp_t = close_t = -1
        clock_start = -1
        ext = supp = 0
        stopped = False
        stops: list[list[Any]] = []   # [started day, ended day or None, kind, reason]
        due_ctx = None
        dept = item.dept
        result_no = None
        seq = 0
        accepted_unit = assigned = None
        tasks: list[list[Any]] = []   # this case's parallel_tasks rows (see _tables)
        task_of: dict[int, list[Any]] = {}   # index in item.co_depts -> its task of the last acceptance
        done_steps: list[str] = []
        numbered: dict[str, int] = {}
        unpaid = None
        refusal_reason = ""
        reserved = self.reserved

        issue = self._issue
        doc_case = (case_id, case_no, item, app_i, numbered)
        for t, actor, action, comment, p_store, p_hash in events:
            d = t // DAY_SECONDS
            step = steps.get((action, state, actor[1], comment is not None))
            if step is None:
                step = self._step(action, state, actor[1], comment)
            to, effect, fragment, phase = step
            if effect is not None:
                if action in _DECIDING and actor[1] != wf.WINDOW_CLERK and actor[2] != accepted_unit:
                    raise AssertionError(f"{case_no}: {action} by {actor} of a case accepted by {accepted_unit}")
                if effect == wf.CLOCK_NONE:   # a move of the record only (its own rows, the holder, a payload)
                    if action == "complete":
                        if unpaid is not None:
                            raise AssertionError(f"{case_no}: completed with the fee unpaid")
                        comp_t = t
                        result_no = f"JG-{case_no}"
                        # app/issuing.issue_for: the decision document, and a permit's certificate
                        collection = self._collection(accepted_unit or unit)
                        accepted_on = f'"{wd_str[acc_t // DAY_SECONDS]}"' if acc_t >= 0 else "null"
                        if state == wf.APPROVED:
                            docs = [issue(doc_case, accepted_unit or unit, sub_t, "approval", t, actor[0], {
                                "result_no": f'"{result_no}"', "accepted_on": accepted_on, "collection": collection})]
                            if item.kind == "行政许可":
                                valid_until = self._years_later(d, issuing.CERTIFICATE_YEARS)
                                docs.append(issue(doc_case, accepted_unit or unit, sub_t, "certificate", t, actor[0], {
                                    "result_no": f'"{result_no}"', "valid_from": f'"{wd_str[d]}"',
                                    "valid_until": f'"{valid_until.isoformat()}"', "collection": collection},
                                    doc_no=result_no))
                        else:
                            docs = [issue(doc_case, accepted_unit or unit, sub_t, "refusal", t, actor[0], {
                                "accepted_on": accepted_on, "collection": collection,
                                "reasons": self._enc(refusal_reason or ""),
                                "remedy": self._enc(ctx.remedy[accepted_unit or unit])})]
                        docs_store, docs_hash = '", "'.join(docs), '","'.join(docs)
                        p_store = f'{{"documents": ["{docs_store}"], "result_no": "{result_no}"}}'
                        p_hash = f'{{"documents":["{docs_hash}"],"result_no":"{result_no}"}}'
                        if state == wf.APPROVED:  # the certificate enters the applicant's locker (app/cases.py)
                            expires = self._years_later(d, issuing.CERTIFICATE_YEARS)
                            self.locker_rows.append((applicant_uid, "certificate", item.result_name, case_id, item.code,
                                                     result_no, d, expires, t))
                    elif action == "review_opinion":   # app/rules._review_opinion: the steps in order
                        for step_name in item.steps:
                            if step_name not in done_steps:
                                done_steps.append(step_name)
                                break
                        else:
                            step_name = item.steps[-1]
                        key = (step_name, p_store["verdict"])
                        got = self._review_payloads.get(key)
                        if got is None:
                            got = self._review_payloads[key] = _payload({"step": step_name, "verdict": key[1]})
                        p_store, p_hash = got
                    elif action == "co_opinion":   # app/rules._co_opinion
                        task = task_of[p_store["k"]]
                        if task[7] != "open" or task[2] != ctx.units[actor[2]][1] \
                                or not task[4].startswith(ctx.units[actor[2]][2]):
                            raise AssertionError(f"{case_no}: co_opinion by {actor} without an open task")
                        task[7:12] = ["answered", p_store["verdict"], comment.strip(), t, actor[0]]
                        late = "true" if dates[d] > task[6] else "false"
                        p_store = (f'{{"dept_code": "{task[2]}", "late": {late}, "task_id": {task[0]}, '
                                   f'"verdict": "{task[8]}"}}')
                        p_hash = f'{{"dept_code":"{task[2]}","late":{late},"task_id":{task[0]},"verdict":"{task[8]}"}}'
                    elif action == "claim":
                        if assigned is not None:
                            raise AssertionError(f"{case_no}: claimed twice")
                        assigned = actor[0]
                    elif action == "assess_fee":   # app/fees.assess
                        p_store, p_hash, unpaid = self._assess(item, p_store["q"], t, actor, doc_case,
                                                               accepted_unit or unit, sub_t)
                        unpaid.append(case_id)
                        self.notice_rows.append(unpaid)
                    elif action == "record_payment":   # app/fees.reconcile, one file for one payment
                        p_store, p_hash = self._pay(unpaid, p_store["paid_t"], t, actor, case_no)
                        unpaid = None
                    elif action == "transfer":
                        unit = json.loads(p_store)["unit_id"]
                        dept = ctx.units[unit][1] or dept
                        assigned = None
                        for task in tasks:   # app/rules._transfer
                            if task[7] == "open":
                                task[7] = "cancelled"
                    elif action == "withdraw":
                        for task in tasks:   # app/rules._withdraw
                            if task[7] == "open":
                                task[7] = "cancelled"
                    elif action == "rate":
                        self.rating_rows.append((case_id, story.rating_level, story.rating_comment, t,
                                                 applicant_uid))
                        if story.rating_level in alarms.BAD_LEVELS:   # app/alarms.open_followup (see _followups)
                            self.followup_rows.append((case_id, story.rating_level, t, story.rating_comment, dept,
                                                       accepted_unit or unit, region))
                    elif action == "complain":
                        self._complaint(case_id, applicant_uid, comment, t, dept, item.code)
                else:
                    if effect == wf.CLOCK_START_INTAKE:
                        sub_t, clock_start = t, d
                    elif effect == wf.CLOCK_STOP:
                        kind = "supplement" if action == "request_supplement" else "special"
                        if kind == "supplement":   # app/rules._request_supplement, before the stop is written
                            listed = tuple(sorted(set(p_store["materials"])))
                            repeat = supp >= 1
                            late = self.intake_used(clock_start, d, tuple((a, b) for a, b, _, _ in stops)) \
                                > rules.INTAKE_LIMIT_DAYS
                        stops.append([d, None, kind, comment])
                        stopped = True
                        if kind == "supplement":
                            supp += 1
                            doc = issue(doc_case, accepted_unit or unit, sub_t, "supplement", t, actor[0], {
                                "materials": self._materials_json(item, listed),
                                "free_text": self._enc((comment or "").strip()), "supplement_number": str(supp)})
                            p_store, p_hash = _supplement_payload(doc, listed, supp, repeat, late)
                    elif effect == wf.CLOCK_RESTART:
                        stops[-1][1] = d
                        stopped = False
                    elif effect == wf.CLOCK_START_LIMIT:
                        # app/rules._accept: the accepting unit; art. 32's deemed acceptance; the parallel tasks
                        accepted_unit = unit if actor[1] == wf.WINDOW_CLERK else actor[2]
                        payload = {}
                        if supp == 0 and self.intake_used(clock_start, d, ()) > rules.INTAKE_LIMIT_DAYS:
                            payload["deemed_accepted_on"] = wd_str[clock_start]
                        else:
                            clock_start = d
                        acc_t = t
                        done_steps = []
                        if item.co_depts:
                            days = min(rules.PARALLEL_TASK_DAYS, max(1, item.promised or rules.PARALLEL_TASK_DAYS))
                            due = self.due_after(d, days)
                            listed = []
                            for k, co in self._co_units(item, accepted_unit):
                                task = [reserved.task_ids[self.task_next], case_id, item.co_depts[k], co,
                                        ctx.units[co][2], t, due, "open", None, None, -1, None]
                                self.task_next += 1
                                tasks.append(task)
                                task_of[k] = task
                                listed.append({"dept_code": task[2], "unit_id": co, "due_on": due.isoformat()})
                            if listed:
                                payload["parallel_tasks"] = listed
                        promised_due = self.dues(False, clock_start, item.promised, item.statutory, item.unit, (),
                                                 ext)[0]
                        payload["documents"] = [issue(doc_case, accepted_unit, sub_t, "acceptance", t, actor[0], {
                            "accepted_on": f'"{wd_str[d]}"',
                            "promised_due": f'"{promised_due.isoformat()}"' if promised_due else "null"})]
                        if len(payload) == 1:
                            p_store = f'{{"documents": ["{payload["documents"][0]}"]}}'
                            p_hash = f'{{"documents":["{payload["documents"][0]}"]}}'
                        else:
                            p_store, p_hash = _payload(payload)
                    elif effect == wf.CLOCK_EXTEND:
                        ext += json.loads(p_store)["days"]
                        limit = case_service.EXTENSION_MAX_JOINT if item.co_depts else case_service.EXTENSION_MAX_SINGLE
                        if ext > limit:
                            raise AssertionError(f"{case_no}: extension over the limit of {limit}")
                    elif effect == wf.CLOCK_END:
                        if action == "approve" or action == "refuse":
                            dec_t = t
                            # app/rules._decide: every review step given, no task open
                            if len(done_steps) < len(item.steps) or (tasks and any(x[7] == "open" for x in tasks)):
                                raise AssertionError(f"{case_no}: {action} before the review is complete")
                            if action == "refuse":
                                refusal_reason = comment
                        elif action == "refuse_intake":
                            doc = issue(doc_case, accepted_unit or unit, sub_t, "refuse_intake", t, actor[0], {
                                "reasons": self._enc((comment or "").strip()),
                                "remedy": self._enc(ctx.remedy[accepted_unit or unit])})
                            p_store, p_hash = f'{{"documents": ["{doc}"]}}', f'{{"documents":["{doc}"]}}'
                        if stopped:
                            for stop in stops:
                                if stop[1] is None:
                                    stop[1] = d
                            stopped = False
            if phase:
                if phase == _FINAL:
                    close_t = t
                elif clock_start >= 0:
                    due_ctx = (phase == _INTAKE, clock_start, ext, len(stops), stopped)
            seq += 1
            c_json = comments.get(comment)
            if c_json is None:
                c_json = comments[comment] = json.dumps(comment, ensure_ascii=False)
            a_json = actors.get(actor)
            if a_json is None:
                a_json = actors[actor] = json.dumps(list(actor), ensure_ascii=False, separators=(",", ":"))[1:-1]
            digest = sha(f'["{prev}",{case_id},{seq},"{wd_str[d]} {tod_str[t % DAY_SECONDS]}",{a_json},{fragment},'
                         f'{c_json},{p_hash or "null"}]'.encode()).hexdigest()
            event_rows.append((case_id, seq, t, actor[0], actor[1], actor[2], action, state, to, comment, p_store,
                               None if seq == 1 else prev, digest))
            prev = digest
            state = to

        # Due dates and the warning level: as of the end date for an open case whose clock runs, else as the
        # last clock-running event left them (decisions and closing events do not touch them).
        warning = promised_due = statutory_due = None
        if clock_start >= 0 and (state in _INTAKE_CLOCK_STATES or state in _LIMIT_CLOCK_STATES):
            dates = ctx.wd_dates
            fields = case_service.clock_fields(ctx.cal, {
                "state": state, "clock_start": dates[clock_start], "promised_days": item.promised,
                "statutory_limit": item.statutory, "statutory_unit": item.unit, "extension_days": ext,
            }, [clock.Stop(dates[a], None if b is None else dates[b]) for a, b, _, _ in stops], ctx.end)
            promised_due, statutory_due = fields["promised_due"], fields["statutory_due"]
            warning = fields["warning_level"]
        elif due_ctx is not None:
            intake, start_day, ext_then, n_stops, open_then = due_ctx
            then = tuple((a, None if (open_then and k == n_stops - 1) else b)
                         for k, (a, b, _, _) in enumerate(stops[:n_stops]))
            promised_due, statutory_due = self.dues(intake, start_day, item.promised, item.statutory, item.unit,
                                                    then, ext_then)
        for k, (a, b, kind, reason) in enumerate(stops, start=1):
            self.stop_rows.append((case_id, k, kind, a, -1 if b is None else b, reason))
        if tasks:
            self.task_rows.extend(tasks)
        self.case_rows.append((
            case_id, case_no, item.index, dept, unit, region, story.window_id, online, app_i, applicant_uid,
            story.agent_uid, state, ext, clock_start, promised_due, statutory_due, stopped, supp, created_t, sub_t,
            acc_t, dec_t, comp_t, close_t, result_no, seq, events[-1][0], warning, accepted_unit, assigned))

    def _issue(self, doc_case: tuple, issuer_unit: str, sub_t: int, kind: str, t: int, uid: int, extra: dict[str, str],
               doc_no: str | None = None) -> str:
        """A row of case_documents as app/issuing.issue_for stores it (`extra`: the kind's own facts, as JSON
        text; `issuer_unit`: the accepting unit, else the handling unit); returns its number."""
        case_id, case_no, item, app_i, numbered = doc_case
        if doc_no is None:
            n = numbered.get(kind, 0)
            numbered[kind] = n + 1
            doc_no = f"{issuing.PREFIX[kind]}-{case_no}" if n == 0 else f"{issuing.PREFIX[kind]}-{case_no}-{n + 1}"
        facts = self._facts(kind, item, doc_no, case_no, t, issuer_unit, app_i, sub_t, extra)
        self.doc_rows.append((doc_no, case_id, kind, t, uid, facts))
        return doc_no

    def _materials_json(self, item: _Item, listed: tuple[int, ...]) -> str:
        """The materials a supplement notice lists, as its facts hold them: [[name, note], …] (no notes)."""
        key = (item.index, listed)
        got = self._enc_cache.get(key)
        if got is None:
            names = dict(item.materials)
            got = self._enc_cache[key] = json.dumps([[names[m], ""] for m in listed], ensure_ascii=False)
        return got

    def _collection(self, unit: str) -> str:
        """Where a decision is collected (app/issuing.issue_for), as JSON text."""
        got = self._enc_cache.get(("collection", unit))
        if got is None:
            got = self._enc_cache[("collection", unit)] = json.dumps(
                f"可在鄂州e政通“我的办件”下载，或到{self.ctx.units[unit][3]}窗口领取纸质文书", ensure_ascii=False)
        return got

    def _years_later(self, day: int, years: int) -> date:
        """app/issuing.years_later of working day `day` (certificates' validity, the locker's expiry), cached."""
        got = self._enc_cache.get(("years", day, years))
        if got is None:
            got = self._enc_cache[("years", day, years)] = issuing.years_later(self.ctx.wd_dates[day], years)
        return got

    def _enc(self, text: str) -> str:
        """A string as JSON text (cached: unit names, reasons and remedies recur)."""
        got = self._enc_cache.get(text)
        if got is None:
            got = self._enc_cache[text] = json.dumps(text, ensure_ascii=False)
        return got

    def _facts(self, kind: str, item: _Item, doc_no: str, case_no: str, t: int, issuer_unit: str, app_i: int,
               sub_t: int, extra: dict[str, str]) -> str:
        """A document's facts as app/issuing.issue_for stores them (app/issuing._base_facts and the kind's own
        facts; JSONText: sorted keys, dates as ISO strings), filled into the kind's template for the item."""
        template = self._templates.get((kind, item.index))
        if template is None:
            template = self._templates[(kind, item.index)] = _facts_template(kind, item)
        ctx = self.ctx
        applicant = self._applicants.get(app_i)
        if applicant is None:
            masked = mask_id(self.id_numbers[app_i])
            applicant = self._applicants[app_i] = (json.dumps(self.names[app_i], ensure_ascii=False),
                                                   self._enc(issuing.ID_LABELS.get(self.id_kinds[app_i], "证件号码")),
                                                   f'"{masked}"')
        return template % {
            "doc_no": f'"{doc_no}"', "case_no": f'"{case_no}"', "issued_on": f'"{ctx.wd_str[t // DAY_SECONDS]}"',
            "issuer": self._enc(ctx.units[issuer_unit][3]), "applicant_name": applicant[0],
            "applicant_id_label": applicant[1], "applicant_id": applicant[2],
            "submitted_on": f'"{ctx.wd_str[sub_t // DAY_SECONDS]}"' if sub_t >= 0 else "null", **extra}

    def _assess(self, item: _Item, quantities: list[tuple[str, int]], t: int, actor: tuple[int, str, str],
                doc_case: tuple, issuer_unit: str, sub_t: int) -> tuple[str, str, list[Any]]:
        """app/fees.assess: the lines from the item's standard, the notice (JK-<year>-<serial>) and its document.
        Returns the event's payload and the notice row (without its case id)."""
        standard = {f[0]: f for f in item.fees}
        lines, total = [], 0
        for code, qty in quantities:
            _, name, unit_fen, label = standard[code]
            amount = unit_fen * qty
            total += amount
            lines.append({"name": name, "standard": f"{fees.yuan(unit_fen)}元/{label}", "quantity": qty,
                          "amount": fees.yuan(amount), "fee_code": code})
        d = t // DAY_SECONDS
        due = self.due_after(d, fees.PAYMENT_DAYS)
        serial = int(self.reserved.fee_serials[self.fee_next])
        self.fee_next += 1
        notice_no = f"JK-{self.ctx.wd_dates[d].year}-{serial:06d}"
        shown = [{k: v for k, v in line.items() if k != "fee_code"} for line in lines]
        payload = {"notice_no": notice_no, "lines": shown, "total": fees.yuan(total), "amount_fen": total,
                   "due_on": due.isoformat()}
        payload["documents"] = [self._issue(doc_case, issuer_unit, sub_t, "payment", t, actor[0], {
            "fee_lines": json.dumps(shown, ensure_ascii=False, sort_keys=True), "fee_total": f'"{fees.yuan(total)}"',
            "payment_due": f'"{due.isoformat()}"'}, doc_no=notice_no)]
        # [notice_no, lines, amount_fen, issued_at, issued_by, due_on, state, paid_at, paid_amount_fen, receipt_no]
        notice = [notice_no, json.dumps(lines, ensure_ascii=False, sort_keys=True), total, t, actor[0], due, "unpaid",
                  -1, None, None]
        return (*_payload(payload), notice)

    def _pay(self, notice: list[Any], paid_t: int, t: int, actor: tuple[int, str, str],
             case_no: str) -> tuple[str, str]:
        """app/fees.reconcile of a file reporting this one payment: the notice paid, the run kept (with its audit
        entry), the record_payment event's payload."""
        ctx = self.ctx
        notice_no, amount = notice[0], fees.yuan(notice[2])
        paid_at = f"{ctx.wd_str[paid_t // DAY_SECONDS]} {ctx.tod_str[paid_t % DAY_SECONDS]}"
        receipt_no = f"4207{notice_no[3:7]}{notice_no[8:]:0>10}"
        data = reconciliation_file(notice_no, amount, paid_at, receipt_no)
        digest = hashlib.sha256(data).hexdigest()
        file_name = reconciliation_file_name(notice_no, ctx.wd_ymd[t // DAY_SECONDS])
        rid = int(self.reserved.reconciliation_ids[self.recon_next])
        self.recon_next += 1
        notice[6:10] = ["paid", paid_t, notice[2], receipt_no]
        report = {"paid": [{"line": 2, "notice_no": notice_no, "amount": amount, "receipt_no": receipt_no,
                            "case_no": case_no}], "already": [], "refused": []}
        self.recon_rows.append((rid, file_name, digest, t, actor[0], ctx.units[actor[2]][1], 1, 1, 0, 0,
                                json.dumps(report, ensure_ascii=False, sort_keys=True)))
        self.audit_rows.append((t, actor[0], ctx.usernames.get(actor[0]), "fee_reconciliation", json.dumps(
            {"reconciliation_id": rid, "file": file_name, "paid": 1, "refused": 0}, ensure_ascii=False, default=str)))
        return _payload({"notice_no": notice_no, "amount": amount, "receipt_no": receipt_no, "paid_at": paid_at,
                         "file_sha256": digest})


    def _complaint(self, case_id: int, applicant_uid: int, content: str, t: int, dept: str, item_code: str) -> None:
        """The complaint row of a `complain` event: due complaint_days() working days later (as
        app/applications.complain sets it); most answered in time, some late, some not at all (the first of a
        build unit late, so that every outcome is seen even in a small history)."""
        rand = self.rand
        due_day = t // DAY_SECONDS + complaint_days()
        x = rand() if self.complaint_rows else 0.8
        if x < 0.75:    # in time
            answered = min(self._later(t, self._ri(1, complaint_days())), (due_day + 1) * DAY_SECONDS - 1)
        elif x < 0.88:  # late
            answered = (due_day + self._ri(1, 10)) * DAY_SECONDS + int(rand() * DAY_SECONDS)
        else:           # not at all
            answered = -1
        if answered >= self.ctx.end_t:
            answered = -1
        # A tracking number as app/inquiries.new_tracking_no gives one (the demo's random source: reproducible).
        tracking_no = inquiries.new_tracking_no("complaint", self.ctx.wd_dates[t // DAY_SECONDS],
                                                pick=lambda chars: chars[int(rand() * len(chars))])
        self.complaint_rows.append((case_id, applicant_uid, content, t, due_day, answered,
                                    self._pick(_ANSWERS) if answered >= 0 else None, tracking_no, dept, item_code))

    def _followups(self) -> pa.Table:
        """The follow-up of every bad review: opened with the rating as app/alarms.open_followup opens it (due
        alarms.followup_days() working days later; the case's department and place, the unit that accepted it), then
        handled as app/alarms.handle_followup records it (texts, time, officer or head of that unit, publication,
        and its audit entry): most within the limit, a few late, a very few never (overdue: a genuine
        bad_review_late). A handling that would fall after the end of the history has not happened: the follow-up
        is open (not yet due, for the reviews of the last weeks). Drawn in bulk from a stream of its own, so that
        the rest of the history does not depend on it."""
        ctx = self.ctx
        case_id, level, rated, comment, dept, unit, region = _columns(self.followup_rows, 7)
        n = len(case_id)
        rng = np.random.default_rng([ctx.seed, self.plan.index, 0xF011])
        rated_t = np.asarray(rated, dtype=np.int64)
        rated_day = rated_t // DAY_SECONDS
        due_day = rated_day + alarms.followup_days()   # clock.due_date in working days: the axis counts them
        x = rng.random(n)
        in_time = x < 1 - P_FOLLOWUP_LATE - P_FOLLOWUP_FORGOTTEN
        day = np.where(rng.random(n) < P_FOLLOWUP_QUICK, rated_day + rng.integers(0, 3, n),
                       rated_day + rng.integers(0, alarms.followup_days() + 1, n))
        day = np.where(in_time, day, due_day + rng.integers(1, 11, n))
        handled_t = day * DAY_SECONDS + rng.integers(0, DAY_SECONDS, n)
        handled_t = np.where(handled_t > rated_t, handled_t, rated_t + 60 + rng.integers(0, 1740, n))
        handled_t = np.where(in_time, np.minimum(handled_t, (due_day + 1) * DAY_SECONDS - 1), handled_t)
        handled = (x < 1 - P_FOLLOWUP_FORGOTTEN) & (handled_t < ctx.end_t)
        published = handled & (rng.random(n) < P_FOLLOWUP_PUBLISHED)
        by_head = rng.random(n) < P_FOLLOWUP_BY_HEAD
        verification = np.asarray(_FOLLOWUP_VERIFICATIONS, dtype=object)[
            rng.integers(0, len(_FOLLOWUP_VERIFICATIONS), n)]
        handlers: list[int | None] = []
        texts: list[tuple[str | None, str | None, str | None]] = []
        for k, (cid, u, d, r, c) in enumerate(zip(case_id, unit, dept, region, comment)):
            if not handled[k]:
                handlers.append(None)
                texts.append((None, None, None))
                continue
            _, unit_dept, unit_region, _ = ctx.units[u]
            if unit_dept != d or not r.startswith(unit_region):   # handle_followup's permission
                raise AssertionError(f"case {cid}: its follow-up cannot be handled by {u}")
            uid = (ctx.head if by_head[k] else ctx.officer)[u][0]
            handlers.append(uid)
            texts.append((verification[k], *_FOLLOWUP_TEXTS[c]))
            self.audit_rows.append((int(handled_t[k]), uid, ctx.usernames.get(uid), "followup_handled", json.dumps(
                {"case_id": cid, "published": bool(published[k])}, ensure_ascii=False)))
        fv, fr, fa = _columns(texts, 3)
        return pa.table({
            "case_id": _i64(case_id),
            "dept_code": _str(dept),
            "unit_id": _str(unit),
            "region_code": _str(region),
            "level": pa.array(level, type=pa.int32()),
            "opened_at": _ts(ctx, rated_t),
            "due_on": _day(ctx, due_day),
            "state": pa.array(np.where(handled, "handled", "open"), type=pa.string()),
            "verification": _str(fv),
            "rectification": _str(fr),
            "answer": _str(fa),
            "handled_at": _ts(ctx, np.where(handled, handled_t, -1)),
            "handled_by": _i64(handlers),
            "published": pa.array(published, type=pa.bool_()),
        })

    # -- the tables --------------------------------------------------------------------------------------------
    def _tables(self) -> dict[str, pa.Table]:
        ctx, pool, items = self.ctx, self.ctx.pool, self.ctx.items
        (case_id, case_no, item_i, dept, unit, region, window, online, app_i, app_uid, agent, state, ext,
         clock_start, promised_due, statutory_due, stopped, supp, created, submitted, accepted, decided, completed,
         closed, result_no, version, updated, warning, accepted_unit, assigned) = _columns(self.case_rows, 30)
        item_i = np.asarray(item_i, dtype=np.int64)
        applicant = pa.array(np.asarray(app_i, dtype=np.int64))
        n = len(case_id)

        def per_item(values: list[Any], typ: pa.DataType) -> pa.Array:
            return pa.array(np.asarray(values)[item_i], type=typ) if n else pa.array([], type=typ)

        cases = pa.table({
            "case_id": _i64(case_id),
            "case_no": _str(case_no),
            "item_code": per_item([it.code for it in items], pa.string()),
            "item_version": per_item([it.version for it in items], pa.int32()),
            "dept_code": _str(dept),
            "unit_id": _str(unit),
            "region_code": _str(region),
            "window_id": _str(window),
            "channel": pa.array(np.where(np.asarray(online, dtype=bool), "online", "window"), type=pa.string()),
            "applicant_user_id": _i64(app_uid),
            "applicant_name": pool.names.take(applicant),
            "applicant_id_kind": pool.id_kinds.take(applicant),
            "applicant_id_number": pool.id_numbers.take(applicant),
            "agent_user_id": _i64(agent),
            "state": _str(state),
            "form_data": pa.array(["{}"] * n, type=pa.string()),
            "promised_days": per_item([it.promised for it in items], pa.int32()),
            "statutory_limit": per_item([it.statutory for it in items], pa.int32()),
            "statutory_unit": per_item([it.unit for it in items], pa.string()),
            "extension_days": pa.array(ext, type=pa.int32()),
            "clock_start": _day(ctx, clock_start),
            "promised_due": pa.array(promised_due, type=pa.date32()),
            "statutory_due": pa.array(statutory_due, type=pa.date32()),
            "clock_stopped": pa.array(stopped, type=pa.bool_()),
            "supplement_count": pa.array(supp, type=pa.int32()),
            "created_at": _ts(ctx, created),
            "submitted_at": _ts(ctx, submitted),
            "accepted_at": _ts(ctx, accepted),
            "decided_at": _ts(ctx, decided),
            "completed_at": _ts(ctx, completed),
            "closed_at": _ts(ctx, closed),
            "result_no": _str(result_no),
            "version": pa.array(version, type=pa.int32()),
            "updated_at": _ts(ctx, updated),
            "warning_level": _str(warning),
            "accepted_unit_id": _str(accepted_unit),
            "assigned_user_id": _i64(assigned),
        })
        (ev_case, ev_seq, ev_t, ev_uid, ev_role, ev_unit, ev_action, ev_from, ev_to, ev_comment, ev_payload, ev_prev,
         ev_hash) = _columns(self.event_rows, 13)
        events = pa.table({
            "case_id": _i64(ev_case),
            "seq": pa.array(ev_seq, type=pa.int32()),
            "occurred_at": _ts(ctx, ev_t),
            "actor_user_id": _i64(ev_uid),
            "actor_role": _str(ev_role),
            "actor_unit_id": _str(ev_unit),
            "action": _str(ev_action),
            "from_state": _str(ev_from),
            "to_state": _str(ev_to),
            "comment": _str(ev_comment),
            "payload": _str(ev_payload),
            "prev_hash": _str(ev_prev),
            "hash": _str(ev_hash),
        })
        st_case, st_seq, st_kind, st_start, st_end, st_reason = _columns(self.stop_rows, 6)
        stops = pa.table({
            "case_id": _i64(st_case),
            "seq": pa.array(st_seq, type=pa.int32()),
            "kind": _str(st_kind),
            "started_on": _day(ctx, st_start),
            "ended_on": _day(ctx, st_end),
            "reason": _str(st_reason),
        })
        rt_case, rt_level, rt_comment, rt_at, rt_user = _columns(self.rating_rows, 5)
        ratings = pa.table({
            "case_id": _i64(rt_case),
            "level": pa.array(rt_level, type=pa.int32()),
            "comment": _str(rt_comment),
            "rated_at": _ts(ctx, rt_at),
            "user_id": _i64(rt_user),
        })
        (cp_case, cp_user, cp_content, cp_created, cp_due, cp_answered, cp_answer, cp_no, cp_dept,
         cp_item) = _columns(self.complaint_rows, 10)
        complaints = pa.table({
            "case_id": _i64(cp_case),
            "user_id": _i64(cp_user),
            "content": _str(cp_content),
            "created_at": _ts(ctx, cp_created),
            "due_on": _day(ctx, cp_due),
            "answered_at": _ts(ctx, cp_answered),
            "answer": _str(cp_answer),
            "kind": _str(["complaint"] * len(cp_case)),
            "tracking_no": _str(cp_no),
            "dept_code": _str(cp_dept),
            "item_code": _str(cp_item),
            "published": pa.array([False] * len(cp_case), type=pa.bool_()),
        })
        lk_owner, lk_kind, lk_name, lk_case, lk_item, lk_no, lk_issued, lk_expires, lk_at = _columns(self.locker_rows, 9)
        locker = pa.table({
            "owner_user_id": _i64(lk_owner),
            "kind": _str(lk_kind),
            "name": _str(lk_name),
            "file_id": pa.nulls(len(lk_owner), type=pa.int64()),
            "source_case_id": _i64(lk_case),
            "item_code": _str(lk_item),
            "certificate_no": _str(lk_no),
            "issued_on": _day(ctx, lk_issued),
            "expires_on": pa.array(lk_expires, type=pa.date32()),
            "created_at": _ts(ctx, lk_at),
        })
        (tk_id, tk_case, tk_dept, tk_unit, tk_region, tk_opened, tk_due, tk_state, tk_verdict, tk_opinion,
         tk_answered, tk_by) = _columns(self.task_rows, 12)
        tasks = pa.table({
            "task_id": _i64(tk_id),
            "case_id": _i64(tk_case),
            "dept_code": _str(tk_dept),
            "unit_id": _str(tk_unit),
            "region_code": _str(tk_region),
            "opened_at": _ts(ctx, tk_opened),
            "due_on": pa.array(tk_due, type=pa.date32()),
            "state": _str(tk_state),
            "verdict": _str(tk_verdict),
            "opinion": _str(tk_opinion),
            "answered_at": _ts(ctx, tk_answered),
            "answered_by": _i64(tk_by),
        })
        dc_no, dc_case, dc_kind, dc_at, dc_by, dc_facts = _columns(self.doc_rows, 6)
        documents = pa.table({
            "doc_no": _str(dc_no),
            "case_id": _i64(dc_case),
            "kind": _str(dc_kind),
            "issued_at": _ts(ctx, dc_at),
            "issued_by": _i64(dc_by),
            "facts": _str(dc_facts),
            "revoked": pa.array(np.zeros(len(dc_no), dtype=bool)),
        })
        (fn_no, fn_lines, fn_amount, fn_at, fn_by, fn_due, fn_state, fn_paid, fn_paid_amount, fn_receipt,
         fn_case) = _columns(self.notice_rows, 11)
        notices = pa.table({
            "notice_no": _str(fn_no),
            "case_id": _i64(fn_case),
            "lines": _str(fn_lines),
            "amount_fen": _i64(fn_amount),
            "issued_at": _ts(ctx, fn_at),
            "issued_by": _i64(fn_by),
            "due_on": pa.array(fn_due, type=pa.date32()),
            "state": _str(fn_state),
            "paid_at": _ts(ctx, fn_paid),
            "paid_amount_fen": _i64(fn_paid_amount),
            "receipt_no": _str(fn_receipt),
        })
        (rc_id, rc_file, rc_sha, rc_at, rc_by, rc_dept, rc_total, rc_paid, rc_already, rc_refused,
         rc_report) = _columns(self.recon_rows, 11)
        reconciliations = pa.table({
            "reconciliation_id": _i64(rc_id),
            "file_name": _str(rc_file),
            "sha256": _str(rc_sha),
            "uploaded_at": _ts(ctx, rc_at),
            "uploaded_by": _i64(rc_by),
            "dept_code": _str(rc_dept),
            "rows_total": pa.array(rc_total, type=pa.int32()),
            "rows_paid": pa.array(rc_paid, type=pa.int32()),
            "rows_already": pa.array(rc_already, type=pa.int32()),
            "rows_refused": pa.array(rc_refused, type=pa.int32()),
            "report": _str(rc_report),
        })
        followups = self._followups()   # before the audit entries: it adds those of the handled follow-ups
        au_at, au_user, au_name, au_action, au_detail = _columns(self.audit_rows, 5)
        audit_rows = pa.table({
            "occurred_at": _ts(ctx, au_at),
            "user_id": _i64(au_user),
            "username": _str(au_name),
            "action": _str(au_action),
            "detail": _str(au_detail),
        })
        return {"cases": cases, "case_events": events, "clock_stops": stops, "ratings": ratings,
                "complaints": complaints, "locker_items": locker, "parallel_tasks": tasks,
                "case_documents": documents, "fee_notices": notices, "fee_reconciliations": reconciliations,
                "review_followups": followups, "audit_log": audit_rows}


# The facts of a document, beyond the item's (app/issuing.issue_for): those of every document (_base_facts) and
# those of each kind, filled in per case.
_CASE_FACTS = ("doc_no", "case_no", "issued_on", "issuer", "applicant_name", "applicant_id_label", "applicant_id",
               "submitted_on")
_KIND_FACTS = {
    "acceptance": ("accepted_on", "promised_due"),
    "supplement": ("materials", "free_text", "supplement_number"),
    "refuse_intake": ("reasons", "remedy"),
    "approval": ("result_no", "accepted_on", "collection"),
    "refusal": ("accepted_on", "collection", "reasons", "remedy"),
    "certificate": ("result_no", "valid_from", "valid_until", "collection"),
    "payment": ("fee_lines", "fee_total", "payment_due"),
}
_SLOT = "\ue000"


def _facts_template(kind: str, item: _Item) -> str:
    """The stored facts of a `kind` document on `item` as a %-template: what depends on the item only is filled
    in, the rest (_CASE_FACTS, _KIND_FACTS[kind]) are %(name)s slots for JSON text."""
    facts: dict[str, Any] = {"kind": kind, "item_name": item.name, "item_code": item.code, "basis": item.basis}
    if kind == "acceptance":
        facts.update(limit_text=issuing.limit_text(item.promised, "working"),
                     statutory_text=issuing.limit_text(item.statutory, item.unit))
    elif kind in ("approval", "refusal"):
        facts["result_name"] = item.result_raw
        if kind == "refusal":
            facts["result_no"] = ""
    elif kind == "certificate":
        facts["result_name"] = item.result_name
    facts.update({name: f"{_SLOT}{name}{_SLOT}" for name in _CASE_FACTS + _KIND_FACTS[kind]})
    text = json.dumps(facts, ensure_ascii=False, sort_keys=True).replace("%", "%%")
    return re.sub(f'"{_SLOT}(\\w+){_SLOT}"', r"%(\1)s", text)


def _columns(rows: list[tuple], width: int) -> list[list[Any]]:
    """Rows to columns."""
    return [list(col) for col in zip(*rows)] if rows else [[] for _ in range(width)]


def _payload(value: dict[str, Any]) -> tuple[str, str]:
    """A payload as JSONText stores it, and as event_hash serialises it."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True),
            json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))


def _supplement_payload(doc_no: str, materials: tuple[int, ...], number: int, repeat: bool,
                        late: bool) -> tuple[str, str]:
    """_payload of a supplement notice's payload (app/rules._request_supplement and the document), made directly:
    documents, late_notice, materials, notes, repeat_notice, supplement_number."""
    late_s, late_h = ('"late_notice": true, ', '"late_notice":true,') if late else ("", "")
    rep_s, rep_h = ('"repeat_notice": true, ', '"repeat_notice":true,') if repeat else ("", "")
    return (f'{{"documents": ["{doc_no}"], {late_s}"materials": [{", ".join(map(str, materials))}], "notes": {{}}, '
            f'{rep_s}"supplement_number": {number}}}',
            f'{{"documents":["{doc_no}"],{late_h}"materials":[{",".join(map(str, materials))}],"notes":{{}},'
            f'{rep_h}"supplement_number":{number}}}')


def _payload_unit(unit_id: str) -> tuple[str, str]:
    return f'{{"unit_id": "{unit_id}"}}', f'{{"unit_id":"{unit_id}"}}'


def _payload_days(days: int) -> tuple[str, str]:
    return f'{{"days": {days}}}', f'{{"days":{days}}}'


def _intake_clock(ctx: _Context) -> tuple[Callable[[int, int, tuple], int], Callable[[int, int], date]]:
    """app/rules.intake_days_used (working days of the intake window used by a day, supplement stops excluded)
    and clock.due_date of a number of working days after a day (parallel tasks, payment notices), cached."""
    dates, cal = ctx.wd_dates, ctx.cal

    @lru_cache(maxsize=100_000)
    def used(start_day: int, today: int, stops: tuple[tuple[int, int | None], ...]) -> int:
        return rules.intake_days_used(cal, {"clock_start": dates[start_day]},
                                      [clock.Stop(dates[a], None if b is None else dates[b]) for a, b in stops],
                                      dates[today])

    @lru_cache(maxsize=20_000)
    def due_after(day: int, days: int) -> date:
        return clock.due_date(cal, dates[day], days, clock.WORKING)

    return used, due_after


def _pool_lists(ctx: _Context) -> tuple[list[str], list[str], list[str]]:
    """The applicants' names, identifier kinds and numbers as lists (for the documents), made once per process."""
    got = getattr(ctx, "_pool_lists", None)
    if got is None:
        pool = ctx.pool
        got = (pool.names.to_pylist(), pool.id_kinds.to_pylist(), pool.id_numbers.to_pylist())
        ctx._pool_lists = got
    return got


def _due_dates(ctx: _Context) -> Callable[..., tuple[date | None, date | None]]:
    """The due dates app/cases.clock_fields gave at a case's last clock-running event (its stops as then): the
    same clock functions, cached, since most cases share a start day, a limit and no stops."""
    dates, cal = ctx.wd_dates, ctx.cal

    @lru_cache(maxsize=200_000)
    def dues(intake: bool, start_day: int, promised: int, statutory: int, unit: str,
             stops: tuple[tuple[int, int | None], ...], ext: int) -> tuple[date | None, date | None]:
        start = dates[start_day]
        relevant = [clock.Stop(dates[a], None if b is None else dates[b])
                    for a, b in stops if b is None or b > start_day]
        if intake:
            due = clock.due_date(cal, start, case_service.INTAKE_LIMIT_DAYS, clock.WORKING, relevant)
            return due, due
        return (clock.due_date(cal, start, promised, clock.WORKING, relevant, ext),
                clock.due_date(cal, start, statutory, unit, relevant, ext))

    return dues


class _Story:
    """One case's events before they are recorded: (t, actor, action, comment, payload stored, payload hashed)."""

    __slots__ = ("events", "t", "end_t", "window_id", "agent_uid", "late", "rating_comment", "rating_level")

    def __init__(self, t: int, end_t: int):
        self.events: list[tuple[int, tuple[int | None, str, str | None], str, str | None, str | None, str | None]] = []
        self.t = t
        self.end_t = end_t
        self.window_id: str | None = None
        self.agent_uid: int | None = None
        self.late = False                        # decided after the promised due date, on purpose
        self.rating_comment: str | None = None   # the text of the 好差评, kept in ratings (the event has the level)
        self.rating_level = 0

    def add(self, t: int, actor: tuple[int | None, str, str | None], action: str, comment: str | None = None,
            payload_store: str | None = None, payload_hash: str | None = None) -> bool:
        """Append an event at t, or refuse (False) when t is past the end of the history."""
        if t >= self.end_t:
            return False
        self.events.append((t, actor, action, comment, payload_store, payload_hash))
        self.t = t
        return True


# ================================================================================================================
# the whole run
# ================================================================================================================
BUILD_UNIT = 10_000  # cases built in one task; a chunk (one load, one transaction) is made of whole units


def _plans(cases: int, chunk: int) -> list[list[_ChunkPlan]]:
    """The chunks, each a list of build units of at most BUILD_UNIT cases, oldest first."""
    chunks: list[list[_ChunkPlan]] = []
    done = index = 0
    while done < cases:
        size = min(max(1, chunk), cases - done)
        parts = math.ceil(size / BUILD_UNIT)
        units = []
        for k in range(parts):
            part = size * (k + 1) // parts - size * k // parts
            units.append(_ChunkPlan(index=index, size=part, q0=done / cases, q1=(done + part) / cases, total=cases))
            done += part
            index += 1
        chunks.append(units)
    return chunks


def _count(db: Database, table: str) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar())


_WORKER_CONTEXTS: dict[str, _Context] = {}
# (key in the counts generate returns, table)
_COUNTED = (("cases", "cases"), ("events", "case_events"), ("clock_stops", "clock_stops"), ("ratings", "ratings"),
            ("complaints", "complaints"), ("locker_items", "locker_items"), ("parallel_tasks", "parallel_tasks"),
            ("documents", "case_documents"), ("fee_notices", "fee_notices"),
            ("reconciliations", "fee_reconciliations"), ("followups", "review_followups"))


def _warm_up() -> int:
    return os.getpid()


def _build(ctx: _Context | str, plan: _ChunkPlan, case_ids: np.ndarray, serials: np.ndarray,
           reserved: _Reserved) -> dict[str, pa.Table]:
    """Build one unit; in a worker process the context comes as the path of its pickle, read once."""
    if isinstance(ctx, str):
        if ctx not in _WORKER_CONTEXTS:
            with open(ctx, "rb") as f:
                _WORKER_CONTEXTS[ctx] = pickle.load(f)
        ctx = _WORKER_CONTEXTS[ctx]
    return _Chunk(ctx, plan, reserved).build(case_ids, serials)


def _builders(workers: int) -> Any:
    """Where units are built while the main thread reserves identifiers and loads: worker processes (both cores;
    started at once so that their imports overlap the seed step), or one thread (the loads release the GIL)."""
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=1)
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    # A spawned worker first re-runs the parent's __main__. Under Streamlit (the server, AppTest) that is a page
    # script, which must not run in a worker: hide it while the workers start (they all start here). Not when
    # this module is __main__ (`python -m pipelines.demo`): the workers need it to find _build and _warm_up.
    main = sys.modules.get("__main__")
    if __name__ != "__main__":
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for _ in range(workers):
            executor.submit(_warm_up)
    finally:
        if main is not None:
            sys.modules["__main__"] = main
    return executor


def _concat(parts: list[dict[str, pa.Table]]) -> dict[str, pa.Table]:
    return {name: pa.concat_tables([p[name] for p in parts]) for name in parts[0]}


def generate(db: Database, *, cases: int = 100_000, years: float = 2, seed: int = 42, end: date | None = None,
             chunk: int = 50_000, if_empty: bool = False, workers: int | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Migrate, seed the reference data, add the demo accounts and `cases` cases over the `years` before `end`
    (default: today). With `if_empty`, stop after the seed step when there are cases already. `workers`: processes
    building chunks (default: 2 from 50,000 cases, else a thread); the result does not depend on it. Workers are
    started with "spawn", so a script calling this with workers must guard its top level with
    `if __name__ == "__main__":`. Returns counts of what was added: cases, events, clock_stops, ratings,
    complaints, locker_items, parallel_tasks, documents, fee_notices, reconciliations, followups, users, seconds (and
    skipped=True when --if-empty found cases)."""
    started = time.perf_counter()
    end = end or date.today()
    db.migrate()
    seed_reference(db)
    counts: dict[str, Any] = {**{key: 0 for key, _ in _COUNTED}, "users": 0}
    if if_empty and _count(db, "cases") > 0:
        counts["skipped"] = True
        counts["seconds"] = round(time.perf_counter() - started, 2)
        return counts

    plans = _plans(cases, chunk)
    if workers is None:  # starting a process costs about a second: worth it for larger runs only
        workers = min(2, os.cpu_count() or 1) if cases >= 50_000 else 0
    demo_missing, staff = _missing_accounts(db)
    # In this thread, before any other starts: the check imports streamlit-authenticator (and Streamlit), which
    # is not safe to import while another thread imports pandas (as pyarrow does, lazily).
    if any(password_problem(p) for p in {a.password for a in demo_missing} | {DEMO_PASSWORD}):
        raise ValueError("a demo password does not pass streamlit-authenticator's Validator")
    hashing = ThreadPoolExecutor(max_workers=1)
    digests = hashing.submit(_hash_passwords, demo_missing) if demo_missing or staff else None
    executor = _builders(workers)
    loader = _Loader(db)
    context_file = None
    try:
        ctx = _load_context(db, end=end, years=years, seed=seed)
        start_at = datetime.combine(ctx.wd_dates[0], datetime.min.time()) + timedelta(seconds=_MORNING_START)
        counts["users"] += _applicant_pool(db, ctx, loader, min(300_000, max(200, cases // 6)), start_at)
        counts["users"] += _ensure_accounts(db, loader, start_at, demo_missing, staff, digests)
        _attach_staff(db, ctx)
        _attach_demo_applicants(db, ctx)
        if workers > 0:  # the workers read the context once, from a file
            context_file = tempfile.NamedTemporaryFile(prefix="ezz-demo-", suffix=".pickle", delete=False)
            with context_file:
                pickle.dump(ctx, context_file, protocol=pickle.HIGHEST_PROTOCOL)
            task_ctx: _Context | str = context_file.name
        else:
            task_ctx = ctx
        gen_started = time.perf_counter()
        pending: deque[tuple[int, Any]] = deque()
        max_pending = 2 * max(1, workers)
        batch: list[dict[str, pa.Table]] = []
        chunk_sizes = [sum(u.size for u in units) for units in plans]
        loaded_chunks = 0

        def load_batch() -> None:
            nonlocal loaded_chunks
            tables = _concat(batch)
            batch.clear()
            events, complaints = tables["case_events"], tables["complaints"]
            tables["case_events"] = events.add_column(0, "event_id", pa.array(
                loader.reserve("event_id_seq", events.num_rows), type=pa.int64()))
            tables["complaints"] = complaints.add_column(0, "complaint_id", pa.array(
                loader.reserve("complaint_id_seq", complaints.num_rows), type=pa.int64()))
            locker = tables["locker_items"]
            tables["locker_items"] = locker.add_column(0, "locker_id", pa.array(
                loader.reserve("locker_id_seq", locker.num_rows), type=pa.int64()))
            loader.load(tables)
            for key, table in _COUNTED:
                counts[key] += tables[table].num_rows
            loaded_chunks += 1
            if progress is not None:
                elapsed = time.perf_counter() - gen_started
                rate = counts["cases"] / elapsed if elapsed > 0 else 0.0
                progress({"chunk": loaded_chunks, "chunks": len(plans), "cases": counts["cases"], "total": cases,
                          "rate": rate, "eta": (cases - counts["cases"]) / rate if rate else 0.0})

        def collect() -> None:
            chunk_index, future = pending.popleft()
            batch.append(future.result())
            if sum(t["cases"].num_rows for t in batch) == chunk_sizes[chunk_index]:
                load_batch()

        for chunk_index, units in enumerate(plans):
            for unit in units:
                # Identifiers are reserved in order, so that case numbers and ids grow with the time of creation.
                ids = loader.reserve("case_id_seq", unit.size)
                serials = loader.reserve("case_no_seq", unit.size)
                tasks, notices = _Reserved.needs(ctx, unit)
                reserved = _Reserved(loader.reserve("task_id_seq", tasks), loader.reserve("fee_notice_seq", notices),
                                     loader.reserve("reconciliation_id_seq", notices))
                pending.append((chunk_index, executor.submit(_build, task_ctx, unit, ids, serials, reserved)))
                while len(pending) > max_pending:
                    collect()
        while pending:
            collect()
    finally:
        executor.shutdown(cancel_futures=True)
        hashing.shutdown(cancel_futures=True)
        loader.close()
        if context_file is not None:
            os.unlink(context_file.name)
    counts["seconds"] = round(time.perf_counter() - started, 2)
    db.write(lambda conn: audit.record(conn, "demo_generate", detail={
        **counts, "seed": seed, "end": end.isoformat(), "years": years}))
    return counts


def _print_progress(p: dict[str, Any]) -> None:
    eta = int(p["eta"])
    print(f"chunk {p['chunk']}/{p['chunks']}: {p['cases']:,}/{p['total']:,} cases, {p['rate']:,.0f} cases/s, "
          f"ETA {eta // 3600:d}:{eta // 60 % 60:02d}:{eta % 60:02d}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: EZZ_DATABASE_URL or data/ezz.duckdb")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 26))
    parser.add_argument("--if-empty", action="store_true", help="do nothing if there are cases already")
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes building chunks (default: 2 from 50,000 cases on, else a thread)")
    args = parser.parse_args(argv)
    db = get_database(args.database_url)
    counts = generate(db, cases=args.cases, years=args.years, seed=args.seed, end=args.end, chunk=args.chunk,
                      if_empty=args.if_empty, workers=args.workers, progress=_print_progress)
    if counts.get("skipped"):
        print("cases present already: nothing generated (--if-empty)")
    for key in [k for k, _ in _COUNTED] + ["users", "seconds"]:
        print(f"{key:12s} {counts[key]:>12,}" if key != "seconds" else f"{key:12s} {counts[key]:>12,.1f}")
    if counts["seconds"] and counts["cases"]:
        print(f"{'cases/s':12s} {counts['cases'] / counts['seconds']:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
