"""Console entry points: onespace-sync, onespace-migrator, onespace-config, onespace-status."""

import argparse
import sys

DEFAULT_CONFIG = "/etc/onespace/onespace.json"


def _green():
    """Green threads for every socket (boto3, swiftclient, Swift's internal client)."""
    import warnings
    # eventlet is in maintenance mode, but Swift itself is built on it
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet
    eventlet.monkey_patch()


def _daemon_args(prog, description, once_help, argv):
    _green()
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", default=DEFAULT_CONFIG, help="JSON config (default %(default)s)")
    p.add_argument("--once", action="store_true", help=once_help)
    return p.parse_args(argv)


def sync_main(argv=None):
    """onespace-sync: propagate local Swift changes to the remote stores."""
    args = _daemon_args("onespace-sync", sync_main.__doc__,
                        "run one pass and exit (status 1 if rows failed or must be retried)",
                        argv)
    from onespace.service import Service
    from onespace.sync.daemon import SyncDaemon
    return Service("onespace-sync", args.config, SyncDaemon, once=args.once).run()


def migrator_main(argv=None):
    """onespace-migrator: pull remote buckets/containers into the local Swift cluster."""
    args = _daemon_args("onespace-migrator", migrator_main.__doc__,
                        "run one pass and exit (status 1 if anything failed)", argv)
    from onespace.migrator.daemon import MigratorDaemon, MigratorService
    return MigratorService("onespace-migrator", args.config, MigratorDaemon,
                           once=args.once).run()


def config_main(argv=None):
    """onespace-config: check FILE, schema, defaults FILE."""
    from onespace.config import check_main
    return check_main(argv)


def status_main(argv=None):
    """onespace-status: per mapping and container, rows handled, verified, behind, lag."""
    p = argparse.ArgumentParser(prog="onespace-status", description=status_main.__doc__)
    p.add_argument("--config", default=DEFAULT_CONFIG, help="JSON config (default %(default)s)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    from onespace.config import ConfigError, load
    from onespace import report
    try:
        config = load(args.config)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    rows = report.collect(config)
    migrations = report.collect_migrations(config) if config.migrations else []
    if args.json:
        print(report.main_json(rows + migrations))
    else:
        if config.mappings or not migrations:
            print(report.render(rows))
        if migrations:
            print(report.render_migrations(migrations))
    return 0


if __name__ == "__main__":
    sys.exit(sync_main())
