"""SQLAlchemy Core descriptions of the operational tables, for building portable, parameterised queries.

The DDL itself lives in app/migrations/*.sql (plain SQL that runs on DuckDB and PostgreSQL); a test checks
that these descriptions and the migrated database agree column for column.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, MetaData, String, Table, Text
from sqlalchemy import DateTime as _DateTime


class JSONText(sa.types.TypeDecorator):
    """JSON kept in a TEXT column: the same on DuckDB and PostgreSQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return None if value is None else json.loads(value)


DateTime = _DateTime(timezone=False)
metadata = MetaData()

regions = Table(
    "regions", metadata,
    Column("code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("level", Integer, nullable=False),
    Column("level_name", String, nullable=False),
    Column("parent_code", String),
)

departments = Table(
    "departments", metadata,
    Column("dept_code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("short_name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("note", Text),
)

coordinating_bodies = Table(
    "coordinating_bodies", metadata,
    Column("code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("role", Text, nullable=False),
    Column("successor_today", Text),
    Column("note", Text),
)

org_units = Table(
    "org_units", metadata,
    Column("unit_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("dept_code", String),
    Column("region_code", String, nullable=False),
    Column("parent_unit_id", String),
)

service_windows = Table(
    "service_windows", metadata,
    Column("window_id", String, primary_key=True),
    Column("unit_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("region_code", String, nullable=False),
)

items = Table(
    "items", metadata,
    Column("item_code", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("category", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("dept_code", String, nullable=False),
    Column("co_dept_codes", JSONText, nullable=False),
    Column("handling_levels", JSONText, nullable=False),
    Column("statutory_limit", Integer, nullable=False),
    Column("statutory_unit", String, nullable=False),
    Column("promised_days", Integer, nullable=False),
    Column("immediate", Boolean, nullable=False),
    Column("basis", Text),
    Column("conditions", Text),
    Column("fee_text", Text),
    Column("charges_fee", Boolean, nullable=False),
    Column("result_name", String),
    Column("online_batch", Integer, nullable=False),
    Column("source", String),
    Column("note", Text),
    Column("status", String, nullable=False),
    Column("is_current", Boolean, nullable=False),
    Column("published_at", DateTime),
    Column("review_steps", JSONText),
)

item_materials = Table(
    "item_materials", metadata,
    Column("item_code", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("name", String, nullable=False),
    Column("required", Boolean, nullable=False),
    Column("original_or_copy", String),
    Column("formats", JSONText, nullable=False),
    Column("reuse_certificate", String),
    Column("reuse_item_code", String),
    Column("note", Text),
)

holidays = Table(
    "holidays", metadata,
    Column("day", Date, primary_key=True),
    Column("name", String, nullable=False),
    Column("is_off_day", Boolean, nullable=False),
    Column("year", Integer, nullable=False),
)

calendar_years = Table(
    "calendar_years", metadata,
    Column("year", Integer, primary_key=True),
    Column("official", Boolean, nullable=False),
    Column("source", Text),
    Column("loaded_at", DateTime, nullable=False),
)

users = Table(
    "users", metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("username", String, nullable=False, unique=True),
    Column("password_hash", String, nullable=False),
    Column("display_name", String, nullable=False),
    Column("role", String, nullable=False),
    Column("unit_id", String),
    Column("id_kind", String),
    Column("id_number", String),
    Column("phone", String),
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", DateTime),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("region_code", String),
)

sessions = Table(
    "sessions", metadata,
    Column("session_id", String, primary_key=True),
    Column("token_hash", String),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
)

login_tickets = Table(
    "login_tickets", metadata,
    Column("ticket_hash", String, primary_key=True),
    Column("session_id", String, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
)

cases = Table(
    "cases", metadata,
    Column("case_id", BigInteger, primary_key=True),
    Column("case_no", String, nullable=False, unique=True),
    Column("item_code", String, nullable=False),
    Column("item_version", Integer, nullable=False),
    Column("dept_code", String, nullable=False),
    Column("unit_id", String, nullable=False),
    Column("region_code", String, nullable=False),
    Column("window_id", String),
    Column("channel", String, nullable=False),
    Column("applicant_user_id", BigInteger),
    Column("applicant_name", String, nullable=False),
    Column("applicant_id_kind", String, nullable=False),
    Column("applicant_id_number", String, nullable=False),
    Column("agent_user_id", BigInteger),
    Column("state", String, nullable=False),
    Column("form_data", JSONText),
    Column("promised_days", Integer, nullable=False),
    Column("statutory_limit", Integer, nullable=False),
    Column("statutory_unit", String, nullable=False),
    Column("extension_days", Integer, nullable=False),
    Column("clock_start", Date),
    Column("promised_due", Date),
    Column("statutory_due", Date),
    Column("clock_stopped", Boolean, nullable=False),
    Column("supplement_count", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("submitted_at", DateTime),
    Column("accepted_at", DateTime),
    Column("decided_at", DateTime),
    Column("completed_at", DateTime),
    Column("closed_at", DateTime),
    Column("result_no", String),
    Column("source_system", String),
    Column("legacy_no", String),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("warning_level", String),
    Column("request_key", String),
    Column("assigned_user_id", BigInteger),
    Column("accepted_unit_id", String),
)

case_events = Table(
    "case_events", metadata,
    Column("event_id", BigInteger, primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("actor_user_id", BigInteger),
    Column("actor_role", String, nullable=False),
    Column("actor_unit_id", String),
    Column("action", String, nullable=False),
    Column("from_state", String),
    Column("to_state", String, nullable=False),
    Column("comment", Text),
    Column("payload", JSONText),
    Column("prev_hash", String),
    Column("hash", String, nullable=False),
)

clock_stops = Table(
    "clock_stops", metadata,
    Column("case_id", BigInteger, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String, nullable=False),
    Column("started_on", Date, nullable=False),
    Column("ended_on", Date),
    Column("reason", Text),
)

ratings = Table(
    "ratings", metadata,
    Column("case_id", BigInteger, primary_key=True),
    Column("level", Integer, nullable=False),
    Column("comment", Text),
    Column("rated_at", DateTime, nullable=False),
    Column("user_id", BigInteger),
)

complaints = Table(
    "complaints", metadata,
    Column("complaint_id", BigInteger, primary_key=True),
    Column("case_id", BigInteger),
    Column("user_id", BigInteger),
    Column("content", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("answered_at", DateTime),
    Column("answer", Text),
    # 0006: consultations beside complaints (app/inquiries.py)
    Column("kind", String),            # complaint | consultation
    Column("tracking_no", String),
    Column("dept_code", String),       # the responsible department (a case's complaint: the case's)
    Column("item_code", String),
    Column("title", String),
    Column("contact_name", String),
    Column("contact_phone", String),
    Column("answered_by", BigInteger),
    Column("published", Boolean),
    Column("published_at", DateTime),
)

audit_log = Table(
    "audit_log", metadata,
    Column("audit_id", BigInteger, primary_key=True),
    Column("occurred_at", DateTime, nullable=False),
    Column("user_id", BigInteger),
    Column("username", String),
    Column("action", String, nullable=False),
    Column("detail", Text),
)

item_form_fields = Table(
    "item_form_fields", metadata,
    Column("item_code", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("field_key", String, nullable=False),
    Column("label", String, nullable=False),
    Column("field_type", String, nullable=False),
    Column("required", Boolean, nullable=False),
    Column("applies_to", String, nullable=False),
    Column("rule", JSONText),
    Column("choices", JSONText),
    Column("help", Text),
    Column("prefill", String),
)

stored_files = Table(
    "stored_files", metadata,
    Column("file_id", BigInteger, primary_key=True),
    Column("owner_user_id", BigInteger),
    Column("file_name", String, nullable=False),
    Column("extension", String, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String, nullable=False),
    Column("storage_path", String, nullable=False),
    Column("uploaded_at", DateTime, nullable=False),
    Column("uploaded_by", BigInteger),
)

locker_items = Table(
    "locker_items", metadata,
    Column("locker_id", BigInteger, primary_key=True),
    Column("owner_user_id", BigInteger, nullable=False),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("file_id", BigInteger),
    Column("source_case_id", BigInteger),
    Column("item_code", String),
    Column("certificate_no", String),
    Column("issued_on", Date),
    Column("expires_on", Date),
    Column("created_at", DateTime, nullable=False),
)

case_materials = Table(
    "case_materials", metadata,
    Column("case_id", BigInteger, primary_key=True),
    Column("material_seq", Integer, primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("file_id", BigInteger),
    Column("locker_id", BigInteger),
    Column("provided_at", DateTime, nullable=False),
    Column("provided_by", BigInteger),
)

# -- 0004: the officer workbench --------------------------------------------------------------------------
parallel_tasks = Table(
    "parallel_tasks", metadata,
    Column("task_id", BigInteger, primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("dept_code", String, nullable=False),
    Column("unit_id", String, nullable=False),
    Column("region_code", String, nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("state", String, nullable=False),      # open | answered | overridden | cancelled
    Column("verdict", String),                     # agree | disagree
    Column("opinion", Text),
    Column("answered_at", DateTime),
    Column("answered_by", BigInteger),
)
case_documents = Table(
    "case_documents", metadata,
    Column("doc_no", String, primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("kind", String, nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("issued_by", BigInteger),
    Column("facts", JSONText, nullable=False),
    Column("revoked", Boolean, nullable=False),
)
fee_standards = Table(
    "fee_standards", metadata,
    Column("item_code", String, primary_key=True),
    Column("fee_code", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("unit_amount_fen", BigInteger, nullable=False),
    Column("unit_label", String, nullable=False),
    Column("basis", Text),
    Column("note", Text),
)
fee_notices = Table(
    "fee_notices", metadata,
    Column("notice_no", String, primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("lines", JSONText, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("issued_by", BigInteger),
    Column("due_on", Date, nullable=False),
    Column("state", String, nullable=False),      # unpaid | paid | cancelled
    Column("paid_at", DateTime),
    Column("paid_amount_fen", BigInteger),
    Column("receipt_no", String),
)
fee_reconciliations = Table(
    "fee_reconciliations", metadata,
    Column("reconciliation_id", BigInteger, primary_key=True),
    Column("file_name", String, nullable=False),
    Column("sha256", String, nullable=False),
    Column("uploaded_at", DateTime, nullable=False),
    Column("uploaded_by", BigInteger),
    Column("dept_code", String),
    Column("rows_total", Integer, nullable=False),
    Column("rows_paid", Integer, nullable=False),
    Column("rows_already", Integer, nullable=False),
    Column("rows_refused", Integer, nullable=False),
    Column("report", JSONText, nullable=False),
)

# -- 0005: electronic supervision ----------------------------------------------------------------------------
alarms = Table(
    "alarms", metadata,
    Column("alarm_id", BigInteger, primary_key=True),
    Column("rule", String, nullable=False),
    Column("subject_key", String, nullable=False),
    Column("case_id", BigInteger),
    Column("dept_code", String),
    Column("unit_id", String),
    Column("region_code", String),
    Column("officer_user_id", BigInteger),
    Column("detail", Text),
    Column("raised_at", DateTime, nullable=False),
    Column("cleared_at", DateTime),
)
cards = Table(
    "cards", metadata,
    Column("card_id", BigInteger, primary_key=True),
    Column("color", String, nullable=False),          # yellow | red
    Column("dept_code", String, nullable=False),
    Column("officer_user_id", BigInteger),
    Column("case_id", BigInteger),
    Column("reason", Text, nullable=False),
    Column("issued_by", BigInteger),
    Column("issued_at", DateTime, nullable=False),
)
review_followups = Table(
    "review_followups", metadata,
    Column("case_id", BigInteger, primary_key=True),
    Column("dept_code", String, nullable=False),
    Column("unit_id", String, nullable=False),
    Column("region_code", String, nullable=False),
    Column("level", Integer, nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("state", String, nullable=False),          # open | handled
    Column("verification", Text),
    Column("rectification", Text),
    Column("answer", Text),
    Column("handled_at", DateTime),
    Column("handled_by", BigInteger),
    Column("published", Boolean, nullable=False),
)


# -- 0007: the item designer (事项管理) -----------------------------------------------------------------------
for _column in (Column("fees", JSONText), Column("created_by", BigInteger), Column("created_at", DateTime),
                Column("updated_at", DateTime), Column("comment_opened_at", DateTime),
                Column("withdrawn_at", DateTime), Column("withdraw_reason", Text), Column("revision", Integer)):
    items.append_column(_column)
item_comments = Table(
    "item_comments", metadata,
    Column("comment_id", BigInteger, primary_key=True),
    Column("item_code", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("author_name", String),
    Column("contact", String),
    Column("client", String),
    Column("user_id", BigInteger),
    Column("created_at", DateTime, nullable=False),
)


# 0006: the policy and law library (app/policies.py)
policy_documents = Table(
    "policy_documents", metadata,
    Column("doc_id", BigInteger, primary_key=True),
    Column("title", String, nullable=False),
    Column("doc_no", String),
    Column("kind", String, nullable=False),
    Column("issuer", String),
    Column("issued_on", Date),
    Column("effective_on", Date),
    Column("status", String, nullable=False),
    Column("repealed_on", Date),
    Column("body", Text),
    Column("file_id", BigInteger),
    Column("source", String, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", BigInteger),
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", BigInteger),
    Column("version", Integer, nullable=False),
)

policy_item_links = Table(
    "policy_item_links", metadata,
    Column("doc_id", BigInteger, primary_key=True),
    Column("item_code", String, primary_key=True),
    Column("provision", String),
    Column("linked_at", DateTime, nullable=False),
    Column("linked_by", BigInteger),
)
