//! The command line of `borne-platform`: its commands, options and arguments, every one
//! described in French (clap's own words are French through `borne_web::cli`).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "borne-platform", version, about = "La plateforme des bornes Borne (contrat d'envoi v1)")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the database is (see `borne-platform default-config`).
#[derive(Debug, Args)]
pub(crate) struct Database {
    /// Fichier de configuration (TOML ; voir borne-platform default-config)
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Adresse PostgreSQL (postgres://…) ; sinon $DATABASE_URL ; sinon celle de la configuration ; sinon SQLite
    #[arg(long, global = true)]
    pub(crate) database_url: Option<String>,
    /// Fichier de base SQLite, quand aucune adresse PostgreSQL n'est donnée
    #[arg(long, global = true)]
    pub(crate) db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sert l'API des bornes (contrat v1), la console, les pages publiques, /v1/health et /metrics
    Serve(Box<ServeArgs>),
    /// Crée ou met à jour le schéma de la base, puis affiche sa version et le lien (chiffré ou non)
    Migrate {
        #[command(flatten)]
        db: Database,
    },
    /// Ce que contient la plateforme (JSON)
    Stats {
        #[command(flatten)]
        db: Database,
        /// Sortie JSON (celle par défaut ; gardée pour les scripts qui la demandent)
        #[arg(long)]
        json: bool,
    },
    /// Nombre de réponses par site sur les jours locaux des bornes, de --from à --to inclus (JSON)
    Counts {
        #[command(flatten)]
        db: Database,
        /// Un site (tous sans cette option)
        #[arg(long)]
        site: Option<String>,
        /// Premier jour local (2026-01-01)
        #[arg(long, value_parser = day_arg)]
        from: chrono::NaiveDate,
        /// Dernier jour local, inclus
        #[arg(long, value_parser = day_arg)]
        to: chrono::NaiveDate,
    },
    /// Les indicateurs d'un site, calculés comme le tableau de bord de ses bornes (JSON, comme `borne stats --json`)
    SiteStats {
        #[command(flatten)]
        db: Database,
        /// L'identifiant du site
        site: String,
        /// Premier jour local (depuis le début sans cette option)
        #[arg(long, value_parser = day_arg)]
        since: Option<chrono::NaiveDate>,
        /// Dernier jour local (jusqu'à aujourd'hui sans cette option)
        #[arg(long, value_parser = day_arg)]
        until: Option<chrono::NaiveDate>,
        /// Avis nécessaires pour une note (règle de l'État : 100)
        #[arg(long, default_value_t = 100)]
        minimum_reviews: u64,
    },
    /// Les sites (points d'accueil) et leurs organisations
    Sites {
        #[command(subcommand)]
        command: SitesCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Les bornes et leurs jetons
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Les comptes de la console des responsables (national, réseau, site)
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Les alertes par courriel : règles d'une organisation, résumés d'un responsable
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Écrit les avis : jdma-csv et jdma-xlsx comme l'export d'avis de JDMA, jsonl dans le modèle de JDMA
    Export {
        #[command(flatten)]
        db: Database,
        /// Format : jdma-csv, jdma-xlsx ou jsonl
        #[arg(long, default_value = "jdma-csv")]
        format: String,
        /// Les avis d'un site (jdma-csv, jdma-xlsx)
        #[arg(long, conflicts_with = "jdma_form")]
        site: Option<String>,
        /// Les avis d'un formulaire JDMA (jdma-csv, jdma-xlsx)
        #[arg(long, value_parser = borne_model::wire::parse_jdma_id)]
        jdma_form: Option<i64>,
        /// Depuis ce jour (2026-03-01, UTC) ou cet instant (RFC 3339) : dans JDMA pour jdma-*, reçus pour jsonl
        #[arg(long)]
        since: Option<String>,
        /// Jusqu'à ce jour inclus (UTC) ou cet instant exclu (jdma-csv, jdma-xlsx)
        #[arg(long)]
        until: Option<String>,
        /// Fichier de sortie (la sortie standard sans cette option)
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// La remise des avis à « Je donne mon avis »
    Jdma {
        #[command(subcommand)]
        command: JdmaCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Le questionnaire publié aux bornes d'un réseau ou d'un site (contrat 1.2)
    Survey {
        #[command(subcommand)]
        command: SurveyCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Les versions du système que les bornes peuvent installer (paquets RAUC signés)
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Les déploiements d'une version par anneaux (une borne, puis 10 %, puis toutes)
    Rollout {
        #[command(subcommand)]
        command: RolloutCommand,
        #[command(flatten)]
        db: Database,
    },
    /// Affiche la configuration d'exemple, commentée
    DefaultConfig,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReleaseCommand {
    /// Enregistre une version : FICHIER est le paquet .raucb signé, que les bornes téléchargent à --url
    Add {
        /// Le paquet (lu pour son empreinte et sa taille ; il reste sur votre serveur)
        file: PathBuf,
        /// La version qu'il porte (celle de /etc/borne-release une fois installé)
        #[arg(long)]
        version: String,
        /// L'adresse où les bornes le téléchargent (http(s)://…/nom.raucb)
        #[arg(long)]
        url: String,
        /// Qui enregistre (par défaut : l'utilisateur du système)
        #[arg(long)]
        auteur: Option<String>,
    },
    /// Les versions enregistrées
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolloutCommand {
    /// Commence un déploiement ; son numéro est sur la dernière ligne
    Start {
        #[command(flatten)]
        target: SurveyTarget,
        /// La version (enregistrée avec « release add »), plus récente que toute version déjà déployée ici
        version: String,
        /// Les anneaux : nombres de bornes ou pourcentages croissants, le dernier 100 %
        #[arg(long, default_value = borne_platform::rollout::DEFAULT_RINGS)]
        anneaux: String,
        /// Le délai, en heures, laissé à chaque anneau pour confirmer (sinon le déploiement s'arrête)
        #[arg(long, default_value_t = borne_platform::rollout::DEFAULT_WAIT_H)]
        delai_h: i64,
        /// Qui déploie (par défaut : l'utilisateur du système)
        #[arg(long)]
        auteur: Option<String>,
    },
    /// Les déploiements, et chaque borne : son anneau, sa version, où elle en est
    List {
        /// Sortie JSON
        #[arg(long)]
        json: bool,
    },
    /// Arrête un déploiement en cours : plus rien n'est proposé
    Halt {
        id: i64,
        #[arg(long)]
        auteur: Option<String>,
    },
    /// Reprend un déploiement arrêté : le délai de son anneau recommence
    Resume {
        id: i64,
        #[arg(long)]
        auteur: Option<String>,
    },
    /// Abandonne un déploiement pour de bon
    Stop {
        id: i64,
        #[arg(long)]
        auteur: Option<String>,
    },
}

/// Where a survey version applies: a network's kiosks, or one site's.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct SurveyTarget {
    /// Les bornes d'un réseau (organisation)
    #[arg(long)]
    pub org: Option<String>,
    /// Les bornes d'un site (sa version l'emporte sur celle de son réseau)
    #[arg(long)]
    pub site: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SurveyCommand {
    /// Publie une version : FICHIER est la partie [survey] d'une configuration de borne
    /// (« borne config default »), vérifiée avec les règles de la borne ; son numéro est sur la dernière ligne
    Publish {
        #[command(flatten)]
        target: SurveyTarget,
        /// La partie [survey] (TOML)
        file: PathBuf,
        /// Qui publie (par défaut : l'utilisateur du système)
        #[arg(long)]
        auteur: Option<String>,
    },
    /// Retire la version en service : la précédente revient (sinon celle du réseau, sinon le fichier de chaque borne)
    Rollback {
        #[command(flatten)]
        target: SurveyTarget,
        /// Qui retire (par défaut : l'utilisateur du système)
        #[arg(long)]
        auteur: Option<String>,
    },
    /// Les versions, de la plus récente à la plus ancienne
    List {
        #[command(flatten)]
        target: SurveyTarget,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum JdmaCommand {
    /// Où en sont les avis : remis (forwarded), en attente (pending), ambigus (ambiguous), refusés (failed), par site
    Status {
        /// Sortie JSON
        #[arg(long)]
        json: bool,
    },
    /// Compare les comptes de JDMA (son API ouverte) avec les avis remis, jour par jour (jours UTC)
    Reconcile {
        /// Jours complets avant aujourd'hui
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SitesCommand {
    /// Enregistre un site
    Add {
        /// L'identifiant du site (lettres sans accent, chiffres, - _ .)
        site_id: String,
        /// Son nom, tel que les responsables et le public le lisent
        #[arg(long)]
        name: String,
        /// Son organisation (une préfecture, une CAF…), créée si elle est nouvelle
        #[arg(long)]
        org: Option<String>,
        /// Le service (product) JDMA du site : ses avis sont remis à JDMA ; les lots des bornes doivent porter le même
        #[arg(long = "jdma-product", visible_alias = "product-id", value_parser = borne_model::wire::parse_jdma_id)]
        product_id: Option<i64>,
        /// Le formulaire JDMA du service (avec --jdma-product)
        #[arg(long = "jdma-form", visible_alias = "form-id", value_parser = borne_model::wire::parse_jdma_id)]
        form_id: Option<i64>,
        /// Le bouton JDMA des bornes du site qui n'ont pas le leur
        #[arg(long = "jdma-button", visible_alias = "button-id", value_parser = borne_model::wire::parse_jdma_id)]
        button_id: Option<i64>,
        /// Le titre du formulaire dans JDMA (« Nom du formulaire » de ses exports) ; lu dans JDMA si une clé de l'API est configurée
        #[arg(long)]
        jdma_form_title: Option<String>,
        /// Le fuseau horaire du site (nom IANA : America/Cayenne, Indian/Reunion…) : les heures de la console y sont données
        #[arg(long = "fuseau-horaire", default_value = borne_platform::local::DEFAULT_TIME_ZONE)]
        time_zone: String,
    },
    /// Liste les sites (JSON)
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DevicesCommand {
    /// Enregistre une borne : affiche les lignes de sa configuration, puis son jeton, une seule fois, seul sur la dernière ligne
    Add {
        /// L'identifiant de la borne (celui de device_id dans sa configuration)
        device_id: String,
        /// Le site où elle est installée
        #[arg(long)]
        site: String,
        /// Le bouton JDMA de la borne (un par borne : JDMA distingue ainsi les bornes)
        #[arg(long, value_parser = borne_model::wire::parse_jdma_id)]
        jdma_button: Option<i64>,
        /// Le titre du bouton dans JDMA (« Lien d'intégration » de ses exports ; l'identifiant de la borne sinon)
        #[arg(long)]
        jdma_button_title: Option<String>,
    },
    /// Donne (ou retire, sans --jdma-button) son bouton JDMA à une borne
    Bind {
        /// L'identifiant de la borne
        device_id: String,
        /// Le bouton JDMA de la borne (sans : plus de bouton propre)
        #[arg(long, value_parser = borne_model::wire::parse_jdma_id)]
        jdma_button: Option<i64>,
        /// Le titre du bouton dans JDMA
        #[arg(long)]
        jdma_button_title: Option<String>,
    },
    /// Liste les bornes avec leur dernier signal de vie (JSON)
    List,
    /// Refuse désormais le jeton de la borne, sur toutes les instances
    Revoke {
        /// L'identifiant de la borne
        device_id: String,
    },
    /// Donne un nouveau jeton à la borne (affiché une fois, seul sur la dernière ligne) ; l'ancien ne marche plus
    Rotate {
        /// L'identifiant de la borne
        device_id: String,
        /// Aussi pour une borne révoquée, qui envoie alors de nouveau (refusé sinon)
        #[arg(long)]
        reactiver: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCommand {
    /// Règle les alertes d'une organisation (les valeurs non données restent telles quelles) ; 0 coupe une règle
    Rules {
        /// L'identifiant de l'organisation
        organisation: String,
        /// Borne sans signal de vie depuis ce nombre d'heures
        #[arg(long)]
        offline_hours: Option<u32>,
        /// Avis en attente sur une borne depuis ce nombre d'heures
        #[arg(long)]
        pending_hours: Option<u32>,
        /// Part de « Pas bien » (en %) au-dessus de laquelle alerter…
        #[arg(long)]
        negative_percent: Option<f64>,
        /// …sur ce nombre de jours…
        #[arg(long)]
        negative_days: Option<u32>,
        /// …à partir de ce nombre d'avis
        #[arg(long)]
        negative_minimum: Option<u64>,
        /// Baisse de la note (en points sur 10) qui déclenche l'alerte…
        #[arg(long)]
        drop_points: Option<f64>,
        /// …sur ce nombre de jours, comparés aux précédents…
        #[arg(long)]
        drop_days: Option<u32>,
        /// …à partir de ce nombre d'avis
        #[arg(long)]
        drop_minimum: Option<u64>,
    },
    /// Affiche les règles d'alerte d'une organisation (JSON)
    Show {
        /// L'identifiant de l'organisation
        organisation: String,
    },
    /// Le rythme des résumés d'un responsable : daily (quotidien), weekly (hebdomadaire), monthly (mensuel) ou none (aucun)
    Digest {
        /// L'adresse du compte
        email: String,
        /// daily, weekly, monthly ou none
        every: String,
    },
    /// Les courriels d'alerte abandonnés (adresse refusée par le serveur, ou trop d'échecs), les plus récents d'abord (JSON)
    Abandoned {
        /// Nombre de courriels affichés au plus
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// Crée un compte ; avec --password, son mot de passe est lu au terminal (ou sur la première
    /// ligne de l'entrée standard) ; sans, il ne se connecte que par ProConnect
    Add {
        /// L'adresse électronique du compte (son identifiant)
        email: String,
        /// Le nom affiché
        #[arg(long)]
        name: String,
        /// national (tout), network (une organisation : --org) ou site (un site : --site)
        #[arg(long)]
        role: String,
        /// L'organisation d'un compte network
        #[arg(long)]
        org: Option<String>,
        /// Le site d'un compte site
        #[arg(long)]
        site: Option<String>,
        /// Lire un mot de passe (sinon : connexion par ProConnect seulement)
        #[arg(long)]
        password: bool,
    },
    /// Change le mot de passe d'un compte (lu comme pour add)
    Password {
        /// L'adresse du compte
        email: String,
    },
    /// Désactive un compte et ferme ses sessions
    Disable {
        /// L'adresse du compte
        email: String,
    },
    /// Liste les comptes (JSON, sans les empreintes de mots de passe)
    List,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) db: Database,
    /// Adresse d'écoute (port 0 : un port libre ; l'adresse choisie est affichée)
    #[arg(long)]
    pub(crate) listen: Option<String>,
    /// Fichier de jetons au lieu des bornes enregistrées : un jeton par ligne, suivi des bornes
    /// pour lesquelles il peut envoyer (ou *) ; pour les essais
    #[arg(long)]
    pub(crate) tokens: Option<PathBuf>,
    /// Essais : probabilité de répondre par l'un des --fail-statuses au lieu de traiter
    #[arg(long, default_value_t = 0.0)]
    pub(crate) fail_rate: f64,
    /// Essais : statuts pour --fail-rate, séparés par des virgules (500, 503, 429, 413…)
    #[arg(long, value_delimiter = ',', default_value = "500")]
    pub(crate) fail_statuses: Vec<u16>,
    /// Essais : secondes de Retry-After avec les 429 et 503 injectés
    #[arg(long, default_value_t = 1)]
    pub(crate) retry_after: u64,
    /// Essais : probabilité d'enregistrer, puis de ne répondre qu'après --delay-ms
    #[arg(long, default_value_t = 0.0)]
    pub(crate) delay_rate: f64,
    /// Essais : attente des réponses retardées, en millisecondes
    #[arg(long, default_value_t = 0)]
    pub(crate) delay_ms: u64,
    /// Essais : probabilité d'enregistrer, puis de couper la connexion sans répondre
    #[arg(long, default_value_t = 0.0)]
    pub(crate) drop_rate: f64,
    /// Essais : probabilité d'enregistrer, puis de répondre un corps tronqué
    #[arg(long, default_value_t = 0.0)]
    pub(crate) truncate_rate: f64,
    /// Essais : probabilité d'enregistrer, puis de répondre n'importe quoi
    #[arg(long, default_value_t = 0.0)]
    pub(crate) garbage_rate: f64,
    /// Essais : graine des tirages de l'injection de pannes
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Ajoute à ce fichier une ligne JSON par lot reçu (clé, empreinte, avis, issue)
    #[arg(long)]
    pub(crate) audit_log: Option<PathBuf>,
}

fn day_arg(text: &str) -> Result<chrono::NaiveDate, String> {
    borne_model::days::parse(text)
}
