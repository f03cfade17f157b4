-- Forwarding to « Je donne mon avis »: each kiosk's JDMA button, the outbox filled in each
-- batch's transaction for the sites bound to JDMA, and the create calls made (the limiter's count).
ALTER TABLE devices ADD COLUMN jdma_button INTEGER;
CREATE TABLE jdma_outbox (
    review_id          INTEGER PRIMARY KEY,
    device_id          TEXT NOT NULL,
    site_id            TEXT NOT NULL,
    client_review_id   TEXT NOT NULL,
    state              TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'unsure', 'forwarded', 'ambiguous', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    claimed_until_ms   INTEGER,
    holder             TEXT,
    tried_at_ms        INTEGER,
    last_error         TEXT,
    jdma_review_id     INTEGER,
    jdma_created_at_ms INTEGER,
    jdma_product       INTEGER,
    jdma_form          INTEGER,
    jdma_button        INTEGER,
    created_at_ms      INTEGER NOT NULL,
    done_at_ms         INTEGER
);
CREATE INDEX jdma_outbox_due ON jdma_outbox (next_attempt_at_ms) WHERE state IN ('pending', 'unsure');
CREATE INDEX jdma_outbox_site ON jdma_outbox (site_id, state);
CREATE TABLE jdma_calls (at_ms INTEGER NOT NULL);
CREATE INDEX jdma_calls_at ON jdma_calls (at_ms);
-- Each day, per bound form: the reviews JDMA counts (its open API) and those forwarded to it.
CREATE TABLE jdma_reconciliation (
    form_id        INTEGER NOT NULL,
    day            TEXT NOT NULL,
    jdma           INTEGER NOT NULL,
    forwarded      INTEGER NOT NULL,
    checked_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (form_id, day)
);
-- Contract 1.2: a per-channel help answer names its contact_tried channel (JDMA's child answers).
ALTER TABLE answers ADD COLUMN parent_item INTEGER;
-- The titles JDMA's export shows: the form's (« Nom du formulaire »), each kiosk's button's
-- (« Lien d'intégration »).
ALTER TABLE sites ADD COLUMN jdma_form_title TEXT;
ALTER TABLE devices ADD COLUMN jdma_button_title TEXT;
