//! Comment hygiene: normalisation, and redaction of personal data before anything reaches the
//! disk. JDMA does no server-side redaction, so the kiosk is the only place it can happen.
//!
//! Invariant: `clean_comment` is applied to every comment before it is stored; the store never
//! sees raw visitor text.

use regex::{Captures, Regex};
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

pub const EMAIL: &str = "[courriel]";
pub const PHONE: &str = "[téléphone]";
pub const NIR: &str = "[n° de sécurité sociale]";
pub const IBAN: &str = "[IBAN]";
pub const CARD: &str = "[carte bancaire]";
pub const REFERENCE: &str = "[référence]";

/// NFC-normalises, drops control characters (newlines kept, CRLF folded), trims.
/// Length is checked on this text, before redaction (placeholders may be longer than what they
/// replace, and the visitor's counter counts what they typed).
pub fn normalise(text: &str) -> String {
    let nfc: String = text.replace("\r\n", "\n").replace('\r', "\n").nfc().collect();
    let kept: String = nfc
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|c| *c == '\n' || !c.is_control())
        .filter(|c| !is_invisible_format(*c))
        .collect();
    kept.trim().to_string()
}

/// Bidirectional overrides and zero-width characters hide text from a reader.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Normalises then redacts: what the store may keep.
pub fn clean_comment(text: &str) -> String {
    redact(&normalise(text))
}

static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[\p{L}\p{N}._%+\-]+\s?(?:@|\(at\)|\[at\])\s?[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.[a-z]{2,}")
        .expect("static regex")
});

// IBAN: two letters, two check digits, then 11 to 30 alphanumerics, optionally in groups of 4.
static IBAN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[a-z]{2}\d{2}(?:[ \-]?[a-z0-9]){11,30}\b").expect("static regex"));

// 13 to 19 digits, optionally grouped by spaces or dashes: checked with Luhn.
static CARD_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d(?:[ \-]?\d){12,18}\b").expect("static regex"));

// NIR: sex, year, month, department (2A/2B for Corsica), commune, order, then the 2-digit key.
static NIR_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b[1-478][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2a|2b)[ .]?\d{3}[ .]?\d{3}(?:[ .]?\d{2})?\b",
    )
    .expect("static regex")
});

// French numbers (0X XX XX XX XX, +33 X XX…, 0033…) and international ones (+CC then 6 to 14
// digits, in groups).
static PHONE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?:(?:\+|00)33[\s.\-]?(?:\(0\)[\s.\-]?)?[1-9]|\b0[1-9])(?:[\s.\-]?\d{2}){4}\b
        |
        (?:\+|\b00)[1-9]\d{0,2}(?:[\s.\-]?\(?\d{1,4}\)?){2,6}\b
        ",
    )
    .expect("static regex")
});

// A reference introduced by a word that says so: « dossier n° 2024-123456 », « numéro
// allocataire 1234567 », « réf. AB12345 ». The value must contain at least 4 digits.
static KEYWORD_REFERENCE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?P<lead>\b(?:dossier|r[ée]f[ée]rence|r[ée]f\.?|num[ée]ro|n[°o]\.?|no\.?|matricule|allocataire|identifiant|id|ticket|contrat|passeport|carte\s+vitale|client)
           (?:\s+(?:de|du|d'|d’|n[°o]\.?|num[ée]ro|allocataire|dossier|fiscal|client))*\s*[:\#]?\s*)
        (?P<value>[a-z0-9]*\d[a-z0-9]*(?:[\-/.][a-z0-9]+)*)",
    )
    .expect("static regex")
});

// Bare identifiers: runs of 7 or more digits, or letters mixed with 5 or more digits (e.g. a
// France Travail identifier « 1234567A », a tax number, a passport number « 12AB34567 »).
static BARE_REFERENCE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:\d{7,}[a-z]?|[a-z]{1,3}\d{6,}|\d{2}[a-z]{2}\d{5})\b").expect("static regex")
});

/// Replaces personal data by visible placeholders. Order matters: the most specific formats are
/// tried first, so that an IBAN is not taken for a phone number.
/// Compiles every pattern now, so the first visitor's commit does not pay for it.
pub fn warm_up() {
    for re in [&EMAIL_RE, &IBAN_RE, &CARD_RE, &NIR_RE, &PHONE_RE, &KEYWORD_REFERENCE_RE, &BARE_REFERENCE_RE] {
        LazyLock::force(re);
    }
}

pub fn redact(text: &str) -> String {
    let text = EMAIL_RE.replace_all(text, EMAIL);
    let text = IBAN_RE.replace_all(&text, |c: &Captures| redact_valid_prefix(&c[0], IBAN, iban_is_valid));
    let text = CARD_RE.replace_all(&text, |c: &Captures| {
        redact_valid_prefix(&c[0], CARD, |m| luhn_is_valid(m) && !looks_like_french_phone(m))
    });
    let text = NIR_RE.replace_all(&text, |c: &Captures| {
        let m = &c[0];
        let digits = m.chars().filter(|c| c.is_ascii_alphanumeric()).count();
        if digits >= 13 { NIR.to_string() } else { m.to_string() }
    });
    let text = PHONE_RE.replace_all(&text, PHONE);
    let text = KEYWORD_REFERENCE_RE.replace_all(&text, |c: &Captures| {
        let value = &c["value"];
        if value.chars().filter(|c| c.is_ascii_digit()).count() >= 4 && !is_placeholder_context(value) {
            format!("{}{}", &c["lead"], REFERENCE)
        } else {
            c[0].to_string()
        }
    });
    let text = BARE_REFERENCE_RE.replace_all(&text, REFERENCE);
    text.into_owned()
}

/// A greedy match may run into the next word or number ("… 7654 32 merci"): redact the longest
/// run of its space-separated groups that passes the checksum, and keep the rest.
fn redact_valid_prefix(matched: &str, placeholder: &str, valid: impl Fn(&str) -> bool) -> String {
    let cuts: Vec<usize> = matched
        .char_indices()
        .filter(|(_, c)| *c == ' ' || *c == '-')
        .map(|(i, _)| i)
        .chain(std::iter::once(matched.len()))
        .collect();
    for &end in cuts.iter().rev() {
        if valid(&matched[..end]) {
            return format!("{placeholder}{}", &matched[end..]);
        }
    }
    matched.to_string()
}

fn is_placeholder_context(value: &str) -> bool {
    value.starts_with('[')
}

fn looks_like_french_phone(candidate: &str) -> bool {
    let digits: String = candidate.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.len() == 10 && digits.starts_with('0')
}

/// The Luhn checksum of payment card numbers.
pub fn luhn_is_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1.
pub fn iban_is_valid(candidate: &str) -> bool {
    let compact: Vec<char> =
        candidate.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = compact[4..].iter().chain(compact[..4].iter());
    let mut remainder: u32 = 0;
    for c in rearranged {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, expected output). Positive examples must lose their personal data; negative
    /// ones (dates, prices, hours, postal codes, rooms) must come out unchanged.
    const CASES: &[(&str, &str)] = &[
        // E-mail addresses
        ("écrivez-moi à jean.dupont@gmail.com svp", "écrivez-moi à [courriel] svp"),
        ("MARIE_L+caf@orange.fr", "[courriel]"),
        ("contact : a.b-c@sous.domaine.gouv.fr.", "contact : [courriel]."),
        ("mon mail françoise.élise@laposte.net", "mon mail [courriel]"),
        ("pierre (at) free.fr", "[courriel]"),
        ("j.martin@wanadoo.fr et k@x.io", "[courriel] et [courriel]"),
        // French phone numbers
        ("appelez le 06 12 34 56 78", "appelez le [téléphone]"),
        ("tel 0612345678 merci", "tel [téléphone] merci"),
        ("+33 6 12 34 56 78", "[téléphone]"),
        ("+33612345678", "[téléphone]"),
        ("0033 1 45 67 89 10", "[téléphone]"),
        ("01.45.67.89.10", "[téléphone]"),
        ("07-81-22-33-44 le soir", "[téléphone] le soir"),
        ("+33 (0)2 99 12 34 56", "[téléphone]"),
        // International phone numbers
        ("mon fils au +44 20 7946 0958", "mon fils au [téléphone]"),
        ("+1 (415) 555-0132", "[téléphone]"),
        ("+212 612-345678", "[téléphone]"),
        ("+49 30 12345678", "[téléphone]"),
        ("0049 151 23456789", "[téléphone]"),
        // NIR (social security numbers), with key
        ("mon numéro de sécu 1 84 12 76 451 089 46", "mon numéro de sécu [n° de sécurité sociale]"),
        ("184127645108946", "[n° de sécurité sociale]"),
        ("2 90 05 2A 004 123 17", "[n° de sécurité sociale]"),
        ("NIR 2.69.05.49.588.157.80", "NIR [n° de sécurité sociale]"),
        ("sécu: 1 95 03 75 115 042", "sécu: [n° de sécurité sociale]"),
        // IBANs (valid checksums)
        ("IBAN FR76 3000 6000 0112 3456 7890 189", "IBAN [IBAN]"),
        ("FR7630006000011234567890189", "[IBAN]"),
        ("rib: DE89 3704 0044 0532 0130 00", "rib: [IBAN]"),
        ("GB82 WEST 1234 5698 7654 32 merci", "[IBAN] merci"),
        ("fr76 3000 6000 0112 3456 7890 189", "[IBAN]"),
        // Payment cards (Luhn-valid)
        ("ma carte 4970 1012 3456 7893 a été avalée", "ma carte [carte bancaire] a été avalée"),
        ("5555555555554444", "[carte bancaire]"),
        ("carte 4111-1111-1111-1111", "carte [carte bancaire]"),
        ("378282246310005", "[carte bancaire]"),
        // File and reference numbers
        ("dossier n° 2024-123456 toujours bloqué", "dossier n° [référence] toujours bloqué"),
        ("mon numéro allocataire 1234567", "mon numéro allocataire [référence]"),
        ("réf. AB12345", "réf. [référence]"),
        ("référence : 2023/45/6789", "référence : [référence]"),
        ("identifiant 1234567A", "identifiant [référence]"),
        ("numéro fiscal 0123456789123", "numéro fiscal [référence]"),
        ("passeport 12AB34567", "passeport [référence]"),
        ("ticket #A1234", "ticket #[référence]"),
        ("le dossier 98765432 est perdu", "le dossier [référence] est perdu"),
        ("n°: 7788990", "n°: [référence]"),
        ("j'attends depuis 3 mois pour 20241234567", "j'attends depuis 3 mois pour [référence]"),
        // Negative: must survive
        ("rendez-vous le 12/03/2024 à 14h30", "rendez-vous le 12/03/2024 à 14h30"),
        ("le 3 mars 2025, accueil parfait", "le 3 mars 2025, accueil parfait"),
        ("ouvert de 8h30 à 12h et de 13h30 à 17h", "ouvert de 8h30 à 12h et de 13h30 à 17h"),
        ("09:00-17:30 du lundi au vendredi", "09:00-17:30 du lundi au vendredi"),
        ("timbre fiscal à 86 €, trop cher", "timbre fiscal à 86 €, trop cher"),
        ("1 250,00 € de frais", "1 250,00 € de frais"),
        ("prix 12.50€", "prix 12.50€"),
        ("je viens de 61000 Alençon", "je viens de 61000 Alençon"),
        ("code postal 75015 Paris", "code postal 75015 Paris"),
        ("bureau 3B, salle 12, 2e étage", "bureau 3B, salle 12, 2e étage"),
        ("guichet n° 4 très lent", "guichet n° 4 très lent"),
        ("attente 45 minutes, ticket 127", "attente 45 minutes, ticket 127"),
        ("porte 204", "porte 204"),
        ("En 2024, 3 visites", "En 2024, 3 visites"),
        ("de 2019 à 2024", "de 2019 à 2024"),
        ("note 10/10", "note 10/10"),
        ("Très bien accueilli, merci !", "Très bien accueilli, merci !"),
        ("appeler le 3949 ne sert à rien", "appeler le 3949 ne sert à rien"),
        ("formulaire cerfa 12100*02", "formulaire cerfa 12100*02"),
        ("bus ligne 42 arrêt mairie", "bus ligne 42 arrêt mairie"),
        ("50% de réduction", "50% de réduction"),
        ("1er étage, ascenseur en panne", "1er étage, ascenseur en panne"),
        ("FR est ma langue", "FR est ma langue"),
        ("une carte de 1234 5678 9012 3456 invalide", "une carte de 1234 5678 9012 3456 invalide"),
        ("@ la mairie", "@ la mairie"),
    ];

    #[test]
    fn redaction_table() {
        assert!(CASES.len() >= 60, "the table holds {} cases", CASES.len());
        let mut failures = Vec::new();
        for (input, expected) in CASES {
            let got = redact(input);
            if got != *expected {
                failures.push(format!("{input:?}\n   got      {got:?}\n   expected {expected:?}"));
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn normalisation() {
        // Decomposed « é » (e + combining acute) becomes one code point.
        assert_eq!(normalise("  cafe\u{301}\t\u{7}ok \r\nligne 2\u{202E}  "), "café ok \nligne 2");
        assert_eq!(normalise("\n\n"), "");
        assert_eq!(clean_comment("  appelez le 0612345678 \u{0}"), "appelez le [téléphone]");
    }

    #[test]
    fn checksums() {
        assert!(luhn_is_valid("4111 1111 1111 1111"));
        assert!(!luhn_is_valid("4111 1111 1111 1112"));
        assert!(iban_is_valid("FR76 3000 6000 0112 3456 7890 189"));
        assert!(!iban_is_valid("FR76 3000 6000 0112 3456 7890 188"));
    }
}
