#!/usr/bin/env python3
"""PUT COUNT small objects through a Swift proxy; print their names as JSON.

    put_objects.py PROXY_URL ACCOUNT CONTAINER PREFIX COUNT

Runs inside a guest (ansible.builtin.script).  Each PUT must answer 201;
the first failure ends the script with its status.
"""

import http.client
import json
import sys
import urllib.parse


def main(proxy, account, container, prefix, count):
    url = urllib.parse.urlsplit(proxy)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    names = []
    for n in range(int(count)):
        name = "%s/object-%03d" % (prefix, n)
        body = ("%s from the cluster scenario\n" % name).encode()
        conn.request("PUT", "/v1/%s/%s/%s" % (account, container, urllib.parse.quote(name)),
                     body=body, headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            sys.exit("PUT %s: %d %s" % (name, resp.status, resp.reason))
        names.append(name)
    print(json.dumps(names))


if __name__ == "__main__":
    main(*sys.argv[1:])
