-- 0004: what the officer workbench needs — who holds a case (claim / assign), which unit accepted it (only
-- that unit decides), the review steps of an item's flow, parallel-approval tasks for co-departments, the
-- documents issued on a case (notices, decisions, certificates: their facts are kept so the same PDF can be
-- printed again and verified), fee standards, payment notices and the non-tax reconciliation runs.

ALTER TABLE cases ADD COLUMN assigned_user_id BIGINT;
ALTER TABLE cases ADD COLUMN accepted_unit_id VARCHAR;
UPDATE cases SET accepted_unit_id = unit_id WHERE accepted_at IS NOT NULL;
ALTER TABLE items ADD COLUMN review_steps TEXT DEFAULT '["审查","审核"]';
UPDATE items SET review_steps = '["审查","审核"]' WHERE review_steps IS NULL;

CREATE SEQUENCE task_id_seq START 1;
CREATE TABLE parallel_tasks (
    task_id BIGINT PRIMARY KEY DEFAULT nextval('task_id_seq'),
    case_id BIGINT NOT NULL,
    dept_code VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    region_code VARCHAR NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    due_on DATE NOT NULL,
    state VARCHAR NOT NULL,
    verdict VARCHAR,
    opinion TEXT,
    answered_at TIMESTAMP,
    answered_by BIGINT
);
CREATE INDEX parallel_tasks_case ON parallel_tasks (case_id);
CREATE INDEX parallel_tasks_dept ON parallel_tasks (dept_code, state);

CREATE TABLE case_documents (
    doc_no VARCHAR PRIMARY KEY,
    case_id BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    issued_by BIGINT,
    facts TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX case_documents_case ON case_documents (case_id);

CREATE TABLE fee_standards (
    item_code VARCHAR NOT NULL,
    fee_code VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    unit_amount_fen BIGINT NOT NULL,
    unit_label VARCHAR NOT NULL,
    basis TEXT,
    note TEXT,
    PRIMARY KEY (item_code, fee_code)
);

CREATE SEQUENCE fee_notice_seq START 1;
CREATE TABLE fee_notices (
    notice_no VARCHAR PRIMARY KEY,
    case_id BIGINT NOT NULL,
    lines TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    issued_by BIGINT,
    due_on DATE NOT NULL,
    state VARCHAR NOT NULL,
    paid_at TIMESTAMP,
    paid_amount_fen BIGINT,
    receipt_no VARCHAR
);
CREATE INDEX fee_notices_case ON fee_notices (case_id);

CREATE SEQUENCE reconciliation_id_seq START 1;
CREATE TABLE fee_reconciliations (
    reconciliation_id BIGINT PRIMARY KEY DEFAULT nextval('reconciliation_id_seq'),
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    uploaded_by BIGINT,
    dept_code VARCHAR,
    rows_total INTEGER NOT NULL,
    rows_paid INTEGER NOT NULL,
    rows_already INTEGER NOT NULL,
    rows_refused INTEGER NOT NULL,
    report TEXT NOT NULL
);

CREATE INDEX cases_assigned ON cases (assigned_user_id);
CREATE INDEX cases_applicant_id ON cases (applicant_id_number);
