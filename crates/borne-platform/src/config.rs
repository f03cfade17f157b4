//! The platform's configuration file (TOML), read like the kiosk's: unknown keys refused, every
//! error with its key and line, in French. Then the database is chosen: `--database-url`, else
//! `$DATABASE_URL`, else the file's `[database] url`, else the SQLite file (`[database] sqlite`,
//! default `borne-platform.db`).

use crate::storage::Target;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The example configuration, commented (`borne-platform default-config` prints it).
pub const DEFAULT_CONFIG: &str = include_str!("../borne-platform.toml");

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    console: RawConsole,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default)]
    proconnect: RawProConnect,
    #[serde(default)]
    jdma: RawJdma,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawJdma {
    form_url: Option<Spanned<String>>,
    api_url: Option<Spanned<String>>,
    api_key_file: Option<Spanned<String>>,
    creates_per_hour: Option<Spanned<i64>>,
    timeout_s: Option<Spanned<i64>>,
    allow_insecure_http: Option<Spanned<bool>>,
}

/// Forwarding to « Je donne mon avis » (`[jdma]`); none: reviews stay on the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdmaConfig {
    /// The form app's base, `https://jedonnemonavis.numerique.gouv.fr/Demarches`.
    pub form_url: String,
    /// The open API's base, `…/api/open-api`, with the file holding its key.
    pub api_url: Option<String>,
    pub api_key_file: Option<PathBuf>,
    /// JDMA's limit on creates from one address (0: allow-listed, no limit).
    pub creates_per_hour: u32,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProConnect {
    issuer: Option<Spanned<String>>,
    client_id: Option<Spanned<String>>,
    client_secret: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
}

/// Sign-in with ProConnect (`[proconnect]`), the State's OpenID Connect provider for public
/// agents; none: local accounts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProConnectConfig {
    /// The provider's issuer (its discovery document is `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The console's public address: ProConnect sends agents back to
    /// `{public_url}/console/proconnect/retour`, and after signing out to `{public_url}/console/connexion`.
    pub public_url: String,
    /// A private certificate authority for the provider, if any (the system's store otherwise).
    pub ca_file: Option<PathBuf>,
}

impl ProConnectConfig {
    pub fn redirect_url(&self) -> String {
        format!("{}/console/proconnect/retour", self.public_url.trim_end_matches('/'))
    }

    pub fn after_logout_url(&self) -> String {
        format!("{}/console/connexion", self.public_url.trim_end_matches('/'))
    }
}

/// Plain HTTP only on this machine (a trial, a test's provider); anywhere else, TLS.
fn secure_or_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return url.starts_with("https://") };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    ["127.0.0.1", "localhost", "[::1]"].contains(&host)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    smtp_url: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
}

/// Where alert mails go out (`[alerts]`); none: incidents are recorded, nobody is mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    pub smtp_url: String,
    pub from: String,
    pub public_url: String,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    secure_cookies: Option<Spanned<bool>>,
    heartbeat_interval_s: Option<Spanned<i64>>,
    publisher: Option<Spanned<String>>,
    contact: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
    trusted_proxies: Option<Spanned<Vec<String>>>,
    proxy_protocol: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<Spanned<String>>,
    sqlite: Option<Spanned<String>>,
    pool_size: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The console's settings (`[console]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// Cookies marked `Secure` (the console is served behind TLS). Off only for a trial on
    /// plain HTTP.
    pub secure_cookies: bool,
    /// How often kiosks send a heartbeat; two missed make a kiosk « silencieuse ».
    pub heartbeat_interval: chrono::Duration,
    /// Sign-in with ProConnect, if set up.
    pub proconnect: Option<ProConnectConfig>,
    /// Who publishes the site, for its legal notice and accessibility statement.
    pub publication: Publication,
}

/// The publisher's identity the legal notice and the accessibility statement give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub publisher: String,
    pub contact: String,
    pub host: String,
}

impl Default for Publication {
    fn default() -> Self {
        Publication {
            publisher: "l'administration qui exploite cette plateforme Borne".into(),
            contact: "l'accueil de cette administration".into(),
            host: "Serveurs de l'administration éditrice.".into(),
        }
    }
}

impl Publication {
    pub fn as_publisher(&self) -> borne_web::dsfr::Publisher<'_> {
        borne_web::dsfr::Publisher { name: &self.publisher, contact: &self.contact, host: &self.host }
    }
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            secure_cookies: true,
            heartbeat_interval: chrono::Duration::minutes(5),
            proconnect: None,
            publication: Publication::default(),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: String,
    /// Connections held at once (`server.max_connections`); past it, the slowest is shed.
    pub max_connections: usize,
    /// Whose word on a client's address is taken (`server.trusted_proxies`, `server.proxy_protocol`).
    pub clients: borne_web::serve::ClientAddress,
    pub database_url: Option<String>,
    pub sqlite: PathBuf,
    pub pool_size: usize,
    pub log_format: LogFormat,
    pub log_level: String,
    pub console: ConsoleSettings,
    pub alerts: Option<AlertsConfig>,
    pub jdma: Option<JdmaConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            max_connections: borne_web::serve::Limits::default().max_connections,
            clients: borne_web::serve::ClientAddress::default(),
            database_url: None,
            sqlite: PathBuf::from("borne-platform.db"),
            pool_size: 16,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            console: ConsoleSettings::default(),
            alerts: None,
            jdma: None,
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

fn located(text: &str, key: &str, span: std::ops::Range<usize>, message: &str) -> String {
    format!("{key} (ligne {}) : {message}", line_of(text, span.start))
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| format!(" (ligne {})", line_of(text, s.start))).unwrap_or_default();
            let message =
                e.message().replace("unknown field", "clé inconnue").replace("expected one of", "attendu l'une de");
            format!("configuration invalide{line} : {}", message.trim())
        })?;
        let mut config = Config::default();
        if let Some(listen) = raw.server.listen {
            if listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
                return Err(located(
                    text,
                    "server.listen",
                    listen.span(),
                    "adresse:port attendu, par exemple 127.0.0.1:8080",
                ));
            }
            config.listen = listen.into_inner();
        }
        if let Some(n) = raw.server.max_connections {
            if !(16..=1_000_000).contains(n.get_ref()) {
                return Err(located(text, "server.max_connections", n.span(), "entre 16 et 1000000"));
            }
            config.max_connections = *n.get_ref() as usize;
        }
        if let Some(proxies) = raw.server.trusted_proxies {
            config.clients.trusted_proxies = borne_web::serve::ClientAddress::parse_proxies(proxies.get_ref())
                .map_err(|m| located(text, "server.trusted_proxies", proxies.span(), &m))?;
        }
        if let Some(flag) = raw.server.proxy_protocol {
            if *flag.get_ref() && config.clients.trusted_proxies.is_empty() {
                return Err(located(
                    text,
                    "server.proxy_protocol",
                    flag.span(),
                    "server.trusted_proxies doit nommer les répartiteurs qui l'envoient",
                ));
            }
            config.clients.proxy_protocol = flag.into_inner();
        }
        if let Some(url) = raw.database.url {
            if !(url.get_ref().starts_with("postgres://") || url.get_ref().starts_with("postgresql://")) {
                return Err(located(text, "database.url", url.span(), "adresse PostgreSQL attendue (postgres://…)"));
            }
            config.database_url = Some(url.into_inner());
        }
        if let Some(path) = raw.database.sqlite {
            if path.get_ref().trim().is_empty() {
                return Err(located(text, "database.sqlite", path.span(), "chemin de fichier vide"));
            }
            config.sqlite = PathBuf::from(path.into_inner());
        }
        if let Some(size) = raw.database.pool_size {
            if !(1..=256).contains(size.get_ref()) {
                return Err(located(text, "database.pool_size", size.span(), "entre 1 et 256"));
            }
            config.pool_size = *size.get_ref() as usize;
        }
        if let Some(format) = raw.log.format {
            config.log_format = match format.get_ref().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(located(text, "log.format", format.span(), "« text » ou « json »")),
            };
        }
        if let Some(level) = raw.log.level {
            if !["error", "warn", "info", "debug", "trace"].contains(&level.get_ref().as_str()) {
                return Err(located(text, "log.level", level.span(), "error, warn, info, debug ou trace"));
            }
            config.log_level = level.into_inner();
        }
        if let Some(secure) = raw.console.secure_cookies {
            config.console.secure_cookies = secure.into_inner();
        }
        if let Some(interval) = raw.console.heartbeat_interval_s {
            if !(60..=86_400).contains(interval.get_ref()) {
                return Err(located(
                    text,
                    "console.heartbeat_interval_s",
                    interval.span(),
                    "entre 60 et 86400 secondes",
                ));
            }
            config.console.heartbeat_interval = chrono::Duration::seconds(*interval.get_ref());
        }
        let publication = &mut config.console.publication;
        for (key, given, field) in [
            ("console.publisher", raw.console.publisher, &mut publication.publisher),
            ("console.contact", raw.console.contact, &mut publication.contact),
            ("console.host", raw.console.host, &mut publication.host),
        ] {
            if let Some(value) = given {
                let trimmed = value.get_ref().trim();
                if trimmed.is_empty() || trimmed.chars().count() > 300 || trimmed.chars().any(char::is_control) {
                    return Err(located(text, key, value.span(), "un texte d'une ligne, de 1 à 300 caractères"));
                }
                *field = trimmed.to_string();
            }
        }
        let a = raw.alerts;
        if let Some(url) = a.smtp_url {
            if !["smtp://", "smtps://"].iter().any(|p| url.get_ref().starts_with(p)) {
                return Err(located(
                    text,
                    "alerts.smtp_url",
                    url.span(),
                    "smtp://hôte:587 (STARTTLS) ou smtps://hôte:465",
                ));
            }
            let Some(from) = a.from else {
                return Err(located(
                    text,
                    "alerts.smtp_url",
                    url.span(),
                    "alerts.from est nécessaire (l'expéditeur des messages)",
                ));
            };
            if from.get_ref().parse::<lettre::message::Mailbox>().is_err() {
                return Err(located(
                    text,
                    "alerts.from",
                    from.span(),
                    "adresse invalide (Borne <alertes@exemple.gouv.fr>)",
                ));
            }
            let Some(public_url) = a.public_url else {
                return Err(located(
                    text,
                    "alerts.smtp_url",
                    url.span(),
                    "alerts.public_url est nécessaire (les liens des messages)",
                ));
            };
            if !public_url.get_ref().starts_with("https://") && !public_url.get_ref().starts_with("http://") {
                return Err(located(
                    text,
                    "alerts.public_url",
                    public_url.span(),
                    "adresse https://… de la plateforme attendue",
                ));
            }
            config.alerts = Some(AlertsConfig {
                smtp_url: url.into_inner(),
                from: from.into_inner(),
                public_url: public_url.into_inner(),
                ca_file: a.ca_file.map(|f| PathBuf::from(f.into_inner())),
            });
        }
        config.console.proconnect = proconnect(text, raw.proconnect)?;
        config.jdma = jdma(text, raw.jdma)?;
        Ok(config)
    }

    /// The bounded server these settings describe.
    pub fn server(&self) -> borne_web::serve::Server {
        let limits =
            borne_web::serve::Limits { max_connections: self.max_connections, ..borne_web::serve::Limits::default() };
        borne_web::serve::Server::new("platform", limits, self.clients.clone())
    }

    /// Reads `path`; no path means the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("lecture de {} impossible : {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{} : {e}", path.display()))
    }

    /// The database to open: the command line's URL, then `$DATABASE_URL`, then the file's
    /// URL, then the SQLite file (the command line's `--db`, then the file's).
    pub fn target(&self, cli_url: Option<&str>, env_url: Option<&str>, cli_sqlite: Option<&Path>) -> Target {
        let url = cli_url.or(env_url).filter(|u| !u.trim().is_empty()).map(String::from).or(self.database_url.clone());
        match url {
            Some(url) => Target::Postgres { url, pool_size: self.pool_size },
            None => Target::Sqlite(cli_sqlite.map(Path::to_path_buf).unwrap_or_else(|| self.sqlite.clone())),
        }
    }
}

fn proconnect(text: &str, p: RawProConnect) -> Result<Option<ProConnectConfig>, String> {
    let Some(issuer) = p.issuer else {
        if let Some(id) = p.client_id.as_ref().or(p.public_url.as_ref()) {
            return Err(located(text, "proconnect", id.span(), "proconnect.issuer est nécessaire"));
        }
        return Ok(None);
    };
    let required = |value: Option<Spanned<String>>, key: &str| match value {
        Some(v) if !v.get_ref().trim().is_empty() => Ok(v),
        _ => Err(located(text, "proconnect.issuer", issuer.span(), &format!("proconnect.{key} est nécessaire"))),
    };
    let (client_id, client_secret) = (required(p.client_id, "client_id")?, required(p.client_secret, "client_secret")?);
    let public_url = required(p.public_url, "public_url")?;
    for (key, url) in [("proconnect.issuer", &issuer), ("proconnect.public_url", &public_url)] {
        if !secure_or_loopback(url.get_ref()) {
            return Err(located(
                text,
                key,
                url.span(),
                "adresse https://… attendue (http:// seulement sur cette machine)",
            ));
        }
    }
    Ok(Some(ProConnectConfig {
        issuer: issuer.into_inner().trim_end_matches('/').to_string(),
        client_id: client_id.into_inner(),
        client_secret: client_secret.into_inner(),
        public_url: public_url.into_inner().trim_end_matches('/').to_string(),
        ca_file: p.ca_file.map(|f| PathBuf::from(f.into_inner())),
    }))
}

fn jdma(text: &str, j: RawJdma) -> Result<Option<JdmaConfig>, String> {
    let insecure = j.allow_insecure_http.as_ref().is_some_and(|f| *f.get_ref());
    let creates = match &j.creates_per_hour {
        Some(n) if !(0..=1_000_000).contains(n.get_ref()) => {
            return Err(located(text, "jdma.creates_per_hour", n.span(), "entre 0 (sans limite) et 1000000"));
        }
        Some(n) => *n.get_ref() as u32,
        None => 5,
    };
    let timeout = match &j.timeout_s {
        Some(n) if !(1..=300).contains(n.get_ref()) => {
            return Err(located(text, "jdma.timeout_s", n.span(), "entre 1 et 300 secondes"));
        }
        Some(n) => *n.get_ref() as u64,
        None => 30,
    };
    let Some(form_url) = j.form_url else {
        if let Some(key) = j.api_url.as_ref().or(j.api_key_file.as_ref()) {
            return Err(located(text, "jdma", key.span(), "jdma.form_url est nécessaire"));
        }
        return Ok(None);
    };
    let checked = |key: &str, url: &Spanned<String>| -> Result<String, String> {
        let u = url.get_ref().trim().trim_end_matches('/').to_string();
        let plain = u.starts_with("http://");
        if !(u.starts_with("https://") || plain) || (plain && !(insecure && secure_or_loopback(&u))) {
            return Err(located(
                text,
                key,
                url.span(),
                "adresse https://… attendue (http:// seulement sur cette machine, avec allow_insecure_http = true)",
            ));
        }
        Ok(u)
    };
    let form_url = checked("jdma.form_url", &form_url)?;
    let api_url = j.api_url.as_ref().map(|u| checked("jdma.api_url", u)).transpose()?;
    if let (Some(file), None) = (&j.api_key_file, &api_url) {
        return Err(located(text, "jdma.api_key_file", file.span(), "jdma.api_url est nécessaire avec une clé"));
    }
    Ok(Some(JdmaConfig {
        form_url,
        api_url,
        api_key_file: j.api_key_file.map(|f| PathBuf::from(f.into_inner())),
        creates_per_hour: creates,
        timeout: std::time::Duration::from_secs(timeout),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proconnect_over_plain_http_only_on_this_machine() {
        let config = Config::parse(
            "[proconnect]\nissuer = \"http://127.0.0.1:9000/\"\nclient_id = \"borne\"\nclient_secret = \"s\"\npublic_url = \"https://borne.exemple.gouv.fr/\"\n",
        )
        .unwrap();
        let p = config.console.proconnect.unwrap();
        assert_eq!(p.issuer, "http://127.0.0.1:9000");
        assert_eq!(p.redirect_url(), "https://borne.exemple.gouv.fr/console/proconnect/retour");
        assert_eq!(p.after_logout_url(), "https://borne.exemple.gouv.fr/console/connexion");
        for url in ["http://127.0.0.1.exemple.fr", "http://localhost.evil:80/x", "ftp://x"] {
            assert!(!secure_or_loopback(url), "{url}");
        }
        assert!(secure_or_loopback("http://[::1]:8080/x") && secure_or_loopback("http://localhost"));
    }

    #[test]
    fn the_shipped_example_is_valid_and_means_the_defaults() {
        assert_eq!(Config::parse(DEFAULT_CONFIG).unwrap(), Config::default());
    }

    #[test]
    fn errors_name_the_key_and_the_line() {
        let err = Config::parse("[server]\nlisten = \"127.0.0.1:8080\"\n\n[database]\npool_size = 0\n").unwrap_err();
        assert!(err.contains("database.pool_size (ligne 5)"), "{err}");
        let err = Config::parse("[server]\nlisten = \"partout\"\n").unwrap_err();
        assert!(err.contains("server.listen (ligne 2)"), "{err}");
        let err = Config::parse("[database]\nurl = \"mysql://x\"\n").unwrap_err();
        assert!(err.contains("database.url (ligne 2)"), "{err}");
        let err = Config::parse("[server]\n\n\nlisten_port = 8080\n").unwrap_err();
        assert!(err.contains("ligne 4") && err.contains("listen_port"), "{err}");
        let err = Config::parse("[serveur]\n").unwrap_err();
        assert!(err.contains("serveur"), "{err}");
        let err = Config::parse(
            "[alerts]\nsmtp_url = \"smtp://mail:587\"\nfrom = \"pas une adresse\"\npublic_url = \"https://x\"\n",
        )
        .unwrap_err();
        assert!(err.contains("alerts.from (ligne 3)"), "{err}");
        let err = Config::parse("[alerts]\nsmtp_url = \"mail:587\"\n").unwrap_err();
        assert!(err.contains("alerts.smtp_url (ligne 2)"), "{err}");
        let err = Config::parse("[console]\nheartbeat_interval_s = 5\n").unwrap_err();
        assert!(err.contains("console.heartbeat_interval_s (ligne 2)"), "{err}");
        let err =
            Config::parse("[proconnect]\nissuer = \"https://auth.exemple.gouv.fr\"\nclient_id = \"x\"\n").unwrap_err();
        assert!(err.contains("proconnect.client_secret est nécessaire") && err.contains("ligne 2"), "{err}");
        let err = Config::parse(
            "[proconnect]\nissuer = \"http://auth.exemple.gouv.fr\"\nclient_id = \"x\"\nclient_secret = \"y\"\npublic_url = \"https://b\"\n",
        )
        .unwrap_err();
        assert!(err.contains("proconnect.issuer (ligne 2)"), "{err}");
        let err = Config::parse("[log]\nformat = \"xml\"\n").unwrap_err();
        assert!(err.contains("log.format (ligne 2)"), "{err}");
    }

    #[test]
    fn jdma_needs_https_unless_a_trial_on_this_machine() {
        let config =
            Config::parse("[jdma]\nform_url = \"https://jedonnemonavis.numerique.gouv.fr/Demarches/\"\n").unwrap();
        let jdma = config.jdma.unwrap();
        assert_eq!(jdma.form_url, "https://jedonnemonavis.numerique.gouv.fr/Demarches");
        assert_eq!((jdma.creates_per_hour, jdma.timeout.as_secs()), (5, 30));
        let err = Config::parse("[jdma]\nform_url = \"http://127.0.0.1:8090/Demarches\"\n").unwrap_err();
        assert!(err.contains("jdma.form_url (ligne 2)") && err.contains("allow_insecure_http"), "{err}");
        let trial = "[jdma]\nform_url = \"http://127.0.0.1:8090/Demarches\"\nallow_insecure_http = true\n";
        assert!(Config::parse(trial).unwrap().jdma.is_some());
        let remote = "[jdma]\nform_url = \"http://jdma.exemple.fr/Demarches\"\nallow_insecure_http = true\n";
        assert!(Config::parse(remote).unwrap_err().contains("jdma.form_url"));
        let err = Config::parse("[jdma]\napi_url = \"https://x/api/open-api\"\n").unwrap_err();
        assert!(err.contains("jdma.form_url est nécessaire"), "{err}");
        let err = Config::parse("[jdma]\nform_url = \"https://x/Demarches\"\ncreates_per_hour = -1\n").unwrap_err();
        assert!(err.contains("jdma.creates_per_hour (ligne 3)"), "{err}");
        let err = Config::parse("[jdma]\nform_url = \"https://x/Demarches\"\napi_key_file = \"/etc/k\"\n").unwrap_err();
        assert!(err.contains("jdma.api_key_file (ligne 3)"), "{err}");
    }

    #[test]
    fn the_database_is_chosen_command_line_first() {
        let file = Config::parse("[database]\nurl = \"postgres://file/db\"\nsqlite = \"/var/x.db\"\n").unwrap();
        let pg = |url: &str| Target::Postgres { url: url.into(), pool_size: 16 };
        assert_eq!(file.target(Some("postgres://cli/db"), Some("postgres://env/db"), None), pg("postgres://cli/db"));
        assert_eq!(file.target(None, Some("postgres://env/db"), None), pg("postgres://env/db"));
        assert_eq!(file.target(None, None, None), pg("postgres://file/db"));
        let sqlite_only = Config::parse("[database]\nsqlite = \"/var/x.db\"\n").unwrap();
        assert_eq!(sqlite_only.target(None, Some(""), None), Target::Sqlite("/var/x.db".into()));
        assert_eq!(sqlite_only.target(None, None, Some(Path::new("/tmp/y.db"))), Target::Sqlite("/tmp/y.db".into()));
    }
}
