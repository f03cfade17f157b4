//! CSV cells a spreadsheet opens as text: a cell that starts with `=`, `+`, `-`, `@`, a tab
//! or a carriage return is run as a formula by Excel and LibreOffice (CSV injection). Every
//! text a person or a kiosk wrote (comments, answers, names, ids, versions) goes through
//! [`text_cell`] in every CSV Borne writes; numbers and dates Borne formats itself do not.

/// `text` as a CSV cell that no spreadsheet runs: prefixed with an apostrophe (shown by none,
/// and making the cell text) when it would start a formula.
pub fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_the_rest_is_untouched() {
        assert_eq!(text_cell("=HYPERLINK(\"http://x\";\"clic\")"), "'=HYPERLINK(\"http://x\";\"clic\")");
        for start in ["+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(text_cell(start).starts_with('\''), "{start:?}");
        }
        assert_eq!(text_cell("Très bien"), "Très bien");
        assert_eq!(text_cell("a=b"), "a=b");
        assert_eq!(text_cell(""), "");
    }
}
