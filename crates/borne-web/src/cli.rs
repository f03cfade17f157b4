//! The command lines of both programs in French: clap's own words (usage, commands, help and
//! version flags, errors) said as a French operator reads them. Each program keeps its
//! commands; this only dresses clap.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

/// `C` parsed from the process's arguments; on a mistake, a French message on standard error
/// and exit status 2 (help and version: printed, status 0).
pub fn parse<C: CommandFactory + FromArgMatches>() -> C {
    match parse_from::<C>(std::env::args_os()) {
        Ok(cli) => cli,
        Err((text, code)) => {
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            std::process::exit(code);
        }
    }
}

/// The same over given arguments: the parsed command, or the text to show and the exit status.
pub fn parse_from<C: CommandFactory + FromArgMatches>(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<C, (String, i32)> {
    let mut command = french(C::command());
    let matches = command.try_get_matches_from_mut(args).map_err(|e| render(e, &mut command))?;
    C::from_arg_matches(&matches).map_err(|e| render(e, &mut command))
}

/// Every (sub)command with French headings and help and version flags.
pub fn french(command: Command) -> Command {
    let versioned = command.get_version().is_some();
    let mut command = command
        .help_template("{before-help}{about-with-newline}\nUtilisation : {usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("Commandes")
        .subcommand_value_name("COMMANDE")
        .disable_help_subcommand(true)
        .disable_help_flag(true)
        .arg(Arg::new("help").short('h').long("help").action(ArgAction::Help).help("Affiche l'aide").global(true));
    if versioned {
        command = command
            .disable_version_flag(true)
            .arg(Arg::new("version").short('V').long("version").action(ArgAction::Version).help("Affiche la version"));
    }
    // Value names clap makes from field names, in French.
    let ids: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        command = command.mut_arg(&id, |arg| {
            let derived = arg
                .get_value_names()
                .is_none_or(|names| names.len() == 1 && names[0].as_str().eq_ignore_ascii_case(arg.get_id().as_str()));
            let arg = match value_name(arg.get_id().as_str()) {
                Some(name) if derived && arg.get_action().takes_values() => arg.value_name(name),
                _ => arg,
            };
            // clap's « [default: …] [possible values: …] », said in French in the help line.
            if !arg.get_action().takes_values() || arg.is_hide_set() {
                return arg;
            }
            let defaults: Vec<String> =
                arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            let possible: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if !possible.is_empty() {
                help = format!("{help} [valeurs : {}]", possible.join(", "));
            }
            if !defaults.is_empty() {
                help = format!("{help} [par défaut : {}]", defaults.join(", "));
            }
            arg.help(help.trim().to_string()).hide_default_value(true).hide_possible_values(true)
        });
    }
    let names: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        command = command.mut_subcommand(name, french);
    }
    command
}

/// The French value name of an argument clap would name after its field.
fn value_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "name" => "NOM",
        "site_id" | "site" => "SITE",
        "device_id" => "BORNE",
        "product_id" | "form_id" | "button_id" | "jdma_form" | "jdma_button" => "ID",
        "email" => "ADRESSE",
        "org" | "organisation" => "ORGANISATION",
        "config" | "db" | "output" | "tokens" | "audit_log" => "FICHIER",
        "database_url" => "ADRESSE",
        "data_dir" => "DOSSIER",
        "since" | "from" => "DEBUT",
        "until" | "to" => "FIN",
        "format" => "FORMAT",
        "role" => "ROLE",
        "every" => "RYTHME",
        "limit" | "days" => "NOMBRE",
        "time_zone" => "FUSEAU",
        "listen" => "ADRESSE:PORT",
        "jdma_form_title" | "jdma_button_title" => "TITRE",
        _ => return None,
    })
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
        ContextValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn render(e: clap::Error, command: &mut Command) -> (String, i32) {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => return (e.render().to_string(), 0),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => return (e.render().to_string(), 2),
        _ => {}
    }
    let arg = context(&e, ContextKind::InvalidArg).unwrap_or_default();
    let value = context(&e, ContextKind::InvalidValue).unwrap_or_default();
    let message = match e.kind() {
        ErrorKind::MissingRequiredArgument => format!("il manque : {arg}"),
        ErrorKind::MissingSubcommand => "il manque la commande".to_string(),
        ErrorKind::InvalidSubcommand => format!("commande inconnue : « {value} »"),
        ErrorKind::UnknownArgument => format!("option inconnue : « {arg} »"),
        ErrorKind::ArgumentConflict => {
            let other = context(&e, ContextKind::PriorArg).unwrap_or_default();
            format!("{arg} et {other} ne vont pas ensemble")
        }
        ErrorKind::InvalidValue => {
            let valid =
                context(&e, ContextKind::ValidValue).map(|v| format!(" (valeurs possibles : {v})")).unwrap_or_default();
            if value.is_empty() {
                format!("{arg} attend une valeur{valid}")
            } else {
                format!("valeur « {value} » refusée pour {arg}{valid}")
            }
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
            format!("valeur « {value} » refusée pour {arg} : {why}")
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            format!("trop de valeurs pour {arg} : « {value} »")
        }
        ErrorKind::NoEquals | ErrorKind::TooFewValues => format!("{arg} mal donné"),
        ErrorKind::InvalidUtf8 => "un argument n'est pas du texte UTF-8".to_string(),
        _ => e.render().to_string().trim_start_matches("error: ").trim().to_string(),
    };
    let usage = context(&e, ContextKind::Usage).unwrap_or_else(|| command.render_usage().to_string());
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    (format!("erreur : {message}\n\nUtilisation : {usage}\nPour en savoir plus : --help\n"), 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Un petit programme.
    #[derive(Debug, Parser)]
    #[command(name = "essai", version)]
    struct Essai {
        /// Le site
        site: String,
        /// Un nombre de 1 à 9
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=9))]
        nombre: Option<u8>,
        #[arg(long, conflicts_with = "nombre")]
        tout: bool,
        /// Le format
        #[arg(long, default_value = "csv")]
        format: String,
    }

    fn run(args: &[&str]) -> Result<Essai, (String, i32)> {
        parse_from::<Essai>(std::iter::once("essai").chain(args.iter().copied()).map(Into::into))
    }

    #[test]
    fn clap_speaks_french() {
        let (help, code) = run(&["--help"]).unwrap_err();
        assert_eq!(code, 0);
        assert!(help.contains("Utilisation : essai [OPTIONS] <SITE>") && help.contains("Affiche l'aide"), "{help}");
        assert!(!help.contains("Usage") && !help.contains("Print help"), "{help}");
        assert!(help.contains("Le format [par défaut : csv]") && !help.contains("[default"), "{help}");
        let (missing, code) = run(&[]).unwrap_err();
        assert_eq!(code, 2);
        assert!(missing.starts_with("erreur : il manque : <SITE>"), "{missing}");
        let (unknown, _) = run(&["s", "--nimporte"]).unwrap_err();
        assert!(unknown.starts_with("erreur : option inconnue : « --nimporte »"), "{unknown}");
        let (refused, _) = run(&["s", "--nombre", "12"]).unwrap_err();
        assert!(refused.starts_with("erreur : valeur « 12 » refusée pour --nombre <NOMBRE>"), "{refused}");
        let (both, _) = run(&["s", "--nombre", "2", "--tout"]).unwrap_err();
        assert!(both.contains("ne vont pas ensemble"), "{both}");
        let parsed = run(&["s", "--nombre", "3"]).unwrap();
        assert_eq!((parsed.nombre, parsed.format.as_str()), (Some(3), "csv"));
    }
}
