// Public pages in headless Chromium: each one loads as itself (no redirect: a lost session
// would land on the sign-in page, which would pass everything else), has a heading, passes
// axe-core with no serious or critical violation, and never shows a forbidden text (a comment
// must never be published).
//
// Usage: node pages.mjs FORBIDDEN_TEXT URL... ; CHROMIUM overrides the browser's path; COOKIE
// ("name=value") is sent to the first URL's site (a signed-in manager's session).
// Exits non-zero with a message on the first failure.

import { check, checkAxe, launch } from "./browser.mjs";

const [forbidden, ...urls] = process.argv.slice(2);
const browser = await launch();
// The pages' CSP forbids injected scripts: this context bypasses it for axe only.
const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1100, height: 900 } });
if (process.env.COOKIE) {
  const [name, ...value] = process.env.COOKIE.split("=");
  await context.addCookies([{ name, value: value.join("="), url: urls[0] }]);
}
const page = await context.newPage();
page.setDefaultTimeout(15000);
for (const url of urls) {
  const response = await page.goto(url);
  check(response.status() === 200, `${url} answers 200`);
  check(new URL(page.url()).href === new URL(url).href, `${url} is the page shown (not ${page.url()})`);
  check((await page.locator("h1").count()) === 1, `${url} has its heading`);
  const text = await page.locator("body").innerText();
  check(!text.includes(forbidden), `${url} does not show « ${forbidden} »`);
  await checkAxe(page, url);
}
await browser.close();
console.log("tout est bon");
