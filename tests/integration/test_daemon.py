"""onespace-sync as a long-running daemon: three nodes, crashes, outages, signals."""

import json
import os
import re
import shutil
import signal
import socket
import time

import pytest

from tests.integration.conftest import Daemon, run_once, wait_for, write_config
from tests.integration.remote import RemoteView
from tests.integration.test_sync import node_configs

UPLOADED = re.compile(r"uploaded AUTH_test/[^/]+/(.+) -> ")


def uploads(text):
    return UPLOADED.findall(text)


class NotifySocket:
    """A stand-in for systemd's notify socket: collects what the daemon says."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def drain(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (socket.timeout, BlockingIOError):
                return self.messages

    def count(self, text):
        return sum(text in m for m in self.drain())

    def env(self):
        return dict(os.environ, NOTIFY_SOCKET=self.path)


def start_daemons(configs, tmp_path, nodes=(1, 2, 3), env=None):
    return {n: Daemon(configs[n - 1], tmp_path / ("daemon%d.log" % n), env=env).start()
            for n in nodes}


def stop_all(daemons):
    return {n: d.stop() for n, d in daemons.items()}


def put_objects(conn, container, count, prefix="obj"):
    names = ["%s-%04d" % (prefix, i) for i in range(count)]
    for name in names:
        conn.put_object(container, name, name.encode() * 10)
    return names


def s3_setup(lab, tmp_path, unique, **settings):
    container, bucket = "d-" + unique, "d-" + unique
    conn = lab.swift_connection("test")
    conn.put_container(container)
    view = RemoteView(lab, "seaweedfs", bucket, container=container)
    view.create()
    configs = node_configs(lab, tmp_path, [lab.s3_mapping(container, bucket)], **settings)
    return conn, container, view, configs


def test_three_daemons_upload_each_object_once(lab, tmp_path, unique):
    # a long slack: verification must not be what uploads anything here
    conn, container, view, configs = s3_setup(lab, tmp_path, unique, verification_slack=60)
    daemons = start_daemons(configs, tmp_path)
    try:
        names = put_objects(conn, container, 60)
        wait_for(lambda: len(view.keys()) == len(names), timeout=120, what="all objects remote")
        time.sleep(3)  # a few more passes: nothing more may be uploaded
    finally:
        codes = stop_all(daemons)
    assert codes == {1: 0, 2: 0, 3: 0}
    per_node = {n: uploads(d.output()) for n, d in daemons.items()}
    everything = sum(per_node.values(), [])
    assert sorted(everything) == sorted(names)  # each exactly once
    assert all(per_node.values()), per_node  # and the work was shared


def test_two_daemons_cover_a_stopped_node_after_slack(lab, tmp_path, unique):
    conn, container, view, configs = s3_setup(lab, tmp_path, unique,
                                              verification_slack=0.05)  # 3 seconds
    daemons = start_daemons(configs, tmp_path, nodes=(1, 2))
    try:
        names = put_objects(conn, container, 45)
        wait_for(lambda: len(view.keys()) == len(names), timeout=120,
                 what="all objects remote with node 3 down")
    finally:
        stop_all(daemons)
    for name in names:
        assert view.get(name)[0] == name.encode() * 10


def test_kill9_mid_pass_loses_nothing_and_reuploads_nothing(lab, tmp_path, unique):
    conn, container, view, configs = s3_setup(lab, tmp_path, unique, verification_slack=0,
                                              workers=2)
    names = put_objects(conn, container, 300)
    daemon = Daemon(configs[0], tmp_path / "first.log").start()
    try:
        wait_for(lambda: len(uploads(daemon.output())) >= 20, timeout=120, interval=0.05,
                 what="some uploads")
    finally:
        daemon.kill9()
    first = set(uploads(daemon.output()))
    assert 0 < len(first) < len(names)
    rc, out = run_once(configs[0])
    assert rc == 0, out
    second = set(uploads(out))
    assert not first & second, "re-uploaded after restart: %s" % sorted(first & second)[:5]
    assert sorted(view.keys()) == sorted(view.key(n) for n in names)


def test_remote_down_daemon_stays_healthy_and_converges(lab, tmp_path, unique):
    conn, container, view, configs = s3_setup(lab, tmp_path, unique, verification_slack=0,
                                              remote_retry_max_delay=2)
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = Daemon(configs[0], tmp_path / "daemon.log", env=notify.env()).start()
    try:
        wait_for(lambda: notify.count("READY=1"), timeout=30, what="READY=1")
        lab.stop_server("seaweedfs")
        try:
            names = put_objects(conn, container, 10)
            notify.drain()
            before = len(notify.messages)
            wait_for(lambda: "retrying in" in daemon.output(), timeout=60,
                     what="a retry log line")
            time.sleep(6)
            assert daemon.alive()
            pings = sum("WATCHDOG=1" in m for m in notify.drain()[before:])
            assert pings >= 3, notify.messages[before:]
            assert any("STATUS=" in m for m in notify.messages)
        finally:
            lab.restart("seaweedfs")
        wait_for(lambda: len(view.keys()) == len(names), timeout=90, what="convergence")
    finally:
        code = daemon.stop()
    assert code == 0
    assert any("STOPPING=1" in m for m in notify.drain())


# valid configs (onespace-config check passes) the daemon still cannot use
UNUSABLE = {
    "log_file in a missing directory": lambda tmp: {"log_file": str(tmp / "no" / "sync.log")},
    "swift_dir without swift.conf": lambda tmp: {"swift_dir": str(tmp)},
    "internal_client_conf_path missing": lambda tmp: {
        "internal_client_conf_path": str(tmp / "no-such.conf")},
}


def rehashed_swift_dir(lab, tmp_path):
    """A copy of the lab's swift_dir whose swift.conf hashes paths differently."""
    etc = tmp_path / "rehashed-etc"
    shutil.copytree(lab.etc, etc)
    conf = (etc / "swift.conf").read_text()
    (etc / "swift.conf").write_text(re.sub(r"swift_hash_path_suffix = \S+",
                                           "swift_hash_path_suffix = another", conf))
    return str(etc)


def test_bad_reload_keeps_running_config(lab, tmp_path, unique):
    """SIGHUP to an invalid config, then to each unusable one: logged, the
    running config keeps syncing; a good reload after them is taken."""
    conn, container, view, configs = s3_setup(lab, tmp_path, unique, verification_slack=0)
    daemon = Daemon(configs[0], tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: "started with" in daemon.output(), timeout=30, what="daemon start")
        with open(configs[0]) as f:
            good = json.load(f)
        bad = {"invalid": dict(good, containers=[dict(good["containers"][0], protocol="ftp")])}
        bad.update((case, dict(good, **change(tmp_path))) for case, change in UNUSABLE.items())
        # usable swift_dir, then a failure: Swift's process-wide hash settings
        # had stayed on the new dir, and the running config read wrong paths
        bad["another swift_dir, then a missing internal_client_conf_path"] = dict(
            good, swift_dir=rehashed_swift_dir(lab, tmp_path),
            internal_client_conf_path=str(tmp_path / "no-such.conf"))
        for n, (case, conf) in enumerate(bad.items()):
            write_config(configs[0], conf)
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: daemon.output().count("keeping the running config") > n,
                     timeout=30, what="reload refusal: " + case)
            assert daemon.alive(), case
            conn.put_object(container, "after-%d" % n, b"still syncing")
            wait_for(lambda: view.get("after-%d" % n), timeout=60, what="sync after " + case)
        out = daemon.output()
        assert "containers[0].protocol: 'ftp' is not one of ['s3', 'swift']" in out
        assert "No such file or directory" in out and str(tmp_path / "no") in out, out
        assert "swift_dir %s:" % tmp_path in out, out
        assert "no-such.conf: not a readable file" in out, out
        assert "Traceback" not in out, out
        write_config(configs[0], dict(good, poll_interval=2))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded" in daemon.output(), timeout=30, what="good reload")
        assert daemon.alive()
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_unusable_config_refuses_to_start_in_one_line(lab, tmp_path, unique, case):
    conn, container, view, configs = s3_setup(lab, tmp_path, unique)
    with open(configs[0]) as f:
        conf = json.load(f)
    path = write_config(tmp_path / "unusable.json", dict(conf, **UNUSABLE[case](tmp_path)))
    rc, out = run_once(path)
    assert rc == 2, out
    assert "refusing to start" in out and "Traceback" not in out, out
    assert len(out.strip().splitlines()) == 2, out


def test_invalid_config_refuses_to_start(tmp_path):
    path = write_config(tmp_path / "bad.json", {"containers": [{"account": "AUTH_x"}],
                                                "workers": 0})
    rc, out = run_once(path)
    assert rc == 2
    assert "containers[0].aws_bucket: required key is missing" in out
    assert "workers" in out
    assert "refusing to start" in out
