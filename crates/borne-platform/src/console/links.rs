//! Single-use links: the first administrator's (printed by `serve` while no account exists),
//! an invitation (mailed when a manager is invited), a password reset (« mot de passe
//! oublié »). Each opens a form that sets a password once; an expired or used link says so.

use super::core::{Failure, Shared, html};
use super::pages::bare;
use super::store::Admin;
use crate::storage::Storage;
use crate::storage::admin::{INVITATION_VALID, LinkKind, RESET_VALID, SETUP_VALID};
use crate::storage::alerting::NewMail;
use crate::storage::console::{Account, Role};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use maud::{Markup, html};
use serde::Deserialize;

/// The shortest password the console takes (ANSSI's advice for a password alone: 12 and more).
pub const MIN_PASSWORD: usize = 12;
/// A reset is mailed at most this many times an hour to one account.
const RESETS_PER_HOUR: u64 = 3;

/// The link's address on `base` (the platform's public address).
pub fn address(base: &str, token: &str) -> String {
    format!("{}/console/lien/{token}", base.trim_end_matches('/'))
}

/// While no account exists: a link to create the first administrator, to print at start.
pub async fn first_setup(storage: &Storage, base: &str) -> Result<Option<String>, crate::storage::StorageError> {
    if !storage.accounts().await?.is_empty() {
        return Ok(None);
    }
    let token = Admin(storage).new_link(LinkKind::Setup, None, SETUP_VALID, |_| None, Utc::now()).await?;
    Ok(Some(address(base, &token)))
}

/// The mail of an invitation or a reset.
pub(super) fn mail(kind: LinkKind, account: &Account, url: &str, by: Option<&str>) -> NewMail {
    let (subject, body) = match kind {
        LinkKind::Reset => (
            "Borne : choisir un nouveau mot de passe".to_string(),
            format!(
                "Bonjour {name},\n\nQuelqu'un (vous, sans doute) a demandé un nouveau mot de passe pour la console Borne \
                 ({email}).\n\nChoisissez-le ici (lien valable une heure, une seule fois) :\n{url}\n\n\
                 Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n",
                name = account.name,
                email = account.id,
            ),
        ),
        _ => (
            "Borne : votre accès à la console des réseaux".to_string(),
            format!(
                "Bonjour {name},\n\n{by} vous ouvre un accès à la console Borne ({role}{scope}), où se lisent \
                 les avis des usagers recueillis par les bornes.\n\nChoisissez votre mot de passe ici (lien valable \
                 7 jours, une seule fois) :\n{url}\n\nVotre identifiant est votre adresse : {email}\n",
                name = account.name,
                by = by.unwrap_or("L'administrateur de votre réseau"),
                role = account.role.label(),
                scope = account
                    .organisation
                    .as_deref()
                    .or(account.site.as_deref())
                    .map(|s| format!(" : {s}"))
                    .unwrap_or_default(),
                email = account.id,
            ),
        ),
    };
    NewMail { recipient: account.id.clone(), subject, body, unsubscribe_url: None }
}

/// Queues an invitation for a new account; the link when no mail can carry it (to pass on).
pub(super) async fn invite(platform: &Shared, account: &Account, by: &str) -> Result<Option<String>, Failure> {
    let base = platform.mail_base.clone();
    let storage = platform.storage();
    let token = Admin(storage)
        .new_link(
            LinkKind::Invitation,
            Some(&account.id),
            INVITATION_VALID,
            |token| base.as_deref().map(|b| mail(LinkKind::Invitation, account, &address(b, token), Some(by))),
            Utc::now(),
        )
        .await?;
    if base.is_some() {
        platform.mail_queued.notify_one();
        Ok(None)
    } else {
        Ok(Some(token))
    }
}

#[derive(Deserialize, Default)]
pub(super) struct SetPassword {
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
    confirmation: Option<String>,
}

fn expired() -> Response {
    let content = html! {
        div.fr-alert.fr-alert--error.fr-mb-3w { p role="alert" { "Ce lien a déjà servi, a expiré ou n'existe pas." } }
        p { "Un lien d'invitation vaut 7 jours, un lien de nouveau mot de passe une heure ; chacun ne sert qu'une fois." }
        p { a.fr-link href="/console/mot-de-passe-oublie" { "Demander un nouveau lien" } }
    };
    (StatusCode::GONE, html(bare("Lien expiré", "Lien expiré ou déjà utilisé", content))).into_response()
}

fn password_form(kind: LinkKind, token: &str, form: &SetPassword, message: Option<&str>) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let content = html! {
        div.borne-narrow {
            @match kind {
                LinkKind::Setup => p { "Aucun compte n'existe encore : créez celui de l'administration nationale, qui ouvrira ensuite les organisations, les sites, les bornes et les autres comptes." },
                LinkKind::Invitation => p { "Choisissez le mot de passe de votre compte." },
                LinkKind::Reset => p { "Choisissez un nouveau mot de passe : les sessions ouvertes avec l'ancien sont fermées." },
            }
            @if let Some(message) = message { div.fr-alert.fr-alert--error.fr-mb-3w { p.error role="alert" { (message) } } }
            form method="post" action=(format!("/console/lien/{token}")) {
                @if kind == LinkKind::Setup {
                    div.fr-input-group {
                        label.fr-label for="name" { "Nom affiché" }
                        input.fr-input #name name="name" required maxlength="200" autocomplete="name" value=(value(&form.name));
                    }
                    div.fr-input-group {
                        label.fr-label for="email" { "Adresse électronique (votre identifiant)" }
                        input.fr-input #email name="email" type="email" required autocomplete="username" value=(value(&form.email));
                    }
                }
                div.fr-input-group {
                    label.fr-label for="password" { "Mot de passe" span.fr-hint-text { (MIN_PASSWORD) " caractères au moins" } }
                    input.fr-input #password name="password" type="password" required minlength=(MIN_PASSWORD) autocomplete="new-password";
                }
                div.fr-input-group {
                    label.fr-label for="confirmation" { "Le même mot de passe, encore" }
                    input.fr-input #confirmation name="confirmation" type="password" required autocomplete="new-password";
                }
                button.fr-btn type="submit" { "Enregistrer le mot de passe" }
            }
        }
    };
    let heading = match kind {
        LinkKind::Setup => "Premier administrateur",
        LinkKind::Invitation => "Bienvenue sur la console",
        LinkKind::Reset => "Nouveau mot de passe",
    };
    bare(heading, heading, content)
}

/// `GET /console/lien/{token}`.
pub(super) async fn open(State(platform): State<Shared>, Path(token): Path<String>) -> Result<Response, Failure> {
    let Some(link) = Admin(platform.storage()).valid_link(&token, Utc::now()).await? else { return Ok(expired()) };
    Ok(html(password_form(link.kind, &token, &SetPassword::default(), None)))
}

/// `POST /console/lien/{token}`: the password set once (and, for the first administrator,
/// the national account created).
pub(super) async fn set(
    State(platform): State<Shared>,
    Path(token): Path<String>,
    Form(form): Form<SetPassword>,
) -> Result<Response, Failure> {
    let admin = Admin(platform.storage());
    let now = Utc::now();
    let Some(link) = admin.valid_link(&token, now).await? else { return Ok(expired()) };
    let again = |message: &str| {
        (StatusCode::BAD_REQUEST, html(password_form(link.kind, &token, &form, Some(message)))).into_response()
    };
    let typed = [&form.name, &form.email, &form.password, &form.confirmation];
    if super::core::no_control(typed.iter().filter_map(|v| v.as_deref())).is_err() {
        return Ok(again("Un champ contient un caractère de contrôle : retirez-le."));
    }
    let password = form.password.clone().unwrap_or_default();
    if password.chars().count() < MIN_PASSWORD {
        return Ok(again(&format!("Le mot de passe doit faire {MIN_PASSWORD} caractères au moins.")));
    }
    if password.len() > 1024 {
        return Ok(again("Le mot de passe est trop long (1024 octets au plus)."));
    }
    if form.confirmation.as_deref() != Some(password.as_str()) {
        return Ok(again("Les deux mots de passe ne sont pas les mêmes."));
    }
    let new_account = if link.kind == LinkKind::Setup {
        let account = Account {
            id: form.email.clone().unwrap_or_default().trim().to_lowercase(),
            name: form.name.clone().unwrap_or_default().trim().to_string(),
            role: Role::National,
            organisation: None,
            site: None,
            password_hash: None,
            oidc_subject: None,
            disabled: false,
        };
        if let Err(e) = crate::storage::console::checked(&account) {
            return Ok(again(&e.to_string()));
        }
        Some(account)
    } else {
        None
    };
    let phc = borne_web::auth::hash_password(&password).map_err(Failure::BadInput)?;
    if admin.use_link(&token, &phc, now).await?.is_none() {
        return Ok(expired());
    }
    if let Some(account) = new_account {
        let id = account.id.clone();
        platform.storage().add_account(Account { password_hash: Some(phc), ..account }).await?;
        tracing::info!(account = %id, "first administrator created");
    }
    let content = html! {
        div.fr-alert.fr-alert--success.fr-mb-3w { p role="status" { "Votre mot de passe est enregistré." } }
        p { a.fr-btn href="/console/connexion" { "Se connecter" } }
    };
    Ok(html(bare("Mot de passe enregistré", "Mot de passe enregistré", content)))
}

fn forgotten_page(done: bool, message: Option<&str>) -> Markup {
    let content = html! {
        div.borne-narrow {
            @if done {
                div.fr-alert.fr-alert--info.fr-mb-3w { p role="status" {
                    "Si un compte existe à cette adresse, un message vient de lui être envoyé avec un lien valable une heure."
                } }
            } @else {
                p { "Indiquez l'adresse de votre compte : un lien pour choisir un nouveau mot de passe y sera envoyé." }
                @if let Some(message) = message { div.fr-alert.fr-alert--error.fr-mb-3w { p.error role="alert" { (message) } } }
                form method="post" action="/console/mot-de-passe-oublie" {
                    div.fr-input-group {
                        label.fr-label for="email" { "Adresse électronique" }
                        input.fr-input #email name="email" type="email" required autocomplete="username";
                    }
                    button.fr-btn type="submit" { "Recevoir un lien" }
                }
            }
            p.fr-mt-3w { a.fr-link href="/console/connexion" { "Retour à la connexion" } }
        }
    };
    bare("Mot de passe oublié", "Mot de passe oublié", content)
}

/// `GET /console/mot-de-passe-oublie`.
pub(super) async fn forgotten_form(State(platform): State<Shared>) -> Response {
    if platform.mail_base.is_none() {
        let content = html! {
            p { "Cette plateforme n'envoie pas de courriel : demandez à l'administrateur de votre réseau de vous réinviter, \
                 ou à son exploitant de lancer « borne-platform accounts password »." }
            p { a.fr-link href="/console/connexion" { "Retour à la connexion" } }
        };
        return html(bare("Mot de passe oublié", "Mot de passe oublié", content));
    }
    html(forgotten_page(false, None))
}

#[derive(Deserialize)]
pub(super) struct Forgotten {
    email: Option<String>,
}

/// `POST /console/mot-de-passe-oublie`: the same answer whether the account exists or not (the
/// page does not tell who has an account); a reset mailed at most three times an hour.
pub(super) async fn forgotten(
    State(platform): State<Shared>,
    Form(form): Form<Forgotten>,
) -> Result<Response, Failure> {
    let Some(base) = platform.mail_base.clone() else { return Ok(forgotten_form(State(platform)).await) };
    let email = form.email.unwrap_or_default().trim().to_lowercase();
    if !crate::storage::console::valid_email(&email) || email.chars().any(char::is_control) {
        let page = forgotten_page(false, Some("Cette adresse électronique n'est pas valide."));
        return Ok((StatusCode::BAD_REQUEST, html(page)).into_response());
    }
    let storage = platform.storage();
    let now = Utc::now();
    if let Some(account) = storage.account(&email).await?.filter(|a| !a.disabled)
        && Admin(storage).recent_links(&account.id, now - Duration::hours(1)).await? < RESETS_PER_HOUR
    {
        Admin(storage)
            .new_link(
                LinkKind::Reset,
                Some(&account.id),
                RESET_VALID,
                |token| Some(mail(LinkKind::Reset, &account, &address(&base, token), None)),
                now,
            )
            .await?;
        platform.mail_queued.notify_one();
        tracing::info!(account = %account.id, "password reset mailed");
    }
    Ok(html(forgotten_page(true, None)))
}
