"""Integration fixtures: one real lab per test session, and daemons in subprocesses.

The lab (real Swift, memcached, SeaweedFS) is started by the tests
themselves.  If it cannot start, every test that needs it fails with the
lab's error: nothing is skipped.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from onespace.lab import Lab

LAB_STATE = os.environ.get("ONESPACE_TEST_LAB", "/tmp/onespace-test-lab")
LAB_PORT = int(os.environ.get("ONESPACE_TEST_LAB_PORT", 28000))


@pytest.fixture(scope="session")
def lab():
    shutil.rmtree(LAB_STATE, ignore_errors=True)
    lab = Lab(LAB_STATE, LAB_PORT)
    try:
        lab.start()  # raises LabError naming the server that failed
        yield lab
    finally:
        Daemon.kill_leftovers()
        lab.stop()


@pytest.fixture
def unique():
    """A short unique suffix for container and bucket names."""
    return uuid.uuid4().hex[:8]


def write_config(path, conf):
    with open(path, "w") as f:
        json.dump(conf, f, indent=1)
    return str(path)


class Daemon:
    """onespace-sync (or ``argv``) in a subprocess, as systemd would run it."""

    started = []  # every daemon of the session, so a failed test leaks none

    @classmethod
    def kill_leftovers(cls):
        for d in cls.started:
            if d.alive():
                d.proc.kill()
                d.proc.wait()

    def __init__(self, config_path, log_path, env=None, argv=None):
        self.config_path = str(config_path)
        self.log_path = str(log_path)
        self.env = env
        self.argv = argv or [sys.executable, "-m", "onespace.cli", "--config",
                             self.config_path]
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        Daemon.started.append(self)
        return self

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def run_once(config_path, timeout=300):
    """One ``onespace-sync --once`` pass: (exit status, combined output)."""
    p = subprocess.run([sys.executable, "-m", "onespace.cli", "--config", str(config_path),
                        "--once"], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def wait_for(predicate, timeout=60, interval=0.5, what="condition"):
    """Poll ``predicate`` (bounded in time); returns its last truthy value or fails."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def status_json(config_path):
    """``onespace-status --json`` for a node's config."""
    p = subprocess.run([sys.executable, "-c", "import sys; from onespace.cli import status_main;"
                        " sys.exit(status_main())", "--config", str(config_path), "--json"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)
