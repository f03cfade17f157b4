
CREATE TABLE login_failures (
    scope     text NOT NULL CHECK (scope IN ('account', 'address')),
    key       text NOT NULL,
    failures  integer NOT NULL,
    last_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE site_questions (
    site_id         text NOT NULL,
    field_code      text NOT NULL,
    answer_item_id  bigint NOT NULL,
    first_day       date NOT NULL,
    PRIMARY KEY (site_id, field_code, answer_item_id)
);
