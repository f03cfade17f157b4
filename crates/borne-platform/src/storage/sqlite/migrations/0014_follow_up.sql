-- What managers do in the console: incidents seen and closed with a comment; comments marked
-- handled and tagged with their network's own themes.
ALTER TABLE incidents ADD COLUMN acknowledged_at_ms INTEGER;
ALTER TABLE incidents ADD COLUMN acknowledged_by TEXT;
ALTER TABLE incidents ADD COLUMN closed_by TEXT;
ALTER TABLE incidents ADD COLUMN note TEXT;
CREATE TABLE comment_follow_up (
    review_id      INTEGER PRIMARY KEY,
    handled_by     TEXT,
    handled_at_ms  INTEGER,
    tags           TEXT NOT NULL DEFAULT ''
);
ALTER TABLE organisations ADD COLUMN themes TEXT NOT NULL DEFAULT '';
