#!/usr/bin/python3
"""A registry's webhook receiver for the tests: each body POSTed to it goes
to imagestream.registry_event() through psql.

Test-only; started by RegistryTest->start_event_receiver.  A POST (any path)
runs, as --user on the cluster --host/--port/--dbname,

    SELECT imagestream.registry_event(:'payload'::jsonb)

with the body as psql's variable payload (psql quotes it), one psql per
body, in the order they arrive.  It answers 200 with the count, or 400 with
psql's error (a registry then sends the envelope again).  Its own requests:

    GET /_log     [{"actions": [...], "tags": [...], "count": n or null,
                  "error": text}] one entry per body: its events' actions
                  and the tags they name (distribution's target.tag)
    GET /_reset   clears it

When ready it prints "PORT n" on stdout (and writes n to --port-file).  It
exits by itself after --max-lifetime seconds, when --parent-pid is gone, or
on SIGTERM/SIGINT.
"""

import argparse
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from server_lifetime import announce_and_serve, start_lifetime

QUERY = "SELECT imagestream.registry_event(:'payload'::jsonb);\n"


def summary(body):
    """The actions of an envelope's events (or the event type) and the tags
    they name, for the log."""
    try:
        doc = json.loads(body)
    except ValueError:
        return [], []
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        events = [e for e in doc["events"] if isinstance(e, dict)]
        return ([e.get("action") for e in events],
                [e["target"]["tag"] for e in events
                 if isinstance(e.get("target"), dict) and e["target"].get("tag")])
    if isinstance(doc, dict) and "type" in doc:
        return [doc.get("type")], []
    return [], []


class Handler(BaseHTTPRequestHandler):
    server_version = "imagestream-test-receiver/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("receiver: %s %s\n" % (self.address_string(), fmt % a))

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        with srv.lock:
            if self.path == "/_reset":
                srv.log.clear()
            body = json.dumps(srv.log).encode()
        self.reply(200, body)

    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8", "replace")
        cmd = [srv.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v", "payload=" + body,
               "-h", srv.pghost, "-p", str(srv.pgport), "-U", srv.user, "-d", srv.dbname]
        acts, tags = summary(body)
        entry = {"actions": acts, "tags": tags, "count": None, "error": None}
        with srv.lock:
            p = subprocess.run(cmd, input=QUERY, capture_output=True, text=True, timeout=60)
            if p.returncode == 0:
                entry["count"] = int(p.stdout.strip())
            else:
                entry["error"] = p.stderr.strip()
            srv.log.append(entry)
        sys.stderr.write("receiver: %s\n" % json.dumps(entry))
        self.reply(200 if p.returncode == 0 else 400, json.dumps(entry).encode())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--psql", required=True)
    p.add_argument("--pghost", required=True)
    p.add_argument("--pgport", type=int, required=True)
    p.add_argument("--dbname", default="postgres")
    p.add_argument("--user", required=True)
    p.add_argument("--port-file")
    p.add_argument("--max-lifetime", type=float, default=600)
    p.add_argument("--parent-pid", type=int, default=0)
    args = p.parse_args()

    start_lifetime('receiver', args.max_lifetime, args.parent_pid)

    # (threads, so that a registry's open connection does not hold the
    # test's; the bodies are passed on one at a time, in their order)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.log = []
    srv.lock = threading.Lock()
    srv.psql, srv.pghost, srv.pgport = args.psql, args.pghost, args.pgport
    srv.dbname, srv.user = args.dbname, args.user
    announce_and_serve(srv, args.port_file)


if __name__ == "__main__":
    main()
