#!/usr/bin/env node
// Run grantlog's seed story end to end as Beppa (the client) and Jane's browser.
//
// Third-party client: the npm package oauth-1.0a (HMAC-SHA1 through node:crypto) for
// every signed call, Node's built-in fetch with redirect: 'manual' and a small cookie
// jar for the owner's browser part, regex extraction of <form>/<input>/<button> for
// the login and consent pages. Checks the external contract in SPEC.md, prints one
// line per step and exits 0 only if every step behaved as the contract says (1 on the
// first step that did not, 2 on bad arguments).
//
//   node story.mjs --base-url http://127.0.0.1:8080 \
//     --client-key beppa-demo-key --client-secret beppa-demo-secret \
//     --username jane --password islay-scotch [--params-in form|header]
//
// Secrets (token secrets, the verifier, the password) are never printed.

import process from 'node:process';
import OAuth from 'oauth-1.0a';

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
  sign as signWith,
  timeoutOption,
} from '../steps.mjs';

const FORM_TYPE = 'application/x-www-form-urlencoded';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_HOPS = 10;
const EXPIRES_VALUES = ['1hour', '1day', '30days', 'never'];

const USAGE = `usage: node story.mjs --base-url URL [options]

Run grantlog's seed story against a server with the oauth-1.0a npm package; exit 0
only if every step behaves as SPEC.md's external contract says.

options:
  --base-url URL          the server, e.g. http://127.0.0.1:8080 (required)
  --client-key KEY        client key (default: the --demo client, beppa-demo-key)
  --client-secret SECRET  client secret (default: the --demo client's)
  --username NAME         resource owner (default jane)
  --password PASSWORD     resource owner's password (default: the --demo owner's)
  --callback URL          oauth_callback sent at initiate; must be registered for the
                          client and must not be oob (default http://127.0.0.1:9/ready)
  --params-in form|header where the request-token call (POST /oauth/initiate) sends its
                          oauth parameters: a form body or the Authorization header
                          (default header); every other signed call uses the header
  --timeout SECONDS       per HTTP request (default 10)
  -h, --help              show this help and exit`;

// ------------------------------------------------------------------------- arguments

function parseArguments(argv) {
  const { values, usageError } = commandLine({
    script: 'story.mjs',
    usage: USAGE,
    argv,
    options: {
      ...DEMO_OPTIONS,
      callback: { type: 'string', default: 'http://127.0.0.1:9/ready' },
      'params-in': { type: 'string', default: 'header' },
    },
    required: ['base-url'],
  });
  const { baseUrl } = baseUrlOption(values['base-url'], usageError);
  if (!['form', 'header'].includes(values['params-in'])) usageError('--params-in must be form or header');
  if (values.callback === 'oob') usageError('--callback oob is not supported: the story follows the redirect');
  const timeoutMs = timeoutOption(values.timeout, usageError);
  return {
    baseUrl,
    clientKey: values['client-key'],
    clientSecret: values['client-secret'],
    username: values.username,
    password: values.password,
    callback: values.callback,
    paramsIn: values['params-in'],
    timeoutMs,
  };
}

const ARGS = parseArguments(process.argv.slice(2));

// ------------------------------------------------------------------------- output

function redact(text) {
  return String(text).replace(/((?:oauth_token_secret|oauth_verifier|password)=)[^&\s"'<]*/g, '$1<redacted>');
}

function describe(res, bodyChars = 600) {
  const parts = responseHead(res, redact);
  const type = res.headers.get('content-type') || '';
  if (res.body.length && type.startsWith('image/')) {
    parts.push(`body: ${res.body.length} bytes of ${type}`);
  } else if (res.body.length) {
    const text = res.body.subarray(0, bodyChars).toString('utf8');
    parts.push(`body: ${JSON.stringify(redact(text))}${res.body.length > bodyChars ? ' ...' : ''}`);
  } else {
    parts.push('empty body');
  }
  return parts.join('; ');
}

function pathOf(url) {
  return new URL(url).pathname;
}

// ------------------------------------------------------------------------- HTTP

// One request, never following redirects. The body is read whole.
async function send(step, method, url, { headers = {}, body, jar } = {}) {
  const allHeaders = { 'User-Agent': 'grantlog-story/node', ...headers };
  if (jar) {
    const cookie = jar.header(url);
    if (cookie) allHeaders.Cookie = cookie;
  }
  const { res, body: buf } = await fetchOnce(step, method, url, {
    headers: allHeaders,
    body,
    timeoutMs: ARGS.timeoutMs,
    read: async (r) => Buffer.from(await r.arrayBuffer()),
  });
  if (jar) jar.store(url, res.headers.getSetCookie());
  return {
    status: res.status,
    headers: res.headers,
    body: buf,
    text() {
      return buf.toString('utf8');
    },
  };
}

// Just enough of a browser's cookie store for one host: name, value, path, expiry.
// Secure cookies are sent over http too, as browsers do for 127.0.0.1 / localhost.
class CookieJar {
  constructor() {
    this.cookies = new Map(); // `${name}\t${path}` -> {name, value, path}
  }

  store(url, setCookies) {
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = null;
      let expired = false;
      for (const attr of attrs) {
        const [k, ...rest] = attr.split('=');
        const key = k.trim().toLowerCase();
        const v = rest.join('=').trim();
        if (key === 'path' && v.startsWith('/')) path = v;
        if (key === 'max-age' && /^-?\d+$/.test(v) && Number(v) <= 0) expired = true;
        if (key === 'expires' && !Number.isNaN(Date.parse(v)) && Date.parse(v) <= Date.now()) expired = true;
      }
      if (path === null) {
        // RFC 6265 5.1.4 default-path: the request path up to its last '/'.
        const requestPath = pathOf(url);
        const slash = requestPath.lastIndexOf('/');
        path = slash > 0 ? requestPath.slice(0, slash) : '/';
      }
      const id = `${name}\t${path}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  header(url) {
    const requestPath = pathOf(url);
    const matches = (path) =>
      requestPath === path ||
      (requestPath.startsWith(path) && (path.endsWith('/') || requestPath[path.length] === '/'));
    return [...this.cookies.values()]
      .filter((c) => matches(c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  names() {
    return [...new Set([...this.cookies.values()].map((c) => c.name))].sort();
  }
}

// Sign one request with oauth-1.0a as this client, with its secret or another:
// { oauth, params } (steps.mjs).
function sign(method, url, { token, extra = {}, clientSecret = ARGS.clientSecret } = {}) {
  return signWith(hmacSha1(OAuth, ARGS.clientKey, clientSecret), method, url, { token, extra });
}

function formBody({ oauth, params }) {
  return Object.entries(params)
    .map(([k, v]) => `${oauth.percentEncode(k)}=${oauth.percentEncode(String(v))}`)
    .join('&');
}

// A 200 with an application/x-www-form-urlencoded body (RFC 5849 2.1 / 2.3).
function parseFormResponse(step, res, what) {
  if (res.status !== 200) fail(step, `200 with a form-encoded body (${what})`, describe(res));
  const type = (res.headers.get('content-type') || '').toLowerCase();
  if (!type.startsWith(FORM_TYPE)) fail(step, `Content-Type ${FORM_TYPE} (RFC 5849 section 2)`, describe(res));
  const fields = {};
  for (const [name, value] of new URLSearchParams(res.text())) {
    if (name in fields) fail(step, 'each parameter once', `${name} repeated: ${describe(res)}`);
    fields[name] = value;
  }
  return fields;
}

function bodyProblem(res) {
  try {
    return new URLSearchParams(res.text()).get('oauth_problem');
  } catch {
    return null;
  }
}

// 401 with `WWW-Authenticate: OAuth realm=...` and an oauth_problem body; returns it.
function expectOAuth401(step, res, problem = null) {
  const wanted = `401, WWW-Authenticate 'OAuth realm=...', body oauth_problem=${problem || '<any>'}`;
  if (res.status !== 401) fail(step, wanted, describe(res));
  const challenge = res.headers.get('www-authenticate') || '';
  if (!challenge.startsWith('OAuth realm=')) fail(step, wanted, `WWW-Authenticate ${JSON.stringify(challenge)}; ${describe(res)}`);
  const got = bodyProblem(res);
  if (!got) fail(step, wanted, `no oauth_problem in the body; ${describe(res)}`);
  if (problem !== null && got !== problem) fail(step, wanted, `oauth_problem=${got}; ${describe(res)}`);
  if (!challenge.includes('oauth_problem')) {
    fail(step, `${wanted} (and oauth_problem in WWW-Authenticate)`, `WWW-Authenticate ${JSON.stringify(challenge)}`);
  }
  return got;
}

// ------------------------------------------------------------------------- HTML

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text) {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (whole, ref) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      try {
        return String.fromCodePoint(code);
      } catch {
        return whole;
      }
    }
    const named = ENTITIES[ref.toLowerCase()];
    return named === undefined ? whole : named;
  });
}

// Attributes of one start tag; names lowercased, the first of a repeated name wins,
// a bare attribute (checked, disabled) has the value ''.
function parseAttrs(source) {
  const attrs = {};
  const re = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const m of source.matchAll(re)) {
    const name = m[1].toLowerCase();
    if (name in attrs) continue;
    attrs[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

function makeControl(tag, attrs) {
  const type = (attrs.type || (tag === 'input' ? 'text' : 'submit')).toLowerCase();
  const checkable = type === 'checkbox' || type === 'radio';
  return {
    tag,
    type,
    name: attrs.name ?? null,
    value: attrs.value ?? (checkable ? 'on' : ''),
    checked: 'checked' in attrs,
    disabled: 'disabled' in attrs,
    isSubmit: tag === 'button' ? type === 'submit' : type === 'submit' || type === 'image',
  };
}

function showControl(c) {
  return `<${c.tag} type=${c.type} name=${c.name} value=${c.value}${c.checked ? ' checked' : ''}>`;
}

const TAG_BODY = `((?:[^>"']|"[^"]*"|'[^']*')*)`;

// Every <form>...</form> with the <input>/<button> start tags inside it. Comments,
// <script> and <style> are dropped first; forms are not expected to nest.
function parseForms(html) {
  const clean = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, '');
  const forms = [];
  const formRe = new RegExp(`<form\\b${TAG_BODY}>([\\s\\S]*?)<\\/form\\s*>`, 'gi');
  const controlRe = new RegExp(`<(input|button)\\b${TAG_BODY}>`, 'gi');
  for (const f of clean.matchAll(formRe)) {
    const attrs = parseAttrs(f[1]);
    const controls = [...f[2].matchAll(controlRe)].map((c) => makeControl(c[1].toLowerCase(), parseAttrs(c[2])));
    forms.push({
      attrs,
      controls,
      method: (attrs.method || 'get').toLowerCase(),
      named: (name) => controls.filter((c) => c.name === name),
      submitters: (name = null) => controls.filter((c) => c.isSubmit && (name === null || c.name === name)),
      actionUrl: (pageUrl) => new URL(attrs.action || pageUrl, pageUrl).href,
    });
  }
  return forms;
}

// The name/value pairs a browser would send: text-like inputs with their value (or
// fill[name]), checkboxes and radios only when checked (or, for a name in `check`,
// exactly the values listed there), the clicked submitter only, `drop` left out.
function submission(form, { submitter = null, fill = {}, check = {}, drop = [] } = {}) {
  const pairs = new URLSearchParams();
  for (const c of form.controls) {
    if (!c.name || c.disabled || drop.includes(c.name)) continue;
    if (c.isSubmit) {
      if (c === submitter) pairs.append(c.name, c.value);
    } else if (c.tag === 'button' || ['reset', 'button', 'file'].includes(c.type)) {
      continue;
    } else if (c.type === 'checkbox' || c.type === 'radio') {
      const on = c.name in check ? check[c.name].includes(c.value) : c.checked;
      if (on) pairs.append(c.name, c.value);
    } else {
      pairs.append(c.name, c.name in fill ? fill[c.name] : c.value);
    }
  }
  return pairs.toString();
}

function findLoginForm(forms) {
  return forms.find((f) => f.named('password').length && f.named('username').length) || null;
}

function findConsentForm(forms) {
  return forms.find((f) => f.submitters('decision').length) || null;
}

function describeForms(forms) {
  if (!forms.length) return 'no <form> on the page';
  return `forms: ${forms
    .map((f) => `action=${JSON.stringify(f.attrs.action)} method=${f.method} controls=[${f.controls.map(showControl).join(', ')}]`)
    .join('; ')}`;
}

// ------------------------------------------------------------------------- the story

function origin(url) {
  return new URL(url).origin;
}

// One browser navigation: send, then follow same-site redirects by hand (303/302/301
// become GET, 307/308 repeat the request), stopping at the first non-redirect or at a
// redirect whose Location starts with `stopAt`. Returns {res, url}.
async function browse(jar, step, method, url, { body, referer, stopAt } = {}) {
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const headers = {};
    if (referer) headers.Referer = referer;
    if (method === 'POST') {
      headers.Origin = origin(url);
      headers['Content-Type'] = FORM_TYPE;
    }
    const res = await send(step, method, url, { headers, body, jar });
    if (!REDIRECTS.has(res.status)) return { res, url };
    const location = res.headers.get('location');
    if (!location) fail(step, 'a Location header on a redirect', describe(res));
    const target = new URL(location, url).href;
    if (stopAt && target.startsWith(stopAt)) return { res, url };
    if (new URL(target).host !== new URL(url).host) fail(step, 'a page on the server', `redirect off-site: ${describe(res)}`);
    if (res.status !== 307 && res.status !== 308) {
      method = 'GET';
      body = undefined;
    }
    referer = url;
    url = target;
  }
  fail(step, `at most ${MAX_HOPS} redirects`, `redirect loop, last: ${url}`);
}

async function stepInitiate() {
  const step = 'a. POST /oauth/initiate';
  const url = `${ARGS.baseUrl}/oauth/initiate`;
  const signed = sign('POST', url, { extra: { oauth_callback: ARGS.callback } });
  const res =
    ARGS.paramsIn === 'form'
      ? await send(step, 'POST', url, { headers: { 'Content-Type': FORM_TYPE }, body: formBody(signed) })
      : await send(step, 'POST', url, { headers: { Authorization: authorizationHeader(signed) } });
  const fields = parseFormResponse(step, res, 'temporary credentials');
  const wanted = 'oauth_token, oauth_token_secret, oauth_callback_confirmed=true';
  if (!fields.oauth_token || !fields.oauth_token_secret) fail(step, wanted, `fields ${Object.keys(fields).sort()}`);
  if (fields.oauth_callback_confirmed !== 'true') fail(step, wanted, `oauth_callback_confirmed=${fields.oauth_callback_confirmed}`);
  ok(
    step,
    `200, oauth_token=${fields.oauth_token}, secret of ${fields.oauth_token_secret.length} chars, ` +
      `oauth_callback_confirmed=true (oauth parameters in the ${ARGS.paramsIn === 'form' ? 'form body' : 'Authorization header'})`,
  );
  return { key: fields.oauth_token, secret: fields.oauth_token_secret };
}

async function stepAuthorize(token) {
  const jar = new CookieJar();

  // b1: the authorization URL, no owner session yet -> login form.
  let step = 'b1. GET /oauth/authorize -> login form';
  const authorizeUrl = `${ARGS.baseUrl}/oauth/authorize?${new URLSearchParams({ oauth_token: token })}`;
  let { res, url: pageUrl } = await browse(jar, step, 'GET', authorizeUrl);
  if (res.status !== 200) fail(step, '200 with a login form', describe(res));
  let forms = parseForms(res.text());
  const login = findLoginForm(forms);
  if (!login) fail(step, 'a <form> with inputs username and password', describeForms(forms));
  if (login.method !== 'post') fail(step, "the login form's method POST", `method=${login.attrs.method}`);
  const loginUrl = login.actionUrl(pageUrl);
  const hidden = login.controls.filter((c) => c.type === 'hidden' && c.name).map((c) => c.name).sort();
  ok(step, `200 at ${pathOf(pageUrl)}, login form posts to ${pathOf(loginUrl)} (hidden fields: ${hidden.join(', ') || 'none'})`);

  // b2: log in as the owner -> consent page (rendered directly or via a redirect).
  step = 'b2. log in -> consent page';
  const loginBody = submission(login, {
    submitter: login.submitters()[0] || null,
    fill: { username: ARGS.username, password: ARGS.password },
  });
  ({ res, url: pageUrl } = await browse(jar, step, 'POST', loginUrl, { body: loginBody, referer: pageUrl, stopAt: ARGS.callback }));
  if (res.status !== 200) fail(step, '200 with the consent page (after any redirects)', describe(res));
  forms = parseForms(res.text());
  const consent = findConsentForm(forms);
  if (!consent) {
    const why = findLoginForm(forms) ? 'the login form again (credentials refused?); ' : '';
    fail(step, 'a consent <form> with submit buttons named decision', why + describeForms(forms));
  }
  ok(step, `consent page at ${pathOf(pageUrl)}, session cookie(s): ${jar.names().join(', ') || 'none'}`);

  // b3: the consent form says what the contract says it says.
  step = 'b3. consent form contents';
  const problems = [];
  if (consent.method !== 'post') problems.push(`method ${consent.attrs.method}, not POST`);
  const csrf = consent.named('csrf_token').filter((c) => c.type === 'hidden');
  if (csrf.length !== 1 || !csrf[0].value) {
    problems.push(`want one non-empty hidden csrf_token, got [${consent.named('csrf_token').map(showControl)}]`);
  }
  const photos = consent.named('photos').filter((c) => c.type === 'checkbox');
  const photoIds = photos.map((c) => c.value);
  if (photos.length < 2) {
    problems.push(`want a checkbox named photos for each of (at least) two photos, got [${consent.named('photos').map(showControl)}]`);
  }
  if (photos.some((c) => !c.checked)) problems.push(`photo checkboxes not all checked: [${photos.map(showControl)}]`);
  if (new Set(photoIds).size !== photoIds.length || photoIds.includes('') || photoIds.includes('on')) {
    problems.push(`photo checkbox values are not distinct ids: ${JSON.stringify(photoIds)}`);
  }
  const expires = consent.named('expires').filter((c) => c.type === 'radio');
  if (JSON.stringify(expires.map((c) => c.value).sort()) !== JSON.stringify([...EXPIRES_VALUES].sort())) {
    problems.push(`want radios expires=${EXPIRES_VALUES.join('/')}, got [${expires.map(showControl)}]`);
  }
  const checkedExpires = expires.filter((c) => c.checked).map((c) => c.value);
  if (JSON.stringify(checkedExpires) !== '["1hour"]') {
    problems.push(`want exactly expires=1hour checked, got ${JSON.stringify(checkedExpires)}`);
  }
  const remember = consent.named('remember').filter((c) => c.type === 'checkbox');
  if (remember.length !== 1 || remember[0].checked) {
    problems.push(`want one unchecked checkbox remember, got [${consent.named('remember').map(showControl)}]`);
  }
  const decisions = Object.fromEntries(consent.submitters('decision').map((c) => [c.value, c]));
  if (!decisions.approve || !decisions.deny) {
    problems.push(`want submit buttons decision=approve and decision=deny, got [${consent.submitters('decision').map(showControl)}]`);
  }
  if (problems.length) fail(step, 'the consent form of SPEC.md', problems.join('; '));
  const consentUrl = consent.actionUrl(pageUrl);
  ok(
    step,
    `csrf_token, photos ${JSON.stringify(photoIds)} (all checked), expires ${expires.map((c) => c.value).join('/')} ` +
      `(1hour checked), remember unchecked, approve/deny; posts to ${pathOf(consentUrl)}`,
  );

  const [approved, other] = photoIds;
  const check = { photos: [approved], expires: ['1hour'], remember: [] };
  const postHeaders = { Referer: pageUrl, Origin: origin(consentUrl), 'Content-Type': FORM_TYPE };

  // b4: the same approval without csrf_token is refused and changes nothing.
  step = 'b4. consent POST without csrf_token -> 403';
  res = await send(step, 'POST', consentUrl, {
    headers: postHeaders,
    body: submission(consent, { submitter: decisions.approve, check, drop: ['csrf_token'] }),
    jar,
  });
  if (res.status !== 403) fail(step, '403', describe(res));
  ok(step, '403');

  // b5: approve exactly one photo for one hour -> 302 to the callback.
  step = `b5. approve photo ${approved} for 1hour -> 302 to the callback`;
  res = await send(step, 'POST', consentUrl, {
    headers: postHeaders,
    body: submission(consent, { submitter: decisions.approve, check }),
    jar,
  });
  const wanted = `302 with Location ${ARGS.callback}?...oauth_token=${token}&oauth_verifier=...`;
  const location = res.headers.get('location') || '';
  if (res.status !== 302 || !location.startsWith(ARGS.callback)) fail(step, wanted, describe(res));
  const query = new URL(location).searchParams;
  if (query.getAll('oauth_token').length !== 1 || query.get('oauth_token') !== token) {
    fail(step, wanted, `oauth_token=${JSON.stringify(query.getAll('oauth_token'))} in ${redact(location)}`);
  }
  const verifiers = query.getAll('oauth_verifier');
  if (verifiers.length !== 1 || !verifiers[0]) fail(step, wanted, `oauth_verifier missing or repeated in ${redact(location)}`);
  ok(step, `302 to ${location.split('?')[0]} with oauth_token and an oauth_verifier of ${verifiers[0].length} chars`);
  return { verifier: verifiers[0], approved, other };
}

async function stepToken(request, verifier) {
  const url = `${ARGS.baseUrl}/oauth/token`;
  const exchange = (step) =>
    send(step, 'POST', url, {
      // freshly signed each time: a new nonce and timestamp
      headers: { Authorization: authorizationHeader(sign('POST', url, { token: request, extra: { oauth_verifier: verifier } })) },
    });

  let step = 'c1. POST /oauth/token';
  let res = await exchange(step);
  const fields = parseFormResponse(step, res, 'token credentials');
  if (!fields.oauth_token || !fields.oauth_token_secret) {
    fail(step, 'oauth_token and oauth_token_secret', `fields ${Object.keys(fields).sort()}`);
  }
  ok(step, `200, access oauth_token=${fields.oauth_token}, secret of ${fields.oauth_token_secret.length} chars`);

  step = 'c2. POST /oauth/token again -> 401';
  res = await exchange(step);
  const problem = expectOAuth401(step, res);
  ok(step, `401 oauth_problem=${problem}`);
  return { key: fields.oauth_token, secret: fields.oauth_token_secret };
}

function signedGet(step, url, token, clientSecret = ARGS.clientSecret) {
  return send(step, 'GET', url, { headers: { Authorization: authorizationHeader(sign('GET', url, { token, clientSecret })) } });
}

function photoUrl(id) {
  return `${ARGS.baseUrl}/api/photos/${encodeURIComponent(id)}`;
}

async function stepPhotos(access, approved, other) {
  let step = 'd1. GET /api/photos';
  let res = await signedGet(step, `${ARGS.baseUrl}/api/photos`, access);
  const wanted = `200 with a JSON list holding only photo ${approved}`;
  if (res.status !== 200) fail(step, wanted, describe(res));
  let listed;
  try {
    listed = JSON.parse(res.text());
  } catch {
    fail(step, wanted, `not JSON: ${describe(res)}`);
  }
  if (!Array.isArray(listed) || !listed.every((p) => p !== null && typeof p === 'object' && 'id' in p)) {
    fail(step, `${wanted} (objects with an id)`, describe(res));
  }
  const ids = listed.map((p) => String(p.id));
  if (JSON.stringify(ids) !== JSON.stringify([approved])) fail(step, wanted, `ids ${JSON.stringify(ids)}`);
  ok(step, `200 ${res.headers.get('content-type') || 'no Content-Type'}, exactly the approved photo ${approved}`);

  step = `d2. GET /api/photos/${approved}`;
  res = await signedGet(step, photoUrl(approved), access);
  const type = res.headers.get('content-type') || '';
  if (res.status !== 200 || !res.body.length || !type.startsWith('image/')) fail(step, '200 with non-empty image/* bytes', describe(res));
  ok(step, `200 ${type}, ${res.body.length} bytes`);

  step = `d3. GET /api/photos/${other} (not approved)`;
  res = await signedGet(step, photoUrl(other), access);
  if (![401, 403, 404].includes(res.status)) fail(step, '401, 403 or 404', describe(res));
  const problem = bodyProblem(res);
  ok(step, `${res.status}${problem ? ` oauth_problem=${problem}` : ''}`);
}

async function stepReplay(access) {
  const step = 'e. the same signed GET /api/photos twice -> 401 nonce_used';
  const url = `${ARGS.baseUrl}/api/photos`;
  // Signed once: one Authorization header, one nonce and timestamp, sent twice.
  const headers = { Authorization: authorizationHeader(sign('GET', url, { token: access })) };
  const first = await send(step, 'GET', url, { headers });
  if (first.status !== 200) fail(step, '200 the first time', describe(first));
  const second = await send(step, 'GET', url, { headers });
  expectOAuth401(step, second, 'nonce_used');
  ok(step, 'first 200, replay 401 oauth_problem=nonce_used');
}

async function stepBadSignature(access) {
  const step = 'f. GET /api/photos signed with a wrong client secret -> 401 signature_invalid';
  const res = await signedGet(step, `${ARGS.baseUrl}/api/photos`, access, `${ARGS.clientSecret}-not-the-secret`);
  expectOAuth401(step, res, 'signature_invalid');
  ok(step, `401, WWW-Authenticate ${res.headers.get('www-authenticate')}`);
}

async function main() {
  console.log(
    `story: ${ARGS.baseUrl} as client ${ARGS.clientKey}, owner ${ARGS.username}, ` +
      `request-token parameters in the ${ARGS.paramsIn === 'form' ? 'form body' : 'Authorization header'}`,
  );
  try {
    const request = await stepInitiate();
    const { verifier, approved, other } = await stepAuthorize(request.key);
    const access = await stepToken(request, verifier);
    await stepPhotos(access, approved, other);
    await stepReplay(access);
    await stepBadSignature(access);
  } catch (e) {
    if (!(e instanceof StepFailed)) throw e;
    return reportFailed(e);
  }
  return reportPassed();
}

process.exitCode = await main();
