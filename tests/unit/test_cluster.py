"""LocalDB: which rows a database leaves to others while its container is sharded."""

from swift.common.utils import ShardRange

from onespace.cluster import HANDED_OVER, LocalDB, shard_owners


def db(*ranges):
    return LocalDB(broker=None, replicas=(), db_id="x", label="a/c", handed_over=ranges)


def test_unsharded_database_skips_nothing():
    assert not db().skips("anything")


def test_root_skips_rows_of_handed_over_ranges_only():
    # shard bounds: lower exclusive, upper inclusive ('' = open end)
    first = ShardRange(".shards_a/c-1", 0, "", "m", state=ShardRange.ACTIVE)
    last = ShardRange(".shards_a/c-2", 0, "t", "", state=ShardRange.SHARDED)
    root = db(first, last)
    assert root.skips("a") and root.skips("m")
    assert not root.skips("m0") and not root.skips("t")
    assert root.skips("t0") and root.skips("\U0001f600 emoji")


def test_handed_over_states():
    assert ShardRange.ACTIVE in HANDED_OVER and ShardRange.SHARDED in HANDED_OVER
    # still being filled by the root's sharder: the root's replicas handle them
    for state in (ShardRange.FOUND, ShardRange.CREATED, ShardRange.CLEAVED):
        assert state not in HANDED_OVER


def nodes(*ids):
    return [{"id": i} for i in ids]


def test_shard_rows_keep_the_roots_owner_where_it_holds_the_shard():
    # 3 of 3 nodes hold everything (the lab): every class keeps the root's owner,
    # so a row in the root's and in a shard's database has one owner
    assert shard_owners(nodes(0, 1, 2), nodes(2, 0, 1)) == [0, 1, 2]


def test_shard_rows_fall_back_to_the_shards_replica():
    # the root's owners 7 and 8 hold no replica of the shard
    assert shard_owners(nodes(7, 1, 8), nodes(1, 2, 3)) == [1, 1, 3]


def test_every_class_has_exactly_one_owner_among_the_shards_nodes():
    import random
    rnd = random.Random(5)
    for _ in range(200):
        pool = list(range(8))
        root, shard = rnd.sample(pool, 3), rnd.sample(pool, 3)
        owners = shard_owners(nodes(*root), nodes(*shard))
        assert len(owners) == 3 and set(owners) <= set(shard)


def test_local_db_owns_its_indexes_or_the_given_classes():
    from onespace.cluster import LocalReplica
    replicas = (LocalReplica("sdb1", "/x.db", 1, 3),)
    plain = LocalDB(broker=None, replicas=replicas, db_id="x", label="a/c")
    assert plain.classes == 3 and plain.owns(1) and not plain.owns(0)
    shard = LocalDB(broker=None, replicas=replicas, db_id="y", label="s/c",
                    owned=frozenset({0, 2}))
    assert shard.owns(0) and shard.owns(2) and not shard.owns(1)
