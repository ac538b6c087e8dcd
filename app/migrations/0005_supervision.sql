-- 0005: electronic supervision records — alarms raised and cleared by the rules, yellow/red cards issued by
-- supervisors, and the follow-up of every bad review (差评回访整改).

CREATE SEQUENCE alarm_id_seq START 1;
CREATE TABLE alarms (
    alarm_id BIGINT PRIMARY KEY DEFAULT nextval('alarm_id_seq'),
    rule VARCHAR NOT NULL,
    subject_key VARCHAR NOT NULL,
    case_id BIGINT,
    dept_code VARCHAR,
    unit_id VARCHAR,
    region_code VARCHAR,
    officer_user_id BIGINT,
    detail TEXT,
    raised_at TIMESTAMP NOT NULL,
    cleared_at TIMESTAMP
);
CREATE INDEX alarms_subject ON alarms (subject_key);
CREATE INDEX alarms_dept ON alarms (dept_code);

CREATE SEQUENCE card_id_seq START 1;
CREATE TABLE cards (
    card_id BIGINT PRIMARY KEY DEFAULT nextval('card_id_seq'),
    color VARCHAR NOT NULL,
    dept_code VARCHAR NOT NULL,
    officer_user_id BIGINT,
    case_id BIGINT,
    reason TEXT NOT NULL,
    issued_by BIGINT,
    issued_at TIMESTAMP NOT NULL
);

CREATE TABLE review_followups (
    case_id BIGINT PRIMARY KEY,
    dept_code VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    region_code VARCHAR NOT NULL,
    level INTEGER NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    due_on DATE NOT NULL,
    state VARCHAR NOT NULL,
    verification TEXT,
    rectification TEXT,
    answer TEXT,
    handled_at TIMESTAMP,
    handled_by BIGINT,
    published BOOLEAN NOT NULL DEFAULT FALSE
);
