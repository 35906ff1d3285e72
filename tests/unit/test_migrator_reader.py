"""The migrator's body reader: what swob's wsgi.input reads from a source
object's chunks, whatever the read sizes and chunk sizes."""

import random

import pytest

from onespace.migrator.daemon import _Limited, _Reader


def chunks_of(data, sizes):
    out, at = [], 0
    for size in sizes:
        out.append(data[at:at + size])
        at += size
    return out


@pytest.mark.parametrize("seed", range(20))
def test_any_read_sizes_give_the_bytes_in_order(seed):
    rnd = random.Random(seed)
    data = rnd.randbytes(rnd.randrange(0, 300000))
    sizes, left = [], len(data)
    while left:
        sizes.append(min(left, rnd.choice([1, 7, 4096, 65536, 100000])))
        left -= sizes[-1]
    ticks = []
    reader = _Reader(iter(chunks_of(data, sizes)), lambda: ticks.append(1))
    got = []
    for _ in range(len(data) + 2):  # bounded: at most a byte per read
        piece = reader.read(rnd.choice([1, 100, 65536, 200000]))
        if not piece:
            break
        got.append(piece)
    assert b"".join(got) == data
    assert reader.count == len(data)
    assert len(ticks) == len(sizes)
    assert reader.read(10) == b""


def test_read_all_and_none():
    reader = _Reader(iter([b"ab", b"cd", b"ef"]), lambda: None)
    assert reader.read(3) == b"abc"
    assert reader.read() == b"def"
    assert reader.read(None) == b""
    assert reader.count == 6


def test_a_chunk_that_fits_the_read_is_not_copied():
    chunk = b"x" * 65536
    reader = _Reader(iter([chunk]), lambda: None)
    assert reader.read(65536) is chunk


def test_limited_hashes_its_segment():
    import hashlib
    reader = _Reader(iter([b"0123456789"]), lambda: None)
    first = _Limited(reader, 4)
    assert first.read(100) == b"0123" and first.read(1) == b""
    assert first.md5.hexdigest() == hashlib.md5(b"0123").hexdigest()
    rest = _Limited(reader, 6)
    assert rest.read(-1) == b"456789" and rest.count == 6
