-- System updates rolled out in rings (contract 1.2, GET /v1/update): the releases a network may
-- install (signed RAUC bundles on its own server, known here by address, digest and size), each
-- rollout of one to a network or a site, and the ring each of its kiosks was put in when it began.
CREATE TABLE releases (
    version     TEXT PRIMARY KEY,
    bundle_url  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL CHECK (size > 0),
    added_by    TEXT NOT NULL,
    added_at_ms INTEGER NOT NULL
);
CREATE TABLE rollouts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id  TEXT REFERENCES organisations (id),
    site_id          TEXT REFERENCES sites (id),
    version          TEXT NOT NULL REFERENCES releases (version),
    rings            TEXT NOT NULL,
    wait_s           INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('running', 'halted', 'done', 'stopped')),
    ring             INTEGER NOT NULL,
    ring_started_at_ms INTEGER NOT NULL,
    started_by       TEXT NOT NULL,
    started_at_ms    INTEGER NOT NULL,
    ended_at_ms      INTEGER,
    reason           TEXT,
    CHECK ((organisation_id IS NULL) <> (site_id IS NULL))
);
CREATE TABLE rollout_devices (
    rollout_id  INTEGER NOT NULL REFERENCES rollouts (id),
    device_id   TEXT NOT NULL REFERENCES devices (id),
    ring        INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, device_id)
);
CREATE INDEX rollout_devices_device ON rollout_devices (device_id);
-- What each kiosk of the image says of its system in its heartbeat.
ALTER TABLE heartbeats ADD COLUMN system_version TEXT;
ALTER TABLE heartbeats ADD COLUMN system_pending TEXT;
ALTER TABLE heartbeats ADD COLUMN system_rejected TEXT;
