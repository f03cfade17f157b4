
CREATE TABLE device_actions (
    device_id       TEXT NOT NULL,
    action_id       TEXT NOT NULL,
    text            TEXT NOT NULL,
    done_on         TEXT NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (device_id, action_id)
);
