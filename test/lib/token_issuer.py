#!/usr/bin/python3
"""A small token server for the distribution registry's `auth: token` mode.

Started by RegistryTest.pm; test-only.  Run with the system /usr/bin/python3
(Debian's python3-jwt and python3-cryptography).

    GET  /token?service=S&scope=repository:REPO:pull,push[&scope=...]
    POST /token   (OAuth2 form: grant_type=password, username, password,
                   service, scope; answered like GET)
    GET  /_stats  JSON counters (requests, tokens, failures, by_user, granted)

Credentials come as HTTP Basic (GET) and are checked against --users, a JSON
object {"name": "password"} or {"name": {"password": "...", "actions":
["pull"], "repositories": ["team-a/*"]}} (repositories: fnmatch patterns of
the repositories the user gets actions on; all when absent).  granted counts
the tokens that gave a user actions on a repository, {"user": {"repo": n}}
("" for anonymous), so that a test can tell who got access to what.  Without credentials the answer is an anonymous pull-only token
if --anonymous-pull is given, else 401.  A valid user gets the requested
actions among its allowed ones (default pull, push, delete; "registry:catalog"
scopes get "*").  While the file named by --fail-file exists, /token answers
500, so a test can simulate a failing token endpoint.

The JWT is what the registry checks (see /work/shared/notes): RS256, an x5c
header with the base64 DER of the self-signed certificate written to --cert
(the registry's rootcertbundle), iss, sub, aud = service as a string, integer
exp/nbf/iat, jti and the access claim.

When ready it prints "PORT n" on stdout (and writes n to --port-file).  It
exits by itself after --max-lifetime seconds, when --parent-pid is gone, or on
SIGTERM/SIGINT.
"""

import argparse
import base64
import datetime
import fnmatch
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from server_lifetime import announce_and_serve, start_lifetime

DEFAULT_ACTIONS = ["pull", "push", "delete"]


def write_atomic(path, data, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def make_cert(key, name):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=False,
                encipher_only=False, decipher_only=False),
            critical=True)
        .sign(key, hashes.SHA256())
    )


def load_key_and_cert(args):
    if args.key and os.path.exists(args.key):
        with open(args.key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if args.key:
            write_atomic(args.key, key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()), 0o600)
    cert = None
    if args.cert and os.path.exists(args.cert) and args.key and os.path.exists(args.key):
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            cert = None
    if cert is None:
        cert = make_cert(key, args.issuer)
        if args.cert:
            write_atomic(args.cert, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def parse_scopes(values):
    """[(type, name, [actions])] from scope parameters (space separated)."""
    out = []
    for v in values:
        for s in v.split():
            if s.count(":") < 2:
                continue
            head, actions = s.rsplit(":", 1)
            typ, name = head.split(":", 1)
            out.append((typ, name, [a for a in actions.split(",") if a]))
    return out


class State:
    def __init__(self, args, key, cert):
        self.args = args
        self.key = key
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "tokens": 0, "failures": 0, "denied": 0,
                      "by_user": {}, "scopes": [], "granted": {}}

    def users(self):
        if not self.args.users:
            return {}
        try:
            with open(self.args.users) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def count(self, field, user=None, scopes=None, granted=None):
        with self.lock:
            self.stats[field] += 1
            if user is not None:
                self.stats["by_user"][user] = self.stats["by_user"].get(user, 0) + 1
            if scopes is not None and len(self.stats["scopes"]) < 1000:
                self.stats["scopes"].extend(scopes)
            for repo in granted or []:
                of = self.stats["granted"].setdefault(user, {})
                of[repo] = of.get(repo, 0) + 1


class Handler(BaseHTTPRequestHandler):
    server_version = "imagestream-test-token-issuer/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("token_issuer: %s %s\n" % (self.address_string(), fmt % a))

    def send_json(self, code, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def basic_credentials(self):
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None
        try:
            user, _, pw = base64.b64decode(h[6:].strip()).decode().partition(":")
        except Exception:
            return ("", "\0invalid")
        return (user, pw)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/_stats":
            st = self.server.state
            with st.lock:
                self.send_json(200, st.stats)
            return
        if url.path != "/token":
            self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        self.issue(parse_qs(url.query), self.basic_credentials())

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path != "/token":
            self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        n = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(min(n, 65536)).decode("utf-8", "replace"))
        creds = self.basic_credentials()
        if form.get("grant_type", [""])[0] == "password":
            creds = (form.get("username", [""])[0], form.get("password", [""])[0])
        self.issue(form, creds)

    def issue(self, params, creds):
        st = self.server.state
        args = st.args
        st.count("requests")
        if args.fail_file and os.path.exists(args.fail_file):
            st.count("failures")
            self.send_json(500, {"errors": [{"code": "UNAVAILABLE",
                                             "message": "simulated token endpoint failure"}]})
            return
        users = st.users()
        if creds is None:
            if not args.anonymous_pull:
                st.count("denied")
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "authentication required"}]},
                               {"WWW-Authenticate": 'Basic realm="token"'})
                return
            user, allowed, repositories = "", ["pull"], None
        else:
            user, pw = creds
            entry = users.get(user)
            repositories = None
            if isinstance(entry, dict):
                password, allowed = entry.get("password"), entry.get("actions", DEFAULT_ACTIONS)
                repositories = entry.get("repositories")
            else:
                password, allowed = entry, DEFAULT_ACTIONS
            if password is None or pw != password:
                st.count("denied")
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "invalid credentials"}]},
                               {"WWW-Authenticate": 'Basic realm="token"'})
                return
        service = params.get("service", [args.service])[0]
        scopes = parse_scopes(params.get("scope", []))
        access = []
        for typ, name, actions in scopes:
            if typ == "repository" and repositories is not None and \
                    not any(fnmatch.fnmatchcase(name, p) for p in repositories):
                granted = []
            elif typ == "repository":
                granted = [a for a in actions if a in allowed or "*" in allowed]
            elif typ == "registry" and user != "":
                granted = [a for a in actions if a == "*"]
            else:
                granted = []
            access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": args.issuer,
            "sub": user,
            "aud": service,
            "exp": now + args.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, st.key, algorithm="RS256", headers={"x5c": [st.x5c]})
        if isinstance(token, bytes):
            token = token.decode()
        st.count("tokens", user, ["%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"]))
                                  for a in access],
                 [a["name"] for a in access if a["type"] == "repository" and a["actions"]])
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        self.send_json(200, {
            "token": token,
            "access_token": token,
            "expires_in": args.expires_in,
            "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        })


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--users", help="JSON file of users")
    p.add_argument("--key", help="RSA private key PEM (created if missing)")
    p.add_argument("--cert", help="certificate PEM for the registry (created if missing)")
    p.add_argument("--issuer", default="imagestream-test-issuer")
    p.add_argument("--service", default="imagestream-test-registry")
    p.add_argument("--anonymous-pull", action="store_true")
    p.add_argument("--fail-file")
    p.add_argument("--expires-in", type=int, default=300)
    p.add_argument("--max-lifetime", type=float, default=600)
    p.add_argument("--parent-pid", type=int, default=0)
    args = p.parse_args()

    start_lifetime('token_issuer', args.max_lifetime, args.parent_pid)

    key, cert = load_key_and_cert(args)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.state = State(args, key, cert)
    announce_and_serve(srv, args.port_file)


if __name__ == "__main__":
    main()
