"""import_now -> NOTIFY latency: for each prepared manifest, PUT it as the
upstream's new "latest", commit import_now in one session and time until a
LISTENing session, following the documented pattern (a notification is a
hint: on any, read changes_since(last id read)), reads the tag_updated
change.  Prints a line a push: the time in ms from before the call, then
the wall-clock times (seconds since the epoch) of the call's start and of
the reception, the id of the tag_updated change and the transaction id of
import_now, from which bench.pl measures from import_now's commit (its
commit timestamp) and splits the latency with the registry's log and the
change's commit timestamp."""

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
    """Every change after id last: the new last id and the (id, event)s read."""
    events = []
    cur = listener.cursor()
    while True:
        cur.execute("SELECT id, event FROM imagestream.changes_since(%s)", (last,))
        rows = cur.fetchall()
        if not rows:
            return last, events
        last = rows[-1][0]
        events += rows


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
    started = time.time()
    cur = caller.cursor()
    cur.execute("SELECT imagestream.import_now(%s), txid_current()", (tag,))
    xid = cur.fetchone()[1]
    deadline = t0 + 10
    updated = None
    while updated is None:
        if listener.notifies:
            del listener.notifies[:]
            last, events = read_changes(last)
            updated = next((i for i, e in events if e == "tag_updated"), None)
            if updated is not None:
                break
        if time.monotonic() > deadline:
            sys.exit("no notification within 10 s")
        select.select([listener], [], [], 0.5)
        listener.poll()
    print("%.3f %.6f %.6f %d %d" % ((time.monotonic() - t0) * 1000, started, time.time(), updated, xid))
