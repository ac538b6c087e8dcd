"""Official documents an officer issues on a case (受理通知书, 补正材料告知书, 不予受理决定书, 准予/不予行政许可决定书,
the certificate page and the 缴款通知书), laid out for print.

The service layer decides what a document says and builds a `NoticeFacts`; this module only lays the facts out,
as app/documents.py does for the receipt, and renders them with the same WeasyPrint set-up (`documents.render_pdf`:
no external fetches, shared fonts, one lock). Every value goes through `documents._e`, so a name an applicant
typed prints as text and can never become markup. The statutory wording (articles of the 行政许可法) is fixed
here, so every unit issues the same sentences.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from app.documents import _date_text, _e, _split_clauses, _template, qr_svg, render_pdf

KINDS = ("acceptance", "supplement", "refuse_intake", "approval", "refusal", "certificate", "payment")
TITLES = {"acceptance": "受理通知书", "supplement": "补正材料告知书", "refuse_intake": "不予受理决定书",
          "approval": "准予行政许可决定书", "refusal": "不予行政许可决定书", "certificate": "证照",
          "payment": "缴款通知书"}
LAW = "《中华人民共和国行政许可法》"


@dataclass(frozen=True)
class FeeLine:
    name: str          # 收费项目
    standard: str      # e.g. "80元/件"
    quantity: int
    amount: str        # e.g. "80.00"


@dataclass(frozen=True)
class NoticeFacts:
    kind: str
    doc_no: str
    case_no: str
    issued_on: date
    issuer: str
    applicant_name: str
    applicant_id_label: str
    applicant_id: str                    # already masked by the caller where needed
    item_name: str
    item_code: str
    verify_url: str                      # what the QR code encodes, printed beneath it too
    submitted_on: date | None = None
    accepted_on: date | None = None
    promised_due: date | None = None
    limit_text: str = ""
    statutory_text: str = ""
    materials: tuple[tuple[str, str], ...] = ()
    free_text: str = ""
    reasons: str = ""
    remedy: str = ""
    basis: str = ""
    result_no: str = ""
    result_name: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    supplement_number: int = 1
    deadline_text: str = ""
    fee_lines: tuple[FeeLine, ...] = ()
    fee_total: str = ""
    payment_due: date | None = None
    collection: str = ""


def title_of(facts: NoticeFacts) -> str:
    if facts.kind == "certificate":
        return facts.result_name or TITLES["certificate"]
    return TITLES[facts.kind]


# -- fragments (every argument is plain text; escaping happens here) ---------------------------------------------
def _p(text: str, cls: str = "indent") -> str:
    return f"<p class=\"{cls}\">{_e(text)}</p>"


def _sentence(text: str) -> str:
    """`text` ending in exactly one 。 (a reason typed with its own full stop must not print 。。)."""
    return text.strip().rstrip("。．.；;，, ") + "。"


def _opening(f: NoticeFacts) -> str:
    when = f"于{_date_text(f.submitted_on)}" if f.submitted_on else ""
    return f"你（单位）{when}提出的“{f.item_name}”申请"


def _basis_citation(basis: str) -> str:
    # The catalogue lists the clauses of a basis separated by ；, which reads wrongly inside 根据……的规定.
    return "、".join(_split_clauses(basis))


def _remark(f: NoticeFacts) -> str:
    return _p(f"备注：{f.free_text}") if f.free_text else ""


def _table(columns: list[tuple[str, str, str]], rows: list[list[str]], cls: str, foot: str = "") -> str:
    """A list table: `columns` are (label, width, cell class); `rows` are cells of plain text; `foot` is markup."""
    head = "".join(f"<th style=\"width:{w}\">{_e(h)}</th>" if w else f"<th>{_e(h)}</th>" for h, w, _ in columns)
    body = "\n".join("<tr>" + "".join(f"<td class=\"{c[2]}\">{_e(cell)}</td>" for c, cell in zip(columns, r))
                     + "</tr>" for r in rows)
    return f"<table class=\"list {cls}\"><tr>{head}</tr>\n{body}\n{foot}</table>"


# -- the body of each kind -----------------------------------------------------------------------------------------
def _acceptance(f: NoticeFacts) -> list[str]:
    parts = [_p(f"{_opening(f)}，申请材料齐全、符合法定形式，根据{LAW}第三十二条第一款第（五）项的规定，"
                "决定予以受理。")]
    limits = []
    if f.accepted_on:
        limits.append(f"受理日期为{_date_text(f.accepted_on)}")
    if f.limit_text:
        limits.append(f"承诺办结时限为{f.limit_text}（自受理之日起计算）")
    if f.promised_due:
        limits.append(f"承诺办结日期为{_date_text(f.promised_due)}")
    if f.statutory_text:
        limits.append(f"法定办结时限为{f.statutory_text}")
    if limits:
        parts.append(_p("本事项" + "，".join(limits) + "。"))
    parts.append(_p(f"依法需要听证、招标、拍卖、检验、检测、检疫、鉴定和专家评审的，所需时间不计入上述期限"
                    f"（{LAW}第四十五条），本机关将书面告知你（单位）所需时间。"))
    parts.append(_p(f"你（单位）可凭办件编号{f.case_no}通过鄂州e政通或扫描本通知书二维码查询办理进度。"))
    return parts + [_remark(f)]


def _supplement(f: NoticeFacts) -> list[str]:
    parts = [_p(f"{_opening(f)}，经审查，申请材料不齐全或者不符合法定形式。根据{LAW}第三十二条第一款第（四）项的"
                "规定，现一次性告知你（单位）需要补正的全部内容如下：")]
    if f.materials:
        rows = [[str(n), name, need or "—"] for n, (name, need) in enumerate(f.materials, start=1)]
        parts.append(_table([("序号", "8%", "num"), ("材料名称", "38%", "text"), ("补正要求", "", "text")], rows,
                            "supplement"))
    if f.free_text:
        parts += ["<h2>其他要求</h2>", _p(f.free_text)]
    if f.deadline_text:
        parts.append(_p(_sentence(f.deadline_text)))
    parts.append(_p("补正期间不计入办理时限。补正材料齐全后将重新审查，申请材料齐全、符合法定形式的，依法予以受理。"))
    return parts


def _refusal(f: NoticeFacts, rule: str, decision: str) -> list[str]:
    parts = [_p(f"{_opening(f)}，经审查，{_sentence(f.reasons)}根据{LAW}{rule}的规定，{decision}。")]
    if f.basis:
        parts.append(_p(f"本事项的设定依据：{_sentence(_basis_citation(f.basis))}"))
    if f.remedy:
        parts.append(_p(f.remedy))
    return parts + [_remark(f)]


def _approval(f: NoticeFacts) -> list[str]:
    accepted = f"，本机关已于{_date_text(f.accepted_on)}受理" if f.accepted_on else ""
    basis = _basis_citation(f.basis) if f.basis else f"{LAW}第三十八条第一款"
    parts = [_p(f"{_opening(f)}{accepted}。经审查，你（单位）的申请符合法定条件和标准，根据{basis}的规定，"
                "决定准予行政许可。")]
    if f.result_no:
        parts.append(_p(f"许可编号：{f.result_no}。"))
    if f.result_name:
        parts.append(_p(f"本机关将自作出决定之日起十日内向你（单位）颁发、送达{f.result_name}"
                        f"（{LAW}第四十四条）。"))
    if f.collection:
        parts.append(_p(f"领取方式：{_sentence(f.collection)}"))
    if f.free_text:
        parts.append(_p(f"许可条件及要求：{_sentence(f.free_text)}"))
    return parts


def _payment(f: NoticeFacts) -> list[str]:
    parts = [_p(f"你（单位）申请的“{f.item_name}”依法应当缴纳下列费用：")]
    rows = [[str(n), line.name, line.standard, str(line.quantity), line.amount]
            for n, line in enumerate(f.fee_lines, start=1)]
    total = f"<tr class=\"total\"><th colspan=\"4\">合计</th><td class=\"amount\">{_e(f.fee_total)}</td></tr>\n"
    parts.append(_table([("序号", "8%", "num"), ("收费项目", "", "text"), ("收费标准", "20%", "text"),
                         ("数量", "10%", "num"), ("金额（元）", "16%", "amount")], rows, "fees", total))
    parts.append(_p(f"应缴金额合计：人民币{f.fee_total}元。"))
    if f.payment_due:
        parts.append(_p(f"缴款期限：请于{_date_text(f.payment_due)}前缴纳。"))
    parts.append(_p("请凭本通知书编号通过非税收入缴款渠道缴纳；收费依据见办事指南；不得收取本通知书以外的任何费用。"))
    return parts + [_remark(f)]


_BODIES = {
    "acceptance": _acceptance,
    "supplement": _supplement,
    "refuse_intake": lambda f: _refusal(f, "第三十二条第一款", "决定不予受理"),
    "approval": _approval,
    "refusal": lambda f: _refusal(f, "第三十八条第二款", "决定不予行政许可"),
    "payment": _payment,
}


# -- public --------------------------------------------------------------------------------------------------------
def _check(f: NoticeFacts) -> None:
    if f.kind not in KINDS:
        raise ValueError(f"unknown notice kind: {f.kind!r}")
    if f.kind in ("refuse_intake", "refusal") and not f.reasons.strip():
        raise ValueError(f"a {f.kind} notice must state its reasons")


def _common(f: NoticeFacts) -> dict[str, str]:
    return {
        "doc_title": _e(f"{title_of(f)} {f.doc_no}"),
        "kind": _e(f.kind),
        "title": _e(title_of(f)),
        "doc_no": _e(f.doc_no),
        "case_no": _e(f.case_no),
        "applicant_name": _e(f.applicant_name),
        "id_label": _e(f.applicant_id_label),
        "applicant_id": _e(f.applicant_id),
        "item_name": _e(f.item_name),
        "item_code": _e(f.item_code),
        "issuer": _e(f.issuer),
        "issued_text": _e(_date_text(f.issued_on)),
        "qr_svg": qr_svg(f.verify_url),
        "verify_url": _e(f.verify_url),
    }


def _certificate_html(f: NoticeFacts) -> str:
    if f.valid_from or f.valid_until:
        validity = f"{_date_text(f.valid_from) or '发证之日'}至{_date_text(f.valid_until) or '长期'}"
    else:
        validity = "长期有效"
    values = _common(f) | {
        "result_no": _e(f.result_no or "—"),
        "validity": _e(validity),
        "remark_row": f"<tr><th>备注</th><td>{_e(f.free_text)}</td></tr>" if f.free_text else "",
    }
    return _template("notice_certificate.html").substitute(values)


def notice_html(facts: NoticeFacts) -> str:
    """The document as HTML (what `notice_pdf` renders). ValueError for an unknown kind, or for a refusal of
    either kind that states no reasons (the law requires them: 行政许可法 art. 38(2))."""
    _check(facts)
    if facts.kind == "certificate":
        return _certificate_html(facts)
    subtitle = (f"<p class=\"subtitle\">{_e(f'（第{facts.supplement_number}次补正告知）')}</p>"
                if facts.kind == "supplement" and facts.supplement_number >= 2 else "")
    values = _common(facts) | {
        "subtitle": subtitle,
        "body": "\n".join(part for part in _BODIES[facts.kind](facts) if part),
    }
    return _template("notice.html").substitute(values)


def notice_pdf(facts: NoticeFacts) -> bytes:
    """The document as an A4 PDF, with the QR code that verifies it."""
    return render_pdf(notice_html(facts))

