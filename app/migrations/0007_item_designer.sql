-- 0007: the item designer (事项管理) — who drafted an item version and when, its fees with their legal basis
-- (each fee: name, standard, basis), when it went to public comment, when it was withdrawn and why, a revision
-- number that guards a draft against a stale editor, and the public's comments on a version under comment
-- (公开征询意见).

ALTER TABLE items ADD COLUMN fees TEXT;
ALTER TABLE items ADD COLUMN created_by BIGINT;
ALTER TABLE items ADD COLUMN created_at TIMESTAMP;
ALTER TABLE items ADD COLUMN updated_at TIMESTAMP;
ALTER TABLE items ADD COLUMN comment_opened_at TIMESTAMP;
ALTER TABLE items ADD COLUMN withdrawn_at TIMESTAMP;
ALTER TABLE items ADD COLUMN withdraw_reason TEXT;
ALTER TABLE items ADD COLUMN revision INTEGER DEFAULT 1;
UPDATE items SET revision = 1 WHERE revision IS NULL;

CREATE SEQUENCE item_comment_id_seq START 1;
CREATE TABLE item_comments (
    comment_id BIGINT PRIMARY KEY DEFAULT nextval('item_comment_id_seq'),
    item_code VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    author_name VARCHAR,
    contact VARCHAR,
    client VARCHAR,
    user_id BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX item_comments_item ON item_comments (item_code, version);
