"""Consultations and complaints (咨询投诉) on DuckDB and PostgreSQL: anyone submits and gets an unguessable
tracking number; a complaint about a case needs the look-up pair (one message for a wrong number or pair,
rate-limited); only the responsible department answers, once; overdue answers raise the supervision alarm and
answering clears it; only answered consultations are published, without personal data; the pages /ask and
/inquiries through AppTest, and the guide's Q&A."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from app import alarms, applications, catalogue, inquiries, lookup, timeutil
from app import schema as s
from app.permissions import PermissionDenied
from tests.conftest import env  # noqa: F401  (the page fixture)
from tests.factories import applicant_of, file_case
from tests.apptest_support import open_page

ROOT = Path(__file__).resolve().parent.parent
FOOD = "4207-SCJG-003"       # 食品经营许可, led by 市场监督管理局 (SCJG)
CONTACT = dict(contact_name="王五", contact_phone="13912345678")


def ask(db, **values):  # noqa: ANN001, ANN201
    base = dict(kind="consultation", title="办理食品经营许可", content="个体户需要准备哪些材料？", item_code=FOOD,
                **CONTACT)
    return inquiries.submit(db, **{**base, **values})


def row(db, tracking_no):  # noqa: ANN001, ANN201
    with db.read() as conn:
        return conn.execute(sa.select(s.complaints).where(s.complaints.c.tracking_no == tracking_no)).one()


def test_consultation_goes_to_the_item_lead_department_with_a_tracking_number(seeded_db):
    db = seeded_db
    sent = ask(db)
    other = ask(db)
    assert sent.tracking_no.startswith(f"ZX-{timeutil.today():%Y%m%d}-") and sent.tracking_no != other.tracking_no
    assert len(sent.tracking_no.rsplit("-", 1)[1]) == inquiries.RANDOM_LENGTH
    assert sent.dept_name == "鄂州市市场监督管理局"
    r = row(db, sent.tracking_no)
    assert (r.kind, r.dept_code, r.item_code, r.case_id, r.published) == ("consultation", "SCJG", FOOD, None, False)
    from app import calendar_store
    assert r.due_on == calendar_store.load_calendar(db).add_working_days(timeutil.today(), applications.complaint_days())
    followed = inquiries.follow(db, sent.tracking_no.lower())
    assert followed["state"] == "open" and followed["answer"] is None and "contact_phone" not in followed
    by_dept = inquiries.submit(db, kind="complaint", title="窗口态度", content="窗口人员态度生硬。", dept_code="GAJ",
                               **CONTACT)
    assert by_dept.tracking_no.startswith("TS-") and row(db, by_dept.tracking_no).dept_code == "GAJ"


def test_bad_submissions_are_refused_with_the_reason(seeded_db):
    db = seeded_db
    cases_ = [(dict(title=""), "inquiry.title_short"), (dict(title="题" * 51), "inquiry.title_long"),
              (dict(content="短"), "inquiry.content_short"), (dict(content="长" * 2001), "inquiry.content_long"),
              (dict(contact_name=" "), "inquiry.name_missing"), (dict(contact_phone="12345"), "inquiry.phone_invalid"),
              (dict(contact_phone="139123456789"), "inquiry.phone_invalid"),
              (dict(kind="praise"), "inquiry.kind_unknown"), (dict(item_code="4207-NOPE-1"), "inquiry.item_unknown"),
              (dict(item_code=None, dept_code="NOPE"), "inquiry.dept_unknown"),
              (dict(item_code=None), "inquiry.target_missing"),
              (dict(case_no="420700-20260101-000001"), "inquiry.case_only_complaint")]
    with db.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(s.complaints)).scalar()
    for values, key in cases_:
        with pytest.raises(inquiries.InquiryError) as err:
            ask(db, **values)
        assert err.value.key == key, values
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.complaints)).scalar() == before


def test_complaint_about_a_case_needs_the_lookup_pair(seeded_db):
    db = seeded_db
    case = file_case(db, db.actors["applicant"])
    tail = case["applicant_id_number"][-4:]
    wrong = "0000" if tail != "0000" else "1111"
    keys = []
    for number, t in ((case["case_no"], wrong), ("420700-20990101-999999", tail)):
        with pytest.raises(lookup.LookupRefused) as err:
            ask(db, kind="complaint", item_code=None, case_no=number, id_tail=t, client="cp1")
        keys.append(err.value.key)
    assert keys == ["lookup.no_match", "lookup.no_match"]     # no hint which part was wrong
    sent = ask(db, kind="complaint", item_code=None, case_no=case["case_no"], id_tail=tail.lower(), client="cp1")
    r = row(db, sent.tracking_no)
    assert (r.case_id, r.dept_code, r.item_code) == (case["case_id"], case["dept_code"], case["item_code"])


def test_complaint_guessing_is_rate_limited_like_the_lookup(seeded_db):
    db = seeded_db
    case = file_case(db, db.actors["applicant"])
    tail = case["applicant_id_number"][-4:]
    for n in range(lookup.MAX_FAILURES_PER_HOUR):
        guess = f"{n:04d}" if f"{n:04d}" != tail else "ZZZZ"
        with pytest.raises(lookup.LookupRefused):
            ask(db, kind="complaint", item_code=None, case_no=case["case_no"], id_tail=guess, client=f"g{n}")
    with pytest.raises(lookup.LookupRefused) as err:
        ask(db, kind="complaint", item_code=None, case_no=case["case_no"], id_tail=tail, client="someone")
    assert err.value.key == "lookup.too_many"


def test_following_an_unknown_number_is_refused_and_rate_limited(seeded_db):
    db = seeded_db
    for n in range(lookup.MAX_FAILURES_PER_HOUR):
        with pytest.raises(inquiries.InquiryError) as err:
            inquiries.follow(db, f"ZX-20261126-GUESS{n:03d}", client="guesser")
        assert err.value.key == "inquiry.no_match"
    real = ask(db)
    with pytest.raises(inquiries.InquiryError) as err:     # from that client even a real number waits
        inquiries.follow(db, real.tracking_no, client="guesser")
    assert err.value.key == "inquiry.too_many"
    assert inquiries.follow(db, real.tracking_no, client="another")["tracking_no"] == real.tracking_no


def test_only_the_responsible_department_answers_once(seeded_db):
    db, a = seeded_db, seeded_db.actors
    sent = ask(db)
    cid = row(db, sent.tracking_no).complaint_id
    for who in ("other_dept_officer", "gaj_head"):               # another department's staff
        with pytest.raises(PermissionDenied):
            inquiries.answer(db, a[who], cid, "需要营业执照等材料。")
        assert cid not in inquiries.for_department(db, a[who])["complaint_id"].to_list()
    with pytest.raises(PermissionDenied):                        # a district officer: the city's consultation
        inquiries.answer(db, a["district_officer"], cid, "需要营业执照等材料。")
    for who in ("applicant", "supervisor", "admin"):
        with pytest.raises(PermissionDenied):
            inquiries.answer(db, a[who], cid, "需要营业执照等材料。")
    with pytest.raises(inquiries.InquiryError) as err:
        inquiries.answer(db, a["officer"], cid, "好")
    assert err.value.key == "inquiry.answer_short"
    mine = inquiries.for_department(db, a["officer"])
    assert cid in mine["complaint_id"].to_list()
    assert inquiries.detail(db, a["officer"], cid)["contact_phone"] == "13912345678"
    inquiries.answer(db, a["officer"], cid, "需要营业执照、经营场所证明等材料。")
    with pytest.raises(inquiries.InquiryError) as err:
        inquiries.answer(db, a["head"], cid, "再答一次。")
    assert err.value.key == "inquiry.already_answered"
    r = row(db, sent.tracking_no)
    assert r.answered_by == a["officer"].user_id and r.answer == "需要营业执照、经营场所证明等材料。"
    assert inquiries.follow(db, sent.tracking_no)["state"] == "answered"


def test_publishing_answered_consultations_only_without_personal_data(seeded_db):
    db, a = seeded_db, seeded_db.actors
    sent = ask(db, title="身份证号能否代替", content="我的身份证420704198503011234，电话13912345678，能否网上办？")
    cid = row(db, sent.tracking_no).complaint_id
    with pytest.raises(inquiries.InquiryError) as err:
        inquiries.set_published(db, a["officer"], cid, True)
    assert err.value.key == "inquiry.publish_unanswered"
    complaint = inquiries.submit(db, kind="complaint", title="投诉窗口", content="窗口让我跑了三次。", item_code=FOOD,
                                 **CONTACT)
    complaint_id = row(db, complaint.tracking_no).complaint_id
    inquiries.answer(db, a["officer"], complaint_id, "已核实并整改。")
    with pytest.raises(inquiries.InquiryError) as err:
        inquiries.set_published(db, a["officer"], complaint_id, True)
    assert err.value.key == "inquiry.publish_complaint"
    inquiries.answer(db, a["officer"], cid, "可以网上办理，请联系13800001111咨询。")
    with pytest.raises(PermissionDenied):
        inquiries.set_published(db, a["other_dept_officer"], cid, True)
    inquiries.set_published(db, a["head"], cid, True)
    shown = [q for q in inquiries.published_qa(db, item_code=FOOD) if q["title"] == "身份证号能否代替"]
    assert len(shown) == 1
    text = repr(shown[0])
    for secret in ("420704198503011234", "13912345678", "13800001111", "王五"):
        assert secret not in text
    assert shown[0]["dept_name"] == "鄂州市市场监督管理局"
    assert any(q["title"] == "身份证号能否代替" for q in catalogue.guide(db, FOOD)["qa"])
    inquiries.set_published(db, a["head"], cid, False)
    assert not any(q["title"] == "身份证号能否代替" for q in inquiries.published_qa(db, item_code=FOOD))


def test_applicant_complaint_gets_a_tracking_number(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = file_case(db, a["applicant"], applicant=applicant_of(db, a["applicant"]))
    applications.complain(db, a["applicant"], case["case_id"], expected_version=case["version"],
                          content="受理后一直没有进展。")
    with db.read() as conn:
        r = conn.execute(sa.select(s.complaints).where(s.complaints.c.case_id == case["case_id"])).one()
    assert r.kind == "complaint" and r.tracking_no.startswith("TS-") and r.dept_code == case["dept_code"]
    assert inquiries.follow(db, r.tracking_no)["case_no"] == case["case_no"]
    assert r.complaint_id in inquiries.for_department(db, a["officer"])["complaint_id"].to_list()


def _open_alarm_keys(db, today):  # noqa: ANN001, ANN202
    alarms.recompute(db, today=today)
    with db.read() as conn:
        return {r[0] for r in conn.execute(sa.select(s.alarms.c.subject_key).where(s.alarms.c.cleared_at.is_(None)))}


def test_overdue_consultation_raises_the_alarm_and_answering_clears_it(seeded_db):
    db, a = seeded_db, seeded_db.actors
    sent = ask(db)
    r = row(db, sent.tracking_no)
    key = f"complaint_unanswered:{r.complaint_id}"
    assert key not in _open_alarm_keys(db, r.due_on)                       # due today: not yet late
    late = r.due_on + timedelta(days=1)
    assert key in _open_alarm_keys(db, late)
    with db.read() as conn:
        alarm = conn.execute(sa.select(s.alarms).where(s.alarms.c.subject_key == key)).one()
    assert (alarm.dept_code, alarm.region_code, alarm.case_id, alarm.detail) == ("SCJG", "4207", None, sent.tracking_no)
    # the department sees it among its own alarms; another department does not
    assert key.split(":")[1] and alarms.alarms_for(db, a["officer"], rule="complaint_unanswered")["detail"].to_list() \
        .count(sent.tracking_no) == 1
    assert sent.tracking_no not in alarms.alarms_for(db, a["gaj_officer"])["detail"].to_list()
    inquiries.answer(db, a["officer"], r.complaint_id, "需要营业执照等材料，详见办事指南。")
    assert key not in _open_alarm_keys(db, late)
    with db.read() as conn:
        assert conn.execute(sa.select(s.alarms.c.cleared_at).where(s.alarms.c.subject_key == key)).scalar() is not None


def test_staff_list_puts_open_and_overdue_first(seeded_db):
    db, a = seeded_db, seeded_db.actors
    old = ask(db, title="较早的咨询")
    db.write(lambda conn: conn.execute(s.complaints.update().where(s.complaints.c.tracking_no == old.tracking_no)
                                       .values(due_on=date(2020, 1, 2))))
    answered = ask(db, title="已答复的咨询")
    inquiries.answer(db, a["officer"], row(db, answered.tracking_no).complaint_id, "已答复，详见指南。")
    rows = inquiries.for_department(db, a["officer"])
    order = rows["tracking_no"].to_list()
    assert order.index(old.tracking_no) < order.index(answered.tracking_no)
    assert rows.filter(rows["tracking_no"] == old.tracking_no)["overdue"].to_list() == [True]
    assert rows.filter(rows["tracking_no"] == answered.tracking_no)["overdue"].to_list() == [False]
    assert answered.tracking_no not in inquiries.for_department(db, a["officer"], open_only=True)["tracking_no"].to_list()


# -- the pages ---------------------------------------------------------------------------------------------------

def page(name: str, actor=None, **query) -> AppTest:  # noqa: ANN001
    return open_page(f"{name}.py", actor, **query)


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_ask_page_submit_and_follow(env):  # noqa: F811
    db = env
    at = page("ask", item=FOOD)
    assert at.title[0].value == "咨询投诉"
    assert at.selectbox(key="ask_item").value == FOOD                  # from the guide's link
    at.text_input(key="ask_title").input("网上办理").run()
    at.text_area(key="ask_content").input("能否全程网上办理？").run()
    at.text_input(key="ask_name").input("赵六").run()
    at.text_input(key="ask_phone").input("12345").run()
    at.button(key="ask_send").click().run()
    assert at.error[0].value == "联系电话格式不正确（手机号或区号-座机号）。"
    at.text_input(key="ask_phone").input("027-60001234").run()
    at.button(key="ask_send").click().run()
    assert not at.error and "受理编号：ZX-" in at.success[0].value
    number = at.text_input(key="ask_follow_no").value
    assert number.startswith("ZX-") and row(db, number).contact_phone == "027-60001234"
    at.button(key="ask_follow").click().run()
    assert any(m.value == "办理中" for m in at.metric)
    at.text_input(key="ask_follow_no").input("ZX-20260101-AAAAAAAA").run()
    at.button(key="ask_follow").click().run()
    assert at.error[0].value == "未找到该受理编号，请核对。"


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_ask_page_case_complaint_needs_the_pair(env):  # noqa: F811
    db = env
    case = file_case(db, db.actors["applicant"])
    at = page("ask")
    at.radio(key="ask_kind").set_value("complaint").run()
    at.radio(key="ask_about").set_value("case").run()
    at.text_input(key="ask_case_no").input(case["case_no"]).run()
    at.text_input(key="ask_tail").input("XXXX").run()
    at.text_input(key="ask_title").input("办件超期").run()
    at.text_area(key="ask_content").input("办件已经超过承诺时限。").run()
    at.text_input(key="ask_name").input("张三").run()
    at.text_input(key="ask_phone").input("13912345678").run()
    at.button(key="ask_send").click().run()
    assert at.error[0].value == "未找到匹配的办件，请核对办件编号和证件号码后四位。"
    at.text_input(key="ask_tail").input(case["applicant_id_number"][-4:]).run()
    at.button(key="ask_send").click().run()
    assert "受理编号：TS-" in at.success[0].value


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_inquiries_page_answer_and_publish(env):  # noqa: F811
    db, a = env, env.actors
    sent = ask(db, title="页面答复测试")
    cid = row(db, sent.tracking_no).complaint_id
    assert page("inquiries", a["applicant"]).error[0].value      # not for the public or applicants
    at = page("inquiries", a["officer"])
    assert at.title[0].value == "咨询投诉办理"
    assert sent.tracking_no in at.dataframe[0].value["受理编号"].to_list()
    at.selectbox(key="inquiries_pick").set_value(cid).run()
    assert any("13912345678" in t.value for t in at.text)           # the answering department sees the contact
    at.text_area(key=f"inquiry_answer_{cid}").input("请携带营业执照到窗口办理。").run()
    at.button(key="inquiry_send").click().run()
    assert not at.exception and row(db, sent.tracking_no).answer == "请携带营业执照到窗口办理。"
    at.toggle(key=f"inquiry_pub_{cid}").set_value(True).run()
    assert row(db, sent.tracking_no).published is True
    # the guide and /ask show it, without the contact
    guide = page("catalogue", item=FOOD)
    assert any(t.value == "能否全程网上办理？" or "个体户需要准备哪些材料" in t.value for t in guide.text)
    assert not any("13912345678" in t.value or "王五" in t.value for t in guide.text)
    public = page("ask")
    assert any("请携带营业执照到窗口办理。" in t.value for t in public.text)
    # another department's staff cannot open it
    other = page("inquiries", a["other_dept_officer"])
    assert sent.tracking_no not in (other.dataframe[0].value["受理编号"].to_list() if other.dataframe else [])


def test_upgrade_gives_earlier_complaints_a_tracking_number_and_department(empty_db):
    """0006 on a database with complaints filed before it: each gets its own unguessable tracking number and its
    case's department, so the alarm and the department's list cover it."""
    from datetime import datetime

    db = empty_db
    db.migrate(target=5)

    def old_rows(conn):  # noqa: ANN001, ANN202
        at = datetime(2025, 1, 2, 9)
        conn.execute(sa.text(
            "INSERT INTO cases (case_no, item_code, item_version, dept_code, unit_id, region_code, channel, "
            "applicant_name, applicant_id_kind, applicant_id_number, state, promised_days, statutory_limit, "
            "statutory_unit, created_at, updated_at) VALUES ('420700-20250102-000001', '4207-SCJG-003', 1, "
            "'SCJG', 'U-4207-SCJG', '4207', 'online', '张三', 'resident_id', '11010519491231002X', 'submitted', "
            "3, 10, 'working', :t, :t)"), {"t": at})
        case_id = conn.execute(sa.text("SELECT case_id FROM cases")).scalar()
        for n in range(2):
            conn.execute(sa.text("INSERT INTO complaints (case_id, content, created_at, due_on) "
                                 "VALUES (:c, :x, :t, :d)"), {"c": case_id, "x": f"旧投诉{n}", "t": at,
                                                              "d": date(2025, 1, 9)})

    db.write(old_rows)
    db.migrate()
    with db.read() as conn:
        rows = conn.execute(sa.select(s.complaints).order_by(s.complaints.c.complaint_id)).fetchall()
    assert [(r.kind, r.dept_code, r.published) for r in rows] == [("complaint", "SCJG", False)] * 2
    numbers = [r.tracking_no for r in rows]
    assert all(n.startswith("TS-") and len(n.rsplit("-", 1)[1]) == 10 for n in numbers)
    assert len(set(numbers)) == 2
    assert inquiries.follow(db, numbers[0])["content"] == "旧投诉0"
