-- 0002: a log for actions that are not case transitions (sign-in, accounts, seeding), and the stored
-- warning level of each case so that queues can sort by urgency without recomputing every clock.

CREATE SEQUENCE audit_id_seq START 1;
CREATE TABLE audit_log (
    audit_id BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    occurred_at TIMESTAMP NOT NULL,
    user_id BIGINT,
    username VARCHAR,
    action VARCHAR NOT NULL,
    detail TEXT
);

ALTER TABLE cases ADD COLUMN warning_level VARCHAR DEFAULT 'green';
