-- The survey a network or a site publishes to its kiosks (contract 1.2, GET /v1/survey): every
-- version kept with who published it; a rollback withdraws the current one, and the one before
-- it is current again. A site's current version wins over its network's.
CREATE TABLE survey_versions (
    version          bigserial PRIMARY KEY,
    organisation_id  text REFERENCES organisations (id),
    site_id          text REFERENCES sites (id),
    body             text NOT NULL,
    author           text NOT NULL,
    published_at     timestamptz NOT NULL,
    withdrawn_at     timestamptz,
    withdrawn_by     text,
    CHECK ((organisation_id IS NULL) <> (site_id IS NULL))
);
CREATE INDEX survey_versions_organisation ON survey_versions (organisation_id, version) WHERE organisation_id IS NOT NULL;
CREATE INDEX survey_versions_site ON survey_versions (site_id, version) WHERE site_id IS NOT NULL;
-- What each kiosk says of it in its heartbeat: the version its screen runs, the last it refused.
ALTER TABLE heartbeats ADD COLUMN config_version bigint;
ALTER TABLE heartbeats ADD COLUMN config_refused_version bigint;
ALTER TABLE heartbeats ADD COLUMN config_refused_message text;
