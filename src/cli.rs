//! The command line's shape (clap). Help texts are in French: site managers read them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "borne",
    version,
    about = "Borne d'avis pour l'accueil des services publics (Services Publics +)",
    long_about = "Borne d'avis pour l'accueil des services publics.\n\nSans commande : lance la borne \
                  sur sa configuration (intégrée si aucun fichier n'est trouvé)."
)]
pub struct Cli {
    /// Fichier de configuration (sinon $BORNE_CONFIG, puis /etc/borne/borne.toml, puis la configuration intégrée)
    #[arg(long, global = true, value_name = "FICHIER")]
    pub config: Option<PathBuf>,
    /// Dossier des données (remplace storage.data_dir)
    #[arg(long, global = true, value_name = "DOSSIER")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lance la borne (par défaut)
    Run,
    /// Enregistre un avis, par le même chemin que l'écran tactile ; affiche son identifiant une fois écrit sur le disque
    Rate(RateArgs),
    /// Affiche les indicateurs (note sur 10 calculée comme l'État)
    Stats(StatsArgs),
    /// Exporte les avis, un par ligne (CSV pour tableur français, ou JSON Lines)
    Export(ExportArgs),
    /// Liste les avis en attente d'envoi ou rejetés par la plateforme
    Reviews {
        #[arg(value_enum)]
        which: ReviewsWhich,
        /// Sortie JSON (une ligne par avis)
        #[arg(long)]
        json: bool,
    },
    /// Envoie les avis en attente à la plateforme (en continu, ou une fois avec --once)
    Upload {
        /// Envoie ce qui est en attente puis s'arrête (code de sortie non nul si un envoi échoue)
        #[arg(long)]
        once: bool,
    },
    /// État de la borne : avis en attente, dernier envoi, dernière erreur
    Status {
        /// Sortie JSON
        #[arg(long)]
        json: bool,
    },
    /// Configuration : exemple commenté, vérification
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Mises à jour du système (image à deux emplacements) : installation la nuit, confirmation au démarrage
    Update {
        #[command(subcommand)]
        action: UpdateAction,
        /// Dossier de l'état des mises à jour (sur la partition de données)
        #[arg(long, value_name = "DOSSIER", default_value = crate::update::agent::STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Base de données : vérification d'intégrité, écriture d'essai
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Définit le mot de passe du responsable (ouvre le tableau de bord) ; lu sur l'entrée standard
    Passwd,
    /// Sert le tableau de bord du responsable seul, sans l'écran (Ctrl+C pour arrêter)
    Dashboard {
        /// Adresse d'écoute, à la place de dashboard.listen (par exemple 127.0.0.1:8080 ; port 0 : au choix)
        #[arg(long)]
        listen: Option<String>,
    },
    /// Dessine chaque écran de la borne en PNG (sans écran, par le moteur de rendu logiciel)
    Screenshots {
        /// Dossier où écrire les images (un sous-dossier par taille d'écran)
        dir: std::path::PathBuf,
        /// Un questionnaire à publier (la partie [survey], comme « borne-platform survey publish ») :
        /// les écrans le montrent posé sur cette configuration, comme la borne le posera
        #[arg(long)]
        questionnaire: Option<std::path::PathBuf>,
    },
    /// Écrit ce que dit le mode vocal sur chaque écran, dans chaque langue : texte et son (WAV)
    Speech {
        /// Dossier où écrire (un sous-dossier par langue)
        dir: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RateArgs {
    /// Réponse à « De façon générale, comment ça s’est passé ? » : 1 Pas bien, 2 Moyen, 3 Très bien
    #[arg(long, value_name = "1|2|3")]
    pub satisfaction: i64,
    /// Réponse à une question complémentaire, CODE=NUMÉRO (répétable)
    #[arg(long = "answer", value_name = "CODE=NUMÉRO")]
    pub answers: Vec<String>,
    /// Commentaire libre (les données personnelles sont masquées avant l'écriture)
    #[arg(long)]
    pub comment: Option<String>,
    /// Langue de la visite
    #[arg(long, default_value = "fr")]
    pub lang: String,
}

#[derive(Debug, Args)]
pub struct Period {
    /// Premier jour inclus (AAAA-MM-JJ, heure locale)
    #[arg(long, value_name = "AAAA-MM-JJ")]
    pub since: Option<String>,
    /// Dernier jour inclus (AAAA-MM-JJ, heure locale)
    #[arg(long, value_name = "AAAA-MM-JJ")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub period: Period,
    /// Sortie JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    #[command(flatten)]
    pub period: Period,
    /// Séparateur CSV (un caractère)
    #[arg(long, default_value = ";")]
    pub separator: char,
    /// Fichier de sortie (sinon la sortie standard)
    #[arg(long, short, value_name = "FICHIER")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReviewsWhich {
    /// En attente d'envoi
    Pending,
    /// Rejetés par la plateforme
    Rejected,
    /// Remet les avis rejetés en attente d'envoi (après correction)
    RetryRejected,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Affiche un exemple commenté avec toutes les clés (c'est aussi la configuration intégrée)
    Default,
    /// Vérifie un fichier (sinon celui qui serait utilisé)
    Check { file: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Vérifie l'intégrité complète ; une base endommagée est mise de côté et une neuve créée
    Check,
    /// Enregistre une écriture d'essai (jamais un avis) et la relit : la base accepte-t-elle d'écrire ?
    Probe,
}

#[derive(Debug, Subcommand)]
pub enum UpdateAction {
    /// Cherche une nouvelle version et l'installe si c'est la nuit, hors des heures d'ouverture
    Run,
    /// Au démarrage : garde la nouvelle version si la borne est prête, sinon revient à l'ancienne
    Confirm,
    /// Dit quelle version est proposée à la borne et si elle serait installée maintenant, sans rien installer
    Check,
}
