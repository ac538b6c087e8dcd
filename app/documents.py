"""Printable documents: the case receipt (办件回执 / 收件回执) with its QR code, and an item's service guide (办事指南).

HTML + CSS rendered by WeasyPrint (shared/notes/documents.md: it embeds CJK font subsets and breaks Chinese lines
properly). The page skeletons and the style sheet are files in app/templates; the fragments filled into them are
built here, and every value that comes from the database goes through `_e` (html.escape) first, so text a user
typed (a name, a file name) can never become markup. WeasyPrint is given a URL fetcher that fetches nothing: a
document needs no external resource, and none can be smuggled in.

No Streamlit here: pages call `receipt_pdf` / `guide_pdf` and offer the bytes for download.
"""
from __future__ import annotations

import html
import threading
from datetime import date, datetime
from pathlib import Path
from string import Template
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
import sqlalchemy as sa
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from app import applications, cases
from app.issuing import ID_LABELS, UNIT_NAMES
from app.issuing import limit_text as _limit_text
from app import schema as s
from app import workflow as wf
from app.db import Database
from app.permissions import Actor
from app.validators import mask_id

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

CHANNEL_NAMES = {"online": "网上申报", "window": "窗口受理"}
LEVEL_NAMES = {"市": "市级", "区": "区级", "乡镇街道": "乡镇（街道）", "村社区": "村（社区）"}
# States in which the intake window (art. 32) is the running clock, so `promised_due` is its end.
_INTAKE_STATES = (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.TRANSFERRED)
_HANDLING_STATES = (wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE)

# One font configuration and one parsed style sheet for the whole process (rendering stays ~0.2 s a page).
# WeasyPrint does not promise that sharing them between threads is safe, and Streamlit serves sessions on
# threads: renders are serialised by a lock (a few tenths of a second each).
FONT_CONFIG = FontConfiguration()
_NO_FETCH = URLFetcher(allowed_protocols=())
_RENDER_LOCK = threading.Lock()
_STYLESHEET: CSS | None = None
_TEMPLATES: dict[str, Template] = {}


class DocumentError(cases.CaseError):
    """A document that cannot be issued (e.g. a receipt for a draft); `key` names the i18n message."""


# -- helpers ----------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Escaped text for HTML (None prints as nothing)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _template(name: str) -> Template:
    if name not in _TEMPLATES:
        _TEMPLATES[name] = Template((TEMPLATES_DIR / name).read_text(encoding="utf-8"))
    return _TEMPLATES[name]


def _stylesheet() -> CSS:
    global _STYLESHEET
    if _STYLESHEET is None:
        _STYLESHEET = CSS(string=(TEMPLATES_DIR / "document.css").read_text(encoding="utf-8"),
                          font_config=FONT_CONFIG, url_fetcher=_NO_FETCH)
    return _STYLESHEET


def render_pdf(html_text: str) -> bytes:
    """HTML (already escaped where it must be) to PDF bytes with the shared fonts and style sheet."""
    with _RENDER_LOCK:
        return HTML(string=html_text, url_fetcher=_NO_FETCH).write_pdf(stylesheets=[_stylesheet()],
                                                                       font_config=FONT_CONFIG)


def _date_text(d: date | datetime | None) -> str:
    if d is None:
        return ""
    return f"{d.year}年{d.month}月{d.day}日"


def _datetime_text(d: datetime | None) -> str:
    if d is None:
        return ""
    return f"{_date_text(d)}{d.hour}时{d.minute:02d}分"


# -- QR code and look-up address ---------------------------------------------------------------------------------
def qr_svg(url: str) -> str:
    """The QR code of `url` as an inline <svg> element (vector: sharp in print at any size)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def lookup_url(case_no: str, base_url: str) -> str:
    """The public progress look-up address a receipt's QR code points to."""
    return f"{base_url.rstrip('/')}/lookup?{urlencode({'case': case_no})}"


# -- receipt ----------------------------------------------------------------------------------------------------
def _receipt_facts(db: Database, case: dict[str, Any]) -> dict[str, Any]:
    with db.read() as conn:
        item = cases.item_version(conn, case["item_code"], case["item_version"])
        unit = conn.execute(sa.select(s.org_units.c.name).where(s.org_units.c.unit_id == case["unit_id"])).scalar()
        window = None
        if case.get("window_id"):
            window = conn.execute(sa.select(s.service_windows.c.name)
                                  .where(s.service_windows.c.window_id == case["window_id"])).scalar()
    return {"item": item, "unit_name": unit or case["unit_id"], "window_name": window}


def _materials_rows(db: Database, actor: Actor, case: dict[str, Any]) -> list[tuple[str, str]]:
    """(material name, how it was given) for every material of the item that was provided, in item order."""
    provided = applications.provided_materials(db, actor, case["case_id"])
    rows = []
    for m in applications.item_materials(db, case["item_code"], case["item_version"]):
        given = provided.get(m.seq)
        if not given:
            continue
        if given.get("file_name") and not given.get("certificate_no"):
            how = f"电子文件：{given['file_name']}"
        elif given.get("certificate_no"):
            how = f"证照调用：{given.get('locker_name') or m.reuse_certificate}（{given['certificate_no']}）"
        else:
            how = f"材料库调用：{given.get('locker_name') or m.name}"
        rows.append((m.name, how))
    return rows


def receipt_html(db: Database, actor: Actor, case_id: int, base_url: str) -> str:
    """The receipt as HTML (what `receipt_pdf` renders); the actor must be allowed to see the case."""
    case = cases.get_case(db, actor, case_id)   # raises CaseError("case.not_found") for anyone else
    if case["state"] == wf.DRAFT or case.get("submitted_at") is None:
        raise DocumentError("doc.receipt_not_submitted")
    facts = _receipt_facts(db, case)
    item = facts["item"]
    unit_name = facts["unit_name"]

    channel = CHANNEL_NAMES.get(case["channel"], case["channel"])
    channel_detail = channel + (f"（{facts['window_name']}）" if facts["window_name"] else "")
    immediate = bool(item.immediate) if item is not None else False
    promised = int(case["promised_days"])
    statutory = _limit_text(int(case["statutory_limit"]), case["statutory_unit"])
    if immediate or promised == 0:
        kind_text = "即办件"
        limit_text = "即办件：受理后当场办结"
        limit_sentence = "本事项为即办件，申请材料齐全、符合法定形式的，受理后当场办结。"
    else:
        kind_text = "承诺件"
        limit_text = f"{promised}个工作日（自受理之日起计算；法定时限{statutory}）"
        limit_sentence = (f"受理后承诺{promised}个工作日内办结（法定时限{statutory}）；依法需要听证、招标、拍卖、"
                          "检验、检测、检疫、鉴定和专家评审的，所需时间不计入时限。")

    due_rows = []
    if case.get("promised_due") is not None:
        if case["state"] in _INTAKE_STATES:
            due_rows.append(("受理截止日", f"{_date_text(case['promised_due'])}"
                                       f"（自收件之日起{cases.INTAKE_LIMIT_DAYS}个工作日内决定是否受理）"))
        elif case["state"] in _HANDLING_STATES:
            due_rows.append(("承诺办结日期", _date_text(case["promised_due"])))
            if case.get("statutory_due") is not None:
                due_rows.append(("法定办结日期", _date_text(case["statutory_due"])))
    due_html = "\n".join(f"<tr><th>{_e(k)}</th><td colspan=\"3\">{_e(v)}</td></tr>" for k, v in due_rows)

    rows = _materials_rows(db, actor, case)
    if rows:
        # Two columns: a long material name keeps one line (pdftotext -layout and screen readers read it whole).
        body = "\n".join(f"<tr><td class=\"num\">{n}</td><td class=\"name\">{_e(name)}"
                         f"<span class=\"how\">{_e(how)}</span></td></tr>"
                         for n, (name, how) in enumerate(rows, start=1))
        materials_table = ("<table class=\"list materials\"><tr><th style=\"width:8%\">序号</th>"
                           f"<th>材料名称及提交形式</th></tr>\n{body}\n</table>")
    else:
        materials_table = "<p class=\"indent\">未收取申请材料。</p>"

    url = lookup_url(case["case_no"], base_url)
    kind_is_licence = item is not None and item.kind == "行政许可"
    intake_basis = ("依据" if kind_is_licence else "参照") + "《中华人民共和国行政许可法》第三十二条"
    receipt_kind = "申请受理回执（收件回执）"
    values = {
        "doc_title": _e(f"办件回执 {case['case_no']}"),
        "receipt_kind": _e(receipt_kind),
        "case_no": _e(case["case_no"]),
        "item_name": _e(item.name if item is not None else case["item_code"]),
        "item_code": _e(case["item_code"]),
        "applicant_name": _e(case["applicant_name"]),
        "id_label": _e(ID_LABELS.get(case["applicant_id_kind"], "证件号码")),
        "applicant_id": _e(mask_id(case["applicant_id_number"])),
        "channel_text": _e(channel),
        "channel_detail": _e(channel_detail),
        "submitted_text": _e(_datetime_text(case["submitted_at"])),
        "unit_name": _e(unit_name),
        "kind_text": _e(kind_text),
        "limit_text": _e(limit_text),
        "limit_sentence": _e(limit_sentence),
        "due_rows": due_html,
        "materials_table": materials_table,
        "materials_count": _e(f"（共{len(rows)}件）" if rows else ""),
        "intake_days": _e(cases.INTAKE_LIMIT_DAYS),
        "intake_basis": _e(intake_basis),
        "qr_svg": qr_svg(url),
        "lookup_url": _e(url),
        "issued_text": _e(_date_text(case["submitted_at"])),
    }
    return _template("receipt.html").substitute(values)


def receipt_pdf(db: Database, actor: Actor, case_id: int, base_url: str) -> bytes:
    """The 申请受理回执 (收件回执) of a submitted case, A4 PDF, with the look-up QR code."""
    return render_pdf(receipt_html(db, actor, case_id, base_url))


# -- service guide ---------------------------------------------------------------------------------------------
def _split_clauses(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").replace("\n", "；").split("；") if p.strip()]


def _collection_places(collection: list[dict[str, Any]]) -> list[str]:
    """Where the result is collected, per handling level, from the catalogue's guide."""
    places = []
    for entry in collection:
        if entry["kind"] == "city_window":
            places.append(f"市级办理的：{'、'.join(entry['places']) or '市民中心综合受理窗口'}")
        elif entry["kind"] == "district_unit":
            places.append("区级办理的：" + ("、".join(entry["places"]) or "所在区承办部门") + "办事窗口")
        elif entry["kind"] == "town_centre":
            places.append("乡镇（街道）办理的：所在乡镇（街道）便民服务中心综合窗口")
        elif entry["kind"] == "village_station":
            places.append("村（社区）办理的：所在村（社区）便民服务站综合窗口")
    return places


def guide_html(db: Database, item_code: str) -> str:
    """The service guide of the current published version of an item, as HTML. The facts come from
    app.catalogue.guide (the same guide the 办事指南 page shows); this only lays them out for print."""
    from app import catalogue

    try:
        g = catalogue.guide(db, item_code)
    except catalogue.ItemNotPublished as exc:
        raise cases.CaseError("case.item_unknown", item=item_code) from exc
    item = SimpleNamespace(item_code=g["item_code"], name=g["name"], kind=g["kind"], version=g["version"],
                           basis=g["basis"], conditions=g["conditions"], result_name=g["result_name"],
                           immediate=g["immediate"], statutory_limit=g["statutory_limit"],
                           statutory_unit=g["statutory_unit"], promised_days=g["promised_days"],
                           handling_levels=g["levels"], published_at=g["published_at"])
    materials = [SimpleNamespace(**mat) for mat in g["materials"]]
    places = _collection_places(g["collection"])

    lead = g["dept"]
    co_names = [c["name"] for c in g["co_departments"]]
    immediate = bool(item.immediate)
    statutory_unit = UNIT_NAMES.get(item.statutory_unit, "工作日")
    statutory_text = (_limit_text(item.statutory_limit, item.statutory_unit) if item.statutory_limit
                      else "即时办结")
    promised_text = (f"{item.promised_days}个工作日" if item.promised_days and not immediate
                     else "即办件，材料齐全、符合法定形式的当场办结")
    fee_short = g["fee"]["text"]

    basis = _split_clauses(item.basis)
    basis_html = ("<ul class=\"plain\">" + "".join(f"<li>{_e(b)}</li>" for b in basis) + "</ul>") if basis \
        else "<p class=\"indent\">无。</p>"
    conditions = _split_clauses(item.conditions)
    conditions_html = ("<ul class=\"plain\">" + "".join(f"<li>{_e(c)}</li>" for c in conditions) + "</ul>") \
        if conditions else "<p class=\"indent\">符合法律法规规定的条件，按要求提交申请材料。</p>"

    rows = []
    for n, r in enumerate(materials, start=1):
        copy = r.original_or_copy or ""
        copy = "电子件" if copy == "电子" else copy
        # the item code never breaks at its hyphens (a broken line would read as a different code)
        reuse = (f"{_e(r.reuse_certificate)}<span class=\"nowrap\">（{_e(r.reuse_item_code)}）</span>"
                 if r.reuse_certificate and r.reuse_item_code else _e(r.reuse_certificate or "—"))
        formats = "、".join(str(f).upper() for f in (r.formats or [])) or "—"
        note = f"<div class=\"small muted\">{_e(r.note)}</div>" if r.note else ""
        rows.append(f"<tr><td class=\"num\">{n}</td><td>{_e(r.name)}{note}</td>"
                    f"<td class=\"centre\">{'必交' if r.required else '选交'}</td>"
                    f"<td class=\"centre\">{_e(copy or '—')}</td><td>{_e(formats)}</td><td>{reuse}</td></tr>")
    materials_table = (
        "<table class=\"list\"><tr><th style=\"width:7%\">序号</th><th>材料名称</th>"
        "<th style=\"width:9%\">必交/选交</th><th style=\"width:11%\">原件/复印件</th>"
        "<th style=\"width:15%\">文件格式</th><th style=\"width:22%\">可替代的证照</th></tr>\n"
        + "\n".join(rows) + "\n</table>") if rows else "<p class=\"indent\">无需提交申请材料。</p>"

    fee_html = f"<p class=\"indent\">{_e(g['fee']['text'] if g['fee']['charged'] else '不收费。')}</p>"

    limit_lines = [f"法定办结时限：{statutory_text}（自受理之日起计算）" if item.statutory_limit
                   else "法定办结时限：即时办结",
                   f"承诺办结时限：{promised_text}" + ("（自受理之日起计算）" if item.promised_days and not immediate else ""),
                   f"受理审查时限：收到申请材料之日起{cases.INTAKE_LIMIT_DAYS}个工作日内作出是否受理的决定，"
                   "材料不齐全或不符合法定形式的一次性告知需要补正的全部内容。",
                   "补正材料期间，以及依法需要听证、检验、检测、鉴定、专家评审等特别程序的时间，不计入办理时限。"]
    if item.statutory_unit == "calendar" and item.statutory_limit:
        limit_lines.append(f"本事项法定时限按{statutory_unit}计算，含法定节假日；期限最后一日为法定休假日的，"
                           "以休假日结束的次日为最后一日。")
    limits_html = "<ul class=\"plain\">" + "".join(f"<li>{_e(x)}</li>" for x in limit_lines) + "</ul>"

    # One row of boxes; with co-departments the 审查 box says 并联审批 (their names are in step 3 below).
    flow_parts = []
    for step in ("申请", "受理", "审查", "决定", "办结"):
        extra = "<span class=\"parallel\">并联审批</span>" if step == "审查" and co_names else ""
        flow_parts.append(f"<span class=\"step\">{_e(step)}{extra}</span>")
    flow_html = "<span class=\"arrow\">→</span>".join(flow_parts)

    licence = item.kind == "行政许可"
    decision, negative = ("准予许可或者不予许可", "不予许可") if licence else ("是否准予办理", "不予办理")
    result = item.result_name or "办理结果"
    review = "审查：承办单位对申请材料进行审查，需要现场核查的依法进行核查。"
    if co_names:
        review += (f"本事项实行并联审批：申请材料同步推送{'、'.join(co_names)}，"
                   f"各协办部门在规定时限内出具意见，由{lead}（牵头部门）汇总。")
    step_lines = [
        "申请：申请人通过鄂州e政通网上申报，或到办理窗口提交申请材料。",
        f"受理：收到申请材料之日起{cases.INTAKE_LIMIT_DAYS}个工作日内作出是否受理的决定；"
        "申请材料不齐全或不符合法定形式的，一次性告知需要补正的全部内容。",
        review,
        f"决定：依法作出{decision}的决定；{negative}的，书面说明理由，并告知申请人享有依法申请行政复议"
        "或者提起行政诉讼的权利。",
        f"办结：自作出决定之日起10个工作日内颁发、送达{result}。",
    ]
    steps_html = "\n".join(f"<li>{_e(x)}</li>" for x in step_lines)

    collect_lines = places + ["申请时选择邮政寄递的，按申请人填写的地址寄递；选择电子证照的，"
                              "办结后电子证照存入申请人的“材料库”，可在后续办事中直接调用。"]
    collect_html = (f"<p class=\"indent\">办理结果：{_e(result)}。领取地点：</p>"
                    "<ul class=\"plain\">" + "".join(f"<li>{_e(x)}</li>" for x in collect_lines) + "</ul>")

    values = {
        "doc_title": _e(f"{item.name} 办事指南"),
        "item_name": _e(item.name),
        "item_code": _e(item.item_code),
        "kind": _e(item.kind),
        "lead_dept": _e(lead),
        "co_depts": _e("、".join(co_names) if co_names else "无"),
        "levels": _e("、".join(LEVEL_NAMES.get(lv, lv) for lv in item.handling_levels or [])),
        "immediate_text": _e("即办件" if immediate else "承诺件"),
        "statutory_text": _e(statutory_text),
        "promised_text": _e(promised_text),
        "fee_short": _e(fee_short),
        "result_name": _e(result),
        "basis_html": basis_html,
        "conditions_html": conditions_html,
        "materials_table": materials_table,
        "fee_html": fee_html,
        "limits_html": limits_html,
        "flow_html": flow_html,
        "steps_html": steps_html,
        "collect_html": collect_html,
        "published_text": _e(_date_text(item.published_at) or "—"),
        "version": _e(item.version),
    }
    return _template("guide.html").substitute(values)


def guide_pdf(db: Database, item_code: str) -> bytes:
    """The printable service guide (办事指南) of the current published version of an item, A4 PDF."""
    return render_pdf(guide_html(db, item_code))
