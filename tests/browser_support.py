"""Shared fixtures and helpers for the browser tests (Playwright, sync API, Debian chromium).

`live_server` seeds a temporary DuckDB file with the reference data and a few test users (real bcrypt
hashes), frees the file, starts the REAL server (`streamlit run server.py`) on a free port and yields its
base URL. `chromium` launches the system chromium once per module; `new_page` opens a page in a fresh
browser context (no shared cookies) and closes every context it opened at the end of the test.

Import the fixtures into a test module with
    from browser_support import chromium, live_server, new_page  # noqa: F401
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
COOKIE = "ezz_session"
TIMEOUT_MS = 15_000
PASSWORD = "Ezhou@2026"


@dataclass(frozen=True)
class TestUser:
    username: str
    display_name: str
    role: str
    unit_id: str | None = None
    id_number: str | None = None


def _users() -> dict[str, TestUser]:
    from app.validators import make_resident_id

    return {
        "officer": TestUser("e2e_officer", "测试办事员", "officer", "U-4207-SCJG"),
        "head": TestUser("e2e_head", "测试负责人", "head", "U-4207-SCJG"),
        "applicant": TestUser("e2e_applicant", "测试申请人", "applicant",
                              id_number=make_resident_id("420704", date(1990, 5, 17), 123)),
        "supervisor": TestUser("e2e_supervisor", "测试监察员", "supervisor", "U-4207-JC"),
        # Only the lockout test signs in as this one, so its lock never touches another test.
        "lockout": TestUser("e2e_lockout", "测试锁定用户", "officer", "U-4207-SCJG"),
    }


USERS = _users()


def seed_database(path: Path) -> None:
    """Migrate and seed a fresh DuckDB file, create the test users, then free the file for the server."""
    seed_database_with(path, list(USERS.values()))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local test server
            return resp.status, json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode("utf-8") or "{}")


def _streamlit_command() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "streamlit"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "streamlit"]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("e2e")
    db_path = workdir / "e2e.duckdb"
    seed_database(db_path)

    yield from serve(workdir, db_path)


@pytest.fixture(scope="module")
def chromium():  # noqa: ANN201 - playwright Browser
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def new_page(chromium, live_server) -> Iterator[Callable[[], object]]:  # noqa: ANN001
    """A factory: each call opens a page in a NEW browser context (its own cookies)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    contexts = []

    def make():  # noqa: ANN202
        context = chromium.new_context(base_url=live_server, locale="zh-CN",
                                       viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS * 2)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# -- helpers a user would do ---------------------------------------------------------------------------
def sidebar(page):  # noqa: ANN001, ANN201
    return page.get_by_test_id("stSidebar")


def main(page):  # noqa: ANN001, ANN201
    return page.get_by_test_id("stMain")


def session_cookie(context) -> dict | None:  # noqa: ANN001
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def wait_for_cookie(context, present: bool = True, not_value: str | None = None,  # noqa: ANN001
                    timeout: float = TIMEOUT_MS / 1000) -> dict | None:
    """Wait until the browser holds (or no longer holds) the session cookie; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        cookie = session_cookie(context)
        if present and cookie is not None and cookie["value"] != not_value:
            return cookie
        if not present and cookie is None:
            return None
        if time.monotonic() > deadline:
            state = "set" if present else "deleted"
            raise AssertionError(f"the session cookie was not {state} within {timeout} s (now: {cookie})")
        time.sleep(0.1)


def wait_ready(page) -> None:  # noqa: ANN001
    """Wait until Streamlit has drawn the page: the sidebar navigation is there and no script run is shown."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()


def idle(page) -> None:  # noqa: ANN001
    """Wait until Streamlit has finished the current run of the script."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


def download_from(page, button, tries: int = 2) -> bytes:  # noqa: ANN001
    """Click a download button once the page has settled; returns the downloaded file's bytes.

    Our download buttons build their file when clicked (deferred): the browser asks the server for the file the
    button's run registered. A click that lands while a rerun is replacing the page asks for a file the server
    has already dropped; the button then shows an error for a few seconds and nothing downloads (seen once in CI,
    on 我的办件 right after navigating there). A user clicks again once the page is drawn, and so does this."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(1, tries + 1):
        idle(page)
        try:
            with page.expect_download(timeout=TIMEOUT_MS) as info:
                button.click()
            return Path(info.value.path()).read_bytes()
        except PlaywrightTimeoutError:
            errors = page.get_by_test_id("stDownloadButtonError").all_inner_texts()
            if attempt == tries:
                raise AssertionError(f"no download after {tries} clicks; the button said {errors}") from None


def open_app(page, path: str = "/") -> None:  # noqa: ANN001
    page.goto(path)
    wait_ready(page)


def submit_sign_in(page, username: str, password: str) -> None:  # noqa: ANN001
    """Fill the sign-in form of the current page and submit it once."""
    from playwright.sync_api import expect

    form = main(page).get_by_test_id("stForm")
    expect(form).to_be_visible()
    form.get_by_role("textbox", name="用户名").fill(username)
    form.get_by_role("textbox", name="密码").fill(password)
    form.get_by_role("button", name="登录").click()


def sign_in(page, user: TestUser, password: str = PASSWORD) -> dict:  # noqa: ANN001
    """Open /signin, sign in, and wait for the home heading and the session cookie; returns the cookie."""
    from playwright.sync_api import expect

    open_app(page, "/signin")
    submit_sign_in(page, user.username, password)
    expect(sidebar(page).get_by_role("button", name="退出登录")).to_be_visible()
    return wait_for_cookie(page.context)


def sign_out(page) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    sidebar(page).get_by_role("button", name="退出登录").click()
    expect(sidebar(page).get_by_role("button", name="退出登录")).to_have_count(0)
    wait_for_cookie(page.context, present=False)


def expect_signed_out(page) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="登录")).to_be_visible()
    expect(sidebar(page).get_by_role("button", name="退出登录")).to_have_count(0)
    expect(nav.get_by_role("link", name="待办工作台")).to_have_count(0)


def expect_signed_in(page, user: TestUser, home_heading: str) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    expect(main(page).get_by_role("heading", name=home_heading)).to_be_visible()
    expect(sidebar(page).get_by_text(f"当前用户：{user.display_name}")).to_be_visible()
    expect(sidebar(page).get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name="登录")).to_have_count(0)


# -- a server with more users and its own upload folder (added for tests/test_browser_portal.py) ----------
# These add to the module without changing anything above: `live_server` still seeds USERS only.
def seed_database_with(path: Path, users: list[TestUser]) -> None:
    """Like seed_database, with the given users instead of USERS (the same password for every one)."""
    from app import auth
    from app.db import Database, forget_databases
    from pipelines.seed_reference import seed_reference

    db = Database(f"duckdb:///{path}")
    try:
        db.migrate()
        seed_reference(db)
        digest = auth.hash_password(PASSWORD)

        def work(conn) -> None:
            for user in users:
                auth.create_user(conn, username=user.username, password=None, password_hash=digest,
                                 display_name=user.display_name, role=user.role, unit_id=user.unit_id,
                                 id_kind="resident_id" if user.id_number else None, id_number=user.id_number)

        db.write(work)
    finally:
        db.dispose()
        forget_databases()


def serve(workdir: Path, db_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Start the real server on a seeded DuckDB file (as `live_server` does) and yield its base URL; uploads
    go to workdir/files unless extra_env says otherwise. Use as a generator fixture body:
        yield from serve(workdir, db_path)
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EZZ_")}
    env.update({
        "EZZ_DATABASE_URL": f"duckdb:///{db_path}",
        "EZZ_BACKGROUND_JOBS": "0",
        "EZZ_MODE": "development",
        "EZZ_LANGUAGE": "zh",
        "EZZ_LOCKOUT_FAILURES": "5",
        "EZZ_LOCKOUT_MINUTES": "30",
        "EZZ_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "EZZ_FILES_DIR": str(workdir / "files"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **(extra_env or {}),
    })
    yield from serve_script("server.py", env, workdir / "server.log", port=port)


def _app_healthy(base: str) -> bool:
    status, body = get_json(base + "/healthz", timeout=2)
    return status == 200 and body.get("status") == "ok"


def serve_script(script: str | Path, env: dict[str, str], log_path: Path, *, port: int | None = None,
                 ready: Callable[[str], bool] = _app_healthy) -> Iterator[str]:
    """Run `streamlit run script` (from the project folder) with exactly `env`, its output to log_path; yield
    its base URL once `ready(base)` holds (60 s at most), stop it afterwards."""
    port = port or free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [*_streamlit_command(), "run", str(script), "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                if ready(base):
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after 60 s:\n{_tail(log_path)}")
            time.sleep(0.25)  # polling interval of the health probe, not a wait for the page
        yield base
    finally:
        _stop(proc)
        log.close()
