"""The officer's documents (app/notices.py), checked on the printed result: the PDF's text as poppler extracts it
and the QR code decoded back from the rendered page. Pure unit tests: the facts are built here, no database.
Each kind is rendered once per module (a render takes ~0.3 s)."""
from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import date

import pytest

from tests.test_documents import decode_qr, pdf_text

from app import notices
from app.notices import FeeLine, NoticeFacts

VERIFY = "https://ezz.example.gov.cn/verify?doc=SL-420700-20261126-000123&k=3f9a"
# a hostile name (markup and an ampersand) with a CJK Extension B character (U+20BB7) that few fonts carry
NAME = "𠮷田<b>x</b>&"
REMEDY = ("如不服本决定，可以自收到本决定书之日起60日内向鄂州市人民政府申请行政复议，"
          "或者自收到本决定书之日起6个月内向鄂州市鄂城区人民法院提起行政诉讼。")

BASE = NoticeFacts(
    kind="acceptance", doc_no="SL-420700-20261126-000123", case_no="420700-20261120-000123",
    issued_on=date(2026, 11, 26), issuer="鄂州市市场监督管理局", applicant_name=NAME,
    applicant_id_label="居民身份证号码", applicant_id="420704********3215", item_name="食品经营许可",
    item_code="4207-SCJG-003", verify_url=VERIFY, submitted_on=date(2026, 11, 20))

FACTS = {
    "acceptance": replace(BASE, accepted_on=date(2026, 11, 26), promised_due=date(2026, 12, 1),
                          limit_text="3个工作日", statutory_text="10个工作日"),
    "supplement": replace(BASE, kind="supplement", doc_no="BZ-420700-20261126-000045", supplement_number=2,
                          materials=(("营业场所平面布局图", "未标注设备位置"), ("食品安全管理制度", "")),
                          free_text="申请书须由法定代表人签字", deadline_text="请于收到本告知书之日起30日内补正"),
    "refuse_intake": replace(BASE, kind="refuse_intake", doc_no="BSL-420700-20261126-000007",
                             reasons="申请事项依法不需要取得行政许可。", remedy=REMEDY),
    "approval": replace(BASE, kind="approval", doc_no="ZY-420700-20261126-000088", accepted_on=date(2026, 11, 21),
                        basis="《中华人民共和国食品安全法》第三十五条；《食品经营许可和备案管理办法》",
                        result_no="JY14207040012345", result_name="食品经营许可证", collection="市民中心3号窗口领取"),
    "refusal": replace(BASE, kind="refusal", doc_no="BY-420700-20261126-000009",
                       reasons="经营场所与食品经营许可的要求不符，现场核查未通过", remedy=REMEDY),
    "certificate": replace(BASE, kind="certificate", doc_no="ZZ-420700-20261126-000088", result_no="JY14207040012345",
                           result_name="食品经营许可证", valid_from=date(2026, 11, 26), valid_until=date(2031, 11, 25)),
    "payment": replace(BASE, kind="payment", item_name="不动产登记", item_code="4207-ZRGH-005",
                       doc_no="JK-420700-20261126-000031", payment_due=date(2026, 12, 10), fee_total="170.00",
                       fee_lines=(FeeLine("不动产登记费（住宅类）", "80元/件", 1, "80.00"),
                                  FeeLine("证书工本费（增发）", "10元/本", 9, "90.00"))),
}
TITLES = {"acceptance": "受理通知书", "supplement": "补正材料告知书", "refuse_intake": "不予受理决定书",
          "approval": "准予行政许可决定书", "refusal": "不予行政许可决定书", "certificate": "食品经营许可证",
          "payment": "缴款通知书"}


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    return {kind: notices.notice_pdf(facts) for kind, facts in FACTS.items()}


def test_every_kind_has_facts():
    assert set(FACTS) == set(notices.KINDS)


@pytest.mark.parametrize("kind", notices.KINDS)
def test_every_kind_prints_its_heading_and_its_issuer(pdfs, kind):  # noqa: ANN001
    data, facts = pdfs[kind], FACTS[kind]
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert TITLES[kind] in text
    assert facts.doc_no in text and facts.case_no in text
    assert facts.item_name in text and facts.item_code in text
    assert facts.issuer in text and "2026年11月26日" in text
    assert facts.verify_url in text                      # printed under the QR code, on one line
    assert NAME in text                                  # the markup prints literally; 𠮷 survives
    assert facts.applicant_id in text


@pytest.mark.parametrize("kind", notices.KINDS)
def test_a_typed_name_never_becomes_markup(kind):  # noqa: ANN001
    html_text = notices.notice_html(FACTS[kind])
    assert "<b>x</b>" not in html_text
    assert "𠮷田&lt;b&gt;x&lt;/b&gt;&amp;" in html_text


@pytest.mark.parametrize("kind", ["acceptance", "certificate"])
def test_qr_code_decodes_to_the_verify_url(pdfs, kind, tmp_path):  # noqa: ANN001
    assert decode_qr(pdfs[kind], tmp_path) == [VERIFY]


def test_acceptance_states_the_rule_and_the_limits(pdfs):  # noqa: ANN001
    text = pdf_text(pdfs["acceptance"])
    assert "第三十二条第一款第（五）项" in text and "决定予以受理" in text
    assert "2026年11月20日" in text                       # submitted
    assert "3个工作日" in text and "2026年12月1日" in text and "10个工作日" in text
    assert "第四十五条" in text and "鉴定和专家评审" in text


def test_supplement_lists_every_material_once(pdfs):  # noqa: ANN001
    text = pdf_text(pdfs["supplement"], layout=False)
    assert "第三十二条第一款第（四）项" in text and "一次性告知" in text
    for name, need in FACTS["supplement"].materials:
        assert name in text, name
        assert need in text
    assert "（第2次补正告知）" in text
    assert "其他要求" in text and "申请书须由法定代表人签字" in text
    assert "请于收到本告知书之日起30日内补正" in text
    assert "补正期间不计入办理时限" in text and "补正材料齐全后将重新审查" in text


def test_a_first_supplement_notice_has_no_count():
    html_text = notices.notice_html(replace(FACTS["supplement"], supplement_number=1))
    assert "次补正告知" not in html_text


@pytest.mark.parametrize("kind,rule,decision", [("refuse_intake", "第三十二条第一款", "决定不予受理"),
                                               ("refusal", "第三十八条第二款", "决定不予行政许可")])
def test_refusals_give_reasons_and_remedy(pdfs, kind, rule, decision):  # noqa: ANN001
    text = pdf_text(pdfs[kind])
    assert FACTS[kind].reasons.rstrip("。") in text and "。。" not in text
    assert rule in text and decision in text
    assert REMEDY in text


@pytest.mark.parametrize("kind", ["refuse_intake", "refusal"])
def test_refusals_without_reasons_are_refused(kind):  # noqa: ANN001
    with pytest.raises(ValueError):
        notices.notice_html(replace(FACTS[kind], reasons=""))
    with pytest.raises(ValueError):
        notices.notice_html(replace(FACTS[kind], reasons="  "))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        notices.notice_html(replace(BASE, kind="licence"))


def test_approval_cites_the_basis_and_the_result(pdfs):  # noqa: ANN001
    text = pdf_text(pdfs["approval"])
    assert "根据《中华人民共和国食品安全法》第三十五条、《食品经营许可和备案管理办法》的规定" in text
    assert "决定准予行政许可" in text
    assert "许可编号：JY14207040012345" in text
    assert "食品经营许可证" in text and "市民中心3号窗口领取" in text


def test_approval_without_a_basis_cites_the_licensing_law():
    html_text = notices.notice_html(replace(FACTS["approval"], basis=""))
    assert "根据《中华人民共和国行政许可法》第三十八条第一款的规定" in html_text


def test_certificate_page(pdfs):  # noqa: ANN001
    text = pdf_text(pdfs["certificate"])
    assert "证照编号：JY14207040012345" in text
    assert "2026年11月26日至2031年11月25日" in text
    assert "扫码核验真伪" in text
    assert "<h1>证照</h1>" in notices.notice_html(replace(FACTS["certificate"], result_name=""))


def test_payment_lists_every_fee_and_the_total(pdfs):  # noqa: ANN001
    text = pdf_text(pdfs["payment"], layout=False)
    for line in FACTS["payment"].fee_lines:
        assert line.name in text and line.standard in text and line.amount in text
    assert "合计" in text and "170.00" in text and "人民币170.00元" in text
    assert "2026年12月10日" in text
    assert "请凭本通知书编号通过非税收入缴款渠道缴纳；收费依据见办事指南；不得收取本通知书以外的任何费用。" in text
