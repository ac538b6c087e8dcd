-- 0006: 信息公开 — the policy and law library (政策法规) with its links to the items each document governs, and
-- consultations (咨询) beside complaints (投诉) in the complaints table: one tracking number each, the
-- responsible department, the contact of a submitter who did not sign in, who answered, and publication as Q&A.

CREATE SEQUENCE policy_doc_id_seq START 1;
CREATE TABLE policy_documents (
    doc_id BIGINT PRIMARY KEY DEFAULT nextval('policy_doc_id_seq'),
    title VARCHAR NOT NULL,
    doc_no VARCHAR,
    kind VARCHAR NOT NULL,
    issuer VARCHAR,
    issued_on DATE,
    effective_on DATE,
    status VARCHAR NOT NULL,
    repealed_on DATE,
    body TEXT,
    file_id BIGINT,
    source VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT,
    updated_at TIMESTAMP NOT NULL,
    updated_by BIGINT,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX policy_documents_title ON policy_documents (title);

CREATE TABLE policy_item_links (
    doc_id BIGINT NOT NULL,
    item_code VARCHAR NOT NULL,
    provision VARCHAR,
    linked_at TIMESTAMP NOT NULL,
    linked_by BIGINT,
    PRIMARY KEY (doc_id, item_code)
);
CREATE INDEX policy_item_links_item ON policy_item_links (item_code);

ALTER TABLE complaints ADD COLUMN kind VARCHAR DEFAULT 'complaint';
ALTER TABLE complaints ADD COLUMN tracking_no VARCHAR;
ALTER TABLE complaints ADD COLUMN dept_code VARCHAR;
ALTER TABLE complaints ADD COLUMN item_code VARCHAR;
ALTER TABLE complaints ADD COLUMN title VARCHAR;
ALTER TABLE complaints ADD COLUMN contact_name VARCHAR;
ALTER TABLE complaints ADD COLUMN contact_phone VARCHAR;
ALTER TABLE complaints ADD COLUMN answered_by BIGINT;
ALTER TABLE complaints ADD COLUMN published BOOLEAN DEFAULT FALSE;
ALTER TABLE complaints ADD COLUMN published_at TIMESTAMP;

-- Complaints filed before this version: a complaint, its case's department, and a tracking number of their own
-- (the random part keeps it unguessable like the new ones).
UPDATE complaints SET kind = 'complaint', published = FALSE,
    tracking_no = 'TS-' || CAST(complaint_id AS VARCHAR) || '-'
                  || UPPER(SUBSTR(MD5(CAST(RANDOM() AS VARCHAR) || CAST(complaint_id AS VARCHAR)), 1, 10));
UPDATE complaints SET dept_code = (SELECT cases.dept_code FROM cases WHERE cases.case_id = complaints.case_id)
    WHERE case_id IS NOT NULL;
-- No index on complaints: the table is small, and DuckDB refuses ALTER TABLE on a table with an index.
