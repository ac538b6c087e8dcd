"""End-to-end: a first-time applicant applies online for 食品经营许可, and a window clerk files the same item for
an applicant at the counter — in a real browser against the REAL server (`streamlit run server.py`).

One server for the module, on a temporary seeded DuckDB file with its own upload folder; it knows an applicant
with a resident ID and a window clerk at 凤凰街道便民服务中心 (U-420704001-BMFW, window W-420704001-01). Every
step is what a user would do: links in the sidebar, labels on the screen; the newcomer types no address after the
home page, the clerk and the returning applicant start at /signin.

    .venv/bin/python -m pytest tests/test_browser_portal.py -q -x
"""
from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.validators import make_resident_id
from tests import browser_support
from tests.browser_support import (  # noqa: F401 - fixtures are used by name
    ARTIFACTS,
    PASSWORD,
    TIMEOUT_MS,
    USERS,
    chromium,
    download_from,
    idle,
    main,
    new_page,
    open_app,
    seed_database_with,
    serve,
    sidebar,
    sign_in,
    submit_sign_in,
)

FOOD_CODE = "4207-SCJG-003"
FOOD_NAME = "食品经营许可"
APPLICANT = USERS["applicant"]  # an existing applicant with a valid resident ID (the one who comes to the window)
CLERK = browser_support.TestUser("e2e_clerk", "测试窗口员", "window_clerk", "U-420704001-BMFW")
NEWCOMER = {"name": "张新民", "id": make_resident_id("420704", date(1988, 3, 9), 57), "username": "zhang_xinmin",
            "phone": "13912345678"}
CASE_NO = re.compile(r"\d{6}-\d{8}-\d{6}")  # e.g. 420700-20260311-000123
# A file a scanner or a phone would make: a tiny but well-formed PDF, and a 1x1 PNG.
PDF_BYTES = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
             b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2d4c7e20000000049454e44ae426082")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server with the applicant and the window clerk (overrides browser_support.live_server here, so
    `new_page` uses it); uploads go to the temporary folder."""
    workdir = tmp_path_factory.mktemp("portal")
    db_path = workdir / "portal.duckdb"
    seed_database_with(db_path, [APPLICANT, CLERK])
    yield from serve(workdir, db_path)


@pytest.fixture()
def scans(tmp_path: Path) -> dict[str, Path]:
    pdf, png = tmp_path / "申请书.pdf", tmp_path / "身份证.png"
    pdf.write_bytes(PDF_BYTES)
    png.write_bytes(PNG_BYTES)
    return {"pdf": pdf, "png": png}


# -- helpers: what a user does ---------------------------------------------------------------------------------
@contextmanager
def shot_on_failure(page: Page, name: str) -> Iterator[None]:
    """On a failure, keep a picture of the screen in test-artifacts/ (what a user would have seen)."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with suppress(Exception):  # the picture is a help, the failure is what matters
            page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
        raise


class Steps:
    """Times each step a user takes (printed with -s; kept for the report)."""

    def __init__(self, flow: str) -> None:
        self.flow, self.t0, self.last, self.rows = flow, time.monotonic(), time.monotonic(), []

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.rows.append((step, now - self.last))
        self.last = now

    def report(self) -> str:
        lines = [f"{self.flow}: {time.monotonic() - self.t0:.1f} s"]
        lines += [f"  {s:<40} {d:5.1f} s" for s, d in self.rows]
        return "\n".join(lines)


def nav_link(page: Page, name: str) -> Locator:
    return page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)


def go(page: Page, link: str, heading: str) -> None:
    """Click a page in the sidebar navigation and wait for its title."""
    nav_link(page, link).click()
    expect(main(page).get_by_role("heading", name=heading, exact=True).first).to_be_visible()


def text_field(scope: Locator, label: str) -> Locator:
    """The field a user sees under this label (a folded expander may hold another one of the same name)."""
    return scope.get_by_label(label, exact=True).filter(visible=True)


def type_into(scope: Locator, label: str, value: str) -> None:
    """Type an answer and leave the field (Tab): Streamlit takes a text answer when the field loses focus."""
    box = text_field(scope, label)
    box.fill(value)
    box.press("Tab")


def widget(scope: Locator, test_id: str, label: str) -> Locator:
    """The Streamlit widget of a kind (stSelectbox, stMultiSelect, ...) whose label reads `label`."""
    return scope.get_by_test_id(test_id).filter(
        has=scope.page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))


def choose(scope: Locator, label: str, option: str, test_id: str = "stSelectbox") -> None:
    """Open a drop-down by its label and pick an option (for a multiselect, one more option)."""
    page = scope.page
    box = widget(scope, test_id, label)
    expect(box).to_have_count(1)
    item = page.get_by_role("option", name=option, exact=True)
    for attempt in range(3):
        idle(page)  # a run that ends while the list is open redraws the widget and closes the list
        box.get_by_role("combobox").click()
        try:
            expect(item).to_be_visible(timeout=5_000 if attempt == 0 else TIMEOUT_MS)
            item.click(timeout=5_000)   # … also between showing the option and the click (seen under load)
            break
        except (AssertionError, PlaywrightTimeoutError):
            if attempt == 2:
                raise
    if test_id == "stMultiSelect":
        page.keyboard.press("Escape")
        expect(box).to_contain_text(option)  # a chip per option chosen
    else:
        expect(box.get_by_role("combobox")).to_have_value(option)


def fill_food_form(scope: Locator, *, phone: str | None) -> None:
    """The generated form of 食品经营许可 for a person: everything required that is not prefilled."""
    if phone is not None:
        type_into(scope, "联系电话 *", phone)
    type_into(scope, "通讯地址 *", "湖北省鄂州市鄂城区凤凰街道吴都社区88号")
    area = text_field(scope, "经营场所面积（平方米） *")
    area.fill("60")
    area.press("Tab")
    choose(scope, "经营项目 *", "预包装食品销售", test_id="stMultiSelect")
    choose(scope, "经营项目 *", "热食类食品制售", test_id="stMultiSelect")
    type_into(scope, "申请事项说明 *", "在社区开办一家小餐馆，销售预包装食品并制售热食。")
    choose(scope, "结果领取方式 *", "电子证照")
    scope.get_by_test_id("stCheckbox").filter(has_text="本人承诺所填信息及所交材料真实有效").locator("label").click()
    expect(scope.get_by_role("checkbox", name=re.compile("本人承诺所填信息及所交材料真实有效"))).to_be_checked()


def choose_file(up: Locator, path: Path) -> int:
    """Choose a file in one uploader and wait until it is listed there; returns how many extra tries it took.

    A file chosen while the page is still busy with the run of the click before can be dropped without a trace
    (no upload request, nothing listed; seen only at machine speed). A person then sees an empty uploader and
    picks the file again: so does this, once."""
    page = up.page
    for attempt in range(3):
        idle(page)
        up.locator("input[type=file]").set_input_files(path)
        try:
            expect(up.get_by_text(path.name)).to_be_visible(timeout=5_000)
        except AssertionError:
            if attempt == 2:
                raise
            print(f"\n[portal] {path.name} was not taken by the uploader; choosing it again")
            continue
        idle(page)
        return attempt
    raise AssertionError("unreachable")


def upload_materials(scope: Locator, scans: dict[str, Path]) -> list[str]:
    """Upload a file for every material (all five of 食品经营许可 are mandatory): the PNG where a picture is
    accepted first, the PDF elsewhere. Returns the names of the files chosen, in order."""
    uploaders = scope.get_by_test_id("stFileUploader")
    count = uploaders.count()
    assert count >= 2, f"only {count} uploaders on the form"
    chosen, png_used = [], False
    for n in range(count):
        up = uploaders.nth(n)
        accepts = (up.locator("input[type=file]").get_attribute("accept") or "").lower()
        path = scans["png"] if (not png_used and ".png" in accepts) else scans["pdf"]
        png_used = png_used or path == scans["png"]
        choose_file(up, path)
        chosen.append(path.name)
    assert png_used, "no material accepts a PNG"
    return chosen


def submit_application(body: Locator) -> str:
    """Press 提交申请 and return the new case's number.

    The uploader lists a chosen file while its upload may still be in flight; a click at machine speed can then
    reach the server before the file does, and the form is refused for a missing material (seen once in the
    full suite, with every file listed). A person sees "请提交…" with the files still listed and presses again:
    so does this, once."""
    done = body.get_by_test_id("stAlert").filter(has_text="申请已提交")
    missing = body.get_by_test_id("stAlert").filter(has_text="请提交")
    for attempt in range(2):
        idle(body.page)
        body.get_by_role("button", name="提交申请").click()
        expect(done.or_(missing).first).to_be_visible()
        if done.count() or attempt == 1:
            break
        print("\n[portal] a material had not reached the server when 提交申请 was pressed; pressing again")
    return case_number_in(done)


def case_number_in(alert: Locator) -> str:
    expect(alert).to_contain_text(CASE_NO)
    found = CASE_NO.search(alert.inner_text())
    assert found, alert.inner_text()
    return found.group(0)


def save_screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    idle(page)  # the run has ended: no stale (faded) widgets of the screen before are left
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, f"screenshot is only {shot.stat().st_size} bytes"
    return shot


def pdf_text(data: bytes, tmp_path: Path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is needed to read the receipt"
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def open_my_case(page: Page, case_no: str, state: str = "已提交") -> None:
    """In 我的办件: pick the case from the list of one's cases and wait for it to open."""
    expect(main(page).get_by_role("heading", name="我的办件", exact=True)).to_be_visible()
    choose(main(page), "查看办件", f"{case_no} · {FOOD_NAME} · {state}")
    expect(main(page).get_by_role("heading", name=f"{case_no} · {FOOD_NAME}")).to_be_visible()


def my_cases_rows(page: Page) -> list[dict[str, str]]:
    """The list of 我的办件 as the user exports it (the table itself is drawn on a canvas)."""
    text = download_from(page, main(page).get_by_role("button", name="导出 CSV").first).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# -- 1. a new person applies online ----------------------------------------------------------------------------
def test_new_person_applies_online_for_food_licence(new_page, scans, tmp_path):
    steps = Steps("online")
    page = new_page()
    with shot_on_failure(page, "portal-online"):
        # The home page, as anyone arrives; 注册 is in the sidebar.
        open_app(page, "/")
        expect(main(page).get_by_role("heading", name="鄂州e政通")).to_be_visible()
        go(page, "注册", "申请人注册")
        expect(page).to_have_url(re.compile(r"/register$"))
        steps.done("home → 注册")

        form = main(page).get_by_test_id("stForm")
        expect(form.get_by_role("radio", name="居民身份证（自然人）")).to_be_checked()
        form.get_by_label("姓名或单位名称", exact=True).fill(NEWCOMER["name"])
        form.get_by_label("证件号码", exact=True).fill(NEWCOMER["id"])
        form.get_by_label("用户名", exact=True).fill(NEWCOMER["username"])
        form.get_by_label("密码", exact=True).fill(PASSWORD)
        form.get_by_label("再次输入密码", exact=True).fill(PASSWORD)
        form.get_by_label("手机号码（选填）", exact=True).fill(NEWCOMER["phone"])
        form.get_by_role("button", name="注册").click()
        expect(main(page).get_by_test_id("stAlert")).to_contain_text("注册成功")
        steps.done("register")

        go(page, "登录", "登录")
        submit_sign_in(page, NEWCOMER["username"], PASSWORD)
        expect(main(page).get_by_role("heading", name="我的办事")).to_be_visible()
        expect(sidebar(page).get_by_text(f"当前用户：{NEWCOMER['name']}")).to_be_visible()
        steps.done("sign in")

        # 办事指南: find the service by a keyword, open its guide, press 我要办.
        go(page, "办事指南", "办事指南")
        keyword = text_field(main(page), "关键词")
        keyword.fill("食品")
        keyword.press("Enter")
        expect(main(page).get_by_text(re.compile(r"找到 \d+ 个事项"))).to_be_visible()
        choose(main(page), "查看办事指南", f"{FOOD_NAME}（{FOOD_CODE}）")
        expect(main(page).get_by_role("heading", name=FOOD_NAME, exact=True)).to_be_visible()
        steps.done("guide: search 食品, open")
        main(page).get_by_role("button", name="我要办", exact=True).click()
        expect(page).to_have_url(re.compile(r"/apply\?item=" + FOOD_CODE))
        expect(main(page).get_by_role("heading", name="我要办", exact=True)).to_be_visible()
        expect(main(page).get_by_role("heading", name=FOOD_NAME, exact=True)).to_be_visible()
        steps.done("我要办 → form")

        # The form: the place, the generated fields (name, ID and phone come from the account), the materials.
        body = main(page)
        expect(text_field(body, "申请人姓名 *")).to_have_value(NEWCOMER["name"])
        expect(text_field(body, "居民身份证号码 *")).to_have_value(NEWCOMER["id"])
        expect(text_field(body, "联系电话 *")).to_have_value(NEWCOMER["phone"])
        choose(body, "区 *", "鄂城区")
        fill_food_form(body, phone=None)
        steps.done("fill the form")
        uploaded = upload_materials(body, scans)
        assert len(uploaded) >= 2
        steps.done(f"upload {len(uploaded)} files")

        case_no = submit_application(body)
        steps.done("submit")
        save_screenshot(page, "portal_online_submitted.png")

        # The receipt: a PDF naming the case.
        data = download_from(page, body.get_by_role("button", name="下载受理回执（PDF）"))
        assert data.startswith(b"%PDF"), data[:20]
        assert case_no in pdf_text(data, tmp_path).replace(" ", "")
        steps.done("download the receipt")

        # 我的办件: the case, its state and its due date.
        go(page, "我的办件", "我的办件")
        rows = [r for r in my_cases_rows(page) if r["办件编号"] == case_no]
        assert len(rows) == 1, rows
        assert rows[0]["事项"] == FOOD_NAME and rows[0]["状态"] == "已提交", rows[0]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rows[0]["期限截止"]), rows[0]
        open_my_case(page, case_no)
        clock = body.get_by_test_id("stMetric").filter(has_text="期限截止")
        expect(clock).to_contain_text(rows[0]["期限截止"])
        expect(body.get_by_text(re.compile(r"申报渠道：网上申报"))).to_be_visible()
        steps.done("我的办件")
        print(f"\n我的办件 row: {rows[0]}")
    print("\n" + steps.report())


# -- 2. a window clerk files for an applicant at the counter -----------------------------------------------------
def test_window_clerk_files_for_present_applicant(new_page, scans):
    steps = Steps("window")
    page = new_page()
    with shot_on_failure(page, "portal-window"):
        sign_in(page, CLERK)
        expect(main(page).get_by_role("heading", name="窗口工作台")).to_be_visible()
        go(page, "窗口受理", "窗口受理")
        steps.done("sign in → 窗口受理")

        body = main(page)
        expect(body.get_by_role("radio", name="居民身份证（自然人）").first).to_be_checked()
        type_into(body, "查找：证件号码", APPLICANT.id_number)
        body.get_by_role("button", name="查找申请人").click()
        expect(body.get_by_test_id("stAlert").filter(has_text=f"申请人：{APPLICANT.display_name}")).to_be_visible()
        steps.done("find the applicant")

        search = text_field(body, "搜索事项（名称或编码）")
        search.fill("食品")
        search.press("Enter")
        choose(body, "事项", f"{FOOD_NAME}（{FOOD_CODE}）")
        expect(body.get_by_text("承诺时限：")).to_be_visible()
        expect(text_field(body, "申请人姓名 *")).to_have_value(APPLICANT.display_name)
        expect(text_field(body, "居民身份证号码 *")).to_have_value(APPLICANT.id_number)
        fill_food_form(body, phone="13800001111")
        steps.done("item + form")
        uploaded = upload_materials(body, scans)
        steps.done(f"upload {len(uploaded)} scans")

        case_no = submit_application(body)
        expect(body.get_by_text(f"申请人：{APPLICANT.display_name}")).to_be_visible()
        steps.done("submit")
        save_screenshot(page, "portal_window_submitted.png")

    # The applicant, at home, in another browser: the case is in 我的办件, filed at the window.
    home = new_page()
    with shot_on_failure(home, "portal-window-applicant"):
        sign_in(home, APPLICANT)
        go(home, "我的办件", "我的办件")
        open_my_case(home, case_no)
        expect(main(home).get_by_text(re.compile(r"申报渠道：窗口受理"))).to_be_visible()
        expect(main(home).get_by_test_id("stMetric").filter(has_text="状态")).to_contain_text("已提交")
        steps.done("applicant sees it")
    print("\n" + steps.report())
