"""The ceiling: parallel PUTs of the benchmark's bytes, straight from memory.

No Swift read, no crawl, no HEAD: what a boto3 client can push into the
S3 server with the same concurrency.  The requests have the shape of
onespace's (single PUT, ``Content-MD5``, unsigned payload, no flexible
checksums), so "onespace / ceiling" is the cost of everything onespace
does around the upload.

``source`` turns it into the bare copier, the floor under any Swift -> S3
copier: the same PUTs, each after a GET of the object straight from one of
its object servers (``direct_client``, a replica picked round robin), with
no proxy, crawl, decision, progress or HEAD.  "bare copier / ceiling" is
what reading from Swift alone costs; no copier can beat it.

``processes`` processes run ``concurrency / processes`` threads each (one
Python process is held back by its GIL long before the server is); they
build their payloads first, wait at a barrier, then PUT.  The time is from
the first start to the last finish.
"""

import base64
import hashlib
import multiprocessing
import queue
import resource
import time
from concurrent.futures import ThreadPoolExecutor

from bench.data import object_name, payload


def s3_client(endpoint, access_key, secret_key, pool_size):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name="us-east-1",
        config=Config(signature_version="s3v4",
                      s3={"addressing_style": "path", "payload_signing_enabled": False},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required",
                      max_pool_connections=pool_size, retries={"total_max_attempts": 2}))


def _worker(args, indexes, threads, barrier, times):
    endpoint, access_key, secret_key, bucket, size, seed, source = args
    client = s3_client(endpoint, access_key, secret_key, threads)
    if source:
        put = _copier(client, bucket, size, source)
    else:
        bodies = {i: payload(seed, i, size) for i in indexes}
        md5s = {i: base64.b64encode(hashlib.md5(b).digest()).decode()
                for i, b in bodies.items()}

        def put(i):  # one boto3 client is thread safe
            client.put_object(Bucket=bucket, Key=object_name(i), Body=bodies[i],
                              ContentLength=size, ContentMD5=md5s[i])

    barrier.wait()
    start, cpu = time.time(), _cpu()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, indexes))
    times.put((start, time.time(), _cpu() - cpu))


def _copier(client, bucket, size, source):
    """put(i) for the bare copier: GET from an object server, then PUT."""
    from swift.common import direct_client, utils
    from swift.common.ring import Ring
    swift_dir, account, container = source
    utils.set_swift_dir(swift_dir)  # the lab's hash prefix and suffix
    ring = Ring(swift_dir, ring_name="object")

    def put(i):
        name = object_name(i)
        part, nodes = ring.get_nodes(account, container, name)
        headers, body = direct_client.direct_get_object(
            nodes[i % len(nodes)], part, account, container, name)  # body: bytes
        client.put_object(Bucket=bucket, Key=name, Body=body, ContentLength=size,
                          ContentMD5=base64.b64encode(bytes.fromhex(headers["etag"].strip('"'))).decode())
    return put


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(endpoint, access_key, secret_key, bucket, count, size, seed,
        concurrency, processes, source=None):
    """PUT objects 0..count-1 (read first from ``source``, a (swift_dir,
    account, container), if given); returns (wall seconds, CPU seconds) of
    the PUT phase."""
    processes = max(1, min(processes, concurrency))
    ctx = multiprocessing.get_context("spawn")
    barrier, times = ctx.Barrier(processes), ctx.Queue()
    args = (endpoint, access_key, secret_key, bucket, size, seed, source)
    procs = []
    for p in range(processes):
        threads = concurrency // processes + (1 if p < concurrency % processes else 0)
        procs.append(ctx.Process(target=_worker, daemon=True, args=(
            args, list(range(p, count, processes)), threads, barrier, times)))
    for proc in procs:
        proc.start()
    spans = []  # (start, end, cpu) of each process
    while len(spans) < len(procs):
        try:
            spans.append(times.get(timeout=1))
        except queue.Empty:
            if any(proc.exitcode for proc in procs):
                for proc in procs:
                    proc.terminate()
                raise RuntimeError("a ceiling worker failed: %s"
                                   % [proc.exitcode for proc in procs]) from None
    for proc in procs:
        proc.join()
    return (max(e for _, e, _ in spans) - min(s for s, _, _ in spans),
            sum(c for _, _, c in spans))
