//! `[survey]`: validated by the rules the platform shares (`borne_model::survey_file`).

pub use borne_model::survey_file::{default_follow_ups, validate_survey};
