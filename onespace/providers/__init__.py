"""Remote stores: :func:`make_provider` picks the backend of a mapping.

See :mod:`onespace.providers.base` for the interface every backend offers.
"""

from onespace.providers.base import (DAEMON_TIMEOUTS, INTERACTIVE_TIMEOUTS, AuthFailed,
                                     IntegrityError, NotFound, Provider, ProviderError,
                                     RemoteObject, RemoteUnavailable)
from onespace.providers.s3 import S3Provider
from onespace.providers.swift import SwiftProvider

__all__ = ["make_provider", "close_all", "ProviderCache", "Provider", "RemoteObject", "ProviderError", "NotFound",
           "RemoteUnavailable", "AuthFailed", "IntegrityError", "DAEMON_TIMEOUTS",
           "INTERACTIVE_TIMEOUTS"]


def _default_label(settings):
    return "%s/%s -> %s %s" % (settings.get("account"), settings.get("container"),
                               settings.get("protocol", "s3"), settings.get("aws_bucket"))


def make_provider(mapping_like, bucket=None, pool_size=10, label=None, timeouts=DAEMON_TIMEOUTS):
    """A Provider for a 1space-style mapping (``containers[]`` or
    ``migrations[]`` entry): ``protocol`` "s3" (the default, as in 1space)
    or "swift".  ``bucket`` replaces ``aws_bucket`` (a per-account Swift
    mapping writes to ``<aws_bucket><container>``); ``label`` names the
    mapping in every error (default: the mapping's own ``label``); ``timeouts``:
    the daemons' patient ones or the shunt's INTERACTIVE_TIMEOUTS."""
    settings = dict(mapping_like)
    label = label or getattr(mapping_like, "label", None) or _default_label(settings)
    bucket = settings.get("aws_bucket") if bucket is None else bucket
    protocol = settings.get("protocol", "s3")
    if protocol == "s3":
        return S3Provider(settings, bucket, pool_size, label, timeouts)
    if protocol == "swift":
        return SwiftProvider(settings, bucket, pool_size, label, timeouts)
    raise ValueError("%s: unknown protocol %r (expected 's3' or 'swift')" % (label, protocol))


def close_all(providers):
    """Close every provider of a ``{key: Provider}`` cache and empty it; a
    provider that fails to close (its remote is gone) does not stop the rest."""
    for provider in providers.values():
        try:
            provider.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    providers.clear()


class ProviderCache:
    """The providers of a daemon's config entries, made once: one per entry
    (its connection pool and token), and a view of it per other bucket
    (``Provider.with_bucket``) sharing that pool."""

    def __init__(self, pool_size):
        self.pool_size = pool_size
        self._cache = {}

    def get(self, entry, bucket, on_new=None):
        """The provider of ``entry`` for ``bucket``; ``on_new(provider)`` runs
        once, when it is first made (bucket checks, lifecycle rules)."""
        key = (entry.identity, bucket)
        if key not in self._cache:
            base = self._cache.get((entry.identity, None))
            if base is None:
                base = make_provider(entry, label=entry.label, pool_size=self.pool_size)
                self._cache[(entry.identity, None)] = base
            provider = base if bucket == entry["aws_bucket"] else base.with_bucket(bucket)
            if on_new is not None:
                on_new(provider)
            self._cache[key] = provider
        return self._cache[key]

    def close(self):
        close_all(self._cache)
