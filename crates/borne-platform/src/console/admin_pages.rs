//! The administration's pages: one page of sections by role, the kiosk's token shown once, an
//! invitation's link when no mail carries it.

use super::pages::{Section, layout};
use crate::notify::OrgRules;
use crate::storage::Site;
use crate::storage::admin::Organisation;
use crate::storage::alerting::Digest;
use crate::storage::console::{Account, ConsoleSession, Role};
use crate::storage::model::Device;
use maud::{Markup, html};
use std::collections::HashMap;

pub struct AdminData {
    pub organisations: Vec<Organisation>,
    pub sites: Vec<Site>,
    pub devices: Vec<Device>,
    pub accounts: Vec<Account>,
    pub digest: Option<Digest>,
    /// Whether the viewer receives alert mails.
    pub alerts: Option<bool>,
    /// Each organisation's alert rules (its own, or the defaults).
    pub rules: Vec<(Organisation, OrgRules, Vec<String>)>,
    /// Whether mails are sent (else invitations show their link).
    pub mail: bool,
}

pub enum Notice {
    Done(&'static str),
    Mistake { section: &'static str, message: String, fields: HashMap<String, String> },
}

/// The message after a form's work, from the `fait` code of the address.
pub fn done_notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "organisation" => "Organisation enregistrée.",
        "site" => "Site ajouté.",
        "revoquee" => "Borne révoquée : son jeton est refusé dès sa prochaine requête.",
        "deplacee" => "Borne déplacée : ses prochains avis comptent pour le nouveau site.",
        "invitation" => "Invitation envoyée par courriel : le lien vaut 7 jours.",
        "desactive" => "Compte désactivé : ses sessions sont fermées.",
        "resumes" => "Vos choix de courriels sont enregistrés.",
        "themes" => "Thèmes enregistrés : ils se cochent sur chaque avis ouvert depuis les commentaires.",
        "alertes" => "Règles d'alerte enregistrées : elles valent dès la prochaine évaluation (chaque minute).",
        _ => return None,
    })
}

fn csrf(session: &ConsoleSession) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A text field, prefilled with what was typed when the form comes back.
fn text_field(id: &str, name: &str, label: &str, hint: Option<&str>, kept: Option<&HashMap<String, String>>) -> Markup {
    let value = kept.and_then(|k| k.get(name)).cloned().unwrap_or_default();
    html! {
        div.fr-input-group {
            label.fr-label for=(id) { (label) @if let Some(hint) = hint { span.fr-hint-text { (hint) } } }
            input.fr-input id=(id) name=(name) required value=(value);
        }
    }
}

fn site_select(id: &str, label: &str, sites: &[Site], kept: Option<&HashMap<String, String>>) -> Markup {
    let chosen = kept.and_then(|k| k.get("site")).cloned().unwrap_or_default();
    html! {
        div.fr-select-group {
            label.fr-label for=(id) { (label) }
            select.fr-select id=(id) name="site" required {
                @for site in sites { option value=(site.id) selected[site.id == chosen] { (site.name) " (" (site.id) ")" } }
            }
        }
    }
}

fn org_name<'a>(organisations: &'a [Organisation], id: Option<&'a str>) -> &'a str {
    match id {
        Some(id) => organisations.iter().find(|o| o.id == id).map_or(id, |o| o.name.as_str()),
        None => "—",
    }
}

pub fn page(session: &ConsoleSession, data: &AdminData, notice: Option<&Notice>) -> Markup {
    let account = &session.account;
    let (mistake, kept) = match notice {
        Some(Notice::Mistake { section, message, fields }) => (Some((*section, message.as_str())), Some(fields)),
        _ => (None, None),
    };
    let kept_for = |section: &str| kept.filter(|_| mistake.is_some_and(|(s, _)| s == section));
    let alert = |section: &str| -> Markup {
        html! {
            @if let Some((s, message)) = mistake { @if s == section {
                div.fr-alert.fr-alert--error.fr-mb-2w { p.error role="alert" { (message) } }
            } }
        }
    };
    let content = html! {
        @if let Some(Notice::Done(text)) = notice {
            div.fr-alert.fr-alert--success.fr-mb-3w { p role="status" { (text) } }
        }
        nav.fr-summary.fr-mb-4w aria-labelledby="sommaire" {
            p.fr-summary__title #sommaire { "Sommaire" }
            ol {
                li { a.fr-summary__link href="#resumes" { "Mes résumés par courriel" } }
                @if account.role != Role::Site { li { a.fr-summary__link href="#organisations" { "Organisations" } } }
                @if account.role != Role::Site { li { a.fr-summary__link href="#sites" { "Sites" } } }
                @if account.role != Role::Site { li { a.fr-summary__link href="#alertes" { "Alertes" } } }
                li { a.fr-summary__link href="#bornes" { "Bornes" } }
                @if account.role != Role::Site { li { a.fr-summary__link href="#comptes" { "Comptes" } } }
            }
        }
        section #resumes aria-labelledby="resumes-titre" {
            h2 #resumes-titre { "Mes résumés par courriel" }
            (alert("resumes"))
            form method="post" action="/console/administration/resumes" {
                (csrf(session))
                div.fr-select-group {
                    label.fr-label for="digest" { "Recevoir un résumé de mon périmètre" }
                    select.fr-select #digest name="digest" {
                        @for (value, label) in [("none", "jamais"), ("daily", "chaque jour"), ("weekly", "chaque semaine"), ("monthly", "chaque mois")] {
                            option value=(value) selected[data.digest.map(Digest::as_str) == Some(value)] { (label) }
                        }
                    }
                }
                div.fr-checkbox-group.fr-mb-2w {
                    input #alerts type="checkbox" name="alerts" value="oui" checked[data.alerts.unwrap_or(true)];
                    label.fr-label for="alerts" { "Recevoir les alertes de mon périmètre (borne hors ligne, avis en attente, « Pas bien » en hausse, note en baisse)" }
                }
                button.fr-btn.fr-btn--secondary type="submit" { "Enregistrer" }
            }
        }
        @if account.role != Role::Site {
            section #organisations aria-labelledby="organisations-titre" {
                h2 #organisations-titre { "Organisations" }
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Organisations (réseaux) de votre périmètre" }
                    thead { tr { th scope="col" { "Identifiant" } th scope="col" { "Nom" } th scope="col" { "Sites" } } }
                    tbody { @for org in &data.organisations { tr {
                        td { code { (org.id) } } td { (org.name) }
                        td { (data.sites.iter().filter(|s| s.organisation.as_deref() == Some(org.id.as_str())).count()) }
                    } } }
                } }
                h3.fr-h6 { @if account.role == Role::National { "Créer ou renommer une organisation" } @else { "Renommer votre organisation" } }
                (alert("organisations"))
                form method="post" action="/console/administration/organisations" {
                    (csrf(session))
                    @if account.role == Role::National {
                        (text_field("org-id", "id", "Identifiant", Some("lettres, chiffres, « - », « _ » ou « . » ; par exemple pref-69"), kept_for("organisations")))
                    } @else {
                        input type="hidden" name="id" value=(account.organisation.clone().unwrap_or_default());
                    }
                    (text_field("org-name", "name", "Nom", Some("par exemple Préfecture du Rhône"), kept_for("organisations")))
                    button.fr-btn type="submit" { "Enregistrer l'organisation" }
                }
                h3.fr-h6 { "Thèmes des commentaires" }
                p { "Les thèmes propres à votre réseau, séparés par des virgules (20 au plus) : chaque commentaire s'y classe depuis son avis." }
                (alert("themes"))
                @for (org, _, themes) in &data.rules {
                    @let kept = kept_for("themes").filter(|k| k.get("organisation") == Some(&org.id));
                    form.fr-mb-3w method="post" action="/console/administration/themes" {
                        (csrf(session))
                        input type="hidden" name="organisation" value=(org.id);
                        div.fr-input-group {
                            label.fr-label for=(format!("themes-{}", org.id)) { "Thèmes de " (org.name) }
                            input.fr-input id=(format!("themes-{}", org.id)) name="themes"
                                value=(kept.and_then(|k| k.get("themes")).cloned().unwrap_or_else(|| themes.join(", ")));
                        }
                        button.fr-btn.fr-btn--secondary type="submit" { "Enregistrer les thèmes de " (org.name) }
                    }
                }
            }
            section #sites aria-labelledby="sites-titre" {
                h2 #sites-titre { "Sites" }
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Sites (points d'accueil) de votre périmètre" }
                    thead { tr { th scope="col" { "Site" } th scope="col" { "Identifiant" } th scope="col" { "Organisation" } th scope="col" { "Fuseau" } } }
                    tbody { @for site in &data.sites { tr {
                        td { a href=(format!("/console/sites/{}", site.id)) { (site.name) } }
                        td { code { (site.id) } }
                        td { (org_name(&data.organisations, site.organisation.as_deref())) }
                        td { (site.time_zone) }
                    } } }
                } }
                h3.fr-h6 { "Ajouter un site" }
                (alert("sites"))
                form method="post" action="/console/administration/sites" {
                    (csrf(session))
                    (text_field("site-id", "id", "Identifiant", Some("par exemple sp-villefranche"), kept_for("sites")))
                    (text_field("site-name", "name", "Nom", Some("par exemple Sous-préfecture de Villefranche-sur-Saône"), kept_for("sites")))
                    @if account.role == Role::National {
                        div.fr-select-group {
                            label.fr-label for="site-org" { "Organisation" }
                            select.fr-select #site-org name="organisation" {
                                option value="" { "aucune" }
                                @for org in &data.organisations {
                                    option value=(org.id) selected[kept_for("sites").and_then(|k| k.get("organisation")) == Some(&org.id)] { (org.name) }
                                }
                            }
                        }
                    }
                    div.fr-input-group {
                        label.fr-label for="site-tz" { "Fuseau horaire" span.fr-hint-text { "nom IANA ; Europe/Paris si vide, America/Cayenne en Guyane…" } }
                        input.fr-input #site-tz name="time_zone" value=(kept_for("sites").and_then(|k| k.get("time_zone")).cloned().unwrap_or_default());
                    }
                    button.fr-btn type="submit" { "Ajouter le site" }
                }
            }
        }
        @if account.role != Role::Site {
            section #alertes aria-labelledby="alertes-titre" {
                h2 #alertes-titre { "Alertes" }
                p { "Un incident s'ouvre quand une règle est vraie depuis le délai choisi, et se résout seul quand elle ne l'est plus ; \
                     les responsables qui reçoivent les alertes en sont avertis par courriel. 0 désactive une règle." }
                (alert("alertes"))
                @for (org, rules, _) in &data.rules {
                    @let kept = kept_for("alertes").filter(|k| k.get("organisation") == Some(&org.id));
                    @let value = |name: &str, current: String| kept.and_then(|k| k.get(name)).cloned().unwrap_or(current);
                    form.fr-mb-4w method="post" action="/console/administration/alertes" {
                        (csrf(session))
                        input type="hidden" name="organisation" value=(org.id);
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { (org.name) }
                            @for (name, label, current) in [
                                ("offline_hours", "Borne silencieuse depuis (heures)", rules.offline_hours.to_string()),
                                ("pending_hours", "Avis en attente sur une borne depuis (heures)", rules.pending_hours.to_string()),
                                ("negative_percent", "Part de « Pas bien » au-dessus de (%)", french(rules.negative_percent)),
                                ("negative_days", "… sur les derniers (jours)", rules.negative_days.to_string()),
                                ("negative_minimum", "… à partir de (avis)", rules.negative_minimum.to_string()),
                                ("drop_points", "Note en baisse d'au moins (points sur 10)", french(rules.drop_points)),
                                ("drop_days", "… sur les derniers (jours), comparés aux précédents", rules.drop_days.to_string()),
                                ("drop_minimum", "… à partir de (avis dans chaque période)", rules.drop_minimum.to_string()),
                                ("debounce_minutes", "Délai avant d'ouvrir ou de résoudre (minutes)", rules.debounce_minutes.to_string()),
                                ("cap_hours", "Au plus un incident par règle et par borne ou site en (heures)", rules.cap_hours.to_string()),
                            ] {
                                @let id = format!("{}-{name}", org.id);
                                div.fr-input-group {
                                    label.fr-label for=(id) { (label) }
                                    input.fr-input id=(id) name=(name) inputmode="decimal" required value=(value(name, current));
                                }
                            }
                        }
                        button.fr-btn.fr-btn--secondary type="submit" { "Enregistrer les règles de " (org.name) }
                    }
                }
                @if data.rules.is_empty() { p { "Aucune organisation dans votre périmètre." } }
            }
        }
        section #bornes aria-labelledby="bornes-titre" {
            h2 #bornes-titre { "Bornes" }
            @if data.devices.is_empty() {
                p { "Aucune borne enregistrée dans votre périmètre." }
            } @else {
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Bornes de votre périmètre" }
                    thead { tr { th scope="col" { "Borne" } th scope="col" { "Site" } th scope="col" { "État" } th scope="col" { "Actions" } } }
                    tbody { @for device in &data.devices { tr {
                        td { code { (device.id) } }
                        td { (device.site_id.as_deref().and_then(|s| data.sites.iter().find(|x| x.id == s)).map_or("—", |s| s.name.as_str())) }
                        td { @if device.revoked_at.is_some() { "révoquée" } @else { "active" } }
                        td { @if device.revoked_at.is_none() { div.actions-row {
                            form method="post" action="/console/administration/bornes/revoquer" {
                                (csrf(session)) input type="hidden" name="device" value=(device.id);
                                button.fr-btn.fr-btn--sm.fr-btn--tertiary type="submit" { "Révoquer " span.fr-sr-only { (device.id) } }
                            }
                            @if data.sites.len() > 1 {
                                form.actions-row method="post" action="/console/administration/bornes/deplacer" {
                                    (csrf(session)) input type="hidden" name="device" value=(device.id);
                                    label.fr-sr-only for=(format!("move-{}", device.id)) { "Nouveau site de " (device.id) }
                                    select.fr-select id=(format!("move-{}", device.id)) name="site" {
                                        @for site in &data.sites { option value=(site.id) selected[device.site_id.as_deref() == Some(site.id.as_str())] { (site.name) } }
                                    }
                                    button.fr-btn.fr-btn--sm.fr-btn--secondary type="submit" { "Déplacer" }
                                }
                            }
                        } } }
                    } } }
                } }
            }
            h3.fr-h6 { "Enregistrer une borne" }
            p { "La page suivante donne son jeton, une seule fois, et les lignes exactes à coller dans sa configuration." }
            (alert("bornes"))
            @if data.sites.is_empty() {
                p { "Ajoutez d'abord un site." }
            } @else {
                form method="post" action="/console/administration/bornes" {
                    (csrf(session))
                    (text_field("device-id", "id", "Identifiant de la borne", Some("par exemple villefranche-accueil-1"), kept_for("bornes")))
                    (site_select("device-site", "Site", &data.sites, kept_for("bornes")))
                    button.fr-btn type="submit" { "Enregistrer la borne" }
                }
            }
        }
        @if account.role != Role::Site {
            section #comptes aria-labelledby="comptes-titre" {
                h2 #comptes-titre { "Comptes" }
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Comptes de la console dans votre périmètre" }
                    thead { tr { th scope="col" { "Nom" } th scope="col" { "Adresse" } th scope="col" { "Rôle" } th scope="col" { "État" } th scope="col" { "Action" } } }
                    tbody { @for other in &data.accounts { tr {
                        td { (other.name) }
                        td.borne-wrap { (other.id) }
                        td { (other.role.label())
                            @if let Some(org) = &other.organisation { " : " (org_name(&data.organisations, Some(org))) }
                            @if let Some(site) = &other.site {
                                " : " (data.sites.iter().find(|s| &s.id == site).map_or(site.as_str(), |s| s.name.as_str()))
                            } }
                        td { @if other.disabled { "désactivé" } @else if other.password_hash.is_none() && other.oidc_subject.is_none() { "invité" } @else { "actif" } }
                        td { @if !other.disabled && other.id != account.id {
                            form method="post" action="/console/administration/comptes/desactiver" {
                                (csrf(session)) input type="hidden" name="email" value=(other.id);
                                button.fr-btn.fr-btn--sm.fr-btn--tertiary type="submit" { "Désactiver " span.fr-sr-only { (other.id) } }
                            }
                        } }
                    } } }
                } }
                h3.fr-h6 { "Inviter un responsable" }
                p { @if data.mail { "Un courriel lui donne un lien, valable 7 jours, pour choisir son mot de passe." }
                    @else { "Cette plateforme n'envoie pas de courriel : la page suivante donne le lien à lui transmettre." } }
                (alert("comptes"))
                form method="post" action="/console/administration/comptes" {
                    (csrf(session))
                    (text_field("invite-name", "name", "Nom affiché", None, kept_for("comptes")))
                    div.fr-input-group {
                        label.fr-label for="invite-email" { "Adresse électronique" }
                        input.fr-input #invite-email name="email" type="email" required value=(kept_for("comptes").and_then(|k| k.get("email")).cloned().unwrap_or_default());
                    }
                    div.fr-select-group {
                        label.fr-label for="invite-role" { "Rôle" }
                        select.fr-select #invite-role name="role" {
                            @if account.role == Role::National { option value="national" { (Role::National.label()) } }
                            option value="network" selected[kept_for("comptes").and_then(|k| k.get("role")).is_some_and(|r| r == "network")] { (Role::Network.label()) " (l'organisation ci-dessous)" }
                            option value="site" selected[kept_for("comptes").and_then(|k| k.get("role")).is_none_or(|r| r == "site")] { (Role::Site.label()) " (le site ci-dessous)" }
                        }
                    }
                    div.fr-select-group {
                        label.fr-label for="invite-org" { "Organisation (responsable de réseau)" }
                        select.fr-select #invite-org name="organisation" {
                            @for org in &data.organisations { option value=(org.id) { (org.name) } }
                        }
                    }
                    @if !data.sites.is_empty() { (site_select("invite-site", "Site (responsable de site)", &data.sites, kept_for("comptes"))) }
                    button.fr-btn type="submit" { "Inviter" }
                }
            }
        }
    };
    layout(session, Some(Section::Admin), "Administration", content)
}

/// After registering a kiosk: its configuration and its token, shown this once.
pub fn registered(session: &ConsoleSession, device: &str, site: &Site, config: &str, token: &str) -> Markup {
    let content = html! {
        div.fr-alert.fr-alert--success.fr-mb-3w { p role="status" { "Borne " (device) " enregistrée sur le site " (site.name) "." } }
        div.fr-alert.fr-alert--warning.fr-mb-3w { p { "Son jeton n'est affiché qu'ici, une seule fois : copiez-le maintenant. Perdu, il se remplace (la borne est révoquée puis ré-enregistrée)." } }
        h2 { "1. La configuration" }
        p { "À ajouter à " code { "/etc/borne/borne.toml" } " sur la borne :" }
        pre.token #configuration { (config) }
        h2 { "2. Le jeton" }
        p { "Seul, dans " code { "/etc/borne/token" } " (lisible par l'utilisateur borne seulement) :" }
        pre.token #jeton { (token) }
        p { "Puis redémarrez la borne : son premier envoi la fait apparaître « en ligne » dans " a href="/console/bornes" { "Bornes" } "." }
        p { a.fr-link href="/console/administration#bornes" { "Retour à l'administration" } }
    };
    layout(session, Some(Section::Admin), "Nouvelle borne", content)
}

/// After inviting without mail: the link to pass on.
pub fn invited_without_mail(session: &ConsoleSession, account: &Account, url: &str) -> Markup {
    let content = html! {
        div.fr-alert.fr-alert--success.fr-mb-3w { p role="status" { "Compte créé pour " (account.name) " (" (account.id) ")." } }
        p { "Cette plateforme n'envoie pas de courriel : transmettez ce lien à " (account.name) ". Il vaut 7 jours et ne sert qu'une fois." }
        pre.token #lien { (url) }
        p { a.fr-link href="/console/administration#comptes" { "Retour à l'administration" } }
    };
    layout(session, Some(Section::Admin), "Invitation", content)
}

fn french(value: f64) -> String {
    borne_model::indicators::french_decimal(value)
}
