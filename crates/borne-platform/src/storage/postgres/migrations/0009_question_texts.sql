-- What people read of a site's kiosk-only questions: the question's text (sent by kiosks from
-- contract 1.2) and each item's, its intention and the question's kind; filled as batches bring
-- them, so the console shows these questions beside JDMA's.
ALTER TABLE site_questions
    ADD COLUMN field_label text,
    ADD COLUMN answer_text text,
    ADD COLUMN intention text,
    ADD COLUMN kind text;
