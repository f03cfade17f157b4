-- The survey a network or a site publishes to its kiosks (contract 1.2, GET /v1/survey): every
-- version kept with who published it; a rollback withdraws the current one, and the one before
-- it is current again. A site's current version wins over its network's.
CREATE TABLE survey_versions (
    version          INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id  TEXT REFERENCES organisations (id),
    site_id          TEXT REFERENCES sites (id),
    body             TEXT NOT NULL,
    author           TEXT NOT NULL,
    published_at_ms  INTEGER NOT NULL,
    withdrawn_at_ms  INTEGER,
    withdrawn_by     TEXT,
    CHECK ((organisation_id IS NULL) <> (site_id IS NULL))
);
CREATE INDEX survey_versions_organisation ON survey_versions (organisation_id, version) WHERE organisation_id IS NOT NULL;
CREATE INDEX survey_versions_site ON survey_versions (site_id, version) WHERE site_id IS NOT NULL;
-- What each kiosk says of it in its heartbeat: the version its screen runs, the last it refused.
ALTER TABLE heartbeats ADD COLUMN config_version INTEGER;
ALTER TABLE heartbeats ADD COLUMN config_refused_version INTEGER;
ALTER TABLE heartbeats ADD COLUMN config_refused_message TEXT;
