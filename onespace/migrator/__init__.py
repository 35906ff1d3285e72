"""The migrator: pull remote buckets/containers into the local Swift cluster.

``listing`` walks source and destination listings side by side, ``decide``
turns one (source entry, local state) pair into an action (both pure), and
``daemon`` does the I/O on the ``service.Service`` runner.
"""
