// What the Node test scripts (tests/clients/node/story.mjs, tests/browser/grants.mjs)
// share: their command line, their step reporting (one PASS or FAIL line per step, a
// closing `N passed, N failed`, exit 0, 1 at the first failed step, 2 for bad
// arguments), one HTTP request that never follows redirects, and HMAC-SHA1 signing
// with the npm package oauth-1.0a.
//
// Node built-ins only: it is loaded from both folders, each with its own node_modules,
// so it imports no npm package; the oauth-1.0a `OAuth` function is passed in.

import crypto from 'node:crypto';
import process from 'node:process';
import { parseArgs } from 'node:util';

// ------------------------------------------------------------------------- arguments

// The options both scripts take, with the defaults of `grantlog serve --demo`.
export const DEMO_OPTIONS = {
  'base-url': { type: 'string' },
  'client-key': { type: 'string', default: 'beppa-demo-key' },
  'client-secret': { type: 'string', default: 'beppa-demo-secret' },
  username: { type: 'string', default: 'jane' },
  password: { type: 'string', default: 'islay-scotch' },
  timeout: { type: 'string', default: '10' },
};

// Parses `argv` strictly against `options` (plus -h/--help). --help prints `usage` and
// exits 0; an unknown option or a missing `required` one prints `usage` and the error
// (`script: error: ...`) on stderr and exits 2. Returns the values and that
// `usageError(message)` for the script's own checks.
export function commandLine({ script, usage, argv, options, required = [] }) {
  const usageError = (message) => {
    process.stderr.write(`${usage}\n\n${script}: error: ${message}\n`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
    }));
  } catch (e) {
    usageError(e.message);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  for (const name of required) {
    if (!values[name]) usageError(`--${name} is required`);
  }
  return { values, usageError };
}

// --base-url without its trailing slashes, and parsed; must be http:// or https://.
export function baseUrlOption(value, usageError) {
  const baseUrl = value.replace(/\/+$/, '');
  let parsed;
  try {
    parsed = new URL(baseUrl);
  } catch {
    usageError(`--base-url ${baseUrl} is not a URL`);
  }
  if (!['http:', 'https:'].includes(parsed.protocol)) usageError('--base-url must be http:// or https://');
  return { baseUrl, parsed };
}

// --timeout SECONDS, a positive number, in milliseconds.
export function timeoutOption(value, usageError) {
  const timeout = Number(value);
  if (!(timeout > 0)) usageError('--timeout must be a positive number');
  return timeout * 1000;
}

// ------------------------------------------------------------------------- steps

export class StepFailed extends Error {
  constructor(step, expected, got) {
    super(step);
    this.step = step;
    this.expected = expected;
    this.got = got;
  }
}

const passed = [];

export function ok(step, message) {
  passed.push(step);
  console.log(`PASS ${step}: ${message}`);
}

export function fail(step, expected, got) {
  throw new StepFailed(step, expected, got);
}

// The FAIL lines of the step that failed and the closing line; returns the exit code, 1.
// `got` replaces the failure's own (e.g. redacted), `note` is appended to it.
export function reportFailed(failed, { got = failed.got, note = '' } = {}) {
  console.log(`FAIL ${failed.step}\n  expected: ${failed.expected}\n  got:      ${got}${note}`);
  console.log(`${passed.length} passed, 1 failed (later steps not run)`);
  return 1;
}

// The closing line when every step passed; returns the exit code, 0.
export function reportPassed() {
  console.log(`${passed.length} passed, 0 failed`);
  return 0;
}

// ------------------------------------------------------------------------- HTTP

// A response's status and its Content-Type, Location and WWW-Authenticate headers
// (values through `redact`), as the start of a list of parts describing it.
export function responseHead(res, redact) {
  const parts = [`HTTP ${res.status}`];
  for (const name of ['Content-Type', 'Location', 'WWW-Authenticate']) {
    const value = res.headers.get(name);
    if (value !== null) parts.push(`${name}: ${redact(value)}`);
  }
  return parts;
}

// One request with fetch, never following redirects, within `timeoutMs`; `read(res)`
// reads the body. Returns { res, body }; no answer at all (refused, timed out, cut off
// while reading) fails `step`.
export async function fetchOnce(step, method, url, { headers, body, timeoutMs, read }) {
  try {
    const res = await fetch(url, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { res, body: await read(res) };
  } catch (e) {
    const cause = e.cause ? ` (${e.cause.code || e.cause.message || e.cause})` : '';
    return fail(step, `an HTTP response to ${method} ${url}`, `${e.name}: ${e.message}${cause}`);
  }
}

// ------------------------------------------------------------------------- OAuth 1.0a

// An oauth-1.0a instance (`OAuth` is the package's default export) signing with
// HMAC-SHA1 through node:crypto for the client `key` / `secret`.
export function hmacSha1(OAuth, key, secret) {
  return OAuth({
    consumer: { key, secret },
    signature_method: 'HMAC-SHA1',
    hash_function(baseString, hmacKey) {
      return crypto.createHmac('sha1', hmacKey).update(baseString).digest('base64');
    },
  });
}

// Sign one request (a new nonce and timestamp each time). `extra` are protocol
// parameters beyond the usual ones (oauth_callback, oauth_verifier): signed through
// request.data, then sent with the others. Returns the full set of oauth_* parameters
// and the library instance.
export function sign(oauth, method, url, { token, extra = {} } = {}) {
  const params = { ...oauth.authorize({ url, method, data: { ...extra } }, token), ...extra };
  return { oauth, params };
}

export function authorizationHeader({ oauth, params }) {
  return oauth.toHeader(params).Authorization;
}
