"""A mapped container that Swift shards keeps syncing: before, during and after."""

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import wait_for
from tests.integration.test_daemon import start_daemons, stop_all, uploads
from tests.integration.test_sync import node_configs
from tests.integration.remote import RemoteView


def put_many(lab, container, names):
    local = threading.local()

    def put(name):
        if not hasattr(local, "conn"):
            local.conn = lab.swift_connection("test")
        local.conn.put_object(container, name, name.encode())
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, names))


def test_sync_across_sharding(lab, tmp_path, unique):
    container = bucket = "sh-" + unique
    lab.swift_connection("test").put_container(container)
    view = RemoteView(lab, "seaweedfs", bucket, container=container)
    view.create()
    before = ["before-%05d" % i for i in range(1500)]
    during = ["during-%05d" % i for i in range(150)]
    after = ["after-%05d" % i for i in range(150)]
    put_many(lab, container, before)
    # no verification pass (it would race owners that lag behind on a loaded
    # machine): every row must be sent by its one owner, whichever database
    # (the root's, its shards') it is read from
    configs = node_configs(lab, tmp_path, [lab.s3_mapping(container, bucket)],
                           verification_slack=60)
    daemons = start_daemons(configs, tmp_path)
    try:
        wait_for(lambda: len(view.keys()) >= 300, timeout=300, what="sync under way")
        writer = threading.Thread(target=put_many, args=(lab, container, during))
        writer.start()
        lab.shard_container("AUTH_test", container, rows_per_shard=400)
        writer.join()
        assert set(lab.container_db_states("AUTH_test", container)) == {"sharded"}
        put_many(lab, container, after)
        everything = before + during + after
        wait_for(lambda: len(view.keys()) == len(everything), timeout=300,
                 what="every object remote after sharding")
    finally:
        codes = stop_all(daemons)
    assert codes == {1: 0, 2: 0, 3: 0}
    assert sorted(view.keys()) == sorted(view.key(n) for n in everything)
    done = sum((uploads(d.output()) for d in daemons.values()), [])
    assert set(done) == set(everything)  # nothing skipped
    # nothing doubled: a row in the root's and in a shard's database has the
    # same owner in both (every node of the lab holds every database)
    assert sorted(done) == sorted(everything)
