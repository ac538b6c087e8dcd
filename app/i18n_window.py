"""User-facing strings of the window clerk's screens (窗口受理, 本窗口办件): Simplified Chinese first, English
beside it.

Kept apart from app/i18n.py only until they are merged into the one catalogue; `t` looks in that catalogue
first and then here, so the pages need no change when the merge happens.
"""
from __future__ import annotations

from app import i18n

M: dict[str, tuple[str, str]] = {
    # -- 窗口受理 --------------------------------------------------------------------------------------
    "intake.window": ("受理窗口：{window}", "Window: {window}"),
    "intake.step_applicant": ("一、申请人", "1. Applicant"),
    "intake.find": ("查找申请人", "Find the applicant"),
    "intake.not_found": ("未找到该证件号码的申请人，请在下方登记。",
                         "No applicant has that identifier; please record them below."),
    "intake.register_title": ("登记到场申请人（无账户）", "Record a present applicant (no account yet)"),
    "intake.phone": ("联系电话（选填）", "Phone (optional)"),
    "intake.register_submit": ("登记申请人", "Record the applicant"),
    "intake.registered": ("已登记申请人。", "The applicant is recorded."),
    "intake.applicant": ("申请人：{name}　{kind}：{id}", "Applicant: {name} — {kind}: {id}"),
    "intake.change_applicant": ("更换申请人", "Change the applicant"),
    "intake.step_item": ("二、事项与办理地点", "2. Item and place"),
    "intake.item_search": ("搜索事项（名称或编码）", "Search items (name or code)"),
    "intake.item": ("事项", "Item"),
    "intake.choose": ("请选择", "Please choose"),
    "intake.no_items": ("没有找到已发布的事项。", "No published item matches."),
    "intake.item_info": ("承诺时限：{days}个工作日", "Promised limit: {days} working days"),
    "intake.place": ("办理地点", "Place"),
    "intake.step_form": ("三、申请表", "3. Application form"),
    "intake.step_materials": ("四、收取材料（扫描件）", "4. Materials received (scans)"),
    "intake.submit": ("提交申请", "Submit the application"),
    "intake.done": ("申请已提交，办件编号：{case_no}", "Submitted. Case number: {case_no}"),
    "intake.done_detail": ("事项：{item}；申请人：{name}。申请人登录后可在“我的办件”中查看进度。",
                           "Item: {item}; applicant: {name}. The applicant can follow it under “My cases” "
                           "after signing in."),
    "intake.receipt_unavailable": ("收件回执暂不能生成，请稍后在“本窗口办件”中下载。",
                                   "The receipt cannot be made now; download it later under “Cases of this window”."),
    "intake.next_same": ("为该申请人再办一件", "Another application for this applicant"),
    "intake.next_new": ("接待下一位申请人", "Next applicant"),
    # -- 本窗口办件 ------------------------------------------------------------------------------------
    "wcases.intro": ("本人在窗口登记的办件（含草稿）。", "The cases you registered at the window (drafts included)."),
    "wcases.filter_state": ("按状态筛选", "Filter by state"),
    "wcases.detail": ("办件详情", "Case details"),
    "wcases.choose_case": ("选择办件编号", "Choose a case number"),
    "wcases.events": ("办理记录", "Case record"),
    "wcases.col_time": ("时间", "Time"),
    "wcases.col_action": ("操作", "Action"),
    "wcases.receipt_unavailable": ("该办件的收件回执暂不能生成。", "The receipt of this case cannot be made now."),
}


def t(key: str, lang: str = i18n.DEFAULT_LANGUAGE, **params: object) -> str:
    """Like app.i18n.t, over the main catalogue and then these strings."""
    pair = i18n.M.get(key) or M.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**params) if params else text
