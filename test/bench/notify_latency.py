"""import_now -> NOTIFY latency: for each prepared manifest, PUT it as the
upstream's new "latest", commit import_now in one session and time until a
LISTENing session receives the notification.  Prints the latencies in ms."""

import select
import sys
import time
import urllib.request

import psycopg2

dsn, registry, repo, tag, media_type = sys.argv[1:6]
manifests = sys.argv[6:]

listener = psycopg2.connect(dsn)
listener.autocommit = True
listener.cursor().execute("LISTEN imagestream")
caller = psycopg2.connect(dsn)
caller.autocommit = True

for path in manifests:
    body = open(path, "rb").read()
    req = urllib.request.Request("http://%s/v2/%s/manifests/latest" % (registry, repo), data=body,
                                 method="PUT", headers={"Content-Type": media_type})
    urllib.request.urlopen(req, timeout=10).read()
    listener.poll()
    del listener.notifies[:]
    t0 = time.monotonic()
    caller.cursor().execute("SELECT imagestream.import_now(%s)", (tag,))
    deadline = t0 + 10
    while not any('"tag_updated"' in n.payload for n in listener.notifies):
        if time.monotonic() > deadline:
            sys.exit("no notification within 10 s")
        select.select([listener], [], [], 0.5)
        listener.poll()
    print("%.3f" % ((time.monotonic() - t0) * 1000))
