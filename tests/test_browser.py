"""End-to-end sign-in tests in a real browser against the REAL server (shared/notes/signin.md).

One server per module (`streamlit run server.py` on a temporary, seeded DuckDB file); each test opens its
own browser contexts, so cookies never leak from one test to another.

    .venv/bin/python -m pytest tests/test_browser.py -q
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from browser_support import (  # noqa: E402, F401 - fixtures are used by name
    ARTIFACTS,
    COOKIE,
    PASSWORD,
    USERS,
    chromium,
    expect_signed_in,
    expect_signed_out,
    get_json,
    live_server,
    main,
    new_page,
    open_app,
    sidebar,
    sign_in,
    sign_out,
    submit_sign_in,
    wait_for_cookie,
)

OFFICER = USERS["officer"]
APPLICANT = USERS["applicant"]
LOCKOUT = USERS["lockout"]
LOCK_TEXT = "账户已锁定"
BAD_CREDENTIALS = "用户名或密码错误"


def test_officer_lands_on_desk_after_one_submit(new_page, live_server):
    page = new_page()
    open_app(page, "/signin")
    expect(main(page).get_by_role("heading", name="登录")).to_be_visible()
    submit_sign_in(page, OFFICER.username, PASSWORD)  # ONE submit, nothing else clicked

    expect(main(page).get_by_role("heading", name="待办工作台")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/desk$"))  # the role's home, at its own address
    expect_signed_in(page, OFFICER, "待办工作台")
    # The page is in Chinese: the title, the navigation and the figures of the desk.
    expect(page).to_have_title(re.compile("鄂州e政通|待办工作台"))
    expect(main(page).get_by_text(re.compile(r"^所属单位：(鄂州市市场监督管理局|U-4207-SCJG)$"))).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="首页")).to_be_visible()
    expect(main(page).get_by_role("heading", name=re.compile(r"^办件列表（共\d+件"))).to_be_visible()
    expect(main(page).get_by_text("Officer desk")).to_have_count(0)
    wait_for_cookie(page.context)
    # Shoot the drawn page, not its placeholders: the four figures are there and nothing is still loading.
    expect(main(page).get_by_test_id("stMetric")).to_have_count(4)
    expect(main(page).get_by_test_id("stMetric").first).to_contain_text("待办件")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "officer_home.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists()
    assert shot.stat().st_size > 10_000, f"screenshot is only {shot.stat().st_size} bytes"


def test_session_cookie_is_httponly_and_lax(new_page):
    page = new_page()
    cookie = sign_in(page, OFFICER)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert len(cookie["value"]) >= 32
    visible_to_js = page.evaluate("() => document.cookie")
    assert COOKIE not in visible_to_js
    assert cookie["value"] not in visible_to_js


def test_reload_on_sub_page_stays_there_signed_in(new_page):
    page = new_page()
    sign_in(page, OFFICER)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="首页").click()
    expect(page).to_have_url(re.compile(r"/public$"))
    expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()

    page.reload()
    expect(page).to_have_url(re.compile(r"/public$"))
    expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()
    expect(main(page).get_by_text("外网申报、内网审批")).to_be_visible()
    expect(main(page).get_by_role("heading", name="待办工作台")).to_have_count(0)
    expect(sidebar(page).get_by_text(f"当前用户：{OFFICER.display_name}")).to_be_visible()
    expect(sidebar(page).get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="待办工作台")).to_be_visible()


def test_sign_out_then_reload_is_signed_out(new_page):
    page = new_page()
    sign_in(page, OFFICER)
    sign_out(page)
    expect_signed_out(page)

    page.reload()
    expect_signed_out(page)
    expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()
    # The desk is not reachable by its address either.
    page.goto("/desk")
    expect_signed_out(page)
    expect(main(page).get_by_role("heading", name="待办工作台")).to_have_count(0)


def test_a_work_page_opened_signed_out_opens_after_sign_in_and_another_roles_page_says_so(new_page):
    """A bookmarked screen (or one open when the session ended) asks for sign-in and opens after it, its query
    kept; a screen of another role says so in Chinese. Neither shows Streamlit's English "Page not found"."""
    page = new_page()
    open_app(page, "/fees?month=2026-10")
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_text("请先登录，登录后将打开您要访问的页面。")).to_be_visible()
    expect_signed_out(page)
    submit_sign_in(page, OFFICER.username, PASSWORD)
    expect(main(page).get_by_role("heading", name="收费对账")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/fees\?month=2026-10$"))
    wait_for_cookie(page.context)

    open_app(page, "/apply")   # the applicant's 我要办
    expect(main(page).get_by_role("heading", name="我要办")).to_be_visible()
    expect(main(page).get_by_text("此页面不在您的工作范围内。")).to_be_visible()
    expect(main(page).get_by_test_id("stFileUploader")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="我要办")).to_have_count(0)
    main(page).get_by_role("link", name="返回我的首页").click()
    expect(main(page).get_by_role("heading", name="待办工作台")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/desk$"))
    open_app(page, "/desk")   # the home at its own address, as the address bar showed it
    expect(main(page).get_by_role("heading", name="待办工作台")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_the_public_home_answers_at_its_own_address(new_page):
    page = new_page()
    open_app(page, "/")
    expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()
    open_app(page, "/public")
    expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/public$"))
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_cookie_copied_before_sign_out_is_rejected_after(new_page):
    page_a = new_page()
    sign_in(page_a, OFFICER)
    copied = [c for c in page_a.context.cookies() if c["name"] == COOKIE]
    assert copied, "no session cookie to copy"

    # Control: before the sign-out the copied cookie does sign a fresh browser in (else this test proves nothing).
    page_b = new_page()
    page_b.context.add_cookies(copied)
    open_app(page_b, "/")
    expect_signed_in(page_b, OFFICER, "待办工作台")

    sign_out(page_a)

    # The browser that was signed in with the copy is ended at its next click (every run re-checks the row).
    page_b.get_by_test_id("stSidebarNav").get_by_role("link", name="首页").click()
    expect_signed_out(page_b)

    page_c = new_page()
    page_c.context.add_cookies(copied)
    open_app(page_c, "/")
    expect_signed_out(page_c)
    open_app(page_c, "/desk")
    expect_signed_out(page_c)
    expect(main(page_c).get_by_role("heading", name="待办工作台")).to_have_count(0)


def test_sign_out_then_other_user_in_same_tab(new_page):
    page = new_page()
    officer_cookie = sign_in(page, OFFICER)
    expect_signed_in(page, OFFICER, "待办工作台")
    sign_out(page)
    expect_signed_out(page)

    # Same tab, same Streamlit session: the sidebar link to the sign-in page.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="登录").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    # A shared computer (a service window): nothing of the officer's sign-in is left in the form.
    form = main(page).get_by_test_id("stForm")
    expect(form.get_by_role("textbox", name="用户名")).to_have_value("")
    expect(form.get_by_role("textbox", name="密码")).to_have_value("")
    submit_sign_in(page, APPLICANT.username, PASSWORD)
    expect_signed_in(page, APPLICANT, "我的办事")
    wait_for_cookie(page.context, not_value=officer_cookie["value"])

    page.reload()
    expect_signed_in(page, APPLICANT, "我的办事")
    expect(main(page).get_by_role("heading", name="待办工作台")).to_have_count(0)
    expect(sidebar(page).get_by_text(OFFICER.display_name)).to_have_count(0)


def test_five_wrong_passwords_lock_the_account(new_page):
    page = new_page()
    for attempt in range(1, 6):
        # A fresh page load per attempt: the message then belongs to this attempt, not to the one before.
        open_app(page, "/signin")
        expect(main(page).get_by_test_id("stAlert")).to_have_count(0)
        submit_sign_in(page, LOCKOUT.username, f"Wrong@{attempt}x")
        expected = LOCK_TEXT if attempt == 5 else BAD_CREDENTIALS
        expect(main(page).get_by_test_id("stAlert")).to_contain_text(expected)

    # The 6th attempt, with the right password, is refused with the lock message.
    open_app(page, "/signin")
    submit_sign_in(page, LOCKOUT.username, PASSWORD)
    expect(main(page).get_by_test_id("stAlert")).to_contain_text(LOCK_TEXT)
    expect(sidebar(page).get_by_role("button", name="退出登录")).to_have_count(0)

    # Another browser (no cookies, no page state): still locked.
    other = new_page()
    open_app(other, "/signin")
    submit_sign_in(other, LOCKOUT.username, PASSWORD)
    expect(main(other).get_by_test_id("stAlert")).to_contain_text(LOCK_TEXT)
    expect(sidebar(other).get_by_role("button", name="退出登录")).to_have_count(0)
    expect(main(other).get_by_role("heading", name="待办工作台")).to_have_count(0)
    assert not [c for c in other.context.cookies() if c["name"] == COOKIE]


def test_language_switch_to_english(new_page):
    page = new_page()
    sign_in(page, OFFICER)
    expect(main(page).get_by_role("heading", name="待办工作台")).to_be_visible()

    lang = sidebar(page).get_by_test_id("stSelectbox")
    expect(lang).to_contain_text("语言 / Language")
    lang.get_by_role("combobox").click()
    page.get_by_role("option", name="English").click()

    expect(main(page).get_by_role("heading", name="Officer desk")).to_be_visible()
    expect(sidebar(page).get_by_role("button", name="Sign out")).to_be_visible()
    expect(sidebar(page).get_by_text(f"Signed in as {OFFICER.display_name}")).to_be_visible()
    expect(main(page).get_by_role("heading", name="待办工作台")).to_have_count(0)


def test_document_language_is_chinese(new_page):
    page = new_page()
    open_app(page, "/")
    expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", re.compile(r"^zh"), timeout=3_000)


def test_healthz(live_server):
    status, body = get_json(live_server + "/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "duckdb"
    assert isinstance(body["schema_version"], int) and body["schema_version"] >= 2
