"""The policy and law library (政策法规) on DuckDB and PostgreSQL: the seed from the catalogue's basis texts,
search, maintenance by the administrator and the legal affairs office (市司法局) only, links to items, files,
and the guide listing an item's basis documents; the /policies page through AppTest."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from app import catalogue, files, policies
from app import schema as s
from app import workflow as wf
from app.db import StaleVersionError
from app.permissions import PermissionDenied
from tests.conftest import env  # noqa: F401  (the page fixture)
from tests.apptest_support import open_page

ROOT = Path(__file__).resolve().parent.parent
LAWYER = "4207-SFJ-001"   # 律师执业许可: basis 《中华人民共和国律师法》第五条、第六条；《律师执业管理办法》（司法部令）


def legal_affairs_officer(db):  # noqa: ANN001, ANN201
    """An officer of 市司法局 (the legal affairs office), made once per database."""
    from app import auth

    if not hasattr(db, "_sfj_officer"):
        with db.read() as conn:
            uid = conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == "t_sfj")).scalar()
        if uid is None:
            uid = db.write(lambda conn: auth.create_user(conn, username="t_sfj", password="Ezhou@2026x",
                                                         display_name="司法局承办", role=wf.OFFICER,
                                                         unit_id="U-4207-SFJ"))
        db._sfj_officer = auth.actor_for(db, uid)
    return db._sfj_officer


def test_parse_basis_titles_kinds_and_provisions():
    refs = policies.parse_basis("《中华人民共和国律师法》第五条、第六条；《律师执业管理办法》（司法部令）；"
                                "《国务院对确需保留的行政审批项目设定行政许可的决定》（国务院令第412号）；"
                                "《湖北省实施〈中华人民共和国人民防空法〉办法》；《护士条例》第七条；"
                                "《国务院关于全面建立临时救助制度的通知》")
    got = [(r.title, r.kind, r.issuer, r.doc_no, r.provision) for r in refs]
    assert got == [
        ("中华人民共和国律师法", "law", "全国人民代表大会常务委员会", None, "第五条、第六条"),
        ("律师执业管理办法", "dept_rule", "司法部", None, ""),
        ("国务院对确需保留的行政审批项目设定行政许可的决定", "admin_regulation", "国务院", "国务院令第412号", ""),
        ("湖北省实施〈中华人民共和国人民防空法〉办法", "local_regulation", "湖北省人民代表大会常务委员会", None, ""),
        ("护士条例", "admin_regulation", "国务院", None, "第七条"),
        ("国务院关于全面建立临时救助制度的通知", "policy_notice", "国务院", None, ""),
    ]
    assert policies.parse_basis("") == [] and policies.parse_basis("无") == []


def test_seed_links_the_catalogue_basis_and_is_idempotent(seeded_db):
    db = seeded_db
    docs = policies.documents_for_item(db, LAWYER)
    assert [(d["title"], d["provision"]) for d in docs] == [("中华人民共和国律师法", "第五条、第六条"),
                                                            ("律师执业管理办法", None)]
    # 《中华人民共和国律师法》 is cited by two items: one document, two links.
    found = policies.search(db, keyword="律师法")
    assert found["title"].to_list() == ["中华人民共和国律师法"] and found["items"].to_list() == [2]
    with db.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(s.policy_item_links)).scalar()
        policies.seed_from_catalogue(conn)   # the shared database may hold items other tests have designed since
        again = policies.seed_from_catalogue(conn)
    assert again == {"policy_documents_added": 0, "policy_links_added": 0} and before > 150


def test_seed_leaves_an_item_the_office_keeps_alone(seeded_db):
    db, office = seeded_db, legal_affairs_officer(seeded_db)
    rule = next(d for d in policies.documents_for_item(db, LAWYER) if d["title"] == "律师执业管理办法")
    policies.unlink_item(db, office, rule["doc_id"], LAWYER)
    db.write(lambda conn: policies.seed_from_catalogue(conn))
    assert [d["title"] for d in policies.documents_for_item(db, LAWYER)] == ["中华人民共和国律师法"]
    policies.link_items(db, office, rule["doc_id"], [LAWYER])   # as it was, for the other tests


def test_maintenance_by_the_legal_affairs_office(seeded_db):
    db, office = seeded_db, legal_affairs_officer(seeded_db)
    doc_id = policies.create_document(db, office, title="鄂州市优化营商环境若干措施", kind="policy_notice",
                                      doc_no="鄂州政发〔2026〕3号", issuer="鄂州市人民政府",
                                      body="第一条 为优化营商环境，制定本措施。")
    assert policies.link_items(db, office, doc_id, ["4207-SCJG-003", "4207-SFJ-001"], "第一条") == 2
    assert policies.link_items(db, office, doc_id, ["4207-SCJG-003"]) == 0      # linked already: nothing new
    doc = policies.document(db, doc_id)
    assert doc["status"] == "in_force" and doc["source"] == "manual"
    assert [i["item_code"] for i in doc["items"]] == ["4207-SCJG-003", "4207-SFJ-001"]
    assert policies.search(db, keyword="营商环境 措施", item_code="4207-SCJG-003")["doc_id"].to_list() == [doc_id]
    assert policies.search(db, keyword="本措施", issuer="鄂州市人民政府")["doc_id"].to_list() == [doc_id]  # the text
    version = policies.update_document(db, office, doc_id, expected_version=doc["version"], title=doc["title"],
                                       kind="policy_notice", doc_no=doc["doc_no"], issuer=doc["issuer"],
                                       body="全文修订。")
    with pytest.raises(StaleVersionError):   # a screen read before that change
        policies.update_document(db, office, doc_id, expected_version=doc["version"], title="x", kind="law")
    policies.repeal_document(db, office, doc_id, expected_version=version)
    with pytest.raises(policies.PolicyError) as err:
        policies.repeal_document(db, office, doc_id, expected_version=version + 1)
    assert err.value.key == "policy.already_repealed"
    assert policies.search(db, keyword="营商环境", status="repealed")["doc_id"].to_list() == [doc_id]
    # still on the guide, marked repealed, after the documents in force
    guide = catalogue.guide(db, "4207-SCJG-003")
    assert guide["basis_documents"][-1]["doc_id"] == doc_id and guide["basis_documents"][-1]["status"] == "repealed"
    with db.read() as conn:
        actions = {r[0] for r in conn.execute(sa.select(s.audit_log.c.action).where(
            s.audit_log.c.action.like("policy_%"), s.audit_log.c.username == "t_sfj"))}
    assert {"policy_created", "policy_linked", "policy_updated", "policy_repealed"} <= actions


@pytest.mark.parametrize("who", ["officer", "head", "applicant", "supervisor"])
def test_only_admin_and_the_legal_affairs_office_maintain(seeded_db, who):
    db = seeded_db
    actor = db.actors[who]
    assert not policies.can_maintain(actor) and not policies.can_maintain(None)
    with pytest.raises(PermissionDenied):
        policies.create_document(db, actor, title="某文件", kind="law")
    assert policies.can_maintain(db.actors["admin"]) and policies.can_maintain(legal_affairs_officer(db))


def test_bad_documents_and_links_are_refused_whole(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    for values, key in ((dict(title="  ", kind="law"), "policy.title_missing"),
                        (dict(title="文" * 201, kind="law"), "policy.title_too_long"),
                        (dict(title="某规定", kind="rumour"), "policy.kind_unknown"),
                        (dict(title="某规定", kind="law", doc_no="号" * 101), "policy.field_too_long")):
        with pytest.raises(policies.PolicyError) as err:
            policies.create_document(db, admin, **values)
        assert err.value.key == key
    from datetime import date
    with pytest.raises(policies.PolicyError) as err:
        policies.create_document(db, admin, title="某规定", kind="law", issued_on=date(2026, 5, 1),
                                 effective_on=date(2026, 4, 1))
    assert err.value.key == "policy.dates_order"
    doc_id = policies.create_document(db, admin, title="链接测试文件", kind="dept_rule")
    with pytest.raises(policies.PolicyError) as err:
        policies.link_items(db, admin, doc_id, ["4207-SCJG-003", "4207-NOPE-999"])
    assert err.value.key == "policy.item_unknown" and err.value.params["codes"] == "4207-NOPE-999"
    assert policies.document(db, doc_id)["items"] == []        # the known code was not linked either
    with pytest.raises(policies.PolicyError) as err:
        policies.document(db, 10**9)
    assert err.value.key == "policy.unknown"


def test_files_pdf_docx_txt_only_checked_by_content(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    doc_id = policies.create_document(db, admin, title="附件测试文件", kind="policy_notice")
    with pytest.raises(policies.PolicyError):
        policies.file_of(db, doc_id)
    for name, data, key in (("a.exe", b"MZ\x90\x00", "file.wrong_type"),
                            ("a.jpg", b"\xff\xd8\xff\xe0", "file.wrong_type"),
                            ("a.pdf", b"MZ not a pdf", "file.content_mismatch"),
                            ("a.txt", b"\x00\x01\x02binary", "file.content_mismatch"),
                            ("a.txt", b"", "file.empty")):
        with pytest.raises(files.FileRejected) as err:
            policies.attach_file(db, admin, doc_id, files.Upload(name, data))
        assert err.value.key == key, name
    assert policies.document(db, doc_id)["file_id"] is None
    text = "第一条 本办法自发布之日起施行。".encode("gb18030")
    policies.attach_file(db, admin, doc_id, files.Upload("办法.txt", text))
    pdf = b"%PDF-1.4\n%test\n"
    policies.attach_file(db, admin, doc_id, files.Upload("办法.pdf", pdf))   # replaces the text file
    assert policies.file_of(db, doc_id) == ("办法.pdf", pdf)
    assert policies.document(db, doc_id)["file_name"] == "办法.pdf"


# -- the page ------------------------------------------------------------------------------------------------------

def policies_page(actor=None, **query) -> AppTest:  # noqa: ANN001
    return open_page("policies.py", actor, **query)


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_policies_page_search_and_detail(env):  # noqa: F811
    db = env
    at = policies_page()
    assert at.title[0].value == "政策法规"
    assert not any(e.label == "维护（管理员、市司法局）" for e in at.expander)   # the public has no maintenance
    at.text_input(key="policy_keyword").input("律师法").run()
    assert at.dataframe[0].value.iloc[0]["标题"] == "中华人民共和国律师法"
    law = policies.search(db, keyword="律师法")["doc_id"][0]
    at = policies_page(doc=str(law))
    assert at.header[0].value == "中华人民共和国律师法"
    assert any(m.value == "现行有效" for m in at.metric)
    assert any("律师执业许可" in link.label for link in at.get("page_link"))


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_policies_page_maintenance(env):  # noqa: F811
    db = env
    office = legal_affairs_officer(db)
    at = policies_page(office)
    at.text_input(key="policy_new_title").input("页面新增的文件").run()
    at.text_input(key="policy_new_doc_no").input("鄂州司发〔2026〕8号").run()
    at.button(key="policy_create").click().run()
    assert not at.exception
    doc_id = int(policies.search(db, keyword="页面新增的文件")["doc_id"][0])
    assert at.query_params["doc"] == [str(doc_id)] or at.query_params["doc"] == str(doc_id)
    at = policies_page(office, doc=str(doc_id))
    at.text_input(key="policy_link_codes").input("4207-SCJG-003 4207-NOPE-1").run()
    at.button(key="policy_link").click().run()
    assert "4207-NOPE-1" in at.error[0].value and policies.document(db, doc_id)["items"] == []
    at.text_input(key="policy_link_codes").input("4207-SCJG-003").run()
    at.button(key="policy_link").click().run()
    assert [i["item_code"] for i in policies.document(db, doc_id)["items"]] == ["4207-SCJG-003"]
    at.button(key="policy_repeal").click().run()
    assert policies.document(db, doc_id)["status"] == "repealed"
    # the guide lists it, marked repealed, with a link to the document
    guide = AppTest.from_file(str(ROOT / "pages" / "catalogue.py"), default_timeout=60)
    guide.query_params["item"] = "4207-SCJG-003"
    guide.run()
    assert not guide.exception
    labels = [link.label for link in guide.get("page_link")]
    assert any("页面新增的文件" in label and "已废止" in label for label in labels)
    assert any("中华人民共和国食品安全法" in label for label in labels)
