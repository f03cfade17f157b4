// Public pages in headless Chromium: each one loads, passes axe-core with no serious or
// critical violation, and never shows a forbidden text (a comment must never be published).
//
// Usage: node pages.mjs FORBIDDEN_TEXT URL... ; CHROMIUM overrides the browser's path.
// Exits non-zero with a message on the first failure.

import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [forbidden, ...urls] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

function check(condition, message) {
  if (!condition) {
    console.error(`ÉCHEC : ${message}`);
    process.exit(1);
  }
  console.log(`ok - ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
// The pages' CSP forbids injected scripts: this context bypasses it for axe only.
const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
for (const url of urls) {
  const response = await page.goto(url);
  check(response.status() === 200, `${url} answers 200`);
  const text = await page.locator("body").innerText();
  check(!text.includes(forbidden), `${url} shows no comment`);
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  check(result.testEngine?.name === "axe-core", `axe-core ran on ${url}`);
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `axe: no serious or critical violation on ${url}` +
    (bad.length ? ` — ${bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`).join("; ")}` : ""));
}
await browser.close();
console.log("tout est bon");
