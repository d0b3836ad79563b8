#!/usr/bin/env python3
"""Run grantlog's seed story end to end as Beppa (the client) and Jane's browser.

Third-party client: requests-oauthlib (OAuth1Session) for every signed call, a plain
requests.Session with cookies and no automatic redirects for the owner's browser part,
html.parser for the login and consent pages. Checks the external contract in SPEC.md,
prints one line per step and exits 0 only if every step behaved as the contract says
(1 on the first step that did not, 2 on bad arguments).

    python story.py --base-url http://127.0.0.1:8080 \\
        --client-key beppa-demo-key --client-secret beppa-demo-secret \\
        --username jane --password islay-scotch [--signature-type header|query|body]

Steps: a initiate; b1-b5 the owner's authorization (login form, login, consent page,
consent without csrf_token -> 403, approve one photo -> 302 to the callback); c1-c2
the token exchange and its refused repeat; d1-d3 the protected photos; e a replayed
request (nonce_used); f a bad signature (signature_invalid).

Secrets (token secrets, the verifier, the password) are never printed.
"""
import argparse
import html.parser
import ipaddress
import json
import re
import sys
import urllib.parse

import requests
from oauthlib.oauth1 import (
    SIGNATURE_TYPE_AUTH_HEADER,
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
)
from requests_oauthlib import OAuth1Session
from requests_oauthlib.oauth1_session import TokenRequestDenied

SIGNATURE_TYPES = {
    "header": SIGNATURE_TYPE_AUTH_HEADER,
    "query": SIGNATURE_TYPE_QUERY,
    "body": SIGNATURE_TYPE_BODY,
}
FORM_TYPE = "application/x-www-form-urlencoded"
REDIRECTS = (301, 302, 303, 307, 308)
MAX_HOPS = 10
EXPIRES_VALUES = ["1hour", "1day", "30days", "never"]


# --------------------------------------------------------------------------- output

class StepFailed(Exception):
    def __init__(self, step, expected, got):
        super().__init__(step)
        self.step, self.expected, self.got = step, expected, got


PASSED = []


def ok(step, message):
    PASSED.append(step)
    print("PASS %s: %s" % (step, message), flush=True)


def fail(step, expected, got):
    raise StepFailed(step, expected, got)


SECRET_PARAMS = re.compile(
    r"((?:oauth_token_secret|oauth_verifier|password)=)[^&\s\"'<]*")


def redact(text):
    return SECRET_PARAMS.sub(r"\1<redacted>", text)


def describe(resp, body_chars=600):
    """What came back, for a failure message: status, the headers that matter, body."""
    parts = ["HTTP %d" % resp.status_code]
    for name in ("Content-Type", "Location", "WWW-Authenticate"):
        if name in resp.headers:
            parts.append("%s: %s" % (name, redact(resp.headers[name])))
    content_type = resp.headers.get("Content-Type", "")
    if resp.content and content_type.startswith("image/"):
        parts.append("body: %d bytes of %s" % (len(resp.content), content_type))
    elif resp.content:
        text = resp.content[:body_chars].decode("utf-8", "replace")
        more = " ..." if len(resp.content) > body_chars else ""
        parts.append("body: %r%s" % (redact(text), more))
    else:
        parts.append("empty body")
    return "; ".join(parts)


# --------------------------------------------------------------------------- HTTP

def browser_cookies_for_loopback(browser, url):
    """Browsers send Secure cookies to http://127.0.0.1 and http://localhost (they are
    potentially trustworthy origins); Python's cookiejar never sends a Secure cookie
    over http. So for a loopback server the jar's cookies are marked not-Secure after
    each response (a cookie policy would not help: requests copies the jar into a
    fresh one with the default policy for every request)."""
    if urllib.parse.urlsplit(url).scheme == "http" and is_loopback(urllib.parse.urlsplit(url).hostname):
        for cookie in browser.cookies:
            cookie.secure = False


def is_loopback(host):
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def send(session, step, method, url, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    kwargs.setdefault("timeout", ARGS.timeout)
    try:
        return session.request(method, url, **kwargs)
    except (requests.RequestException, ValueError) as e:
        fail(step, "an HTTP response to %s %s" % (method, url), "%s: %s" % (type(e).__name__, e))


def send_prepared(session, step, prepared):
    try:
        return session.send(prepared, allow_redirects=False, timeout=ARGS.timeout)
    except requests.RequestException as e:
        fail(step, "an HTTP response to %s %s" % (prepared.method, prepared.url),
             "%s: %s" % (type(e).__name__, e))


def oauth_session(signature_type, **credentials):
    session = OAuth1Session(
        ARGS.client_key, signature_type=signature_type, **credentials)
    session.trust_env = False  # no proxies or .netrc between us and a local server
    return session


def get_signature_type():
    """requests-oauthlib cannot put oauth parameters in the body of a GET, so with
    --signature-type body the GET requests are signed in the Authorization header."""
    chosen = SIGNATURE_TYPES[ARGS.signature_type]
    return SIGNATURE_TYPE_AUTH_HEADER if chosen == SIGNATURE_TYPE_BODY else chosen


def parse_form_response(step, resp, what):
    """A 200 with an application/x-www-form-urlencoded body (RFC 5849 2.1 / 2.3)."""
    if resp.status_code != 200:
        fail(step, "200 with a form-encoded body (%s)" % what, describe(resp))
    content_type = resp.headers.get("Content-Type", "")
    if not content_type.lower().startswith(FORM_TYPE):
        fail(step, "Content-Type %s (RFC 5849 section 2)" % FORM_TYPE, describe(resp))
    try:
        pairs = urllib.parse.parse_qsl(resp.text, keep_blank_values=True,
                                       strict_parsing=True)
    except ValueError as e:
        fail(step, "a form-encoded body", "%s (%s)" % (describe(resp), e))
    fields = {}
    for name, value in pairs:
        if name in fields:
            fail(step, "each parameter once", "%s repeated: %s" % (name, describe(resp)))
        fields[name] = value
    return fields


def expect_oauth_401(step, resp, problem=None):
    """401 with `WWW-Authenticate: OAuth realm=...` and an oauth_problem body.
    Returns the body's oauth_problem."""
    wanted = "401, WWW-Authenticate 'OAuth realm=...', body oauth_problem=%s" % (
        problem or "<any>")
    if resp.status_code != 401:
        fail(step, wanted, describe(resp))
    challenge = resp.headers.get("WWW-Authenticate", "")
    if not challenge.startswith("OAuth realm="):
        fail(step, wanted, "WWW-Authenticate %r; %s" % (challenge, describe(resp)))
    try:
        body = dict(urllib.parse.parse_qsl(resp.text, keep_blank_values=True))
    except ValueError:
        body = {}
    got = body.get("oauth_problem")
    if not got:
        fail(step, wanted, "no oauth_problem in the body; " + describe(resp))
    if problem is not None and got != problem:
        fail(step, wanted, "oauth_problem=%s; %s" % (got, describe(resp)))
    if "oauth_problem" not in challenge:
        fail(step, wanted + " (and oauth_problem in WWW-Authenticate)",
             "WWW-Authenticate %r" % challenge)
    return got


# --------------------------------------------------------------------------- HTML

class Control:
    """An <input> or <button> inside a form, as the browser sees it."""

    def __init__(self, tag, attrs):
        self.tag = tag
        self.attrs = attrs
        kind = attrs.get("type", "text" if tag == "input" else "submit").lower()
        self.type = kind
        self.name = attrs.get("name")
        default = "on" if kind in ("checkbox", "radio") else ""
        self.value = attrs.get("value", default)
        self.checked = "checked" in attrs
        self.disabled = "disabled" in attrs

    @property
    def is_submit(self):
        if self.tag == "button":
            return self.type == "submit"
        return self.type in ("submit", "image")

    def __repr__(self):
        return "<%s type=%s name=%s value=%s%s>" % (
            self.tag, self.type, self.name, self.value, " checked" if self.checked else "")


class Form:
    def __init__(self, attrs):
        self.attrs = attrs
        self.controls = []

    @property
    def method(self):
        return self.attrs.get("method", "get").lower()

    def named(self, name):
        return [c for c in self.controls if c.name == name]

    def submitters(self, name=None):
        return [c for c in self.controls if c.is_submit and (name is None or c.name == name)]

    def action_url(self, page_url):
        return urllib.parse.urljoin(page_url, self.attrs.get("action") or page_url)

    def submission(self, submitter=None, fill=None, check=None, drop=()):
        """The name/value pairs a browser would send: text-like inputs with their
        value (or `fill[name]`), checkboxes and radios only when checked (or, for a
        name in `check`, exactly the values listed there), the clicked submitter only,
        controls named in `drop` left out."""
        fill, check = fill or {}, check or {}
        pairs = []
        for c in self.controls:
            if not c.name or c.disabled or c.name in drop:
                continue
            if c.is_submit:
                if c is submitter:
                    pairs.append((c.name, c.value))
            elif c.tag == "button" or c.type in ("reset", "button", "file"):
                continue
            elif c.type in ("checkbox", "radio"):
                on = (c.value in check[c.name]) if c.name in check else c.checked
                if on:
                    pairs.append((c.name, c.value))
            else:
                pairs.append((c.name, fill.get(c.name, c.value)))
        return pairs


class FormParser(html.parser.HTMLParser):
    """Collects every <form> with the <input>/<button> elements nested in it.
    (Controls tied to a form by a `form=` attribute from outside it are not seen.)"""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        seen = {}
        for name, value in attrs:  # the first of a repeated attribute wins, as in HTML
            seen.setdefault(name.lower(), "" if value is None else value)
        if tag == "form":
            self._open = Form(seen)
            self.forms.append(self._open)
        elif tag in ("input", "button") and self._open is not None:
            self._open.controls.append(Control(tag, seen))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def parse_forms(text):
    parser = FormParser()
    parser.feed(text)
    parser.close()
    return parser.forms


def find_login_form(forms):
    for form in forms:
        if form.named("password") and form.named("username"):
            return form
    return None


def find_consent_form(forms):
    for form in forms:
        if form.submitters("decision"):
            return form
    return None


def describe_forms(forms):
    if not forms:
        return "no <form> on the page"
    return "forms: " + "; ".join(
        "action=%r method=%s controls=%r" % (f.attrs.get("action"), f.method, f.controls)
        for f in forms)


# --------------------------------------------------------------------------- the story

def browse(browser, step, method, url, data=None, referer=None, stop_at=None):
    """One browser navigation: send, then follow same-site redirects by hand (303/302/301
    turn into GET, 307/308 repeat the request), stopping at the first non-redirect or at
    a redirect whose Location starts with `stop_at`. Returns (final response, its URL)."""
    headers = {}
    for hop in range(MAX_HOPS + 1):
        if referer:
            headers["Referer"] = referer
        if method == "POST":
            parts = urllib.parse.urlsplit(url)
            headers["Origin"] = "%s://%s" % (parts.scheme, parts.netloc)
        resp = send(browser, step, method, url, data=data, headers=headers)
        browser_cookies_for_loopback(browser, url)
        if resp.status_code not in REDIRECTS:
            return resp, url
        location = resp.headers.get("Location")
        if not location:
            fail(step, "a Location header on a redirect", describe(resp))
        target = urllib.parse.urljoin(url, location)
        if stop_at and target.startswith(stop_at):
            return resp, url
        if urllib.parse.urlsplit(target).netloc != urllib.parse.urlsplit(url).netloc:
            fail(step, "a page on the server", "redirect off-site: " + describe(resp))
        if resp.status_code not in (307, 308):
            method, data = "GET", None
        referer, url = url, target
    fail(step, "at most %d redirects" % MAX_HOPS, "redirect loop, last: " + url)


def step_a_initiate():
    step = "a. POST /oauth/initiate"
    session = oauth_session(SIGNATURE_TYPES[ARGS.signature_type],
                            client_secret=ARGS.client_secret, callback_uri=ARGS.callback)
    resp = send(session, step, "POST", ARGS.base_url + "/oauth/initiate")
    fields = parse_form_response(step, resp, "temporary credentials")
    wanted = "oauth_token, oauth_token_secret, oauth_callback_confirmed=true"
    if not fields.get("oauth_token") or not fields.get("oauth_token_secret"):
        fail(step, wanted, "fields %s" % sorted(fields))
    if fields.get("oauth_callback_confirmed") != "true":
        fail(step, wanted, "oauth_callback_confirmed=%r" % fields.get("oauth_callback_confirmed"))
    ok(step, "200, oauth_token=%s, secret of %d chars, oauth_callback_confirmed=true "
       "(signature type %s)" % (fields["oauth_token"], len(fields["oauth_token_secret"]),
                                ARGS.signature_type))
    return fields["oauth_token"], fields["oauth_token_secret"]


def step_b_authorize(token):
    browser = requests.Session()
    browser.trust_env = False
    browser.headers["User-Agent"] = "grantlog-story/python (Jane's browser)"

    # b1: the authorization URL, no owner session yet -> login form.
    step = "b1. GET /oauth/authorize -> login form"
    authorize_url = "%s/oauth/authorize?%s" % (
        ARGS.base_url, urllib.parse.urlencode({"oauth_token": token}))
    resp, page_url = browse(browser, step, "GET", authorize_url)
    if resp.status_code != 200:
        fail(step, "200 with a login form", describe(resp))
    forms = parse_forms(resp.text)
    login = find_login_form(forms)
    if login is None:
        fail(step, "a <form> with inputs username and password", describe_forms(forms))
    if login.method != "post":
        fail(step, "the login form's method POST", "method=%r" % login.attrs.get("method"))
    login_url = login.action_url(page_url)
    hidden = sorted(c.name for c in login.controls if c.type == "hidden" and c.name)
    ok(step, "200 at %s, login form posts to %s (hidden fields: %s)" % (
        urllib.parse.urlsplit(page_url).path, urllib.parse.urlsplit(login_url).path,
        ", ".join(hidden) or "none"))

    # b2: log in as the owner -> consent page (rendered directly or via a redirect).
    step = "b2. log in -> consent page"
    submitter = (login.submitters() or [None])[0]
    data = login.submission(submitter=submitter,
                            fill={"username": ARGS.username, "password": ARGS.password})
    resp, page_url = browse(browser, step, "POST", login_url, data=data,
                            referer=page_url, stop_at=ARGS.callback)
    if resp.status_code != 200:
        fail(step, "200 with the consent page (after any redirects)", describe(resp))
    forms = parse_forms(resp.text)
    consent = find_consent_form(forms)
    if consent is None:
        why = "the login form again (credentials refused?)" if find_login_form(forms) else ""
        fail(step, "a consent <form> with submit buttons named decision",
             (why + "; " if why else "") + describe_forms(forms))
    ok(step, "consent page at %s, session cookie(s): %s" % (
        urllib.parse.urlsplit(page_url).path,
        ", ".join(sorted({c.name for c in browser.cookies})) or "none"))

    # b3: the consent form says what the contract says it says.
    step = "b3. consent form contents"
    problems = []
    if consent.method != "post":
        problems.append("method %r, not POST" % consent.attrs.get("method"))
    csrf = [c for c in consent.named("csrf_token") if c.type == "hidden"]
    if len(csrf) != 1 or not csrf[0].value:
        problems.append("want one non-empty hidden csrf_token, got %r" % consent.named("csrf_token"))
    photos = [c for c in consent.named("photos") if c.type == "checkbox"]
    photo_ids = [c.value for c in photos]
    if len(photos) < 2:
        problems.append("want a checkbox named photos for each of (at least) two photos, "
                        "got %r" % consent.named("photos"))
    if any(not c.checked for c in photos):
        problems.append("photo checkboxes not all checked: %r" % photos)
    if len(set(photo_ids)) != len(photo_ids) or "" in photo_ids or "on" in photo_ids:
        problems.append("photo checkbox values are not distinct ids: %r" % photo_ids)
    expires = [c for c in consent.named("expires") if c.type == "radio"]
    if sorted(c.value for c in expires) != sorted(EXPIRES_VALUES):
        problems.append("want radios expires=%s, got %r" % ("/".join(EXPIRES_VALUES), expires))
    if [c.value for c in expires if c.checked] != ["1hour"]:
        problems.append("want exactly expires=1hour checked, got %r"
                        % [c.value for c in expires if c.checked])
    remember = [c for c in consent.named("remember") if c.type == "checkbox"]
    if len(remember) != 1 or remember[0].checked:
        problems.append("want one unchecked checkbox remember, got %r" % consent.named("remember"))
    decisions = {c.value: c for c in consent.submitters("decision")}
    if not {"approve", "deny"} <= set(decisions):
        problems.append("want submit buttons decision=approve and decision=deny, got %r"
                        % consent.submitters("decision"))
    if problems:
        fail(step, "the consent form of SPEC.md", "; ".join(problems))
    consent_url = consent.action_url(page_url)
    ok(step, "csrf_token, photos %s (all checked), expires %s (1hour checked), remember "
       "unchecked, approve/deny; posts to %s" % (
           photo_ids, "/".join(c.value for c in expires), urllib.parse.urlsplit(consent_url).path))

    approved, other = photo_ids[0], photo_ids[1]
    choice = {"photos": {approved}, "expires": {"1hour"}, "remember": set()}

    # b4: the same approval without csrf_token is refused and changes nothing.
    step = "b4. consent POST without csrf_token -> 403"
    data = consent.submission(submitter=decisions["approve"], check=choice, drop={"csrf_token"})
    resp = send(browser, step, "POST", consent_url, data=data,
                headers={"Referer": page_url, "Origin": origin(consent_url)})
    if resp.status_code != 403:
        fail(step, "403", describe(resp))
    ok(step, "403")

    # b5: approve exactly one photo for one hour -> 302 to the callback.
    step = "b5. approve photo %s for 1hour -> 302 to the callback" % approved
    data = consent.submission(submitter=decisions["approve"], check=choice)
    resp = send(browser, step, "POST", consent_url, data=data,
                headers={"Referer": page_url, "Origin": origin(consent_url)})
    wanted = "302 with Location %s?...oauth_token=%s&oauth_verifier=..." % (ARGS.callback, token)
    location = resp.headers.get("Location", "")
    if resp.status_code != 302 or not location.startswith(ARGS.callback):
        fail(step, wanted, describe(resp))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query, keep_blank_values=True)
    if query.get("oauth_token") != [token]:
        fail(step, wanted, "oauth_token=%r in %s" % (query.get("oauth_token"), redact(location)))
    verifier = query.get("oauth_verifier", [""])
    if len(verifier) != 1 or not verifier[0]:
        fail(step, wanted, "oauth_verifier missing or repeated in %s" % redact(location))
    ok(step, "302 to %s with oauth_token and an oauth_verifier of %d chars" % (
        location.split("?")[0], len(verifier[0])))
    return verifier[0], approved, other


def origin(url):
    parts = urllib.parse.urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def step_c_token(token, token_secret, verifier):
    url = ARGS.base_url + "/oauth/token"
    step = "c1. POST /oauth/token"
    session = oauth_session(SIGNATURE_TYPES[ARGS.signature_type],
                            client_secret=ARGS.client_secret, resource_owner_key=token,
                            resource_owner_secret=token_secret, verifier=verifier)
    # requests-oauthlib's own token call, which parses the answer as clients do; the
    # response is kept (a hook) to check its status and Content-Type as well.
    answers = []
    session.hooks["response"].append(lambda resp, *args, **kwargs: answers.append(resp))
    try:
        token = session.fetch_access_token(url, timeout=ARGS.timeout)
    except (TokenRequestDenied, requests.RequestException, ValueError) as e:
        fail(step, "token credentials from fetch_access_token", "%s: %s" % (type(e).__name__, redact(str(e))))
    session.hooks["response"].clear()
    fields = parse_form_response(step, answers[-1], "token credentials")
    if not token.get("oauth_token") or token.get("oauth_token_secret") != fields.get("oauth_token_secret"):
        fail(step, "oauth_token and oauth_token_secret", "fields %s" % sorted(token))
    # Approved for one hour (b5): the OAuth Session extension's oauth_expires_in says so.
    expires_in = token.get("oauth_expires_in", "")
    if not expires_in.isdigit() or not 3500 <= int(expires_in) <= 3600:
        fail(step, "oauth_expires_in of about 3600 seconds", "oauth_expires_in=%r" % expires_in)
    ok(step, "200, access oauth_token=%s, secret of %d chars, oauth_expires_in=%s" % (
        token["oauth_token"], len(token["oauth_token_secret"]), expires_in))

    step = "c2. POST /oauth/token again -> 401"
    resp = send(session, step, "POST", url)  # freshly signed: new nonce and timestamp
    problem = expect_oauth_401(step, resp)
    ok(step, "401 oauth_problem=%s" % problem)
    return token["oauth_token"], token["oauth_token_secret"]


def step_d_photos(access, approved, other):
    token, token_secret = access
    session = oauth_session(get_signature_type(), client_secret=ARGS.client_secret,
                            resource_owner_key=token, resource_owner_secret=token_secret)

    step = "d1. GET /api/photos"
    resp = send(session, step, "GET", ARGS.base_url + "/api/photos")
    wanted = "200 with a JSON list holding only photo %s" % approved
    if resp.status_code != 200:
        fail(step, wanted, describe(resp))
    try:
        listed = resp.json()
    except ValueError:
        fail(step, wanted, "not JSON: " + describe(resp))
    if not isinstance(listed, list) or not all(isinstance(p, dict) and "id" in p for p in listed):
        fail(step, wanted + " (objects with an id)", describe(resp))
    ids = [str(p["id"]) for p in listed]
    if ids != [approved]:
        fail(step, wanted, "ids %s" % ids)
    ok(step, "200 %s, exactly the approved photo %s" % (
        resp.headers.get("Content-Type", "no Content-Type"), approved))

    step = "d2. GET /api/photos/%s" % approved
    resp = send(session, step, "GET", photo_url(approved))
    content_type = resp.headers.get("Content-Type", "")
    if resp.status_code != 200 or not resp.content or not content_type.startswith("image/"):
        fail(step, "200 with non-empty image/* bytes", describe(resp))
    ok(step, "200 %s, %d bytes" % (content_type, len(resp.content)))

    step = "d3. GET /api/photos/%s (not approved)" % other
    resp = send(session, step, "GET", photo_url(other))
    if resp.status_code not in (401, 403, 404):
        fail(step, "401, 403 or 404", describe(resp))
    ok(step, "%d%s" % (resp.status_code, problem_suffix(resp)))
    return session


def photo_url(photo_id):
    return "%s/api/photos/%s" % (ARGS.base_url, urllib.parse.quote(photo_id, safe=""))


def problem_suffix(resp):
    try:
        problem = dict(urllib.parse.parse_qsl(resp.text)).get("oauth_problem")
    except ValueError:
        problem = None
    return " oauth_problem=%s" % problem if problem else ""


def step_e_replay(session):
    step = "e. the same signed GET /api/photos twice -> 401 nonce_used"
    # Signed once: the prepared request carries one nonce and timestamp.
    prepared = session.prepare_request(requests.Request("GET", ARGS.base_url + "/api/photos"))
    first = send_prepared(session, step, prepared)
    if first.status_code != 200:
        fail(step, "200 the first time", describe(first))
    second = send_prepared(session, step, prepared)
    expect_oauth_401(step, second, "nonce_used")
    ok(step, "first 200, replay 401 oauth_problem=nonce_used")


def step_f_bad_signature(access):
    step = "f. GET /api/photos signed with a wrong client secret -> 401 signature_invalid"
    token, token_secret = access
    session = oauth_session(get_signature_type(),
                            client_secret=ARGS.client_secret + "-not-the-secret",
                            resource_owner_key=token, resource_owner_secret=token_secret)
    resp = send(session, step, "GET", ARGS.base_url + "/api/photos")
    expect_oauth_401(step, resp, "signature_invalid")
    ok(step, "401, WWW-Authenticate %s" % resp.headers["WWW-Authenticate"])


def run():
    token, token_secret = step_a_initiate()
    verifier, approved, other = step_b_authorize(token)
    access = step_c_token(token, token_secret, verifier)
    session = step_d_photos(access, approved, other)
    step_e_replay(session)
    step_f_bad_signature(access)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Run grantlog's seed story against a server with requests-oauthlib; "
                    "exit 0 only if every step behaves as SPEC.md's external contract says.")
    parser.add_argument("--base-url", required=True,
                        help="the server, e.g. http://127.0.0.1:8080 (no trailing path)")
    parser.add_argument("--client-key", default="beppa-demo-key",
                        help="client key (default: the --demo client, %(default)s)")
    parser.add_argument("--client-secret", default="beppa-demo-secret",
                        help="client secret (default: the --demo client's)")
    parser.add_argument("--username", default="jane", help="resource owner (default %(default)s)")
    parser.add_argument("--password", default="islay-scotch",
                        help="resource owner's password (default: the --demo owner's)")
    parser.add_argument("--signature-type", choices=sorted(SIGNATURE_TYPES), default="header",
                        help="where the oauth parameters go: Authorization header (default), "
                             "URL query, or form body (body applies to the POSTs; GETs "
                             "then use the header)")
    parser.add_argument("--callback", default="http://127.0.0.1:9/ready",
                        help="oauth_callback sent at initiate; must be registered for the "
                             "client and must not be oob (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per HTTP request (default %(default)s)")
    args = parser.parse_args(argv)
    args.base_url = args.base_url.rstrip("/")
    if urllib.parse.urlsplit(args.base_url).scheme not in ("http", "https"):
        parser.error("--base-url must be an http:// or https:// URL")
    if args.callback == "oob":
        parser.error("--callback oob is not supported: the story follows the redirect")
    return args


def main(argv=None):
    global ARGS
    ARGS = parse_args(argv)
    print("story: %s as client %s, owner %s, signature type %s" % (
        ARGS.base_url, ARGS.client_key, ARGS.username, ARGS.signature_type), flush=True)
    try:
        run()
    except StepFailed as e:
        print("FAIL %s\n  expected: %s\n  got:      %s" % (e.step, e.expected, e.got), flush=True)
        print("%d passed, 1 failed (later steps not run)" % len(PASSED), flush=True)
        return 1
    print("%d passed, 0 failed" % len(PASSED), flush=True)
    return 0


ARGS = None

if __name__ == "__main__":
    sys.exit(main())
