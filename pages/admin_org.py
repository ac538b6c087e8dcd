"""组织与用户: organisation units on the region tree, service windows, and staff accounts (create, role and unit,
password reset, lock and unlock). The rules live in app/org_admin.py."""
import polars as pl
import streamlit as st

from app import org_admin
from app import workflow as wf
from app.permissions import PermissionDenied
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.widgets import table

tr = ui.tr
admin = ui.require_roles(ui.actor(), wf.ADMIN)
db = ui.db()

st.title(tr("page.admin_org"))
flash = st.session_state.pop("org_flash", None)
if flash:
    st.success(fw.plain(tr(flash[0], **flash[1])))


def attempt(action, done_key: str, **params) -> None:  # noqa: ANN001, ANN003
    """Run one change; on success say so after the rerun (the tables above show it), else say why not."""
    try:
        out = action()
    except (org_admin.OrgError, PermissionDenied) as exc:
        st.error(fw.plain(tr(exc.key, **getattr(exc, "params", {}))))
    else:
        st.session_state["org_flash"] = (done_key, {**params, **(out if isinstance(out, dict) else {})})
        st.rerun()


units = org_admin.list_units(db)
unit_names = {u["unit_id"]: u["name"] for u in units}


def unit_label(unit_id: str | None) -> str:
    return tr("org.no_parent") if not unit_id else f"{unit_names.get(unit_id, unit_id)}（{unit_id}）"


tab_units, tab_windows, tab_accounts = st.tabs([tr("org.tab_units"), tr("org.tab_windows"), tr("org.tab_accounts")])

# -- units -------------------------------------------------------------------------------------------------------
with tab_units:
    table(pl.DataFrame([{
        tr("org.col_unit_id"): u["unit_id"], tr("org.col_name"): u["name"], tr("org.col_kind"): tr(f"org.kind.{u['kind']}"),
        tr("org.col_dept_code"): u["dept_code"] or "", tr("org.col_region"): u["region"] or u["region_code"],
        tr("org.col_parent"): u["parent"] or "", tr("org.col_staff"): u["staff"], tr("org.col_windows"): u["windows"],
    } for u in units]), "org-units")
    regions = org_admin.regions(db)
    region_names = {r["code"]: f"{'　' * (r['level'] - 1)}{r['name']}（{r['code']}）" for r in regions}
    depts = dict(org_admin.departments(db))
    with st.expander(tr("org.new_unit")):
        with st.form("org-new-unit"):
            name = st.text_input(tr("org.unit_name"), key="org-unit-name")
            kind = st.selectbox(tr("org.kind"), org_admin.UNIT_KINDS, format_func=lambda k: tr(f"org.kind.{k}"),
                                key="org-unit-kind")
            region = st.selectbox(tr("org.region"), list(region_names), format_func=region_names.get,
                                  index=list(region_names).index("4207") if "4207" in region_names else 0,
                                  key="org-unit-region")
            dept = st.selectbox(tr("org.dept"), [""] + list(depts),
                                format_func=lambda d: depts.get(d, tr("org.no_dept")), key="org-unit-dept")
            parent = st.selectbox(tr("org.parent"), [""] + list(unit_names), format_func=unit_label,
                                  key="org-unit-parent")
            create = st.form_submit_button(tr("org.create"), type="primary")
        if create:
            attempt(lambda: {"unit_id": org_admin.create_unit(db, admin, name=name, kind=kind, region_code=region,
                                                                dept_code=dept or None, parent_unit_id=parent or None)},
                    "org.unit_created")
    with st.expander(tr("org.edit_unit")):
        chosen = st.selectbox(tr("org.choose_unit"), list(unit_names), format_func=unit_label, key="org-edit-unit")
        new_name = st.text_input(tr("org.new_name"), value=unit_names.get(chosen, ""), key=f"org-rename-{chosen}")
        if st.button(tr("org.rename"), key="org-rename"):
            attempt(lambda: org_admin.rename_unit(db, admin, chosen, new_name), "org.renamed")
        current_parent = next((u["parent_unit_id"] for u in units if u["unit_id"] == chosen), None) or ""
        options = [""] + [u for u in unit_names if u != chosen]
        new_parent = st.selectbox(tr("org.new_parent"), options, format_func=unit_label,
                                  index=options.index(current_parent) if current_parent in options else 0,
                                  key=f"org-parent-{chosen}")
        if st.button(tr("org.move"), key="org-move"):
            attempt(lambda: org_admin.move_unit(db, admin, chosen, new_parent or None), "org.moved")

# -- windows -----------------------------------------------------------------------------------------------------
with tab_windows:
    windows = org_admin.list_windows(db)
    table(pl.DataFrame([{
        tr("org.col_window_id"): w["window_id"], tr("org.col_name"): w["name"], tr("org.col_unit"): w["unit"] or "",
        tr("org.col_region"): w["region_code"],
    } for w in windows]), "org-windows")
    with st.expander(tr("org.new_window")):
        with st.form("org-new-window"):
            w_name = st.text_input(tr("org.window_name"), key="org-window-name")
            w_unit = st.selectbox(tr("org.window_unit"), list(unit_names), format_func=unit_label, key="org-window-unit")
            w_create = st.form_submit_button(tr("org.create"), type="primary")
        if w_create:
            attempt(lambda: {"window_id": org_admin.create_window(db, admin, name=w_name, unit_id=w_unit)},
                    "org.window_created")
    if windows:
        with st.expander(tr("org.edit_window")):
            window_names = {w["window_id"]: f"{w['name']}（{w['window_id']}）" for w in windows}
            w_chosen = st.selectbox(tr("org.choose_window"), list(window_names), format_func=window_names.get,
                                    key="org-edit-window")
            current = next(w for w in windows if w["window_id"] == w_chosen)
            w_new_name = st.text_input(tr("org.new_name"), value=current["name"], key=f"org-wrename-{w_chosen}")
            if st.button(tr("org.rename"), key="org-wrename"):
                attempt(lambda: org_admin.rename_window(db, admin, w_chosen, w_new_name), "org.renamed")
            units_list = list(unit_names)
            w_target = st.selectbox(tr("org.move_window"), units_list, format_func=unit_label,
                                    index=units_list.index(current["unit_id"]) if current["unit_id"] in units_list else 0,
                                    key=f"org-wmove-{w_chosen}")
            if st.button(tr("org.move"), key="org-wmove"):
                attempt(lambda: org_admin.move_window(db, admin, w_chosen, w_target), "org.moved")

# -- accounts ----------------------------------------------------------------------------------------------------
with tab_accounts:
    left, middle, right = st.columns([3, 2, 2])
    query = left.text_input(tr("org.search"), key="org-search")
    role_filter = middle.selectbox(tr("org.role_filter"), [""] + list(wf.ROLES), key="org-role-filter",
                                   format_func=lambda r: tr(f"role.{r}") if r else tr("org.all_staff"))
    applicants = right.checkbox(tr("org.include_applicants"), key="org-applicants")
    accounts = org_admin.list_accounts(db, query=query, role=role_filter or None, staff_only=not applicants)
    st.caption(tr("org.accounts_found", n=len(accounts)))
    if accounts:
        table(pl.DataFrame([{
            tr("org.col_username"): a["username"], tr("org.col_display_name"): a["display_name"],
            tr("org.col_role"): tr(f"role.{a['role']}"), tr("org.col_unit"): a["unit"] or "",
            tr("org.col_status"): tr(f"org.status.{a['status']}"), tr("org.col_id_number"): a["id_number"],
            tr("org.col_phone"): a["phone"],
            tr("org.col_created_at"): a["created_at"].strftime("%Y-%m-%d") if a["created_at"] else "",
        } for a in accounts]), "org-accounts")
    else:
        st.info(tr("org.no_accounts"))

    with st.expander(tr("org.new_staff")):
        with st.form("org-new-staff", clear_on_submit=True):
            username = st.text_input(tr("auth.username"), help=tr("auth.username_invalid"), key="org-new-username")
            display_name = st.text_input(tr("auth.display_name"), key="org-new-name")
            role = st.selectbox(tr("org.role"), list(wf.STAFF_ROLES), format_func=lambda r: tr(f"role.{r}"),
                                key="org-new-role")
            unit_id = st.selectbox(tr("org.unit"), list(unit_names), format_func=unit_label, key="org-new-unit")
            password = st.text_input(tr("auth.password"), type="password", help=tr("auth.password_weak"),
                                     key="org-new-password")
            create_staff = st.form_submit_button(tr("org.create"), type="primary", key="org-new-staff-submit")
        if create_staff:
            attempt(lambda: org_admin.create_staff(db, admin, username=username, password=password,
                                                   display_name=display_name, role=role, unit_id=unit_id),
                    "org.staff_created", username=username)

    if accounts:
        st.subheader(tr("org.manage_account"))
        labels = {a["user_id"]: f"{a['username']}（{a['display_name']}）" for a in accounts}
        user_id = st.selectbox(tr("org.choose_account"), list(labels), format_func=labels.get, key="org-account")
        account = org_admin.get_account(db, user_id)
        st.write(tr("org.account_summary", username=account["username"], name=account["display_name"],
                    role=tr(f"role.{account['role']}"), status=tr(f"org.status.{account['status']}"),
                    failed=account["failed_attempts"]))
        version = account["version"]
        if account["role"] in wf.STAFF_ROLES:
            c1, c2 = st.columns(2)
            roles = list(wf.STAFF_ROLES)
            new_role = c1.selectbox(tr("org.role"), roles, index=roles.index(account["role"]),
                                    format_func=lambda r: tr(f"role.{r}"), key=f"org-role-{user_id}")
            units_list = list(unit_names)
            new_unit = c2.selectbox(tr("org.unit"), units_list, format_func=unit_label,
                                    index=units_list.index(account["unit_id"]) if account["unit_id"] in units_list else 0,
                                    key=f"org-unit-{user_id}")
            if st.button(tr("org.save_role_unit"), key="org-save-role"):
                attempt(lambda: org_admin.change_role_unit(db, admin, user_id, role=new_role, unit_id=new_unit,
                                                           expected_version=version), "org.role_unit_saved")
        new_password = st.text_input(tr("org.new_password"), type="password", help=tr("auth.password_weak"),
                                     key=f"org-password-{user_id}")
        if st.button(tr("org.reset_password"), key="org-reset"):
            attempt(lambda: org_admin.reset_password(db, admin, user_id, new_password, expected_version=version),
                    "org.password_reset")
        c3, c4 = st.columns(2)
        if c3.button(tr("org.lock"), key="org-lock", disabled=account["status"] == org_admin.STATUS_LOCKED):
            attempt(lambda: {"n": org_admin.lock_account(db, admin, user_id, expected_version=version)}, "org.locked")
        if c4.button(tr("org.unlock"), key="org-unlock"):
            attempt(lambda: org_admin.unlock_account(db, admin, user_id, expected_version=version), "org.unlocked")
