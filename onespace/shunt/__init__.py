"""cloud-shunt: the Swift proxy middleware that serves archived objects.

::

    [pipeline:main]
    pipeline = ... tempauth ... cloud-shunt slo dlo ... proxy-server

    [filter:cloud-shunt]
    use = egg:onespace#cloud-shunt
    conf_file = /etc/onespace/onespace.json
    # seconds between checks of conf_file for changes (default 10)
    reload_interval = 10

See :mod:`onespace.shunt.middleware` for what it does.
"""


def filter_factory(global_conf, **local_conf):
    from onespace.shunt.middleware import CloudShunt

    conf = dict(global_conf)
    conf.update(local_conf)

    def shunt_filter(app):
        return CloudShunt(app, conf)
    return shunt_filter
