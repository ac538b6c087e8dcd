"""Receipts and service guides (app/documents.py), checked on the printed result: the PDF's text as poppler
extracts it (shared/notes/documents.md: pypdf can report characters that do not print) and the QR code decoded
back from a 150 dpi rendering of the page."""
from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest

from app import auth, calendar_store, cases, documents, files
from app import applications as apps
from app import workflow as wf
from app.db import Database
from app.validators import make_resident_id, mask_id

BASE_URL = "https://ezz.example.gov.cn"
VILLAGE = "420704001002"  # 吴都社区, 古楼街道, 鄂城区: SCJG-003 is handled by the 鄂城区 unit
ITEM = "4207-SCJG-003"    # 食品经营许可

# A tiny but valid one-page PDF (what the upload check looks at is the %PDF- signature) and a 1×1 PNG.
TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def pdf_text(data: bytes, *, layout: bool = True) -> str:
    """Text of a PDF as pdftotext extracts it, all white space removed. -layout keeps the printed lines; in a
    table of many columns it interleaves the wrapped lines of neighbouring cells, so the guide's materials table is
    read in reading order (layout=False)."""
    args = ["pdftotext", *(["-layout"] if layout else []), "-", "-"]
    out = subprocess.run(args, input=data, capture_output=True, check=True).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))


def decode_qr(data: bytes, tmp_path) -> list[str]:  # noqa: ANN001
    import zxingcpp
    from PIL import Image

    (tmp_path / "doc.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "doc.pdf"), str(tmp_path / "page")], check=True)
    with Image.open(tmp_path / "page.png") as image:
        return [b.text for b in zxingcpp.read_barcodes(image)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # noqa: ANN001, ANN201
    """A seeded DuckDB database with two applicants and an officer, and one case filed and submitted through
    the applicant's services with every material uploaded."""
    from pipelines.seed_reference import seed_reference

    tmp = tmp_path_factory.mktemp("documents")
    mp = pytest.MonkeyPatch()
    # app.files.files_dir() reads EZZ_FILES_DIR at each call (no module reload: that would give the classes
    # other test modules imported, such as files.Upload, a second identity).
    mp.setenv("EZZ_FILES_DIR", str(tmp / "files"))
    if hasattr(files, "FILES_DIR"):   # an older app.files read it once, at import
        mp.setattr(files, "FILES_DIR", tmp / "files")
    calendar_store.invalidate()
    db = Database(f"duckdb:///{tmp / 'd.duckdb'}")
    db.migrate()
    seed_reference(db)

    people = {
        "owner": ("doc_owner", wf.APPLICANT, None, "张<b>x</b>", make_resident_id("420704", date(1988, 6, 1), 321)),
        "stranger": ("doc_other", wf.APPLICANT, None, "李四", make_resident_id("420704", date(1990, 1, 2), 45)),
        "officer": ("doc_officer", wf.OFFICER, "U-420704-SCJG", "鄂城区市监承办", None),
    }
    ids = {}

    def work(conn):  # noqa: ANN001, ANN202
        for key, (username, role, unit, name, id_number) in people.items():
            ids[key] = auth.create_user(conn, username=username, password=None, password_hash="!test-only",
                                        display_name=name, role=role, unit_id=unit,
                                        id_kind="resident_id" if id_number else None, id_number=id_number,
                                        phone="13800000000" if id_number else None)

    db.write(work)
    actors = {key: auth.actor_for(db, uid) for key, uid in ids.items()}
    owner_id = people["owner"][4]

    case = apps.start(db, actors["owner"], ITEM, region_code=VILLAGE, request_key="doc-test-1")
    values = {
        "applicant_name": people["owner"][3], "applicant_id": owner_id, "phone": "13800000000",
        "address": "鄂州市鄂城区古楼街道吴都社区1号", "premises_area": 85,
        "business_scope": ["预包装食品销售", "热食类食品制售"], "request": "申请开办社区餐饮店，经营热食类食品。",
        "delivery": "窗口领取", "consent": True,
    }
    materials = {
        1: files.Upload("申请书.png", TINY_PNG),
        2: files.Upload("营业执照<副本>&1.pdf", TINY_PDF),
        3: files.Upload("布局图.pdf", TINY_PDF),
        4: files.Upload("制度目录.pdf", TINY_PDF),
        5: files.Upload("身份证明.pdf", TINY_PDF),
    }
    case = apps.submit(db, actors["owner"], case["case_id"], expected_version=case["version"], values=values,
                       materials=materials)
    assert case["state"] == wf.SUBMITTED
    yield {"db": db, "actors": actors, "case": case, "owner_id": owner_id,
           "materials": [m.name for m in apps.item_materials(db, ITEM, case["item_version"])]}
    db.dispose()
    mp.undo()
    calendar_store.invalidate()


@pytest.fixture(scope="module")
def receipt(world):  # noqa: ANN001, ANN201
    return documents.receipt_pdf(world["db"], world["actors"]["owner"], world["case"]["case_id"], BASE_URL)


def test_lookup_url_and_qr_svg():
    assert documents.lookup_url("420700-20260311-000123", "https://a.cn/") == \
        "https://a.cn/lookup?case=420700-20260311-000123"
    assert documents.lookup_url("a b&c", "http://h:8501") == "http://h:8501/lookup?case=a+b%26c"
    svg = documents.qr_svg("https://a.cn/lookup?case=1")
    assert svg.startswith("<svg") and "<path" in svg and "<?xml" not in svg


def test_receipt_shows_the_case_and_masks_the_identifier(world, receipt):  # noqa: ANN001
    assert receipt.startswith(b"%PDF-")
    text = pdf_text(receipt)
    case = world["case"]
    assert "鄂州e政通办件回执" in text
    assert case["case_no"] in text
    assert "食品经营许可" in text and ITEM in text
    assert mask_id(world["owner_id"]) in text
    assert world["owner_id"] not in text
    assert "网上申报" in text
    assert "鄂城区" in text                           # the handling unit (U-420704-SCJG)
    assert "3个工作日" in text                         # promised limit of SCJG-003
    assert "5个工作日" in text and "第三十二条" in text  # the intake rule
    for name in world["materials"]:
        assert name.replace(" ", "") in text, name
    assert "营业执照<副本>&1.pdf" in text                # a typed file name prints as text
    due = case["promised_due"]
    assert f"{due.year}年{due.month}月{due.day}日" in text
    assert "凭办件编号及证件号后四位可查询办理进度" in text
    assert documents.lookup_url(case["case_no"], BASE_URL) in text


def test_receipt_qr_code_decodes_to_the_lookup_url(world, receipt, tmp_path):  # noqa: ANN001
    assert decode_qr(receipt, tmp_path) == [documents.lookup_url(world["case"]["case_no"], BASE_URL)]


def test_applicant_name_markup_prints_literally(world, receipt):  # noqa: ANN001
    text = pdf_text(receipt)
    assert "张<b>x</b>" in text
    html_text = documents.receipt_html(world["db"], world["actors"]["owner"], world["case"]["case_id"], BASE_URL)
    assert "<b>x</b>" not in html_text and "张&lt;b&gt;x&lt;/b&gt;" in html_text


def test_only_those_who_see_the_case_get_its_receipt(world):  # noqa: ANN001
    db, actors, case_id = world["db"], world["actors"], world["case"]["case_id"]
    with pytest.raises(cases.CaseError):
        documents.receipt_pdf(db, actors["stranger"], case_id, BASE_URL)
    # the officer of the handling unit may print it (staff at a window reprint receipts)
    assert pdf_text(documents.receipt_pdf(db, actors["officer"], case_id, BASE_URL)).count(world["case"]["case_no"]) >= 1


def test_no_receipt_for_a_draft(world):  # noqa: ANN001
    db, owner = world["db"], world["actors"]["owner"]
    draft = apps.start(db, owner, ITEM, region_code=VILLAGE, request_key="doc-test-draft")
    with pytest.raises(cases.CaseError) as err:
        documents.receipt_pdf(db, owner, draft["case_id"], BASE_URL)
    assert err.value.key == "doc.receipt_not_submitted"


def test_guide_of_a_free_licence(world):  # noqa: ANN001
    text = pdf_text(documents.guide_pdf(world["db"], ITEM), layout=False)
    assert "食品经营许可" in text and "办事指南" in text and ITEM in text
    for name in world["materials"]:
        assert name.replace(" ", "") in text, name
    assert "不收费" in text
    assert "必交" in text and "营业执照（4207-SCJG-001）" in text   # a certificate that can stand in
    assert "10个工作日" in text and "3个工作日" in text
    assert "承诺件" in text
    assert "鄂州市市场监督管理局" in text
    assert "申请→受理→审查→决定→办结" in text
    assert "市民中心" in text


def test_guide_of_an_item_with_a_fee(world):  # noqa: ANN001
    text = pdf_text(documents.guide_pdf(world["db"], "4207-ZRGH-005"), layout=False)
    assert "不动产登记" in text
    assert "不收费" not in text
    assert "住宅类每件80元" in text and "发改价格规〔2016〕2559号" in text
    assert "并联审批" in text                          # co-departments SHWJ and ZJJ


def test_guide_of_a_calendar_day_item(world):  # noqa: ANN001
    text = pdf_text(documents.guide_pdf(world["db"], "4207-GAJ-002"), layout=False)   # 大型群众性活动安全许可: 7 自然日
    assert "7个自然日" in text
    assert "并联审批" in text


def test_guide_of_an_unknown_item(world):  # noqa: ANN001
    with pytest.raises(cases.CaseError):
        documents.guide_pdf(world["db"], "4207-NOPE-999")
