"""Lifetime of the test servers: exit after a deadline or when the test that
started them is gone, so that none outlives its test."""

import os
import sys
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
