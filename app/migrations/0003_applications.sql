-- 0003: what the applicant portal and window intake need — form fields per item version, stored files,
-- the material locker (一次采集，全程共享), materials provided for a case, and an idempotency key so that a
-- double click on submit files one case, not two.

CREATE TABLE item_form_fields (
    item_code VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    field_key VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    field_type VARCHAR NOT NULL,
    required BOOLEAN NOT NULL,
    applies_to VARCHAR NOT NULL,
    rule TEXT,
    choices TEXT,
    help TEXT,
    prefill VARCHAR,
    PRIMARY KEY (item_code, version, seq)
);

CREATE SEQUENCE file_id_seq START 1;
CREATE TABLE stored_files (
    file_id BIGINT PRIMARY KEY DEFAULT nextval('file_id_seq'),
    owner_user_id BIGINT,
    file_name VARCHAR NOT NULL,
    extension VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    storage_path VARCHAR NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    uploaded_by BIGINT
);

CREATE SEQUENCE locker_id_seq START 1;
CREATE TABLE locker_items (
    locker_id BIGINT PRIMARY KEY DEFAULT nextval('locker_id_seq'),
    owner_user_id BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    file_id BIGINT,
    source_case_id BIGINT,
    item_code VARCHAR,
    certificate_no VARCHAR,
    issued_on DATE,
    expires_on DATE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE case_materials (
    case_id BIGINT NOT NULL,
    material_seq INTEGER NOT NULL,
    round INTEGER NOT NULL,
    file_id BIGINT,
    locker_id BIGINT,
    provided_at TIMESTAMP NOT NULL,
    provided_by BIGINT,
    PRIMARY KEY (case_id, material_seq, round)
);

ALTER TABLE cases ADD COLUMN request_key VARCHAR;
ALTER TABLE users ADD COLUMN region_code VARCHAR;

CREATE UNIQUE INDEX cases_request_key ON cases (request_key);
CREATE INDEX case_materials_case ON case_materials (case_id);
CREATE INDEX locker_owner ON locker_items (owner_user_id);
