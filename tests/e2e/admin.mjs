// The administration driven in headless Chromium, as a person does it, in two acts the Rust
// test (crates/borne-platform/tests/admin.rs) runs around the kiosk's upload and the mail:
//
//   node admin.mjs install BASE_URL SETUP_LINK OUT_JSON
//     the first administrator opens the link `serve` printed, chooses a password, signs in,
//     names a network, adds a site (a mistake first, kept as typed), registers a kiosk and
//     writes the configuration shown once ({"configuration", "token"}) to OUT_JSON, then invites
//     a network manager by e-mail;
//   node admin.mjs manager BASE_URL MAILED_LINK EMAIL SITE_ID REASON
//     the invited manager opens the mailed link, chooses a password, signs in, sees the network's
//     site and reads the reasons behind its score (REASON among the follow-up answers).
//
// Every page passed through is checked with axe-core; each act ends at 320 px without
// horizontal scrolling. Exits non-zero on the first failure.

import { writeFileSync } from "node:fs";
import { check, checkAxe, launch } from "./browser.mjs";

const [act, base, ...rest] = process.argv.slice(2);
const browser = await launch();
// The pages' CSP forbids injected scripts: the context bypasses it for axe only.
const context = await browser.newContext({ bypassCSP: true });
const page = await context.newPage();
page.setDefaultTimeout(15000);
await page.setViewportSize({ width: 1366, height: 900 });

async function signIn(email, password) {
  await page.goto(`${base}/console/connexion`);
  await page.getByLabel("Adresse électronique").fill(email);
  await page.getByLabel("Mot de passe", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.waitForURL(`${base}/console/`);
}

async function success(name) {
  const alert = page.locator(".fr-alert--success");
  check((await alert.count()) === 1, `${name}: the page says it is done`);
  await checkAxe(page, name);
}

async function narrow(name) {
  await page.setViewportSize({ width: 320, height: 640 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `${name} does not scroll sideways at 320 px (${overflow} px)`);
  await page.setViewportSize({ width: 1366, height: 900 });
}

// Opens a single-use link, fills `fields` ({selector: value}) and the password twice, saves.
async function choosePassword(link, password, heading, fields = {}) {
  await page.goto(link);
  check((await page.locator("h1").textContent()).includes(heading), `the link opens « ${heading} »`);
  await checkAxe(page, heading);
  await narrow(heading);
  for (const [selector, value] of Object.entries(fields)) await page.locator(selector).fill(value);
  await page.locator("#password").fill(password);
  await page.locator("#confirmation").fill(password);
  await page.getByRole("button", { name: "Enregistrer le mot de passe" }).click();
  check((await page.content()).includes("Votre mot de passe est enregistré"), "the password is saved");
}

if (act === "install") {
  const [setupLink, out] = rest;
  const password = "un mot de passe assez long";
  const admin = { "#name": "Dominique Admin", "#email": "admin@interieur.gouv.fr" };
  await choosePassword(setupLink, password, "Premier administrateur", admin);
  await page.goto(setupLink);
  check((await page.locator("h1").textContent()).includes("Lien expiré"), "the setup link serves once");
  await signIn("admin@interieur.gouv.fr", password);

  await page.goto(`${base}/console/administration`);
  await page.locator("#org-id").fill("pref-69");
  await page.locator("#org-name").fill("Préfecture du Rhône");
  await page.getByRole("button", { name: "Enregistrer l'organisation" }).click();
  await success("the network is named");

  await page.locator("#site-id").fill("mauvais id !");
  await page.locator("#site-name").fill("Préfecture de Lyon");
  await page.locator("#site-org").selectOption("pref-69");
  await page.getByRole("button", { name: "Ajouter le site" }).click();
  check((await page.locator("#site-name").inputValue()) === "Préfecture de Lyon", "a mistake keeps the name typed");
  check((await page.locator(".fr-alert--error").textContent()).includes("identifiant de site invalide"), "and says what is wrong");
  await page.locator("#site-id").fill("lyon");
  await page.locator("#site-org").selectOption("pref-69");
  await page.getByRole("button", { name: "Ajouter le site" }).click();
  await success("the site is added");

  await page.locator("#device-id").fill("lyon-accueil");
  await page.locator("#device-site").selectOption("lyon");
  await page.getByRole("button", { name: "Enregistrer la borne" }).click();
  check((await page.locator("h1").textContent()) === "Nouvelle borne", "the kiosk is registered");
  const configuration = await page.locator("#configuration").textContent();
  const token = (await page.locator("#jeton").textContent()).trim();
  await checkAxe(page, "the new kiosk's page");
  await narrow("the new kiosk's page");
  writeFileSync(out, JSON.stringify({ configuration, token }));

  await page.goto(`${base}/console/administration`);
  await page.locator("#invite-name").fill("Camille Martin");
  await page.locator("#invite-email").fill("camille.martin@rhone.gouv.fr");
  await page.locator("#invite-role").selectOption("network");
  await page.locator("#invite-org").selectOption("pref-69");
  await page.getByRole("button", { name: "Inviter" }).click();
  await success("the manager is invited");
  check((await page.content()).includes("camille.martin@rhone.gouv.fr"), "the invitation names the address");
  await narrow("the administration");
} else if (act === "manager") {
  const [link, email, site, reason] = rest;
  const password = "le mot de passe de Camille";
  await choosePassword(link, password, "Bienvenue sur la console");
  await signIn(email, password);
  check((await page.locator("main").textContent()).includes("Préfecture de Lyon"), "the network's site is on the home page");
  await checkAxe(page, "the manager's home page");
  await page.getByRole("link", { name: "Préfecture de Lyon" }).first().click();
  await page.waitForURL(`${base}/console/sites/${site}`);
  const chart = page.locator("figure", { has: page.locator("svg") }).filter({ hasText: "Qu'est-ce qui n'a pas été ?" });
  check((await chart.count()) >= 1, "the site's page charts the follow-up question");
  check((await chart.first().textContent()).includes(reason), `the reasons name « ${reason} »`);
  await checkAxe(page, "the site's page");
  await narrow("the site's page");
} else {
  check(false, `unknown act ${act}: install or manager`);
}
await browser.close();
console.log("tout est bon");
