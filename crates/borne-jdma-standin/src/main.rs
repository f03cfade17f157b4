//! `jdma-standin`: the JDMA stand-in on its own, for a trial of the platform's connector.

use borne_jdma_standin::{JdmaStandIn, Settings};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "jdma-standin",
    about = "Une doublure de « Je donne mon avis » pour essayer le connecteur (boucle locale seulement)"
)]
struct Cli {
    /// Adresse d'écoute
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: std::net::SocketAddr,
    /// Adresses exemptées de la limite (LIMITER_ALLOWED_IPS de JDMA)
    #[arg(long, default_value = "")]
    allowed_ips: String,
    /// Boutons à créer (un par borne), sur un service et un formulaire créés au démarrage
    #[arg(long, default_value_t = 1)]
    buttons: u32,
    /// Clé de l'API ouverte pour ce service
    #[arg(long, default_value = "cle-essai")]
    api_key: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !cli.listen.ip().is_loopback() {
        eprintln!("jdma-standin : adresse de boucle locale attendue (127.0.0.1…), pas {}", cli.listen);
        return std::process::ExitCode::from(2);
    }
    let settings = Settings { allowed_ips: cli.allowed_ips, ..Settings::default() };
    let standin = match JdmaStandIn::start_on(cli.listen, settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jdma-standin : écoute sur {} impossible : {e}", cli.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let product = standin.add_product("Accueil du public", "Essai");
    let form = standin.add_form(product, "Évaluation de la satisfaction usager");
    standin.add_api_key(product, &cli.api_key);
    println!("form_url = \"{}\"", standin.form_url());
    println!("api_url = \"{}\"", standin.api_url());
    println!("service (product) {product}, formulaire {form}");
    for n in 1..=cli.buttons {
        println!("bouton {}", standin.add_button(form, &format!("Borne {n}")));
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
