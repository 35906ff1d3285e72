"""The benchmark's objects: deterministic names and bytes.

Object ``i`` of a set is ``seed``-derived random bytes (incompressible, so
no server can shortcut them), the same whether it is written to Swift
before the run or PUT from memory by the ceiling.
"""

import random


def object_name(index):
    return "obj-%06d" % index


def payload(seed, index, size):
    return random.Random(seed * 1_000_003 + index).randbytes(size)
