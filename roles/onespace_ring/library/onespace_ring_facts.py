#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module: read a Swift ring with Swift's own code and say which of
its nodes this host is.  Runs with a Python that can import Swift (the role
picks the onespace virtualenv's)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: onespace_ring_facts
short_description: Read a Swift ring file and find this host in it
description:
  - Loads C(<swift_dir>/<ring_name>.ring.gz) with Swift's C(RingData.load) and returns the
    replica count, the devices, the unique nodes (one per IP address) and which of them is this
    host (an address of the host, from Swift's C(whataremyips), is the device's C(ip) or
    C(replication_ip)).
  - Fails, naming the path, when the ring file is missing or unreadable.
  - Needs a Python that can import Swift (run it with the onespace virtualenv's python).
options:
  swift_dir:
    description: Directory holding the rings.
    type: path
    default: /etc/swift
  ring_name:
    description: Ring to read (C(container), C(object), C(account), C(object-1), ...).
    type: str
    default: container
author: onespace developers
"""

EXAMPLES = r"""
- name: Read the container ring
  onespace_ring_facts:
    swift_dir: /etc/swift
  vars:
    ansible_python_interpreter: /opt/onespace/bin/python
  register: ring
"""

RETURN = r"""
path:
  description: The ring file that was read.
  type: str
  returned: always
replicas:
  description: Replica count of the ring (rows of its replica-to-partition table).
  type: int
  returned: success
part_power:
  description: Partition power of the ring.
  type: int
  returned: success
devices:
  description: The ring's devices (id, ip, port, replication_ip, replication_port, device, region, zone, weight).
  type: list
  elements: dict
  returned: success
nodes:
  description: The unique node IP addresses of the ring, sorted by address.
  type: list
  elements: str
  returned: success
my_ips:
  description: This host's addresses as Swift sees them (whataremyips).
  type: list
  elements: str
  returned: success
local_nodes:
  description: The nodes (IPs) of the ring that are this host.
  type: list
  elements: str
  returned: success
is_node:
  description: Whether this host holds devices of the ring.
  type: bool
  returned: success
node_index:
  description: Index of this host's (first) node in I(nodes); null when it is not a node.
  type: int
  returned: success
local_devices:
  description: The devices of this host (same keys as I(devices)).
  type: list
  elements: dict
  returned: success
"""

import ipaddress
import os

from ansible.module_utils.basic import AnsibleModule

DEVICE_KEYS = ("id", "ip", "port", "replication_ip", "replication_port", "device",
               "region", "zone", "weight")


def _ip_key(ip):
    """Sort numerically, IPv4 before IPv6; names that are no address last."""
    try:
        addr = ipaddress.ip_address(ip)
        return (addr.version, int(addr), "")
    except ValueError:
        return (9, 0, ip)


def summarize(devs, replica_count, part_power, my_ips):
    """The facts of a ring: pure, from its device list (None for removed
    devices, as in Swift) and this host's addresses."""
    mine = set(my_ips)
    devices = [{k: dev.get(k) for k in DEVICE_KEYS} for dev in devs if dev]
    for dev in devices:
        dev["replication_ip"] = dev["replication_ip"] or dev["ip"]
        dev["replication_port"] = dev["replication_port"] or dev["port"]
    devices.sort(key=lambda d: d["id"])
    nodes = sorted({d["ip"] for d in devices}, key=_ip_key)
    local = [d for d in devices if d["ip"] in mine or d["replication_ip"] in mine]
    local_nodes = sorted({d["ip"] for d in local}, key=_ip_key)
    return {
        "replicas": int(replica_count),
        "part_power": part_power,
        "devices": devices,
        "nodes": nodes,
        "my_ips": sorted(mine, key=_ip_key),
        "local_nodes": local_nodes,
        "is_node": bool(local_nodes),
        "node_index": nodes.index(local_nodes[0]) if local_nodes else None,
        "local_devices": local,
    }


def read_ring(path):
    """(devs, replica_count, part_power) of the ring file, with Swift's code."""
    from swift.common.ring import RingData
    ring = RingData.load(path)
    return ring.devs, ring.replica_count, ring.part_power


def main():
    module = AnsibleModule(
        argument_spec={
            "swift_dir": {"type": "path", "default": "/etc/swift"},
            "ring_name": {"type": "str", "default": "container"},
        },
        supports_check_mode=True,
    )
    path = os.path.join(module.params["swift_dir"], module.params["ring_name"] + ".ring.gz")
    if not os.path.exists(path):
        module.fail_json(path=path, msg="Swift ring file %s does not exist; is this host part "
                         "of the Swift cluster (swift_dir, ring_name)?" % path)
    try:
        from swift.common.utils import whataremyips
    except ImportError as e:
        module.fail_json(path=path, msg="cannot read %s: this Python cannot import Swift (%s); "
                         "run the module with a Python that has Swift (onespace_ring_python)"
                         % (path, e))
    try:
        devs, replica_count, part_power = read_ring(path)
    except Exception as e:  # noqa: BLE001 - any failure to read is the file's problem
        module.fail_json(path=path, msg="cannot read Swift ring file %s: %s: %s"
                         % (path, type(e).__name__, e))
    facts = summarize(devs, replica_count, part_power, whataremyips())
    module.exit_json(changed=False, path=path, **facts)


if __name__ == "__main__":
    main()
