//! `borne-platform survey`: publish, roll back and list the survey a network or a site sends
//! its kiosks (contract 1.2).

use crate::args::{SurveyCommand, SurveyTarget};
use borne_platform::storage::Storage;
use borne_platform::storage::surveys::SurveyScope;

pub(crate) fn scope(target: SurveyTarget) -> SurveyScope {
    match (target.org, target.site) {
        (Some(org), _) => SurveyScope::Organisation(org),
        (None, Some(site)) => SurveyScope::Site(site),
        // clap requires exactly one of them.
        (None, None) => SurveyScope::Site(String::new()),
    }
}

pub(crate) fn author(given: Option<String>) -> String {
    given
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| format!("ligne de commande ({})", std::env::var("USER").unwrap_or_else(|_| "?".into())))
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

pub(crate) async fn run(storage: &Storage, command: SurveyCommand) -> Result<(), String> {
    match command {
        SurveyCommand::Publish { target, file, auteur } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("{} : impossible de lire le fichier ({e})", file.display()))?;
            borne_model::survey_file::check_published(&text, vec!["fr".into()])
                .map_err(|e| format!("{} : {e}", file.display()))?;
            let version =
                storage.publish_survey(scope(target), &text, &author(auteur)).await.map_err(|e| e.to_string())?;
            println!("version publiée ; les bornes l'appliquent au prochain accueil après leur prochaine demande :");
            println!("{version}");
        }
        SurveyCommand::Rollback { target, auteur } => {
            let scope = scope(target);
            match storage.withdraw_survey(scope.clone(), &author(auteur)).await.map_err(|e| e.to_string())? {
                Some(withdrawn) => {
                    let now = storage.survey_versions(scope).await.map_err(|e| e.to_string())?;
                    match now.iter().find(|v| v.withdrawn.is_none()) {
                        Some(back) => println!("version {withdrawn} retirée ; la version {} revient", back.version),
                        None => println!(
                            "version {withdrawn} retirée ; plus aucune version ici (celle du réseau, sinon le fichier de chaque borne)"
                        ),
                    }
                }
                None => return Err("aucune version en service à retirer".into()),
            }
        }
        SurveyCommand::List { target } => {
            let versions = storage.survey_versions(scope(target)).await.map_err(|e| e.to_string())?;
            if versions.is_empty() {
                println!("aucune version publiée");
            }
            let current = versions.iter().find(|v| v.withdrawn.is_none()).map(|v| v.version);
            for v in &versions {
                let state = match (&v.withdrawn, Some(v.version) == current) {
                    (Some((at, by)), _) => format!("retirée le {} par {by}", at.format("%d/%m/%Y %H:%M UTC")),
                    (None, true) => "en service".to_string(),
                    (None, false) => "remplacée".to_string(),
                };
                println!("{}\t{}\t{}\t{state}", v.version, v.published_at.format("%d/%m/%Y %H:%M UTC"), v.author);
            }
        }
    }
    Ok(())
}
