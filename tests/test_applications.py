"""The applicant's side through the services, on DuckDB and PostgreSQL: every bad input refused with its
reason and nothing half-saved; double submits; supplements; ratings; the locker; window intake."""
from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from app import applications as apps
from app import auth, cases, files
from app import schema as s
from app import workflow as wf
from app.permissions import PermissionDenied
from tests.factories import REVIEWED, advance
from app.validators import make_resident_id

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ITEM = "4207-SCJG-003"  # 食品经营许可


def key() -> str:
    return uuid.uuid4().hex


def person_values(db, actor):  # noqa: ANN001, ANN201
    acc = apps.account(db, actor.user_id)
    return {"applicant_name": acc["display_name"], "applicant_id": acc["id_number"], "phone": "13807110000",
            "address": "鄂城区古楼街道吴都社区1号", "premises_area": "35", "business_scope": ["预包装食品销售"],
            "request": "申请食品经营许可（预包装食品销售）", "delivery": "窗口领取", "consent": True}


def required_uploads(db):  # noqa: ANN001, ANN201
    out = {}
    for m in apps.item_materials(db, ITEM, 1):
        if m.required:
            ext = "pdf" if "pdf" in m.formats else m.formats[0]
            out[m.seq] = files.Upload(f"材料{m.seq}.{ext}", PDF if ext == "pdf" else PNG)
    return out


def draft(db, who="applicant"):  # noqa: ANN001, ANN201
    return apps.start(db, db.actors[who], ITEM, region_code="420704001002", request_key=key())


def test_submit_with_form_and_materials(seeded_db):
    a = seeded_db.actors["applicant"]
    case = draft(seeded_db)
    done = apps.submit(seeded_db, a, case["case_id"], expected_version=case["version"],
                       values=person_values(seeded_db, a), materials=required_uploads(seeded_db))
    assert done["state"] == wf.SUBMITTED and done["promised_due"] is not None
    provided = apps.provided_materials(seeded_db, a, case["case_id"])
    assert set(provided) == set(required_uploads(seeded_db))
    with seeded_db.read() as conn:
        row = conn.execute(sa.select(s.stored_files).where(s.stored_files.c.file_id == provided[1]["file_id"])).fetchone()
    assert len(row.sha256) == 64 and row.size_bytes == len(PDF)
    assert (files.files_dir() / row.storage_path).read_bytes() == PDF
    assert apps.applicant_timeline(seeded_db, a, case["case_id"])[-1]["message_key"] == "msg.submitted"


def _assert_untouched(db, case):  # noqa: ANN001
    with db.read() as conn:
        row = conn.execute(sa.select(s.cases).where(s.cases.c.case_id == case["case_id"])).fetchone()
        mats = conn.execute(sa.select(sa.func.count()).select_from(s.case_materials)
                            .where(s.case_materials.c.case_id == case["case_id"])).scalar()
    assert (row.state, row.version, mats) == (wf.DRAFT, case["version"], 0)


def test_missing_mandatory_material_is_named_and_nothing_saved(seeded_db):
    a = seeded_db.actors["applicant"]
    case = draft(seeded_db)
    uploads = required_uploads(seeded_db)
    first = min(uploads)
    del uploads[first]
    with pytest.raises(apps.ApplicationError) as err:
        apps.submit(seeded_db, a, case["case_id"], expected_version=case["version"],
                    values=person_values(seeded_db, a), materials=uploads)
    name = next(m.name for m in apps.item_materials(seeded_db, ITEM, 1) if m.seq == first)
    assert err.value.key == "material.missing" and name in err.value.params["names"]
    _assert_untouched(seeded_db, case)


@pytest.mark.parametrize("upload,reason", [
    (files.Upload("营业执照.exe", b"MZ\x90\x00"), "file.wrong_type"),
    (files.Upload("空文件.pdf", b""), "file.empty"),
    (files.Upload("伪装.pdf", b"MZ\x90\x00not a pdf"), "file.content_mismatch"),
    (files.Upload("超大.pdf", b"%PDF-" + b"0" * (files.MAX_BYTES + 1)), "file.too_large"),
])
def test_bad_files_are_refused_and_nothing_saved(seeded_db, upload, reason):
    a = seeded_db.actors["applicant"]
    case = draft(seeded_db)
    uploads = required_uploads(seeded_db)
    uploads[min(uploads)] = upload
    with pytest.raises(apps.ApplicationError) as err:
        apps.submit(seeded_db, a, case["case_id"], expected_version=case["version"],
                    values=person_values(seeded_db, a), materials=uploads)
    assert err.value.key == reason
    _assert_untouched(seeded_db, case)


def test_field_breaking_its_rule_is_refused_in_chinese(seeded_db):
    a = seeded_db.actors["applicant"]
    case = draft(seeded_db)
    values = {**person_values(seeded_db, a), "phone": "123", "premises_area": "-5"}
    with pytest.raises(apps.ApplicationError) as err:
        apps.submit(seeded_db, a, case["case_id"], expected_version=case["version"], values=values,
                    materials=required_uploads(seeded_db))
    assert err.value.problems["phone"][0] == "form.phone"
    assert err.value.problems["premises_area"][0] == "form.min"
    _assert_untouched(seeded_db, case)


def test_double_click_files_one_case(seeded_db):
    a = seeded_db.actors["applicant"]
    request = key()
    first = apps.start(seeded_db, a, ITEM, region_code="420704001002", request_key=request)
    second = apps.start(seeded_db, a, ITEM, region_code="420704001002", request_key=request)
    assert first["case_id"] == second["case_id"]
    apps.submit(seeded_db, a, first["case_id"], expected_version=first["version"],
                values=person_values(seeded_db, a), materials=required_uploads(seeded_db))
    from app.db import StaleVersionError

    with pytest.raises((StaleVersionError, wf.WorkflowError)):
        apps.submit(seeded_db, a, first["case_id"], expected_version=first["version"],
                    values=person_values(seeded_db, a), materials=required_uploads(seeded_db))
    assert len(cases.case_events(seeded_db, a, first["case_id"])) == 2  # create, submit: once


def test_unpublished_item_cannot_be_applied_for(seeded_db):
    seeded_db.write(lambda c: c.execute(s.items.update().where(s.items.c.item_code == "4207-SCJG-004")
                                        .values(status="withdrawn")))
    try:
        with pytest.raises(cases.CaseError) as err:
            apps.start(seeded_db, seeded_db.actors["applicant"], "4207-SCJG-004", region_code="420704001002",
                       request_key=key())
        assert err.value.key == "case.item_unknown"
    finally:
        seeded_db.write(lambda c: c.execute(s.items.update().where(s.items.c.item_code == "4207-SCJG-004")
                                            .values(status="published")))


def test_a_draft_of_another_applicant_is_invisible(seeded_db):
    case = draft(seeded_db)
    other = seeded_db.actors["applicant2"]
    with pytest.raises(cases.CaseError) as err:
        apps.save_draft(seeded_db, other, case["case_id"], expected_version=case["version"], values={})
    assert err.value.key == "case.not_found"  # the same answer as for a case that does not exist
    with pytest.raises(cases.CaseError):
        apps.provided_materials(seeded_db, other, case["case_id"])
    assert all(c["case_id"] != case["case_id"] for c in apps.my_cases(seeded_db, other))


def test_draft_saved_and_resumed(seeded_db):
    a = seeded_db.actors["applicant"]
    case = draft(seeded_db)
    uploads = required_uploads(seeded_db)
    first = min(uploads)
    saved = apps.save_draft(seeded_db, a, case["case_id"], expected_version=case["version"],
                            values={"address": "鄂城区古楼街道", "phone": "bad"}, materials={first: uploads[first]})
    assert saved["state"] == wf.DRAFT and saved["form_data"]["address"] == "鄂城区古楼街道"
    # Submitting later only needs the rest of the materials: the one saved with the draft counts.
    rest = {k: v for k, v in uploads.items() if k != first}
    done = apps.submit(seeded_db, a, case["case_id"], expected_version=saved["version"],
                       values=person_values(seeded_db, a), materials=rest)
    assert done["state"] == wf.SUBMITTED


def _submitted(db):  # noqa: ANN001, ANN202
    a = db.actors["applicant"]
    case = draft(db)
    return apps.submit(db, a, case["case_id"], expected_version=case["version"],
                       values=person_values(db, a), materials=required_uploads(db))


def test_supplement_needs_exactly_the_listed_items(seeded_db):
    a, officer = seeded_db.actors["applicant"], seeded_db.actors["officer"]
    case = _submitted(seeded_db)
    seqs = sorted(required_uploads(seeded_db))[:2]
    case = cases.perform(seeded_db, officer, case["case_id"], "request_supplement", expected_version=case["version"],
                         comment="材料不清晰，请重新提交", payload={"materials": seqs})
    assert case["clock_stopped"]
    with pytest.raises(apps.ApplicationError) as err:
        apps.answer_supplement(seeded_db, a, case["case_id"], expected_version=case["version"],
                               materials={seqs[0]: files.Upload("补正.pdf", PDF)})
    assert err.value.key == "supplement.exactly_listed"
    done = apps.answer_supplement(seeded_db, a, case["case_id"], expected_version=case["version"],
                                  materials={q: files.Upload(f"补正{q}.pdf", PDF) for q in seqs})
    assert done["state"] == wf.SUBMITTED and not done["clock_stopped"]
    with seeded_db.read() as conn:
        rounds = conn.execute(sa.select(s.case_materials.c.round).where(s.case_materials.c.case_id == case["case_id"],
                                                                       s.case_materials.c.material_seq == seqs[0])).fetchall()
    assert sorted(r[0] for r in rounds) == [0, 1]  # the first upload is kept beside the supplement


def _completed(db):  # noqa: ANN001, ANN202
    a = db.actors
    case = _submitted(db)
    return advance(db, a, case, [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                 ("approve", "head"), ("complete", "officer")])


def test_rating_once_after_completion_and_certificate_in_locker(seeded_db):
    a = seeded_db.actors["applicant"]
    case = _completed(seeded_db)
    rated = apps.rate(seeded_db, a, case["case_id"], expected_version=case["version"], level=2, comment="等太久")
    assert apps.rating_of(seeded_db, case["case_id"])["level"] == 2
    with pytest.raises(apps.ApplicationError) as err:
        apps.rate(seeded_db, a, case["case_id"], expected_version=rated["version"], level=5)
    assert err.value.key == "rating.already"
    assert apps.rating_of(seeded_db, case["case_id"])["level"] == 2
    certificates = [x for x in apps.locker(seeded_db, a)
                    if x["kind"] == "certificate" and x["certificate_no"] == case["result_no"]]
    assert len(certificates) == 1 and certificates[0]["expires_on"] > date.today()


def test_rating_before_completion_is_refused(seeded_db):
    case = _submitted(seeded_db)
    with pytest.raises(wf.WorkflowError):
        apps.rate(seeded_db, seeded_db.actors["applicant"], case["case_id"], expected_version=case["version"], level=5)


def test_locker_material_reused_in_a_later_application(seeded_db):
    a = seeded_db.actors["applicant"]
    _submitted(seeded_db)
    entry = next(x for x in apps.locker(seeded_db, a) if x["kind"] == "material")
    case = draft(seeded_db)
    uploads = required_uploads(seeded_db)
    first = min(uploads)
    uploads[first] = entry["locker_id"]
    done = apps.submit(seeded_db, a, case["case_id"], expected_version=case["version"],
                       values=person_values(seeded_db, a), materials=uploads)
    assert apps.provided_materials(seeded_db, a, done["case_id"])[first]["locker_id"] == entry["locker_id"]
    # Someone else's locker entry cannot be used.
    other = draft(seeded_db, "applicant2")
    with pytest.raises(apps.ApplicationError) as err:
        apps.save_draft(seeded_db, seeded_db.actors["applicant2"], other["case_id"], expected_version=other["version"],
                        values={}, materials={first: entry["locker_id"]})
    assert err.value.key == "material.locker_not_yours"


def test_withdraw_and_complain(seeded_db):
    a = seeded_db.actors["applicant"]
    case = _submitted(seeded_db)
    case = apps.complain(seeded_db, a, case["case_id"], expected_version=case["version"], content="窗口态度不好，未一次性告知")
    with seeded_db.read() as conn:
        complaint = conn.execute(sa.select(s.complaints).where(s.complaints.c.case_id == case["case_id"])).fetchone()
    assert complaint.due_on > complaint.created_at.date()
    with pytest.raises(apps.ApplicationError):
        apps.complain(seeded_db, a, case["case_id"], expected_version=case["version"], content="短")
    case = apps.withdraw(seeded_db, a, case["case_id"], expected_version=case["version"], reason="不再需要")
    assert case["state"] == wf.WITHDRAWN


def test_window_intake_for_a_present_applicant(seeded_db):
    clerk = seeded_db.actors["clerk"]
    id_number = make_resident_id("420704", date(1970, 2, 3), 55)
    with pytest.raises(apps.ApplicationError) as err:
        apps.register_present_applicant(seeded_db, clerk, name="王大妈", id_kind="resident_id",
                                        id_number=id_number[:-1] + ("1" if id_number[-1] != "1" else "2"), phone=None)
    assert err.value.key == "id.checksum"
    uid = apps.register_present_applicant(seeded_db, clerk, name="王大妈", id_kind="resident_id",
                                          id_number=id_number, phone="13900000000")
    assert apps.find_applicant(seeded_db, clerk, id_number)["user_id"] == uid
    applicant = cases.Applicant(name="王大妈", id_kind="resident_id", id_number=id_number, user_id=uid)
    case = apps.start(seeded_db, clerk, ITEM, region_code="420704001002", request_key=key(), applicant=applicant)
    values = {"applicant_name": "王大妈", "applicant_id": id_number, "phone": "13900000000",
              "address": "鄂城区古楼街道吴都社区", "premises_area": "20", "business_scope": ["散装食品销售"],
              "request": "申请食品经营许可（散装食品）", "delivery": "窗口领取", "consent": True}
    done = apps.submit(seeded_db, clerk, case["case_id"], expected_version=case["version"], values=values,
                       materials=required_uploads(seeded_db))
    assert (done["channel"], done["agent_user_id"], done["window_id"]) == ("window", clerk.user_id, "W-4207-ZH")
    # The applicant registers afterwards with the same ID and finds the case in their own account.
    claimed = auth.register_applicant(seeded_db, username="wang_dama", password="Wang@2026x", display_name="王大妈",
                                      id_kind="resident_id", id_number=id_number)
    assert claimed == uid
    me = auth.actor_for(seeded_db, uid)
    assert [c["case_id"] for c in apps.my_cases(seeded_db, me)] == [case["case_id"]]
    # Staff of other roles cannot use the window services.
    with pytest.raises(PermissionDenied):
        apps.find_applicant(seeded_db, seeded_db.actors["officer"], id_number)


def test_saving_a_draft_twice_keeps_one_locker_entry(seeded_db):
    a = seeded_db.actors["applicant"]
    case = draft(seeded_db)
    upload = files.Upload("身份证明-再次保存.pdf", PDF + b"% twice\n")
    first = min(required_uploads(seeded_db))
    saved = apps.save_draft(seeded_db, a, case["case_id"], expected_version=case["version"], values={},
                            materials={first: upload})
    apps.save_draft(seeded_db, a, case["case_id"], expected_version=saved["version"], values={},
                    materials={first: upload})
    assert sum(1 for x in apps.locker(seeded_db, a) if x["file_name"] == "身份证明-再次保存.pdf") == 1


def test_a_locker_file_of_the_wrong_type_cannot_stand_in(seeded_db):
    a = seeded_db.actors["applicant"]
    mats = apps.item_materials(seeded_db, ITEM, 1)
    pdf_only = next(m for m in mats if m.required and "png" not in m.formats and "jpg" not in m.formats)
    picture = next(m for m in mats if "png" in m.formats)
    case = draft(seeded_db)
    saved = apps.save_draft(seeded_db, a, case["case_id"], expected_version=case["version"], values={},
                            materials={picture.seq: files.Upload("照片.png", PNG + b"x")})
    entry = next(x for x in apps.locker(seeded_db, a) if x["file_name"] == "照片.png")
    with pytest.raises(apps.ApplicationError) as err:
        apps.save_draft(seeded_db, a, case["case_id"], expected_version=saved["version"], values={},
                        materials={pdf_only.seq: entry["locker_id"]})
    assert err.value.key == "file.wrong_type"
