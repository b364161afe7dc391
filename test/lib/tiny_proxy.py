#!/usr/bin/python3
"""A small HTTP proxy on 127.0.0.1 that logs what it is asked.

Test-only; started by RegistryTest->start_proxy.  It forwards requests in
absolute form (GET http://host:port/path, keeping the client's connection
open for the next one) and tunnels CONNECT host:port (https).  Every such
request is logged; requests in origin form are its own:

    GET /_log     the log as JSON [{"method", "target", "authorization"}]
    GET /_reset   clears it

With --tag-page N it pages the tag lists it forwards, as distribution 3
does (Debian's 2.8 registry sends every tag at once, whatever n asks): a
GET of /v2/<repository>/tags/list answers at most N tags (and no more than
n), sorted, after last, with a relative Link to the next page.

When ready it prints "PORT n" on stdout (and writes n to --port-file).  It
exits by itself after --max-lifetime seconds, when --parent-pid is gone, or on
SIGTERM/SIGINT.
"""

import argparse
import http.client
import json
import re
import select
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from server_lifetime import announce_and_serve, start_lifetime

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "te", "trailers", "transfer-encoding", "upgrade", "content-length"}


class Handler(BaseHTTPRequestHandler):
    server_version = "imagestream-test-proxy/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("proxy: %s %s\n" % (self.address_string(), fmt % a))

    def record(self):
        srv = self.server
        with srv.log_lock:
            if len(srv.reqlog) < 10000:
                srv.reqlog.append({"method": self.command, "target": self.path,
                                   "authorization": self.headers.get("Authorization")})

    def reply(self, code, body, ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def own(self):
        srv = self.server
        with srv.log_lock:
            if self.path == "/_reset":
                srv.reqlog.clear()
            body = json.dumps(srv.reqlog).encode()
        self.reply(200, body)

    def do_CONNECT(self):
        self.record()
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except (OSError, ValueError) as e:
            return self.reply(502, str(e).encode(), "text/plain")
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        ends = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()

    def forward(self):
        if not self.path.startswith("http://"):
            return self.own()
        self.record()
        url = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
            conn.request(self.command, url.path + ("?" + url.query if url.query else ""),
                         body, headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError as e:
            return self.reply(502, str(e).encode(), "text/plain")
        link = None
        listing = re.fullmatch(r"/v2/(.+)/tags/list", url.path)
        if self.server.tag_page and listing and self.command == "GET" and resp.status == 200:
            data, link = self.page(listing.group(1), parse_qs(url.query), data)
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "link":
                self.send_header(k, v)
        if link:
            self.send_header("Link", link)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def page(self, repo, query, data):
        """One page of a whole tag list (--tag-page): its body and Link."""
        tags = sorted(json.loads(data).get("tags") or [])
        n = min(self.server.tag_page, int(query.get("n", ["1000"])[0]))
        last = query.get("last", [None])[0]
        if last is not None:
            tags = [t for t in tags if t > last]
        body = json.dumps({"name": repo, "tags": tags[:n]}).encode()
        if len(tags) <= n:
            return body, None
        return body, '</v2/%s/tags/list?n=%d&last=%s>; rel="next"' % (repo, n, quote(tags[n - 1]))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = forward


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--max-lifetime", type=float, default=600)
    p.add_argument("--parent-pid", type=int, default=0)
    p.add_argument("--tag-page", type=int, default=0)
    args = p.parse_args()

    start_lifetime('proxy', args.max_lifetime, args.parent_pid)

    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.reqlog = []
    srv.tag_page = args.tag_page
    srv.log_lock = threading.Lock()
    announce_and_serve(srv, args.port_file)


if __name__ == "__main__":
    main()
