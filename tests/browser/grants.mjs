#!/usr/bin/env node
// Jane reviews and revokes a grant in a real browser: headless Chromium driven through
// playwright-core (with the system's Chromium, never a downloaded one), Beppa's side
// signed with the npm package oauth-1.0a (HMAC-SHA1 through node:crypto) over Node's
// built-in fetch, the pages audited with the npm package axe-core.
//
// Beppa asks for a request token; Jane logs in with the keyboard only and approves one
// of her two photos for one hour; the browser follows the consent's redirect to Beppa's
// callback (a small server of this script's own on a free loopback port) and the
// verifier is read from its URL; Beppa exchanges it and fetches the photo list three
// times; Jane finds the grant on /account/grants, reads its timeline and revokes it;
// Beppa's next call is refused with token_revoked. An auditor, in a context of their own,
// logs in to /audit with the auditor token by keyboard, sees that the log verifies,
// replays Jane's grants with Beppa, finds the revoked grant with its approving event, and
// fetches its receipt and the CSV export with the page's session. Then, while Jane and
// the auditor are still logged in, axe-core audits the login, consent, grants, history
// and auditor pages against WCAG 2.0/2.1 A and AA, in a second browser context that bypasses the pages' CSP (which allows no
// script, so axe cannot run in the first) and shares Jane's cookies. Jane logs out, and
// the grants page then sends her to the login form. Pages are shown at a phone's size
// (390x844); login.png, consent.png, grants.png, timeline.png and auditor.png are written to
// --screenshots (failure.png too when a browser step of the main context fails). The
// pages must make no request to any other origin: every such request is aborted and
// counted; the audit wants none from its context, and the last step none from the main one.
//
// Prints one line per step (PASS, or FAIL with what was expected and what came back)
// and exits 0 only if every step behaved as expected (1 on the first that did not, 2 on
// bad arguments).
//
//   node grants.mjs --base-url http://127.0.0.1:8080 --screenshots target/screenshots \
//     --auditor-token TOKEN [--chromium /usr/bin/chromium] [--client-key beppa-demo-key] \
//     [--client-secret beppa-demo-secret] [--username jane] [--password islay-scotch]
//
// Secrets (token secrets, the verifier, the password, CSRF tokens) are never printed.

import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import OAuth from 'oauth-1.0a';
import { chromium } from 'playwright-core';

import {
  DEMO_OPTIONS,
  StepFailed,
  authorizationHeader,
  baseUrlOption,
  commandLine,
  fail,
  fetchOnce,
  hmacSha1,
  ok,
  reportFailed,
  reportPassed,
  responseHead,
  sign,
  timeoutOption,
} from '../clients/steps.mjs';

const VIEWPORT = { width: 390, height: 844 };
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];
// What Beppa's callback shows: its icon inline, so the page fetches nothing else.
const CALLBACK_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">' +
  '<title>Beppa Prints</title></head><body><h1>Back at Beppa Prints</h1></body></html>';
const USES = 3;
// The dl of a grant on /account/grants, in this order.
const GRANT_TERMS = ['Access', 'Photos', 'Granted', 'Expires', 'Last used', 'Uses', 'Remembered', 'Status'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The rules axe-core runs on each page: WCAG 2.0 and 2.1, levels A and AA.
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

const USAGE = `usage: node grants.mjs --base-url URL --screenshots DIR --auditor-token TOKEN [options]

Drive grantlog's owner pages in headless Chromium (playwright-core) while a client
signed with oauth-1.0a uses the grant: log in by keyboard, approve one photo, find the
grant, read its timeline, revoke it, see the client refused; an auditor logs in to
/audit, replays Jane's grants and downloads the receipt and the export; audit the pages
with axe-core, log out. Exit 0 only if every step behaves as expected.

options:
  --base-url URL          the server, e.g. http://127.0.0.1:8080 (required)
  --screenshots DIR       where login.png, consent.png, grants.png and timeline.png
                          go (created if missing; required)
  --chromium PATH         the Chromium binary (default /usr/bin/chromium)
  --client-key KEY        client key (default: the --demo client, beppa-demo-key)
  --client-secret SECRET  client secret (default: the --demo client's)
  --username NAME         resource owner (default jane)
  --password PASSWORD     resource owner's password (default: the --demo owner's)
  --client-name NAME      the client's name as the pages show it (default Beppa Prints)
  --photo TITLE           the one photo to approve, by its title; every other photo
                          is unticked (default Port Ellen harbour at dawn)
  --auditor-token TOKEN   the server's auditor token, for the auditor's page (required)
  --timeout SECONDS       per HTTP request and per browser wait (default 10)
  -h, --help              show this help and exit`;

// ------------------------------------------------------------------------- arguments

function parseArguments(argv) {
  const { values, usageError } = commandLine({
    script: 'grants.mjs',
    usage: USAGE,
    argv,
    options: {
      ...DEMO_OPTIONS,
      screenshots: { type: 'string' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      'client-name': { type: 'string', default: 'Beppa Prints' },
      photo: { type: 'string', default: 'Port Ellen harbour at dawn' },
      'auditor-token': { type: 'string' },
    },
    required: ['base-url', 'screenshots', 'auditor-token'],
  });
  const { baseUrl, parsed } = baseUrlOption(values['base-url'], usageError);
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) usageError('--base-url must be an origin, without a path');
  if (!fs.existsSync(values.chromium)) {
    usageError(`no Chromium at ${values.chromium} (apt-get install chromium chromium-driver, or pass --chromium PATH)`);
  }
  const timeoutMs = timeoutOption(values.timeout, usageError);
  // axe-core, injected into the pages from this folder's node_modules (never fetched).
  const require = createRequire(import.meta.url);
  let axe;
  try {
    axe = { script: require.resolve('axe-core/axe.min.js'), version: require('axe-core/package.json').version };
  } catch (e) {
    usageError(`axe-core is not installed (${e.code ?? e.message}): run \`npm ci\` in ${path.dirname(new URL(import.meta.url).pathname)}`);
  }
  return {
    baseUrl,
    origin: parsed.origin,
    screenshots: path.resolve(values.screenshots),
    chromium: values.chromium,
    clientKey: values['client-key'],
    clientSecret: values['client-secret'],
    username: values.username,
    password: values.password,
    clientName: values['client-name'],
    photo: values.photo,
    auditorToken: values['auditor-token'],
    timeoutMs,
    axe,
  };
}

const ARGS = parseArguments(process.argv.slice(2));

// ------------------------------------------------------------------------- output

let current = 'start';

function begin(step) {
  current = step;
  return step;
}

function redact(text) {
  return String(text).replace(
    /((?:oauth_token_secret|oauth_verifier|password|csrf_token)=)[^&\s"'<]+/g,
    '$1<redacted>',
  );
}

function short(text, chars = 600) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  return flat.length > chars ? `${flat.slice(0, chars)} ...` : flat;
}

// A URL on the server as path and query; any other URL whole. Redacted.
function where(url) {
  try {
    const u = new URL(url);
    return redact(u.origin === ARGS.origin ? `${u.pathname}${u.search}` : u.href);
  } catch {
    return redact(url);
  }
}

// ------------------------------------------------------------------------- the client

function describe(res, bodyChars = 400) {
  const parts = responseHead(res, redact);
  parts.push(res.text.length ? `body: ${JSON.stringify(redact(res.text.slice(0, bodyChars)))}` : 'empty body');
  return parts.join('; ');
}

// One request, never following redirects.
async function send(step, method, url, headers = {}) {
  const { res, body } = await fetchOnce(step, method, url, {
    headers: { 'User-Agent': 'grantlog-browser-test/node', ...headers },
    timeoutMs: ARGS.timeoutMs,
    read: (r) => r.text(),
  });
  return { status: res.status, headers: res.headers, text: body };
}

const oauth = hmacSha1(OAuth, ARGS.clientKey, ARGS.clientSecret);

// Sent with a freshly signed Authorization header (new nonce and timestamp); options
// { token, extra } as for sign() in steps.mjs.
function signedSend(step, method, url, options) {
  return send(step, method, url, { Authorization: authorizationHeader(sign(oauth, method, url, options)) });
}

function formFields(step, res, what) {
  if (res.status !== 200) fail(step, `200 with a form-encoded body (${what})`, describe(res));
  return Object.fromEntries(new URLSearchParams(res.text));
}

// ------------------------------------------------------------------------- the browser

// Beppa's callback: a server of our own on a free loopback port, answering GET /ready
// with a small page. (The browser reaches it through the consent form's redirect, which
// playwright's request routing never sees, so it cannot be faked with page.route.)
let CALLBACK = null;

async function startCallbackServer() {
  const server = http.createServer((req, res) => {
    const found = req.method === 'GET' && new URL(req.url, 'http://127.0.0.1').pathname === '/ready';
    res.writeHead(found ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', Connection: 'close' });
    res.end(found ? CALLBACK_PAGE : 'not here');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  CALLBACK = `http://127.0.0.1:${server.address().port}/ready`;
  return server;
}

// Every request the page made: the server's, the callback's, and the others (aborted).
const requests = { server: 0, callback: 0, other: [] };

function isCallback(url) {
  const u = new URL(url);
  const c = new URL(CALLBACK);
  return u.origin === c.origin && u.pathname === c.pathname;
}

// Let through what is for the server or the callback; abort the rest, and count it all.
async function routeEverything(page) {
  page.on('request', (request) => {
    const url = request.url();
    if (!/^https?:/.test(url)) return;
    if (new URL(url).origin === ARGS.origin) requests.server += 1;
    else if (isCallback(url)) requests.callback += 1;
    else requests.other.push(`${request.method()} ${redact(url)}`);
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === ARGS.origin || isCallback(url)) return route.continue();
    return route.abort('blockedbyclient');
  });
}

// What the page shows, for a failure message: where it is, its h1, any alert or
// status, the start of its text.
async function describePage(page) {
  try {
    const summary = await page.evaluate(() => {
      const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
      return {
        h1: text(document.querySelector('h1')),
        notes: [...document.querySelectorAll('[role=alert], [role=status]')].map(text),
        body: text(document.body) || '',
      };
    });
    const parts = [`page ${where(page.url())}`, `h1 ${JSON.stringify(summary.h1)}`];
    if (summary.notes.length) parts.push(`alerts/status ${JSON.stringify(summary.notes)}`);
    parts.push(`text ${JSON.stringify(short(redact(summary.body), 400))}`);
    return parts.join('; ');
  } catch (e) {
    return `page ${where(page.url())} (unreadable: ${e.message.split('\n')[0]})`;
  }
}

// Runs `action` (a click, a key press, a goto) and waits for the main frame's next
// document to load. Returns the answers the main frame's navigation got on the way,
// redirects included: [{ method, url, status }], shown as "POST /login 303 -> GET
// /oauth/authorize?... 200".
async function navigation(page, action) {
  const main = page.mainFrame();
  const chain = [];
  const record = (response) => {
    const request = response.request();
    if (response.frame() === main && request.isNavigationRequest()) {
      chain.push({ method: request.method(), url: response.url(), status: response.status(), location: response.headers().location ?? null });
    }
  };
  page.on('response', record);
  try {
    const committed = page.waitForEvent('framenavigated', { predicate: (frame) => frame === main }).then(
      () => null,
      (error) => error,
    );
    // A navigation that ends on Chromium's error page (a 404 with no body, a refused
    // connection) throws from goto but still commits: the caller describes that page.
    const failed = await action().then(
      () => null,
      (error) => error,
    );
    const notCommitted = await committed;
    if (notCommitted) throw failed ?? notCommitted;
    await page.waitForLoadState('load');
  } finally {
    page.off('response', record);
  }
  return chain;
}

function goto(page, url) {
  return navigation(page, () => page.goto(url, { waitUntil: 'commit' }));
}

function showHops(list) {
  return list.length ? list.map((h) => `${h.method} ${where(h.url)} ${h.status}`).join(' -> ') : 'no HTTP answer';
}

function lastStatus(list) {
  return list.length ? list[list.length - 1].status : null;
}

async function screenshot(page, name) {
  const file = path.join(ARGS.screenshots, name);
  await page.screenshot({ path: file, fullPage: true });
  return `${name} (${fs.statSync(file).size} bytes)`;
}

async function isFocused(locator) {
  return locator.evaluate((el) => el === document.activeElement).catch(() => false);
}

// ------------------------------------------------------------------------- the steps

async function stepInitiate() {
  const step = begin('a. POST /oauth/initiate');
  const url = `${ARGS.baseUrl}/oauth/initiate`;
  const res = await signedSend(step, 'POST', url, { extra: { oauth_callback: CALLBACK } });
  const fields = formFields(step, res, 'temporary credentials');
  if (!fields.oauth_token || !fields.oauth_token_secret || fields.oauth_callback_confirmed !== 'true') {
    fail(step, 'oauth_token, oauth_token_secret, oauth_callback_confirmed=true', describe(res));
  }
  ok(step, `200, request token ${fields.oauth_token} for callback ${CALLBACK}`);
  return { key: fields.oauth_token, secret: fields.oauth_token_secret };
}

async function stepLoginPage(page, token) {
  const step = begin('b1. GET /oauth/authorize -> login form');
  const chain = await goto(page, `${ARGS.baseUrl}/oauth/authorize?${new URLSearchParams({ oauth_token: token })}`);
  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  if (lastStatus(chain) !== 200 || !(await username.count()) || !(await password.count())) {
    fail(step, '200 with inputs labelled Username and Password', `${showHops(chain)}; ${await describePage(page)}`);
  }
  const shot = await screenshot(page, 'login.png');
  ok(step, `${showHops(chain)}, inputs labelled Username and Password; ${shot}`);
}

async function stepLogin(page) {
  const step = begin('b2. log in with the keyboard -> consent page');
  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  // From the top of the page, Tab until the username field has the focus.
  let tabs = 0;
  while (!(await isFocused(username)) && tabs < 10) {
    await page.keyboard.press('Tab');
    tabs += 1;
  }
  if (!(await isFocused(username))) {
    const focused = await page.evaluate(() => document.activeElement?.outerHTML?.slice(0, 200) ?? null);
    fail(step, 'the Username field reachable by Tab from the top of the page', `after ${tabs} Tabs the focus is on ${focused}`);
  }
  await page.keyboard.type(ARGS.username);
  await page.keyboard.press('Tab');
  if (!(await isFocused(password))) fail(step, 'Tab from Username to Password', await describePage(page));
  await page.keyboard.type(ARGS.password);
  const chain = await navigation(page, () => page.keyboard.press('Enter'));
  const allow = page.getByRole('button', { name: 'Allow', exact: true });
  if (lastStatus(chain) !== 200 || !(await allow.count())) {
    fail(step, 'the consent page (a button "Allow")', `${showHops(chain)}; ${await describePage(page)}`);
  }
  const shot = await screenshot(page, 'consent.png');
  ok(step, `${tabs} Tab(s) to Username, typed, Tab, typed, Enter: ${showHops(chain)}; ${shot}`);
}

async function stepConsent(page) {
  const step = begin(`b3. keep only "${ARGS.photo}", keep 1hour, Allow -> callback`);
  const photos = await page.locator('input[type="checkbox"][name="photos"]').evaluateAll((inputs) =>
    inputs.map((el) => ({
      id: el.value,
      title: [...el.labels].map((l) => l.textContent.replace(/\s+/g, ' ').trim()).join(' '),
      checked: el.checked,
    })),
  );
  const approved = photos.find((p) => p.title === ARGS.photo);
  const others = photos.filter((p) => p !== approved);
  if (photos.length < 2 || photos.some((p) => !p.title || !p.checked) || !approved) {
    fail(step, `at least two checked photos checkboxes, each labelled, one "${ARGS.photo}"`, JSON.stringify(photos));
  }
  // Each found by its accessible name: the label must name the checkbox.
  for (const other of others) {
    const box = page.getByRole('checkbox', { name: other.title, exact: true });
    if ((await box.count()) !== 1) fail(step, `one checkbox named ${JSON.stringify(other.title)}`, `${await box.count()}`);
    await box.uncheck();
  }
  const oneHour = page.locator('input[type="radio"][name="expires"][value="1hour"]');
  if ((await oneHour.count()) !== 1 || !(await oneHour.isChecked())) fail(step, 'the radio expires=1hour, checked', await describePage(page));
  const allow = page.getByRole('button', { name: 'Allow', exact: true });
  const [decision, choice] = [await allow.getAttribute('name'), await allow.getAttribute('value')];
  if (decision !== 'decision' || choice !== 'approve') {
    fail(step, 'the Allow button is name=decision value=approve', `name=${decision} value=${choice}`);
  }
  const chain = await navigation(page, () => allow.click());
  const landed = new URL(page.url());
  const verifier = landed.searchParams.get('oauth_verifier');
  if (!isCallback(landed.href) || !verifier) {
    fail(step, `the browser on ${CALLBACK}?...&oauth_verifier=...`, `${showHops(chain)}; ${await describePage(page)}`);
  }
  ok(
    step,
    `approved ${approved.id} ("${approved.title}"), unticked ${others.map((o) => `${o.id} ("${o.title}")`).join(', ')}: ` +
      `${showHops(chain)}, an oauth_verifier of ${verifier.length} chars`,
  );
  return { verifier, approved, others };
}

async function stepToken(request, verifier) {
  const step = begin('c1. POST /oauth/token');
  const url = `${ARGS.baseUrl}/oauth/token`;
  const res = await signedSend(step, 'POST', url, { token: request, extra: { oauth_verifier: verifier } });
  const fields = formFields(step, res, 'token credentials');
  if (!fields.oauth_token || !fields.oauth_token_secret) fail(step, 'oauth_token and oauth_token_secret', describe(res));
  ok(step, `200, access token ${fields.oauth_token}`);
  return { key: fields.oauth_token, secret: fields.oauth_token_secret };
}

async function stepFetches(access, approved) {
  const step = begin(`c2. GET /api/photos x${USES} -> only the approved photo`);
  const url = `${ARGS.baseUrl}/api/photos`;
  for (let i = 1; i <= USES; i += 1) {
    const res = await signedSend(step, 'GET', url, { token: access });
    let ids = null;
    try {
      ids = JSON.parse(res.text).map((p) => String(p.id));
    } catch {
      // shown below
    }
    if (res.status !== 200 || JSON.stringify(ids) !== JSON.stringify([approved.id])) {
      fail(step, `200 listing only ${approved.id} (call ${i})`, describe(res));
    }
  }
  ok(step, `${USES} x 200 [${approved.id}]`);
}

// The grants of the client's section: { id, status } of each article.
async function grantArticles(page, client) {
  const section = page.locator('section').filter({ has: page.getByRole('heading', { level: 2, name: client, exact: true }) });
  return section.locator('article[id^="grant-"]').evaluateAll((articles) =>
    articles.map((a) => ({ id: a.id.slice('grant-'.length), status: a.dataset.status ?? null })),
  );
}

// A grant's dl as { term: definition }, each dd read as the one after its dt.
function grantTerms(article) {
  return article.evaluate((el) => {
    const text = (node) => node.textContent.replace(/\s+/g, ' ').trim();
    const terms = {};
    for (const dt of el.querySelectorAll('dl > dt, dl > div > dt')) {
      let dd = dt.nextElementSibling;
      while (dd && dd.tagName !== 'DD') dd = dd.nextElementSibling;
      terms[text(dt)] = dd ? text(dd) : null;
    }
    return terms;
  });
}

// The grants already active before this run approved one (none when the page cannot be
// read yet), so that on a server used for earlier runs this run's grant is the one new
// active grant. Read through the context's request API: same cookies, no page.
async function activeGrantsBefore(context) {
  try {
    const res = await context.request.get(`${ARGS.baseUrl}/account/grants`, { maxRedirects: 0, timeout: ARGS.timeoutMs });
    if (res.status() !== 200) return new Set();
    const ids = new Set();
    for (const [, attrs] of (await res.text()).matchAll(/<article\b([^>]*)>/gi)) {
      const id = /\bid="grant-([^"]+)"/.exec(attrs);
      if (id && /\bdata-status="active"/.test(attrs)) ids.add(id[1]);
    }
    return ids;
  } catch {
    return new Set();
  }
}

async function stepGrantsPage(page, client, approved, others, before) {
  const step = begin('d. /account/grants lists the grant');
  const chain = await goto(page, `${ARGS.baseUrl}/account/grants`);
  const heading = page.getByRole('heading', { level: 1, name: 'Your grants', exact: true });
  if (lastStatus(chain) !== 200 || !(await heading.count())) {
    fail(step, '200 with an h1 "Your grants"', `${showHops(chain)}; ${await describePage(page)}`);
  }
  const listed = await grantArticles(page, client);
  const fresh = listed.filter((g) => g.status === 'active' && !before.has(g.id));
  if (fresh.length !== 1 || !UUID.test(fresh[0].id)) {
    fail(
      step,
      `one newly active <article id="grant-<uuid>" data-status="active"> in the <section> whose h2 is "${client}"`,
      `articles there: ${JSON.stringify(listed)} (${before.size} active before this run); ${await describePage(page)}`,
    );
  }
  const grantId = fresh[0].id;
  const article = page.locator(`article[id="grant-${grantId}"]`);
  const text = short(await article.innerText(), 2000);
  const terms = await grantTerms(article);
  const problems = [];
  if (!text.includes(approved.title)) problems.push(`no "${approved.title}" (approved)`);
  for (const other of others) {
    if (text.includes(other.title)) problems.push(`"${other.title}" shown, though not approved`);
  }
  const missing = GRANT_TERMS.filter((t) => !(t in terms));
  if (missing.length) problems.push(`no dt ${missing.map((t) => JSON.stringify(t)).join(', ')}`);
  if (terms.Uses !== String(USES)) problems.push(`Uses ${JSON.stringify(terms.Uses)}, not "${USES}"`);
  if (problems.length) {
    fail(step, `the grant naming its photo, with the dl ${GRANT_TERMS.join('/')} and Uses ${USES}`, `${problems.join('; ')}: ${JSON.stringify(terms)}`);
  }
  const shot = await screenshot(page, 'grants.png');
  ok(step, `grant ${grantId} active under "${client}": ${JSON.stringify(terms)}; ${shot}`);
  return grantId;
}

async function stepTimeline(page, grantId) {
  const step = begin('e. History -> the grant\'s timeline');
  const article = page.locator(`article[id="grant-${grantId}"]`);
  const link = article.getByRole('link', { name: 'History', exact: true });
  const href = (await link.count()) === 1 ? await link.getAttribute('href') : null;
  const wanted = `/account/grants/${grantId}`;
  if (href === null || new URL(href, page.url()).href !== `${ARGS.baseUrl}${wanted}`) {
    fail(step, `one link "History" to ${wanted} in the grant's article`, `href ${JSON.stringify(href)}`);
  }
  const chain = await navigation(page, () => link.click());
  const timeline = page.locator('ol.timeline');
  if (lastStatus(chain) !== 200 || new URL(page.url()).pathname !== wanted || (await timeline.count()) !== 1) {
    fail(step, `200 at ${wanted} with one <ol class="timeline">`, `${showHops(chain)}; ${await describePage(page)}`);
  }
  const entries = await timeline.locator(':scope > li').evaluateAll((items) =>
    items.map((li) => ({
      time: li.querySelector('time')?.textContent.trim() ?? null,
      event: li.querySelector('code')?.textContent.trim() ?? null,
      text: li.textContent.replace(/\s+/g, ' ').trim(),
    })),
  );
  const text = entries.map((e) => e.text).join(' | ');
  const problems = [];
  if (!entries.length) problems.push('no <li>');
  // Every line has a time; every line but the use counter (which says it is not an
  // event) has its event id.
  const bare = entries.filter((e) => !e.time || (!e.event && !e.text.includes('not an event')));
  if (bare.length) problems.push(`entries without a <time> or an event id in <code>: ${JSON.stringify(bare)}`);
  const ids = entries.filter((e) => e.event).map((e) => e.event);
  if (new Set(ids).size !== ids.length) problems.push(`event ids repeated: ${JSON.stringify(ids)}`);
  const client = ARGS.clientName;
  for (const phrase of [`${client} asked`, 'You approved', `fetched ${USES} times`]) {
    if (!text.includes(phrase)) problems.push(`no "${phrase}"`);
  }
  if (problems.length) fail(step, 'the grant\'s history in plain words', `${problems.join('; ')}; entries: ${JSON.stringify(text)}`);
  const shot = await screenshot(page, 'timeline.png');
  ok(step, `${showHops(chain)}, ${entries.length} entries: ${JSON.stringify(text)}; ${shot}`);
}

async function stepRevoke(page, grantId) {
  const step = begin('f. Revoke -> 303, revoked');
  let chain = await goto(page, `${ARGS.baseUrl}/account/grants`);
  const article = page.locator(`article[id="grant-${grantId}"]`);
  if (lastStatus(chain) !== 200 || (await article.count()) !== 1) {
    fail(step, `/account/grants with the grant ${grantId}`, `${showHops(chain)}; ${await describePage(page)}`);
  }
  const button = article.getByRole('button', { name: 'Revoke', exact: true });
  const wanted = `/account/grants/${grantId}/revoke`;
  const form = (await button.count()) === 1
    ? await button.evaluate((b) => ({
        action: b.form?.action ?? null,
        method: b.form?.method ?? null,
        csrf: [...(b.form?.elements ?? [])].filter((el) => el.name === 'csrf_token' && el.type === 'hidden' && el.value).length,
      }))
    : null;
  if (!form || form.action !== `${ARGS.baseUrl}${wanted}` || form.method !== 'post' || form.csrf !== 1) {
    fail(step, `one button "Revoke" in a form POSTing to ${wanted} with a hidden csrf_token`, JSON.stringify(form));
  }
  chain = await navigation(page, () => button.click());
  const landed = new URL(page.url());
  const status = page.getByRole('status');
  const said = (await status.count()) ? short(await status.first().innerText(), 200) : null;
  const after = await article.getAttribute('data-status').catch(() => null);
  const problems = [];
  if (chain.length < 2 || chain[0].method !== 'POST' || chain[0].status !== 303) problems.push(`POST answered ${chain[0]?.status ?? 'nothing'}, not 303`);
  if (landed.pathname !== '/account/grants' || landed.searchParams.get('revoked') !== grantId) problems.push(`landed on ${where(landed.href)}`);
  if (lastStatus(chain) !== 200) problems.push(`the page answered ${lastStatus(chain)}`);
  if (!said || !said.includes('You revoked')) problems.push(`[role=status] says ${JSON.stringify(said)}`);
  if (after !== 'revoked') problems.push(`the article's data-status is ${JSON.stringify(after)}`);
  if (problems.length) {
    fail(
      step,
      `POST ${wanted} -> 303 to /account/grants?revoked=${grantId}, a [role=status] "You revoked ...", data-status="revoked"`,
      `${problems.join('; ')}; ${showHops(chain)}; ${await describePage(page)}`,
    );
  }
  ok(step, `${showHops(chain)}; status ${JSON.stringify(said)}; data-status="revoked"`);
}

async function stepRefused(access) {
  const step = begin('g. next GET /api/photos -> 401 token_revoked');
  const res = await signedSend(step, 'GET', `${ARGS.baseUrl}/api/photos`, { token: access });
  const challenge = res.headers.get('www-authenticate') || '';
  if (res.status !== 401 || !challenge.includes('oauth_problem="token_revoked"')) {
    fail(step, '401 with WWW-Authenticate naming oauth_problem="token_revoked"', describe(res));
  }
  ok(step, `401, WWW-Authenticate: ${challenge}`);
}

// The auditor's own context, its pages held to the same rule: only the server.
async function stepAuditorLogin(browser) {
  const step = begin('g2. /audit: log in with the auditor token by keyboard -> the log verifies');
  const context = await browser.newContext({ viewport: VIEWPORT });
  context.setDefaultTimeout(ARGS.timeoutMs);
  context.setDefaultNavigationTimeout(ARGS.timeoutMs);
  const page = await context.newPage();
  await routeEverything(page);
  let chain = await goto(page, `${ARGS.baseUrl}/audit`);
  const field = page.getByLabel('Auditor token');
  if (lastStatus(chain) !== 200 || (await field.count()) !== 1) {
    fail(step, '200 at /audit with an input labelled "Auditor token"', `${showHops(chain)}; ${await describePage(page)}`);
  }
  await field.focus();
  await page.keyboard.type(ARGS.auditorToken);
  chain = await navigation(page, () => page.keyboard.press('Enter'));
  const verdict = page.locator('#verified');
  const said = (await verdict.count()) ? short(await verdict.innerText(), 200) : null;
  if (chain[0]?.status !== 303 || lastStatus(chain) !== 200 || new URL(page.url()).pathname !== '/audit' || !said?.startsWith('Yes')) {
    fail(step, 'POST /audit/login 303 -> /audit 200 saying "Yes: the hash chain ..."', `${showHops(chain)}; ${await describePage(page)}`);
  }
  const shot = await screenshot(page, 'auditor.png');
  ok(step, `${showHops(chain)}; ${JSON.stringify(said)}; ${shot}`);
  return { context, page };
}

async function stepAuditorReplay({ page }, grantId) {
  const step = begin(`g3. replay owner ${ARGS.username}, client ${ARGS.clientKey} -> the grant revoked, its approving event and receipt`);
  await page.getByLabel(/^Owner/).fill(ARGS.username);
  await page.getByLabel(/^Client/).fill(ARGS.clientKey);
  const chain = await navigation(page, () => page.getByRole('button', { name: 'Replay', exact: true }).click());
  const asked = new URL(page.url()).searchParams;
  const article = page.locator(`article[id="grant-${grantId}"]`);
  const status = (await article.count()) === 1 ? await article.getAttribute('data-status') : null;
  if (lastStatus(chain) !== 200 || asked.get('owner') !== ARGS.username || asked.get('client') !== ARGS.clientKey || status !== 'revoked') {
    fail(step, `200 at /audit?...owner=${ARGS.username}&client=${ARGS.clientKey} with the grant, data-status="revoked"`, `${showHops(chain)}; status ${status}; ${await describePage(page)}`);
  }
  const approval = article.getByRole('link', { name: /^event \d+$/ });
  const position = (await approval.count()) === 1 ? Number((await approval.innerText()).replace('event ', '')) : null;
  const receiptLink = article.getByRole('link', { name: 'Consent receipt', exact: true });
  const receiptHref = (await receiptLink.count()) === 1 ? await receiptLink.getAttribute('href') : null;
  if (!position || receiptHref !== `/audit/receipts/${grantId}`) {
    fail(step, `one link "event N" and one "Consent receipt" to /audit/receipts/${grantId}`, `position ${position}, receipt ${receiptHref}`);
  }
  // The export, downloaded by its link as a person would.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'CSV', exact: true }).click(),
  ]);
  const lines = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
  if (download.suggestedFilename() !== 'grantlog-events.csv' || !lines[0]?.startsWith('position,stream_id,') || lines.length <= position) {
    fail(step, `a download grantlog-events.csv with a header and at least ${position} events`, `${download.suggestedFilename()}; ${lines.length} lines`);
  }
  // The receipt, by its link, with the page's session.
  const opened = await navigation(page, () => receiptLink.click());
  let body = null;
  try {
    body = JSON.parse(await page.evaluate(() => document.body.innerText));
  } catch {
    body = null;
  }
  if (lastStatus(opened) !== 200 || body?.event?.position !== position || body?.recipient?.name !== ARGS.clientName || body?.withdrawal?.events?.[0]?.what !== 'revoked') {
    fail(step, `the receipt: event ${position}, recipient ${ARGS.clientName}, withdrawn by revocation`, `${showHops(opened)}; ${await describePage(page)}`);
  }
  await goto(page, `${ARGS.baseUrl}/audit`);
  ok(step, `${showHops(chain)}; approved by event ${position}; receipt for ${body.recipient.name}, withdrawn; export of ${lines.length - 1} events`);
}

async function stepAuditorLogout({ context, page }) {
  const step = begin('h2. the auditor logs out -> the login form');
  const chain = await navigation(page, () => page.getByRole('button', { name: 'Log out', exact: true }).click());
  if (chain[0]?.method !== 'POST' || new URL(page.url()).pathname !== '/audit' || !(await page.getByLabel('Auditor token').count())) {
    fail(step, 'POST /audit/logout -> /audit with the login form', `${showHops(chain)}; ${await describePage(page)}`);
  }
  const after = await context.request.get(`${ARGS.baseUrl}/audit/verify`);
  if (after.status() !== 401) fail(step, '401 from /audit/verify without the session', `${after.status()}`);
  await context.close();
  ok(step, `${showHops(chain)}; /audit/verify then 401`);
}

// Every request the audit's contexts made: the server's, and the others (aborted).
const auditRequests = { server: 0, other: [] };

// A context for axe-core: Jane's or the auditor's cookies (`storageState`, or none for a
// logged-out one),
// the same viewport, and the pages' CSP bypassed so that the injected script runs. Only
// the server is reached; anything else is aborted and counted.
async function auditContext(browser, storageState) {
  const context = await browser.newContext({ viewport: VIEWPORT, bypassCSP: true, storageState });
  context.setDefaultTimeout(ARGS.timeoutMs);
  context.setDefaultNavigationTimeout(ARGS.timeoutMs);
  context.on('request', (request) => {
    const url = request.url();
    if (!/^https?:/.test(url)) return;
    if (new URL(url).origin === ARGS.origin) auditRequests.server += 1;
    else auditRequests.other.push(`${request.method()} ${redact(url)}`);
  });
  await context.route('**/*', (route) =>
    new URL(route.request().url()).origin === ARGS.origin ? route.continue() : route.abort('blockedbyclient'),
  );
  return context;
}

// Opens `url` and checks it is the page meant (at `path`, with what `locator` finds,
// described by `what`), then injects axe-core from node_modules and runs
// the WCAG 2.x A/AA rules on the document. Returns the page's violations, each with the
// elements it was found on, and the ids of the rules passed and left for review.
async function axeAudit(step, page, name, url, { path: wanted, locator, what }) {
  const chain = await goto(page, url);
  if (lastStatus(chain) !== 200 || new URL(page.url()).pathname !== wanted || !(await locator(page).count())) {
    fail(step, `the ${name} page: 200 at ${wanted} with ${what}`, `${showHops(chain)}; ${await describePage(page)}`);
  }
  await page.addScriptTag({ path: ARGS.axe.script });
  const results = await page.evaluate(async (tags) => {
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return {
      passes: r.passes.map((p) => p.id),
      incomplete: r.incomplete.map((i) => i.id),
      violations: r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
      })),
    };
  }, AXE_TAGS);
  return { name, where: where(page.url()), ...results };
}

function showViolation(page, v) {
  const first = v.nodes[0];
  const others = v.nodes.slice(1).map((n) => n.target);
  const more = others.length ? ` (and ${others.length} more: ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''})` : '';
  return (
    `\n    ${page.name} ${page.where}: ${v.id} [${v.impact}] ${v.help}; first at ${first.target}${more}` +
    `\n      element: ${short(redact(first.html), 300)}` +
    `\n      axe: ${short(redact(first.summary ?? ''), 600)}`
  );
}

async function stepAudit(browser, context, auditor, grantId) {
  const step = begin(`h. axe-core ${ARGS.axe.version}: no WCAG 2.0/2.1 A/AA violation on the login, consent, grants, history and auditor pages`);
  const audited = [];
  const contexts = [];
  try {
    // Logged out: the login form a visitor to the grants page is sent to.
    const visitor = await auditContext(browser, undefined);
    contexts.push(visitor);
    const loginPage = await visitor.newPage();
    audited.push(
      await axeAudit(step, loginPage, 'login', `${ARGS.baseUrl}/login?next=%2Faccount%2Fgrants`, {
        path: '/login',
        locator: (p) => p.getByLabel('Password'),
        what: 'an input labelled Password',
      }),
    );

    // Logged in as Jane, with the main context's cookies.
    const jane = await auditContext(browser, await context.storageState());
    contexts.push(jane);
    const page = await jane.newPage();
    // The consent page wants a request token of its own (left unanswered: it expires).
    const res = await signedSend(step, 'POST', `${ARGS.baseUrl}/oauth/initiate`, { extra: { oauth_callback: CALLBACK } });
    const token = formFields(step, res, 'temporary credentials for the consent page').oauth_token;
    if (!token) fail(step, 'an oauth_token for the consent page', describe(res));
    audited.push(
      await axeAudit(step, page, 'consent', `${ARGS.baseUrl}/oauth/authorize?${new URLSearchParams({ oauth_token: token })}`, {
        path: '/oauth/authorize',
        locator: (p) => p.getByRole('button', { name: 'Allow', exact: true }),
        what: 'a button "Allow"',
      }),
    );
    audited.push(
      await axeAudit(step, page, 'grants', `${ARGS.baseUrl}/account/grants?${new URLSearchParams({ revoked: grantId })}`, {
        path: '/account/grants',
        locator: (p) => p.locator(`article[id="grant-${grantId}"]`),
        what: `the grant ${grantId}`,
      }),
    );
    audited.push(
      await axeAudit(step, page, 'history', `${ARGS.baseUrl}/account/grants/${grantId}`, {
        path: `/account/grants/${grantId}`,
        locator: (p) => p.locator('ol.timeline'),
        what: 'an <ol class="timeline">',
      }),
    );

    // The auditor's page, with the auditor's cookies.
    const audits = await auditContext(browser, await auditor.context.storageState());
    contexts.push(audits);
    audited.push(
      await axeAudit(step, await audits.newPage(), 'auditor', `${ARGS.baseUrl}/audit`, {
        path: '/audit',
        locator: (p) => p.locator('#verified'),
        what: 'the verdict "Yes: ..."',
      }),
    );
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
  const violations = audited.flatMap((p) => p.violations.map((v) => showViolation(p, v)));
  if (violations.length || auditRequests.other.length) {
    const parts = [];
    if (violations.length) parts.push(`${violations.length} violation(s):${violations.join('')}`);
    if (auditRequests.other.length) parts.push(`\n    ${auditRequests.other.length} request(s) elsewhere: ${auditRequests.other.join(', ')}`);
    fail(step, `no axe-core violation of ${AXE_TAGS.join(', ')}, and no request but to the server`, parts.join(''));
  }
  const pages = audited.map((p) => {
    const review = p.incomplete.length ? `, to review: ${p.incomplete.join(' ')}` : '';
    return `${p.name} ${p.where} ${p.passes.length} rules passed${review}`;
  });
  ok(step, `${pages.join('; ')}; ${auditRequests.server} request(s) to the server, 0 elsewhere`);
}

async function stepLogout(page) {
  const step = begin('i1. Log out -> /login');
  const button = page.getByRole('button', { name: 'Log out', exact: true });
  const form = (await button.count()) === 1
    ? await button.evaluate((b) => ({ action: b.form?.action ?? null, method: b.form?.method ?? null }))
    : null;
  if (!form || form.action !== `${ARGS.baseUrl}/logout` || form.method !== 'post') {
    fail(step, 'one button "Log out" in a form POSTing to /logout', `${JSON.stringify(form)}; ${await describePage(page)}`);
  }
  const chain = await navigation(page, () => button.click());
  if (new URL(page.url()).pathname !== '/login' || lastStatus(chain) !== 200 || !(await page.getByLabel('Username').count())) {
    fail(step, '200 at /login with a login form', `${showHops(chain)}; ${await describePage(page)}`);
  }
  ok(step, showHops(chain));
}

async function stepLoggedOut(page) {
  const step = begin('i2. /account/grants logged out -> /login?next=%2Faccount%2Fgrants');
  const chain = await goto(page, `${ARGS.baseUrl}/account/grants`);
  const landed = new URL(page.url());
  const form = (await page.getByLabel('Username').count()) && (await page.getByLabel('Password').count());
  if (
    chain.length < 2 ||
    landed.pathname !== '/login' ||
    landed.searchParams.get('next') !== '/account/grants' ||
    lastStatus(chain) !== 200 ||
    !form
  ) {
    fail(step, 'a redirect to /login?next=%2Faccount%2Fgrants and a login form there', `${showHops(chain)}; ${await describePage(page)}`);
  }
  ok(step, showHops(chain));
}

function stepNoExternal() {
  const step = begin('j. no request to any other origin');
  if (requests.other.length) fail(step, 'no request but to the server (and the callback)', `${requests.other.length}: ${requests.other.join(', ')}`);
  ok(step, `${requests.server} request(s) to the server, ${requests.callback} to the callback (answered in the browser), 0 elsewhere`);
}

async function main() {
  console.log(`grants: ${ARGS.baseUrl} as client ${ARGS.clientKey}, owner ${ARGS.username}; screenshots in ${ARGS.screenshots}`);
  fs.mkdirSync(ARGS.screenshots, { recursive: true });
  let browser = null;
  let page = null;
  let callbackServer = null;
  try {
    begin('start the callback server');
    callbackServer = await startCallbackServer();
    begin('launch Chromium');
    browser = await chromium.launch({ executablePath: ARGS.chromium, args: CHROMIUM_ARGS, timeout: 30_000 });
    console.log(`browser: Chromium ${browser.version()} (${ARGS.chromium}), viewport ${VIEWPORT.width}x${VIEWPORT.height}`);
    const context = await browser.newContext({ viewport: VIEWPORT });
    context.setDefaultTimeout(ARGS.timeoutMs);
    context.setDefaultNavigationTimeout(ARGS.timeoutMs);
    page = await context.newPage();
    await routeEverything(page);

    const client = ARGS.clientName;
    const request = await stepInitiate();
    await stepLoginPage(page, request.key);
    await stepLogin(page);
    const before = await activeGrantsBefore(context);
    const { verifier, approved, others } = await stepConsent(page);
    const access = await stepToken(request, verifier);
    await stepFetches(access, approved);
    const grantId = await stepGrantsPage(page, client, approved, others, before);
    await stepTimeline(page, grantId);
    await stepRevoke(page, grantId);
    await stepRefused(access);
    const auditor = await stepAuditorLogin(browser);
    await stepAuditorReplay(auditor, grantId);
    await stepAudit(browser, context, auditor, grantId);
    await stepAuditorLogout(auditor);
    await stepLogout(page);
    await stepLoggedOut(page);
    stepNoExternal();
  } catch (e) {
    const failed = e instanceof StepFailed ? e : new StepFailed(current, 'the step to run to its end', e.message ? e.message.split('\n').slice(0, 3).join(' / ') : String(e));
    let shot = '';
    if (page && current.match(/^[bdefi]/)) {
      shot = await screenshot(page, 'failure.png').then((s) => `\n  screenshot: ${s}`, () => '');
    }
    return reportFailed(failed, { got: redact(failed.got), note: shot });
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (callbackServer) callbackServer.close();
  }
  return reportPassed();
}

process.exitCode = await main();
