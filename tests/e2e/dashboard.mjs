// End-to-end test of the dashboard in headless Chromium, driven by Playwright.
//
// Usage: node dashboard.mjs BASE_URL PASSWORD EXPECTED_JSON [SCREENSHOT_DIR]
// EXPECTED_JSON: {"reviews": N, "bad_comments": N, "session_idle_s": N}
// Exits non-zero with a message on the first failure.

import { mkdirSync, readFileSync } from "node:fs";
import { check, checkAxe, launch } from "./browser.mjs";

const [base, password, expectedJson, shots] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const browser = await launch();
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);

// A wrong password is refused.
await page.goto(`${base}/`);
check(page.url().endsWith("/connexion"), "an anonymous visit lands on the login page");
if (shots) {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: `${shots}/connexion.png` });
}
await page.getByLabel("Mot de passe du responsable").fill("pas le bon mot de passe");
await page.getByRole("button", { name: "Se connecter" }).click();
check((await page.getByRole("alert").textContent()).includes("Mot de passe incorrect"), "a wrong password is refused");

// After the throttle delay, the right one opens the overview.
await page.waitForTimeout(1200);
await page.getByLabel("Mot de passe du responsable").fill(password);
await page.getByRole("button", { name: "Se connecter" }).click();
await page.waitForURL(`${base}/`);
check((await page.locator("h1").textContent()) === "Vue d'ensemble", "logged in, the overview is shown");
const month = await page.locator("section.card", { hasText: "30 derniers jours" }).textContent();
check(month.includes(`${expected.reviews} avis`), `the 30-day card counts ${expected.reviews} reviews`);
check(await page.locator("svg.chart").count() >= 3, "trend and hour charts are drawn");

// Comments filtered by rating.
await page.getByRole("link", { name: "Commentaires" }).click();
await page.getByLabel("Réponse").selectOption({ label: "Pas bien" });
await page.getByRole("button", { name: "Filtrer" }).click();
await page.waitForURL(/note=1/);
const tags = await page.locator("ol.comments .tag").allTextContents();
check(tags.length === expected.bad_comments, `${expected.bad_comments} « Pas bien » comments listed (got ${tags.length})`);
check(tags.every((t) => t === "Pas bien"), "every listed comment is « Pas bien »");

// The CSV download.
await page.getByRole("link", { name: "Export" }).click();
await page.getByLabel("Du").fill("2000-01-01");
const [download] = await Promise.all([
  page.waitForEvent("download"),
  page.getByRole("button", { name: "Télécharger le CSV" }).click(),
]);
const csv = readFileSync(await download.path(), "utf8");
const lines = csv.trim().split("\n");
check(lines.length === expected.reviews + 1, `the CSV has a header and ${expected.reviews} rows (got ${lines.length})`);
check(lines[0].includes(";"), "the CSV uses « ; » for a French spreadsheet");

// « Vous nous l'avez dit, on l'a fait »: an action written, listed, then on the poster.
await page.getByRole("link", { name: "On l'a fait" }).click();
await page.getByLabel(/Ce qui a été fait/).fill("Un guichet de plus le lundi matin, et les rendez-vous en ligne pour les titres de séjour.");
await page.getByRole("button", { name: "Ajouter" }).click();
await page.waitForURL(`${base}/actions`);
check((await page.locator("ul.actions li").count()) === 1, "the action is listed");
await page.goto(`${base}/affiche`);
check((await page.locator(".done li").textContent()).includes("Un guichet de plus"), "the poster shows it");

// A form post without the CSRF token is refused.
const forged = await page.request.post(`${base}/envoi/reessayer`, { form: { csrf: "" } });
check(forged.status() === 403, `a post without CSRF token is refused (${forged.status()})`);

// Screenshots of every page.
const pages = [
  ["/", "vue-d-ensemble"], ["/commentaires", "commentaires"], ["/actions", "on-l-a-fait"], ["/envoi", "envoi"],
  ["/borne", "borne"], ["/export", "export"], ["/affiche", "affiche"],
];
// The page shown is the one asked for: a lost session would land on the sign-in page.
const isAt = async (p, path) => {
  check(new URL(p.url()).pathname === path, `${path} is the page shown (not ${p.url()})`);
  check((await p.locator("h1").count()) === 1, `${path} has its heading`);
};
if (shots) {
  mkdirSync(shots, { recursive: true });
  for (const [path, name] of pages) {
    await page.goto(`${base}${path}`);
    await isAt(page, path);
    await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/`);
  await page.screenshot({ path: `${shots}/vue-d-ensemble-telephone.png`, fullPage: false });
  await page.setViewportSize({ width: 1100, height: 900 });
}

// Accessibility: axe-core on every page (the CSP forbids injected scripts, so this context
// bypasses it for axe only).
const anonymous = await browser.newContext({ bypassCSP: true });
const loginPage = await anonymous.newPage();
await loginPage.goto(`${base}/connexion`);
await isAt(loginPage, "/connexion");
await checkAxe(loginPage, "/connexion");
await anonymous.close();
const axeContext = await browser.newContext({ bypassCSP: true });
await axeContext.addCookies(await context.cookies());
const axePage = await axeContext.newPage();
for (const [path] of pages) {
  for (const width of [1100, 320]) {
    await axePage.setViewportSize({ width, height: 800 });
    await axePage.goto(`${base}${path}`);
    await isAt(axePage, path);
    await checkAxe(axePage, `${path} at ${width} px`);
    // The poster is an A4 sheet, printed: it is not read on a phone.
    if (path !== "/affiche") {
      const overflow = await axePage.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      check(overflow <= 0, `${path} does not scroll sideways at ${width} px (${overflow} px too wide)`);
    }
  }
}
for (const path of ["/accessibilite", "/mentions-legales"]) {
  await axePage.goto(`${base}${path}`);
  check((await axePage.locator("h1").count()) === 1, `${path} has its heading`);
  await checkAxe(axePage, path);
}
await axeContext.close();

// An expired session is refused.
await page.waitForTimeout((expected.session_idle_s + 2) * 1000);
await page.goto(`${base}/commentaires`);
check(page.url().endsWith("/connexion"), "after the idle time, the session has expired");

await browser.close();
console.log("tout est bon");
