"""oauthlib's OAuth 1.0a resource endpoint as a WSGI app, for the comparison SPEC asks
for (docs/benchmarks.md): `GET /healthz`, and `GET /api/photos` checked in full as
grantlog checks it: HMAC-SHA1 signature, timestamp window, the client and the token
read from a database shared by the workers (SQLite, WAL) for every request, so a
revocation would hold in every worker, and the nonce recorded there, so a replay fails.

    GRANTLOG_BENCH_CREDENTIALS=key:secret:token:token-secret \
      gunicorn -w 2 -b 127.0.0.1:18081 oauthlib_server:app
"""

import json
import os
import sqlite3
import string
import threading

from oauthlib.oauth1 import RequestValidator, ResourceEndpoint

CLIENT_KEY, CLIENT_SECRET, TOKEN, TOKEN_SECRET = os.environ["GRANTLOG_BENCH_CREDENTIALS"].split(":")
DATABASE = os.environ.get("GRANTLOG_BENCH_DATABASE", "/tmp/oauthlib-bench.db")
PHOTOS = json.dumps([{"id": "islay-harbour", "title": "Port Ellen harbour at dawn"}]).encode()

local = threading.local()


def db():
    """This thread's connection; the first one creates the tables and the one client."""
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(DATABASE, timeout=10, isolation_level=None)
        local.db.execute("PRAGMA journal_mode = WAL")
        local.db.execute("PRAGMA synchronous = NORMAL")
        local.db.executescript(
            "CREATE TABLE IF NOT EXISTS clients (client_key TEXT PRIMARY KEY, secret TEXT);"
            "CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, client_key TEXT, secret TEXT, active INT);"
            "CREATE TABLE IF NOT EXISTS nonces (client_key TEXT, token TEXT, timestamp INTEGER, nonce TEXT,"
            " PRIMARY KEY (client_key, token, timestamp, nonce));"
        )
        local.db.execute("INSERT OR IGNORE INTO clients VALUES (?, ?)", (CLIENT_KEY, CLIENT_SECRET))
        local.db.execute("INSERT OR IGNORE INTO tokens VALUES (?, ?, ?, 1)", (TOKEN, CLIENT_KEY, TOKEN_SECRET))
    return local.db


def one(sql, *parameters):
    row = db().execute(sql, parameters).fetchone()
    return row[0] if row else None


class Validator(RequestValidator):
    enforce_ssl = False
    # grantlog's tokens are URL-safe base64 and its demo key has dashes; oauthlib's
    # defaults (20-30 letters and digits) would refuse them before any real check.
    safe_characters = set(string.ascii_letters + string.digits + "-_")
    client_key_length = (3, 64)
    access_token_length = (3, 64)
    nonce_length = (3, 64)
    dummy_client = "dummy-client"
    dummy_access_token = "dummy-token"

    def validate_client_key(self, client_key, request):
        return one("SELECT 1 FROM clients WHERE client_key = ?", client_key) is not None

    def get_client_secret(self, client_key, request):
        return one("SELECT secret FROM clients WHERE client_key = ?", client_key) or "dummy-secret"

    def validate_access_token(self, client_key, token, request):
        return one("SELECT active FROM tokens WHERE token = ? AND client_key = ?", token, client_key) == 1

    def get_access_token_secret(self, client_key, token, request):
        return one("SELECT secret FROM tokens WHERE token = ?", token) or "dummy-secret"

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None,
                                     access_token=None):
        try:
            db().execute("INSERT INTO nonces VALUES (?, ?, ?, ?)",
                             (client_key, access_token or request_token or "", int(timestamp), nonce))
            return True
        except sqlite3.IntegrityError:
            return False


endpoint = ResourceEndpoint(Validator())


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    if path != "/api/photos":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    uri = "http://%s%s" % (environ["HTTP_HOST"], path)
    headers = {"Authorization": environ.get("HTTP_AUTHORIZATION", "")}
    valid, _ = endpoint.validate_protected_resource_request(uri, http_method=environ["REQUEST_METHOD"],
                                                            headers=headers)
    if not valid:
        start_response("401 Unauthorized", [("Content-Type", "text/plain")])
        return [b"invalid\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [PHOTOS]
