#!/usr/bin/env python3
"""A token server for distribution's `auth: token` mode, for tests only.

This is a stand-in written for strata's tests: Debian packages no Docker
token server (docker_auth, Harbor's core, ...), so this small one speaks the
protocol of the Docker registry token specification instead.

Usage:
    token_server.py --key KEY.pem --cert CERT.pem --issuer ISS --service SVC
                    --user USER --password PASS --lifetime SECONDS
                    --log REQUESTS.jsonl [--no-anonymous] [--no-post]

It listens on 127.0.0.1 on a free port and prints `PORT\n` on stdout once
it accepts connections. It serves the realm at `/token`:

    GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...]
         [&offline_token=true], optionally with `Authorization: Basic`
    POST /token  (application/x-www-form-urlencoded) grant_type=password
         with username, password, service, scope (space separated),
         client_id[, access_type=offline]; or grant_type=refresh_token with
         refresh_token, service, scope, client_id

Tokens are RS256 JWTs whose header carries the signing certificate in `x5c`
(the registry's `rootcertbundle` holds that certificate), signed with
`openssl dgst -sha256 -sign`. Anonymous clients get `pull` on repositories
(unless --no-anonymous); the configured user gets `pull`, `push` and
`delete`, and `*` on `registry:catalog:*`. Wrong credentials get 401. With
--no-post, POST answers 404, as token servers that only know GET do.

Every request appends one JSON line to the log: method, path, query,
form (password redacted), auth ("none", "basic:USER", "bearer"), status,
grant (what it granted) and the token's jti, so tests can count token
fetches and see which form was used.
"""

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class State:
    def __init__(self, args):
        self.args = args
        with open(args.cert, "rb") as f:
            pem = f.read().decode()
        body = "".join(
            line for line in pem.splitlines() if line and not line.startswith("-----")
        )
        # x5c holds standard (not URL-safe) base64 of the DER certificate.
        self.x5c = [body]
        self.lock = threading.Lock()
        self.refresh = {}

    def sign(self, subject, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.x5c}
        claims = {
            "iss": self.args.issuer,
            "sub": subject,
            "aud": self.args.service,
            "exp": now + self.args.lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(12),
            "access": access,
        }
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.args.key],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
        ).stdout
        return signing_input + "." + b64url(sig), claims


def parse_scopes(scopes):
    """`repository:a/b:pull,push` (the name may hold a port's colon)."""
    out = []
    for scope in scopes:
        for item in scope.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                out.append((kind, name, [a for a in actions.split(",") if a]))
    return out


def grant(user, scopes):
    access = []
    for kind, name, actions in parse_scopes(scopes):
        if kind == "repository":
            allowed = {"pull", "push", "delete", "*"} if user else {"pull"}
        elif kind == "registry" and name == "catalog":
            allowed = {"*"} if user else set()
        else:
            allowed = set()
        granted = [a for a in actions if a in allowed]
        access.append({"type": kind, "name": name, "actions": granted})
    return access


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State = None

    def log_message(self, fmt, *args):
        pass

    def record(self, entry):
        with self.state.lock:
            with open(self.state.args.log, "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")

    def reply(self, status, body, entry, extra=None):
        data = json.dumps(body).encode()
        # Logged before the response goes out: a client holding its token
        # always finds the request in the log.
        entry["status"] = status
        self.record(entry)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def basic_user(self, entry):
        """(ok, user): ok is False on wrong credentials."""
        header = self.headers.get("Authorization", "")
        if not header:
            entry["auth"] = "none"
            return True, None
        kind, _, value = header.partition(" ")
        if kind.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except Exception:
                entry["auth"] = "basic:?"
                return False, None
            entry["auth"] = "basic:" + user
            return self.check(user, password), user
        entry["auth"] = kind.lower()
        return True, None

    def check(self, user, password):
        a = self.state.args
        return user == a.user and password == a.password

    def issue(self, entry, user, scopes, offline, oauth):
        if user is None and self.state.args.no_anonymous:
            return self.reply(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]},
                entry,
                {"WWW-Authenticate": 'Basic realm="strata-test-token"'},
            )
        access = grant(user, scopes)
        token, claims = self.state.sign(user or "", access)
        entry["grant"] = access
        entry["jti"] = claims["jti"]
        body = {
            "expires_in": self.state.args.lifetime,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["iat"])),
        }
        if oauth:
            body["access_token"] = token
            body["scope"] = " ".join(scopes)
        else:
            body["token"] = token
            body["access_token"] = token
        if offline and user is not None:
            refresh = secrets.token_hex(16)
            with self.state.lock:
                self.state.refresh[refresh] = user
            body["refresh_token"] = refresh
            entry["refresh_token_issued"] = True
        self.reply(200, body, entry)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        entry = {"method": "GET", "path": url.path, "query": query}
        if url.path != "/token":
            return self.reply(404, {"error": "not found"}, entry)
        ok, user = self.basic_user(entry)
        if not ok:
            return self.reply(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                entry,
                {"WWW-Authenticate": 'Basic realm="strata-test-token"'},
            )
        offline = query.get("offline_token", ["false"])[0] == "true"
        self.issue(entry, user, query.get("scope", []), offline, oauth=False)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        shown = dict(form)
        if "password" in shown:
            shown["password"] = "<redacted>"
        entry = {
            "method": "POST",
            "path": url.path,
            "form": shown,
            "content_type": self.headers.get("Content-Type", ""),
            "auth": "none",
        }
        if url.path != "/token" or self.state.args.no_post:
            return self.reply(404, {"error": "not found"}, entry)
        scopes = form.get("scope", "").split()
        grant_type = form.get("grant_type")
        offline = form.get("access_type") == "offline"
        if grant_type == "password":
            user = form.get("username", "")
            entry["auth"] = "password:" + user
            if not self.check(user, form.get("password", "")):
                return self.reply(
                    401, {"error": "invalid_grant", "error_description": "bad credentials"}, entry
                )
            return self.issue(entry, user, scopes, offline, oauth=True)
        if grant_type == "refresh_token":
            with self.state.lock:
                user = self.state.refresh.get(form.get("refresh_token", ""))
            entry["auth"] = "refresh:" + (user or "?")
            if user is None:
                return self.reply(
                    401, {"error": "invalid_grant", "error_description": "unknown refresh token"}, entry
                )
            return self.issue(entry, user, scopes, offline, oauth=True)
        self.reply(400, {"error": "unsupported_grant_type"}, entry)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--lifetime", type=int, default=300)
    p.add_argument("--log", required=True)
    p.add_argument("--no-anonymous", action="store_true")
    p.add_argument("--no-post", action="store_true")
    args = p.parse_args()
    Handler.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    # Stop when the parent closes our stdin (the test process is gone).
    def watch():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
