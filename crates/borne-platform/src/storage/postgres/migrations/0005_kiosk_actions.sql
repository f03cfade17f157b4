
CREATE TABLE device_actions (
    device_id    text NOT NULL,
    action_id    uuid NOT NULL,
    text         text NOT NULL,
    done_on      date NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (device_id, action_id)
);
