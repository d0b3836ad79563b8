#!/usr/bin/env python3
"""Interoperability harness between grantlog's Rust `oauth1` crate and oauthlib.

    sign   --count N --seed S --keys KEYS.json [--timestamp-base T]
        Generate N random requests, sign them with oauthlib.oauth1.Client and
        print {"requests": [...]} for the Rust side to verify.
    verify --keys KEYS.json  < requests.json
        Check requests signed by the Rust side with oauthlib's own server-side
        code and print {"results": [{"index", "valid", "base_string"}]}.
        Exit status is 0 whenever the run completed; invalid signatures are
        reported, not fatal (the Rust test asserts on them).

Request object (both directions):
    {"method", "url", "headers", "body", "signature_method",
     "client_secret", "token_secret", "base_string"}

What the generator avoids, and why (oauthlib 4.0.1 behaviour):
  * '%' in any oauth_* value (consumer key, token, nonce, callback, verifier)
    when the QUERY or BODY signature type is used: oauthlib decodes those
    values twice (parse_qsl, then utils.unescape in collect_parameters), so
    "ck%41" is signed as "ckA". Header-type signing decodes once and is fine.
    The same double decoding hits oauth_signature itself: a PLAINTEXT
    signature over secrets that need escaping ("a b" -> "a%20b&") is read
    back as "a b&" and fails, so PLAINTEXT with QUERY/BODY uses secrets made
    of unreserved characters only.
  * Form bodies on GET/HEAD: Client.sign raises "GET/HEAD requests should not
    include body".
  * An empty body string without a form Content-Type: oauthlib treats "" as an
    (empty) parameter list and raises; requests without a body pass None.
  * Content-Type other than exactly "application/x-www-form-urlencoded" with a
    form body (e.g. "; charset=utf-8"): Client.sign raises.
  * Non-form bodies (JSON etc.): oauthlib then adds oauth_body_hash (the
    draft-eaton body-hash extension), which is outside RFC 5849.
  * Raw non-ASCII or space in a query or form body: oauthlib.common.urldecode
    rejects anything but letters, digits and _.-~=&;:%+,*@!()/?'$
  * A path ending in a raw ';': urlparse/urlunparse drop the empty path
    parameter, so the base string URI would lose it.
  * Lowercase percent-escapes or percent-encoded unreserved characters in the
    path: oauthlib copies the path verbatim into the base string URI (no
    normalisation), which RFC 5849 neither requires nor forbids.
  * Parameters named "realm" or "oauth_*" in the query/body: the endpoint drops
    every "realm" parameter when the Authorization header mentions realm, and
    rejects oauth_* parameters coming from more than one place.
  * "." / ".." path segments, IPv6 hosts, port 0, empty parameter names.
"""
import argparse
import json
import random
import sys

from oauthlib import oauth1
from oauthlib.common import CaseInsensitiveDict, Request
from oauthlib.oauth1.rfc5849 import (
    CONTENT_TYPE_FORM_URLENCODED,
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    SIGNATURE_PLAINTEXT,
    SIGNATURE_RSA_SHA1,
    SIGNATURE_TYPE_AUTH_HEADER,
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
    errors,
    signature,
    utils,
)

SIGNATURE_METHODS = [SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256,
                     SIGNATURE_RSA_SHA1, SIGNATURE_PLAINTEXT]
HTTP_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
FORM_METHODS = {"POST", "PUT"}

# Roughly "now" (late 2026); fixed so output depends only on the seed.
DEFAULT_TIMESTAMP_BASE = 1795600000

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
UNRESERVED_MARKS = "~-._"
RESERVED = ":/?#[]@!$&'()*+,;="
OTHER_ASCII = ' %"<>\\^`{|}'
UNICODE_BITS = ["é", "☃", "🥃", "ü", "日本", "Ω"]

# Sub-delimiters that may stay raw in a path segment (RFC 3986 pchar).
PATH_RAW_OK = "!$&'()*+,;=:@"
# Characters that may stay raw in a query/form string and that oauthlib's
# urldecode accepts; '&', '=', '+' and '%' are never left raw in a value.
QUERY_RAW_OK = ":/?@!$'()*,;"

HOSTS = ["photos.example.net", "api.example.com", "localhost",
         "127.0.0.1", "sub-1.example.org", "xn--bcher-kva.example"]
PATH_WORDS = ["photos", "a b", "é", "☃", "🥃", "~-._", "a/b", "q?x", "#frag",
              "50%", "a&b=c", "1+1", "[v]", "café au lait", "x:y@z",
              "it's(ok)*", "v;p=1", "résumé☃🥃", "_", "-"]
PARAM_NAMES = ["x", "y", "a b", "é", "☃", "k~-._", "a[b]", "q", "sort",
               "🥃", "1", "c@t", "x+y", "&="]
PARAM_VALUES = ["", "1", "a b", "+", "a+b", "☃", "🥃", "é", ":/?@!$'()*,;",
                "%", "&=", "50% off", "~-._", "vacation.jpg", "a=b&c=d",
                "  ", "日本語", "\"quoted\"", "x" * 20]
REALMS = ["Photos", "http://sp.example.com/", "Example Realm", "a,b;c=d"]


def pct(ch, rng, lower_ok):
    """Percent-encode one character as UTF-8, hex case chosen at random."""
    out = "".join("%%%02X" % b for b in ch.encode("utf-8"))
    if lower_ok and rng.random() < 0.2:
        out = out.lower()
    return out


def encode_path_segment(text, rng):
    out = []
    for ch in text:
        if ch in ALNUM or ch in UNRESERVED_MARKS:
            out.append(ch)
        elif ch in PATH_RAW_OK and rng.random() < 0.4:
            out.append(ch)
        else:
            out.append(pct(ch, rng, lower_ok=False))
    return "".join(out)


def encode_form(text, rng):
    """Encode a query/form name or value in one of the many valid spellings."""
    out = []
    for ch in text:
        if ch in ALNUM or ch in UNRESERVED_MARKS:
            out.append(ch if rng.random() < 0.9 else pct(ch, rng, True))
        elif ch == " ":
            out.append("+" if rng.random() < 0.5 else "%20")
        elif ch in QUERY_RAW_OK and rng.random() < 0.5:
            out.append(ch)
        else:
            out.append(pct(ch, rng, lower_ok=True))
    return "".join(out)


def rand_text(rng, min_len, max_len, allow_percent=True):
    """Credential-like string mixing ASCII, reserved characters and unicode."""
    n = rng.randint(min_len, max_len)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.6:
            out.append(rng.choice(ALNUM))
        elif r < 0.7:
            out.append(rng.choice(UNRESERVED_MARKS))
        elif r < 0.82:
            out.append(rng.choice(RESERVED))
        elif r < 0.9:
            out.append(rng.choice(OTHER_ASCII))
        else:
            out.append(rng.choice(UNICODE_BITS))
    text = "".join(out)
    if not allow_percent:
        text = text.replace("%", "*")
    return text


def random_case(text, rng):
    mode = rng.random()
    if mode < 0.4:
        return text
    if mode < 0.6:
        return text.upper()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


def random_url(rng):
    scheme = rng.choice(["http", "https"])
    host = random_case(rng.choice(HOSTS), rng)
    port_kind = rng.choice(["none", "default", "odd"])
    if port_kind == "none":
        port = ""
    elif port_kind == "default":
        port = ":80" if scheme == "http" else ":443"
    else:
        odd = [":8443", ":9", ":9443", ":443" if scheme == "http" else ":80"]
        port = rng.choice(odd)

    segments = [encode_path_segment(rng.choice(PATH_WORDS), rng)
                for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(segments)
    if segments and rng.random() < 0.2:
        path += "/"
    if path.endswith(";"):
        path = path[:-1] + "%3B"

    url = random_case(scheme, rng) + "://" + host + port + path
    query = random_pairs(rng, 0, 5)
    if query is not None:
        url += "?" + query
    return url


def random_pairs(rng, min_n, max_n):
    """A form-encoded string with repeats, empty values and bare keys, or None."""
    n = rng.randint(min_n, max_n)
    if n == 0:
        return None
    pairs = []
    for _ in range(n):
        if pairs and rng.random() < 0.2:
            name, value = rng.choice(pairs)  # exact repeat or same name
            if rng.random() < 0.5:
                value = rng.choice(PARAM_VALUES)
        else:
            name, value = rng.choice(PARAM_NAMES), rng.choice(PARAM_VALUES)
        pairs.append((name, value))
    parts = []
    for name, value in pairs:
        if value == "" and rng.random() < 0.4:
            parts.append(encode_form(name, rng))  # key without '='
        else:
            parts.append(encode_form(name, rng) + "=" + encode_form(value, rng))
    return "&".join(parts)


def random_request(rng, timestamp_base):
    sig_method = rng.choice(SIGNATURE_METHODS)
    r = rng.random()
    if r < 0.6:
        sig_type = SIGNATURE_TYPE_AUTH_HEADER
    elif r < 0.8:
        sig_type = SIGNATURE_TYPE_QUERY
    else:
        sig_type = SIGNATURE_TYPE_BODY

    if sig_type == SIGNATURE_TYPE_BODY:
        method, form = "POST", True
    else:
        method = rng.choice(HTTP_METHODS)
        form = method in FORM_METHODS and rng.random() < 0.7

    url = random_url(rng)
    headers = {}
    body = None
    if form:
        headers["Content-Type"] = CONTENT_TYPE_FORM_URLENCODED
        body = random_pairs(rng, 0, 5) or ""

    # See the module docstring: '%' is double-decoded in QUERY/BODY types.
    pct_ok = sig_type == SIGNATURE_TYPE_AUTH_HEADER
    client_key = rand_text(rng, 1, 24, pct_ok)
    if sig_method == SIGNATURE_PLAINTEXT and not pct_ok:
        def secret():  # escape() must be a no-op, see the module docstring
            return "".join(rng.choice(ALNUM + UNRESERVED_MARKS)
                           for _ in range(rng.randint(1, 32)))
    else:
        def secret():
            return rand_text(rng, 1, 32)
    client_secret = "" if rng.random() < 0.05 else secret()
    token = token_secret = None
    if rng.random() < 0.8:
        token = rand_text(rng, 1, 24, pct_ok)
        token_secret = "" if rng.random() < 0.2 else secret()

    callback = None
    if rng.random() < 0.3:
        if rng.random() < 0.4:
            callback = "oob"
        elif pct_ok:
            callback = "https://Client.Example:8080/cb?state=x%20y&r=%E2%98%83&u=" \
                + rand_text(rng, 0, 8)
        else:
            callback = "https://client.example/cb?state=a+b&x=é&y=" \
                + rand_text(rng, 0, 8, False)
    verifier = rand_text(rng, 1, 16, pct_ok) if rng.random() < 0.3 else None
    realm = rng.choice(REALMS) if rng.random() < 0.3 else None
    nonce = rand_text(rng, 1, 32, pct_ok)
    timestamp = str(timestamp_base + rng.randint(-300, 300))

    return dict(method=method, url=url, headers=headers, body=body,
                sig_method=sig_method, sig_type=sig_type,
                client_key=client_key, client_secret=client_secret,
                token=token, token_secret=token_secret, callback=callback,
                verifier=verifier, realm=realm, nonce=nonce,
                timestamp=timestamp)


class Rejected(Exception):
    """oauthlib's endpoint would refuse the request before checking it."""


def endpoint_request(method, url, headers, body):
    """Mirror of BaseEndpoint._create_request (endpoints/base.py) plus the
    structural part of _check_mandatory_parameters: builds the Request whose
    .params and .signature the signature.verify_* functions consume."""
    headers = CaseInsensitiveDict(headers or {})
    # Endpoints only read the body when it is declared form-encoded.
    if ("Content-Type" in headers
            and CONTENT_TYPE_FORM_URLENCODED in headers["Content-Type"]):
        request = Request(url, method, body, headers)
    else:
        request = Request(url, method, "", headers)

    # _get_signature_type_and_params: protocol parameters from exactly one place.
    header_params = signature.collect_parameters(
        headers=request.headers, exclude_oauth_signature=False, with_realm=True)
    body_params = signature.collect_parameters(
        body=request.body, exclude_oauth_signature=False)
    query_params = signature.collect_parameters(
        uri_query=request.uri_query, exclude_oauth_signature=False)
    params = header_params + body_params + query_params
    sources = [utils.filter_oauth_params(p)
               for p in (header_params, body_params, query_params)]
    sources = [s for s in sources if s]
    if len(sources) != 1:
        raise Rejected("oauth_ parameters found in %d places" % len(sources))
    oauth_params = sources[0]
    if len(dict(oauth_params)) != len(oauth_params):
        raise Rejected("duplicate oauth_ parameters")

    oauth = dict(oauth_params)
    request.signature = oauth.get("oauth_signature")
    request.client_key = oauth.get("oauth_consumer_key")
    request.resource_owner_key = oauth.get("oauth_token")
    request.nonce = oauth.get("oauth_nonce")
    request.timestamp = oauth.get("oauth_timestamp")
    request.signature_method = oauth.get("oauth_signature_method")
    request.oauth_params = oauth
    request.params = [(k, v) for k, v in params if k != "oauth_signature"]
    if "realm" in request.headers.get("Authorization", ""):
        request.params = [(k, v) for k, v in request.params if k != "realm"]

    # From _check_mandatory_parameters, only what every oauthlib server
    # enforces whatever its validator says. The timestamp checks there (exactly
    # 10 digits, within timestamp_lifetime of now) and the validator's
    # key/nonce formats are replay/policy checks, not signature checks.
    if not all((request.signature, request.client_key, request.nonce,
                request.timestamp, request.signature_method)):
        raise Rejected("missing mandatory OAuth parameters")
    if oauth.get("oauth_version", "1.0") != "1.0":
        raise Rejected("invalid oauth_version")

    # Cross-check against the one-call form of parameter collection.
    direct = signature.collect_parameters(
        uri_query=request.uri_query, body=request.body, headers=request.headers,
        exclude_oauth_signature=True, with_realm=False)
    if (signature.normalize_parameters(direct)
            != signature.normalize_parameters(request.params)):
        # The mirror of oauthlib's endpoint must agree with oauthlib's own
        # collection, or this harness would be testing itself.
        raise RuntimeError("endpoint mirror and collect_parameters disagree for %s"
                           % url)
    return request


def oauthlib_base_string(request):
    """The base string exactly as signature._verify_hmac/_verify_rsa build it."""
    return signature.signature_base_string(
        request.http_method,
        signature.base_string_uri(request.uri),
        signature.normalize_parameters(request.params))


def check(req, rsa_public_pem):
    """Verify one request object with oauthlib. Returns (valid, base_string)."""
    request = endpoint_request(req["method"], req["url"], req["headers"],
                               req["body"])
    method = request.signature_method
    if method != req["signature_method"]:
        raise Rejected("oauth_signature_method %r, expected %r"
                       % (method, req["signature_method"]))
    # Endpoints look the token secret up only when a token is present.
    token_secret = req["token_secret"] if request.resource_owner_key else None

    if method == SIGNATURE_PLAINTEXT:
        return signature.verify_plaintext(
            request, req["client_secret"], token_secret), None
    base_string = oauthlib_base_string(request)
    if method == SIGNATURE_HMAC_SHA1:
        valid = signature.verify_hmac_sha1(
            request, req["client_secret"], token_secret)
    elif method == SIGNATURE_HMAC_SHA256:
        valid = signature.verify_hmac_sha256(
            request, req["client_secret"], token_secret)
    elif method == SIGNATURE_RSA_SHA1:
        valid = signature.verify_rsa_sha1(request, rsa_public_pem)
    else:
        raise Rejected("unsupported signature method %r" % method)
    return bool(valid), base_string


def load_keys(path):
    with open(path, encoding="utf-8") as f:
        keys = json.load(f)
    for field in ("rsa_private_key_pem", "rsa_public_key_pem"):
        if not isinstance(keys.get(field), str):
            sys.exit("%s: missing string field %r" % (path, field))
    return keys


def write_json(doc):
    sys.stdout.buffer.write(
        json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8") + b"\n")
    sys.stdout.flush()


def cmd_sign(args):
    keys = load_keys(args.keys)
    rng = random.Random(args.seed)
    out = []
    for i in range(args.count):
        g = random_request(rng, args.timestamp_base)
        client = oauth1.Client(
            g["client_key"],
            client_secret=g["client_secret"],
            resource_owner_key=g["token"],
            resource_owner_secret=g["token_secret"],
            callback_uri=g["callback"],
            verifier=g["verifier"],
            signature_method=g["sig_method"],
            signature_type=g["sig_type"],
            realm=g["realm"],
            rsa_key=(keys["rsa_private_key_pem"]
                     if g["sig_method"] == SIGNATURE_RSA_SHA1 else None),
            nonce=g["nonce"],
            timestamp=g["timestamp"],
        )
        uri, headers, body = client.sign(
            g["url"], g["method"], g["body"], dict(g["headers"]) or None)
        req = {
            "method": g["method"],
            "url": uri,
            "headers": dict(headers),
            "body": body or "",
            "signature_method": g["sig_method"],
            "client_secret": g["client_secret"],
            "token_secret": g["token_secret"] or "",
        }
        # oauthlib must accept its own output; anything else is a generator bug.
        valid, base_string = check(req, keys["rsa_public_key_pem"])
        if not valid:
            raise SystemExit("request %d: oauthlib rejects its own signature: %r"
                             % (i, req))
        req["base_string"] = base_string
        out.append(req)
    write_json({"requests": out})


REQUIRED = {"method": str, "url": str, "headers": dict, "body": str,
            "signature_method": str, "client_secret": str, "token_secret": str}


def cmd_verify(args):
    keys = load_keys(args.keys)
    try:
        doc = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        requests = doc["requests"]
        if not isinstance(requests, list):
            raise ValueError('"requests" is not a list')
        for i, req in enumerate(requests):
            for field, kind in REQUIRED.items():
                if not isinstance(req.get(field), kind):
                    raise ValueError("request %d: bad or missing %r" % (i, field))
            if not all(isinstance(k, str) and isinstance(v, str)
                       for k, v in req["headers"].items()):
                raise ValueError("request %d: headers must map str to str" % i)
    except (ValueError, KeyError, TypeError) as e:
        sys.exit("malformed input: %s" % e)

    results = []
    for i, req in enumerate(requests):
        try:
            valid, base_string = check(req, keys["rsa_public_key_pem"])
        except (Rejected, ValueError, errors.OAuth1Error) as e:
            # oauthlib cannot even parse it: report as invalid, say why.
            print("request %d rejected: %s" % (i, e), file=sys.stderr)
            valid, base_string = False, None
        results.append({"index": i, "valid": valid, "base_string": base_string})
    write_json({"results": results})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sign", help="generate and sign random requests")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--keys", required=True)
    p.add_argument("--timestamp-base", type=int, default=DEFAULT_TIMESTAMP_BASE,
                   help="timestamps are this +/- 300 s (default %(default)s)")
    p.set_defaults(func=cmd_sign)
    p = sub.add_parser("verify", help="verify requests read from stdin")
    p.add_argument("--keys", required=True)
    p.set_defaults(func=cmd_verify)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
