
CREATE TABLE login_failures (
    scope       TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key         TEXT NOT NULL,
    failures    INTEGER NOT NULL,
    last_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE site_questions (
    site_id         TEXT NOT NULL,
    field_code      TEXT NOT NULL,
    answer_item_id  INTEGER NOT NULL,
    first_day       TEXT NOT NULL,
    PRIMARY KEY (site_id, field_code, answer_item_id)
);
