"""import_now -> NOTIFY latency: for each prepared manifest, PUT it as the
upstream's new "latest", commit import_now in one session and time until a
LISTENing session, following the documented pattern (a notification is a
hint: on any, read changes_since(last id read)), reads the tag_updated
change.  Prints the latencies in ms."""

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


def read_changes(last):
    """Every change after id last: the new last id and the events read."""
    events = []
    cur = listener.cursor()
    while True:
        cur.execute("SELECT id, event FROM imagestream.changes_since(%s)", (last,))
        rows = cur.fetchall()
        if not rows:
            return last, events
        last = rows[-1][0]
        events += [r[1] for r in rows]


last, _ = read_changes(0)
caller = psycopg2.connect(dsn)
caller.autocommit = True

for path in manifests:
    body = open(path, "rb").read()
    req = urllib.request.Request("http://%s/v2/%s/manifests/latest" % (registry, repo), data=body,
                                 method="PUT", headers={"Content-Type": media_type})
    urllib.request.urlopen(req, timeout=10).read()
    listener.poll()
    del listener.notifies[:]
    last, _ = read_changes(last)
    t0 = time.monotonic()
    caller.cursor().execute("SELECT imagestream.import_now(%s)", (tag,))
    deadline = t0 + 10
    while True:
        if listener.notifies:
            del listener.notifies[:]
            last, events = read_changes(last)
            if "tag_updated" in events:
                break
        if time.monotonic() > deadline:
            sys.exit("no notification within 10 s")
        select.select([listener], [], [], 0.5)
        listener.poll()
    print("%.3f" % ((time.monotonic() - t0) * 1000))
