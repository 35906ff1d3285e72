"""One runner for every onespace daemon: config, logging, signals, systemd.

A daemon supplies a *worker*: an object with ``run_pass() -> stats``,
``progress_ticks`` (a counter that grows while work moves), ``stopping``
(set to ask it to stop between objects), ``summary(stats)``, ``close()`` and
``scope`` (what it serves, for the log: "3 mappings").

The runner

* refuses to start on an invalid config (the problems on stderr, exit 2);
* tells systemd ``READY=1`` once the config is valid and the first pass
  starts, ``STATUS=`` after every pass, ``STOPPING=1`` on SIGTERM;
* feeds the watchdog only from this main loop, and only while the worker
  makes progress or sits idle between passes: a hung pass stops the pings
  and systemd restarts the daemon;
* re-reads the config on SIGHUP between passes; an invalid new config is
  logged and the old one keeps running;
* logs one line per event to stderr (journald), and to ``log_file`` and
  ``syslog`` when configured, with every configured secret masked.
"""

import logging
import logging.handlers
import signal
import socket
import sys
import time

import eventlet
import eventlet.event

from onespace.cluster import swift_dir_kept_on_failure
from onespace.config import ConfigError, error_line, load, printable, scrub

LOG = logging.getLogger("onespace")
TICK = 1.0  # seconds between looks at the worker from the main loop


class SafeLogLines(logging.Filter):
    """Every configured secret masked (defence in depth) and one event per
    line (control characters escaped; a traceback keeps its own lines)."""

    def __init__(self, secrets):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record):
        record.msg, record.args = printable(scrub(record.getMessage(), self.secrets)), None
        if record.exc_info and self.secrets:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = scrub(text, self.secrets), None
        return True


def build_logging(settings, secrets, name):
    """(level, handlers) from the config, not yet in use: opening a log_file
    or reaching a syslog server may fail, and a reload must then keep the
    running handlers."""
    level = getattr(logging, str(settings.get("log_level", "info")).upper(), logging.INFO)
    # journald stamps the time itself; elsewhere a time helps
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not _under_journald():
        fmt = "%(asctime)s " + fmt
    handlers = [logging.StreamHandler(sys.stderr)]
    try:
        if settings.get("log_file"):
            handlers.append(logging.handlers.WatchedFileHandler(settings["log_file"]))
            handlers[-1].setFormatter(logging.Formatter("%(asctime)s " + name + " " + fmt))
        syslog = settings.get("syslog")
        if syslog:
            sock = socket.SOCK_STREAM if syslog.get("proto") == "tcp" else socket.SOCK_DGRAM
            handlers.append(logging.handlers.SysLogHandler(
                (syslog["host"], syslog.get("port", 514)), socktype=sock))
            handlers[-1].setFormatter(
                logging.Formatter(name + ": " + fmt.replace("%(asctime)s ", "")))
    except Exception:
        close_logging(handlers[1:])
        raise
    redact = SafeLogLines(secrets)
    for h in handlers:
        if not h.formatter:
            h.setFormatter(logging.Formatter(fmt))
        h.addFilter(redact)
    return level, handlers


def close_logging(handlers):
    for h in handlers:
        h.close()  # a StreamHandler leaves stderr open


def install_logging(level, handlers):
    """Make ``handlers`` the root logger's, closing the ones they replace."""
    root = logging.getLogger()
    old = list(root.handlers)
    for h in old:
        root.removeHandler(h)
    close_logging(old)
    root.setLevel(level)
    for h in handlers:
        root.addHandler(h)
    # library chatter (and possible request dumps) stays out unless debugging
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "swiftclient"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _under_journald():
    import os
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


class Notifier:
    """sd_notify, a no-op when not run by systemd."""

    def __init__(self):
        import os
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        if self.enabled:
            import sdnotify
            self._n = sdnotify.SystemdNotifier()

    def __call__(self, *lines):
        if self.enabled:
            self._n.notify("\n".join(lines))


class Service:
    def __init__(self, name, config_path, build_worker, once=False):
        self.name = name
        self.config_path = config_path
        self.build_worker = build_worker
        self.once = once
        self.notify = Notifier()
        self._stop = False
        self._reload = False
        self.config = None
        self.worker = None

    def read_config(self):
        """The validated config (raises ConfigError); a daemon may adapt it."""
        return load(self.config_path)

    def load_config(self):
        """The validated config, or exit 2 with one line per problem."""
        try:
            return self.read_config()
        except ConfigError as e:
            for line in e.problems:
                print("%s: %s" % (self.config_path, line) if self.config_path not in line
                      else line, file=sys.stderr)
            print("%s: refusing to start with an invalid config" % self.name, file=sys.stderr)
            sys.exit(2)

    def _on_term(self, signum, frame):
        self._stop = True
        if self.worker is not None:
            self.worker.stopping = True

    def _on_hup(self, signum, frame):
        self._reload = True

    def _build(self, config):
        """(logging, worker) for ``config``, nothing swapped in yet; raises
        what a valid config may still meet (a log_file directory missing, a
        statsd host that does not resolve, a swift_dir without swift.conf)."""
        log_setup = build_logging(config.settings, config.secrets(), self.name)
        try:
            with swift_dir_kept_on_failure():  # whatever fails after LocalCluster switched it
                return log_setup, self.build_worker(config)
        except BaseException:
            close_logging(log_setup[1])
            raise

    def run(self):
        self.config = self.load_config()
        try:
            log_setup, self.worker = self._build(self.config)
        except Exception as e:  # noqa: BLE001 - any of them: one line, exit 2
            print("%s: %s: %s" % (self.config_path, self.name,
                                  error_line(e, self.config.secrets())), file=sys.stderr)
            print("%s: refusing to start" % self.name, file=sys.stderr)
            sys.exit(2)
        install_logging(*log_setup)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, self._on_hup)
        LOG.info("%s started with %s (%s)", self.name, self.config_path, self.worker.scope)
        self.notify("READY=1", "STATUS=first pass starting")
        ok = True
        try:
            while not self._stop:
                ok = self._one_pass()
                if self.once or self._stop:
                    break
                self._idle(self.config.settings["poll_interval"])
                if self._reload:
                    self._do_reload()
        finally:
            self.notify("STOPPING=1", "STATUS=stopping")
            self.worker.close()
            LOG.info("%s stopped", self.name)
        return 0 if ok or not self.once else 1

    def _one_pass(self):
        """Run a pass in a green thread, feeding the watchdog while it moves."""
        started = time.time()
        finished = eventlet.event.Event()
        gt = eventlet.spawn(self.worker.run_pass)
        gt.link(lambda _: finished.send())
        seen = self.worker.progress_ticks
        stop_deadline = None
        while not finished.ready():
            finished.wait(TICK)
            ticks = self.worker.progress_ticks
            if ticks != seen:
                seen = ticks
                self.notify("WATCHDOG=1")
            if self._stop:
                stop_deadline = stop_deadline or time.time() + self.config.settings["shutdown_timeout"]
                self.notify("STOPPING=1", "STATUS=finishing in-flight work")
                if time.time() > stop_deadline:
                    LOG.warning("in-flight work did not finish within shutdown_timeout; stopping anyway")
                    gt.kill()
                    return False
        try:
            stats = gt.wait()
        except Exception:  # noqa: BLE001 - a broken pass is logged; the loop goes on
            LOG.exception("pass failed")
            self.notify("STATUS=last pass failed (see log)")
            return False
        summary = self.worker.summary(stats, time.time() - started)
        # an idle pass every poll_interval would flood the journal
        LOG.log(logging.INFO if self.once or self.worker.pass_busy(stats) else logging.DEBUG,
                "pass done: %s", summary)
        self.notify("WATCHDOG=1", "STATUS=" + summary)
        return self.worker.pass_ok(stats)

    def _idle(self, seconds):
        end = time.time() + seconds
        while not self._stop and not self._reload and time.time() < end:
            eventlet.sleep(min(TICK, max(0.0, end - time.time())))
            self.notify("WATCHDOG=1")

    def _do_reload(self):
        self._reload = False
        self.notify("RELOADING=1")
        try:
            config = self.read_config()
        except ConfigError as e:
            LOG.error("reload of %s failed; keeping the running config:", self.config_path)
            for line in e.problems:
                LOG.error("  %s", line)
            self.notify("READY=1")
            return
        try:
            log_setup, worker = self._build(config)
        except Exception as e:  # noqa: BLE001 - the running config stays whatever it was
            LOG.error("reload of %s failed; keeping the running config: %s",
                      self.config_path, error_line(e, config.secrets()))
            self.notify("READY=1")
            return
        self.worker.close()
        self.config, self.worker = config, worker
        install_logging(*log_setup)
        LOG.info("config reloaded from %s (%s)", self.config_path, worker.scope)
        self.notify("READY=1")
