-- Forwarding to « Je donne mon avis »: each kiosk's JDMA button, the outbox filled in each
-- batch's transaction for the sites bound to JDMA, and the create calls made (the limiter's count).
ALTER TABLE devices ADD COLUMN jdma_button bigint;
CREATE TABLE jdma_outbox (
    review_id          bigint PRIMARY KEY,
    review_created_at  timestamptz NOT NULL,
    device_id          text NOT NULL,
    site_id            text NOT NULL,
    client_review_id   uuid NOT NULL,
    state              text NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'unsure', 'forwarded', 'ambiguous', 'failed')),
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL,
    claimed_until      timestamptz,
    holder             text,
    tried_at           timestamptz,
    last_error         text,
    jdma_review_id     bigint,
    jdma_created_at    timestamptz,
    jdma_product       bigint,
    jdma_form          bigint,
    jdma_button        bigint,
    created_at         timestamptz NOT NULL,
    done_at            timestamptz
);
CREATE INDEX jdma_outbox_due ON jdma_outbox (next_attempt_at) WHERE state IN ('pending', 'unsure');
CREATE INDEX jdma_outbox_site ON jdma_outbox (site_id, state);
CREATE INDEX jdma_outbox_jdma_day ON jdma_outbox (jdma_form, jdma_created_at) WHERE state = 'forwarded';
CREATE TABLE jdma_calls (at timestamptz NOT NULL);
CREATE INDEX jdma_calls_at ON jdma_calls (at);
-- Each day, per bound form: the reviews JDMA counts (its open API) and those forwarded to it.
CREATE TABLE jdma_reconciliation (
    form_id     bigint NOT NULL,
    day         date NOT NULL,
    jdma        bigint NOT NULL,
    forwarded   bigint NOT NULL,
    checked_at  timestamptz NOT NULL,
    PRIMARY KEY (form_id, day)
);
-- Contract 1.2: a per-channel help answer names its contact_tried channel (JDMA's child answers).
ALTER TABLE answers ADD COLUMN parent_item integer;
-- The titles JDMA's export shows: the form's (« Nom du formulaire »), each kiosk's button's
-- (« Lien d'intégration »).
ALTER TABLE sites ADD COLUMN jdma_form_title text;
ALTER TABLE devices ADD COLUMN jdma_button_title text;
