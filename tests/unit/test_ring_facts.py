"""The ring facts module (roles/onespace_ring/library/onespace_ring_facts.py):
its pure summary, and the module itself run the way Ansible runs it on real
ring files built with Swift's RingBuilder."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from swift.common.ring import RingBuilder

MODULE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "onespace_ring",
                      "library", "onespace_ring_facts.py")


def _load_module():
    spec = importlib.util.spec_from_file_location("onespace_ring_facts", MODULE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


facts = _load_module()


def _dev(id, ip, port=6201, device="sdb1", **kw):
    return dict({"id": id, "ip": ip, "port": port, "device": device, "region": 1,
                 "zone": 1, "weight": 100.0}, **kw)


def build_ring(swift_dir, ips, replicas, name="container", devices_per_node=1):
    builder = RingBuilder(6, replicas, 0)
    n = 0
    for zone, ip in enumerate(ips, 1):
        for d in range(devices_per_node):
            builder.add_dev(_dev(n, ip, device="sdb%d" % (d + 1), zone=zone))
            n += 1
    builder.rebalance()
    builder.get_ring().save(os.path.join(swift_dir, name + ".ring.gz"))


def run_module(**args):
    """Run the module as Ansible does (args file), return (rc, result)."""
    argfile = os.path.join(args.pop("tmp"), "args.json")
    with open(argfile, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    proc = subprocess.run([sys.executable, MODULE, argfile], capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, json.loads(proc.stdout)


# ---- the pure summary ---------------------------------------------------------

def test_summary_unique_nodes_sorted_numerically_and_this_host():
    devs = [_dev(0, "10.0.0.10"), _dev(1, "10.0.0.9"), None, _dev(3, "10.0.0.10", device="sdc1"),
            _dev(4, "10.0.0.2", replication_ip="192.168.0.2", replication_port=6301)]
    got = facts.summarize(devs, 3, 10, ["127.0.0.1", "10.0.0.9"])
    assert got["nodes"] == ["10.0.0.2", "10.0.0.9", "10.0.0.10"]
    assert got["replicas"] == 3 and got["part_power"] == 10
    assert [d["id"] for d in got["devices"]] == [0, 1, 3, 4]
    assert got["is_node"] and got["local_nodes"] == ["10.0.0.9"] and got["node_index"] == 1
    assert [d["device"] for d in got["local_devices"]] == ["sdb1"]
    # a missing replication address is the device's own (as Swift reads it)
    assert got["devices"][0]["replication_ip"] == "10.0.0.10"
    assert got["devices"][0]["replication_port"] == 6201


def test_summary_replication_address_makes_the_host_a_node():
    devs = [_dev(0, "10.0.0.1"), _dev(1, "10.0.0.2", replication_ip="192.168.0.2")]
    got = facts.summarize(devs, 2, 8, ["192.168.0.2"])
    assert got["local_nodes"] == ["10.0.0.2"] and got["node_index"] == 1


def test_summary_host_without_devices():
    got = facts.summarize([_dev(0, "10.0.0.1")], 1, 8, ["10.0.0.5"])
    assert not got["is_node"] and got["node_index"] is None and got["local_devices"] == []


def test_summary_ipv6_after_ipv4():
    got = facts.summarize([_dev(0, "fd00::1"), _dev(1, "10.0.0.1")], 2, 8, [])
    assert got["nodes"] == ["10.0.0.1", "fd00::1"]


# ---- the module on real rings -------------------------------------------------

def test_module_one_node_ring_on_loopback(tmp_path):
    build_ring(str(tmp_path), ["127.0.0.1"], 1)
    rc, res = run_module(tmp=str(tmp_path), swift_dir=str(tmp_path))
    assert rc == 0, res
    assert res["changed"] is False
    assert res["path"] == str(tmp_path / "container.ring.gz")
    assert res["replicas"] == 1 and res["part_power"] == 6
    assert res["nodes"] == ["127.0.0.1"]
    assert res["is_node"] and res["node_index"] == 0
    assert "127.0.0.1" in res["my_ips"]
    assert res["devices"] == [{"id": 0, "ip": "127.0.0.1", "port": 6201,
                               "replication_ip": "127.0.0.1", "replication_port": 6201,
                               "device": "sdb1", "region": 1, "zone": 1, "weight": 100.0}]


def test_module_three_node_ring(tmp_path):
    # 127.0.0.2 and .3 are not addresses of an interface: only .1 is this host
    build_ring(str(tmp_path), ["127.0.0.3", "127.0.0.1", "127.0.0.2"], 3, devices_per_node=2)
    rc, res = run_module(tmp=str(tmp_path), swift_dir=str(tmp_path))
    assert rc == 0, res
    assert res["replicas"] == 3
    assert res["nodes"] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert len(res["devices"]) == 6
    assert res["local_nodes"] == ["127.0.0.1"] and res["node_index"] == 0
    assert sorted(d["device"] for d in res["local_devices"]) == ["sdb1", "sdb2"]


def test_module_other_ring_name_and_a_ring_without_this_host(tmp_path):
    build_ring(str(tmp_path), ["127.0.0.2", "127.0.0.3"], 2, name="object-1")
    rc, res = run_module(tmp=str(tmp_path), swift_dir=str(tmp_path), ring_name="object-1")
    assert rc == 0, res
    assert res["path"].endswith("/object-1.ring.gz")
    assert res["nodes"] == ["127.0.0.2", "127.0.0.3"]
    assert res["is_node"] is False and res["node_index"] is None


def test_module_fails_naming_a_missing_ring(tmp_path):
    rc, res = run_module(tmp=str(tmp_path), swift_dir=str(tmp_path / "nowhere"))
    assert rc == 1 and res["failed"]
    path = str(tmp_path / "nowhere" / "container.ring.gz")
    assert res["path"] == path
    assert path + " does not exist" in res["msg"]


@pytest.mark.parametrize("content", [b"", b"not a ring at all"])
def test_module_fails_naming_an_unreadable_ring(tmp_path, content):
    (tmp_path / "container.ring.gz").write_bytes(content)
    rc, res = run_module(tmp=str(tmp_path), swift_dir=str(tmp_path))
    assert rc == 1 and res["failed"]
    assert res["msg"].startswith("cannot read Swift ring file %s: " % (tmp_path / "container.ring.gz"))
