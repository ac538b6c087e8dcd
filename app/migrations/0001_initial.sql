-- 0001 initial schema: reference data, people and sessions, cases and their append-only events.
-- Portable SQL: runs unchanged on DuckDB and PostgreSQL (explicit sequences, no identity columns).
-- Times are naive Asia/Shanghai local time (see app/timeutil.py). Lists are stored as JSON text.

CREATE TABLE regions (
    code VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    level INTEGER NOT NULL,
    level_name VARCHAR NOT NULL,
    parent_code VARCHAR
);

CREATE TABLE departments (
    dept_code VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    short_name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    note TEXT
);

CREATE TABLE coordinating_bodies (
    code VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    role TEXT NOT NULL,
    successor_today TEXT,
    note TEXT
);

CREATE TABLE org_units (
    unit_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    dept_code VARCHAR,
    region_code VARCHAR NOT NULL,
    parent_unit_id VARCHAR
);

CREATE TABLE service_windows (
    window_id VARCHAR PRIMARY KEY,
    unit_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    region_code VARCHAR NOT NULL
);

CREATE TABLE items (
    item_code VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    dept_code VARCHAR NOT NULL,
    co_dept_codes TEXT NOT NULL,
    handling_levels TEXT NOT NULL,
    statutory_limit INTEGER NOT NULL,
    statutory_unit VARCHAR NOT NULL,
    promised_days INTEGER NOT NULL,
    immediate BOOLEAN NOT NULL,
    basis TEXT,
    conditions TEXT,
    fee_text TEXT,
    charges_fee BOOLEAN NOT NULL,
    result_name VARCHAR,
    online_batch INTEGER NOT NULL,
    source VARCHAR,
    note TEXT,
    status VARCHAR NOT NULL,
    is_current BOOLEAN NOT NULL,
    published_at TIMESTAMP,
    PRIMARY KEY (item_code, version)
);

CREATE TABLE item_materials (
    item_code VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    required BOOLEAN NOT NULL,
    original_or_copy VARCHAR,
    formats TEXT NOT NULL,
    reuse_certificate VARCHAR,
    reuse_item_code VARCHAR,
    note TEXT,
    PRIMARY KEY (item_code, version, seq)
);

CREATE TABLE holidays (
    day DATE PRIMARY KEY,
    name VARCHAR NOT NULL,
    is_off_day BOOLEAN NOT NULL,
    year INTEGER NOT NULL
);

CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    official BOOLEAN NOT NULL,
    source TEXT,
    loaded_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE user_id_seq START 1;
CREATE TABLE users (
    user_id BIGINT PRIMARY KEY DEFAULT nextval('user_id_seq'),
    username VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR NOT NULL,
    display_name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    unit_id VARCHAR,
    id_kind VARCHAR,
    id_number VARCHAR,
    phone VARCHAR,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

-- A sign-in. The Streamlit session keeps session_id in server memory; the browser's HttpOnly cookie holds a
-- token whose hash is token_hash (set once, when the browser redeems its one-time ticket).
CREATE TABLE sessions (
    session_id VARCHAR PRIMARY KEY,
    token_hash VARCHAR,
    user_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE login_tickets (
    ticket_hash VARCHAR PRIMARY KEY,
    session_id VARCHAR NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- Case numbers come from this sequence so that they are unique across app servers and never reused.
CREATE SEQUENCE case_no_seq START 1;
CREATE SEQUENCE case_id_seq START 1;
CREATE TABLE cases (
    case_id BIGINT PRIMARY KEY DEFAULT nextval('case_id_seq'),
    case_no VARCHAR NOT NULL UNIQUE,
    item_code VARCHAR NOT NULL,
    item_version INTEGER NOT NULL,
    dept_code VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    region_code VARCHAR NOT NULL,
    window_id VARCHAR,
    channel VARCHAR NOT NULL,
    applicant_user_id BIGINT,
    applicant_name VARCHAR NOT NULL,
    applicant_id_kind VARCHAR NOT NULL,
    applicant_id_number VARCHAR NOT NULL,
    agent_user_id BIGINT,
    state VARCHAR NOT NULL,
    form_data TEXT,
    promised_days INTEGER NOT NULL,
    statutory_limit INTEGER NOT NULL,
    statutory_unit VARCHAR NOT NULL,
    extension_days INTEGER NOT NULL DEFAULT 0,
    clock_start DATE,
    promised_due DATE,
    statutory_due DATE,
    clock_stopped BOOLEAN NOT NULL DEFAULT FALSE,
    supplement_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    submitted_at TIMESTAMP,
    accepted_at TIMESTAMP,
    decided_at TIMESTAMP,
    completed_at TIMESTAMP,
    closed_at TIMESTAMP,
    result_no VARCHAR,
    source_system VARCHAR,
    legacy_no VARCHAR,
    version INTEGER NOT NULL DEFAULT 1,
    updated_at TIMESTAMP NOT NULL
);

-- Append-only: one row per transition, chained per case by hash (prev_hash -> hash).
CREATE SEQUENCE event_id_seq START 1;
CREATE TABLE case_events (
    event_id BIGINT PRIMARY KEY DEFAULT nextval('event_id_seq'),
    case_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id BIGINT,
    actor_role VARCHAR NOT NULL,
    actor_unit_id VARCHAR,
    action VARCHAR NOT NULL,
    from_state VARCHAR,
    to_state VARCHAR NOT NULL,
    comment TEXT,
    payload TEXT,
    prev_hash VARCHAR,
    hash VARCHAR NOT NULL
);

-- A clock stop (supplement or special procedure); the clock does not run on days (started_on, ended_on].
CREATE TABLE clock_stops (
    case_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    started_on DATE NOT NULL,
    ended_on DATE,
    reason TEXT,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE ratings (
    case_id BIGINT PRIMARY KEY,
    level INTEGER NOT NULL,
    comment TEXT,
    rated_at TIMESTAMP NOT NULL,
    user_id BIGINT
);

CREATE SEQUENCE complaint_id_seq START 1;
CREATE TABLE complaints (
    complaint_id BIGINT PRIMARY KEY DEFAULT nextval('complaint_id_seq'),
    case_id BIGINT,
    user_id BIGINT,
    content TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    due_on DATE NOT NULL,
    answered_at TIMESTAMP,
    answer TEXT
);

CREATE INDEX case_events_case ON case_events (case_id);
CREATE INDEX cases_applicant ON cases (applicant_user_id);
CREATE INDEX cases_dept_state ON cases (dept_code, state);
