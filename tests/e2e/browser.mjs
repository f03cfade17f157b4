// What the end-to-end scripts share: a check that stops at the first failure, Debian's
// Chromium launched headless the way this machine needs it, and axe-core run on a page.

import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export function check(condition, message) {
  if (!condition) {
    console.error(`ÉCHEC : ${message}`);
    process.exit(1);
  }
  console.log(`ok - ${message}`);
}

// $CHROMIUM or Debian's; no network beyond loopback, no first-run chores.
export async function launch() {
  return await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

// axe-core on the page as loaded (its context must bypass the CSP): no serious or critical
// violation, or the check fails naming them.
export async function checkAxe(page, name) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  check(result.testEngine?.name === "axe-core", `axe-core ran on ${name}`);
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `axe: no serious or critical violation on ${name}` +
    (bad.length ? ` — ${bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`).join("; ")}` : ""));
}
