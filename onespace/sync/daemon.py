"""The onespace-sync worker: what ``service.Service`` runs on each pass."""

import logging

from onespace.cluster import LocalCluster
from onespace.crawler import Crawler

LOG = logging.getLogger("onespace.sync")


def _statsd_sink(settings):
    """A callback counting outcomes in statsd, or None when statsd is not configured."""
    if not settings.get("statsd_host"):
        return None
    import statsd
    client = statsd.StatsClient(settings["statsd_host"], settings["statsd_port"],
                                prefix=settings["statsd_prefix"] + ".sync")

    def sink(outcome):
        client.incr("rows.%s" % outcome.status)
        if outcome.status == "done" and outcome.action.value != "nothing":
            client.incr(outcome.action.value)
        if outcome.archived:
            client.incr("archived")
        if outcome.bytes:
            client.incr("bytes", outcome.bytes)
    sink.client = client
    return sink


class SyncDaemon:
    """Crawler plus the local cluster, with the service runner's worker interface."""

    def __init__(self, config):
        s = config.settings
        self.cluster = LocalCluster(s["swift_dir"], s["devices"],
                                    s.get("internal_client_conf_path"),
                                    scratch_dir=s["status_dir"])
        self.sink = _statsd_sink(s)
        self.crawler = Crawler(config, self.cluster, stats_sink=self.sink)
        self.scope = "%d mappings" % len(config.mappings)

    @property
    def progress_ticks(self):
        return self.crawler.progress_ticks

    @property
    def stopping(self):
        return self.crawler.stopping

    @stopping.setter
    def stopping(self, value):
        self.crawler.stopping = value

    def run_pass(self):
        return self.crawler.run_pass()

    def summary(self, stats, seconds):
        if self.sink:
            self.sink.client.timing("pass", seconds * 1000)
        return ("%d mappings; last pass %.1fs: %d rows, %d uploaded (%.1f MiB), %d posted, "
                "%d deleted, %d archived, %d verified, %d failed, %d to retry"
                % (len(self.crawler.config.mappings), seconds, stats.rows, stats.uploaded,
                   stats.bytes / 1048576.0, stats.posted, stats.deleted, stats.archived,
                   stats.verified, stats.failed, stats.retry))

    @staticmethod
    def pass_busy(stats):
        """Did the pass do or find anything worth a log line?"""
        return bool(stats.uploaded or stats.posted or stats.deleted or stats.archived
                    or stats.failed or stats.retry)

    @staticmethod
    def pass_ok(stats):
        return stats.failed == 0 and stats.retry == 0

    def close(self):
        self.crawler.close()
