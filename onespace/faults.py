"""Test checkpoints at the risky steps of archiving (kill -9 and race tests).

Off unless ``ONESPACE_TEST_CHECKPOINT`` is set, e.g. ``archive-verified:crash``
(the process SIGKILLs itself there) or ``archive-verified:pause:/tmp/go``
(it creates ``/tmp/go.waiting`` and waits, at most 60 s, for ``/tmp/go``).
"""

import os
import signal
import time


def checkpoint(name):
    spec = os.environ.get("ONESPACE_TEST_CHECKPOINT")
    if not spec or not spec.startswith(name + ":"):
        return
    action, _, arg = spec[len(name) + 1:].partition(":")
    if action == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        open(arg + ".waiting", "w").close()
        deadline = time.time() + 60
        while not os.path.exists(arg) and time.time() < deadline:
            time.sleep(0.05)
