"""Lifetime of the test servers: exit on SIGTERM or SIGINT, after a
deadline, or when the test that started them is gone, so that none outlives
its test; and how each tells the test the port it listens on."""

import os
import signal
import sys
import threading
import time


def watchdog(name, deadline, parent_pid):
    while True:
        time.sleep(0.5)
        if time.time() > deadline:
            sys.stderr.write("%s: max lifetime reached, exiting\n" % name)
            os._exit(0)
        if parent_pid:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                sys.stderr.write("%s: parent gone, exiting\n" % name)
                os._exit(0)
            except PermissionError:
                pass


def start_lifetime(name, max_lifetime, parent_pid):
    """Exit on a signal, after max_lifetime seconds, or once parent_pid is gone."""
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    signal.signal(signal.SIGINT, lambda *a: os._exit(0))
    threading.Thread(target=watchdog, args=(name, time.time() + max_lifetime, parent_pid),
                     daemon=True).start()


def announce_and_serve(srv, port_file):
    """Write the port srv listens on to port_file (atomically) and stdout,
    then serve until the process exits."""
    port = srv.server_address[1]
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, port_file)
    sys.stdout.write("PORT %d\n" % port)
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.2)
