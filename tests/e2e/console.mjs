// The platform's pages in headless Chromium, as each role sees them: every page at 1366 px and
// at 320 px wide answers as itself, has one heading, does not scroll sideways (RGAA 10.11: wide
// tables scroll in their own frame), and passes axe-core with no serious or critical violation.
// A kiosk is registered through the administration's form. Screenshots of every page at both
// widths go to SCREENSHOT_DIR.
//
// Usage: node console.mjs BASE_URL SCREENSHOT_DIR PLAN_JSON
// PLAN_JSON: {"accounts": [{"email", "password", "pages": [[path, name, status]...]}...],
//             "public": [[path, name, status]...], "register": {"device", "site"}}
// Only the first account's pages are photographed. Exits non-zero on the first failure.

import { mkdirSync } from "node:fs";
import { check, checkAxe, launch } from "./browser.mjs";

const [base, shots, planJson] = process.argv.slice(2);
const plan = JSON.parse(planJson);
mkdirSync(shots, { recursive: true });
const browser = await launch();
const widths = [[1366, 900], [320, 640]];

async function visit(page, path, name, status, photograph) {
  for (const [width, height] of widths) {
    await page.setViewportSize({ width, height });
    const response = await page.goto(`${base}${path}`);
    check(response.status() === status, `${path} answers ${status} (got ${response.status()}) at ${width} px`);
    const at = new URL(page.url());
    check(at.pathname + at.search === path, `${path} is the page shown (not ${page.url()})`);
    check((await page.locator("h1").count()) === 1, `${path} has one heading`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 0, `${path} does not scroll sideways at ${width} px (${overflow} px too wide: ${await widest(page)})`);
    // Under load the font may still be loading when the page is shown: wait for it, then check.
    const marianne = await page.evaluate(async () => {
      await document.fonts.ready;
      return document.fonts.check("16px Marianne");
    });
    check(marianne, `${path} is set in Marianne at ${width} px`);
    await checkAxe(page, `${path} at ${width} px`);
    if (photograph) await page.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
  }
}

// The elements that stick out of the viewport (not those inside a frame that scrolls).
async function widest(page) {
  return await page.evaluate(() => {
    const limit = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > limit + 1 && !e.parentElement?.closest(".borne-scroll"))
      .slice(-5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${[...e.classList].join(".")}`)
      .join(", ");
  });
}

async function signIn(page, email, password) {
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`${base}/console/connexion`);
  await page.getByLabel("Adresse électronique").fill(email);
  await page.getByLabel("Mot de passe", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.waitForURL(`${base}/console/`);
}

// The pages' CSP forbids injected scripts: these contexts bypass it for axe only.
const anonymous = await browser.newContext({ bypassCSP: true });
const visitor = await anonymous.newPage();
visitor.setDefaultTimeout(15000);
for (const [path, name, status] of plan.public) await visit(visitor, path, name, status, true);
await anonymous.close();

for (const [index, account] of plan.accounts.entries()) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await signIn(page, account.email, account.password);
  for (const [path, name, status] of account.pages) await visit(page, path, name, status, index === 0);
  if (index === 0 && plan.register) {
    // A kiosk registered with the form: its token and configuration shown once.
    await page.setViewportSize({ width: 320, height: 640 });
    await page.goto(`${base}/console/administration`);
    await page.getByLabel("Identifiant de la borne").fill(plan.register.device);
    await page.locator("#device-site").selectOption(plan.register.site);
    await page.getByRole("button", { name: "Enregistrer la borne" }).click();
    check((await page.locator("h1").textContent()) === "Nouvelle borne", "the kiosk is registered");
    const config = await page.locator("#configuration").textContent();
    check(config.includes(`device_id = "${plan.register.device}"`), "its configuration names it");
    check((await page.locator("#jeton").textContent()).trim().length >= 32, "its token is shown");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    check(overflow <= 0, `the new kiosk's page does not scroll sideways at 320 px (${overflow} px)`);
    await checkAxe(page, "the new kiosk's page");
    await page.screenshot({ path: `${shots}/nouvelle-borne-320.png`, fullPage: true });
  }
  await context.close();
}
await browser.close();
console.log("tout est bon");
