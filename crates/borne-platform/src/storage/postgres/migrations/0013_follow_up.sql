-- What managers do in the console: incidents seen and closed with a comment; comments marked
-- handled and tagged with their network's own themes.
ALTER TABLE incidents ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE incidents ADD COLUMN acknowledged_by text;
ALTER TABLE incidents ADD COLUMN closed_by text;
ALTER TABLE incidents ADD COLUMN note text;
CREATE TABLE comment_follow_up (
    review_id   bigint PRIMARY KEY,
    handled_by  text,
    handled_at  timestamptz,
    tags        text NOT NULL DEFAULT ''
);
ALTER TABLE organisations ADD COLUMN themes text NOT NULL DEFAULT '';
