#!/usr/bin/env python3
"""Can this Python run the Swift proxy with cloud-shunt in its pipeline?

    check_runtime.py ENTRY_POINT [--same-swift-as PROXY_PYTHON]

Run by the Python that will run the proxy.  Checks that the paste entry
point (``egg:onespace#cloud-shunt`` -> ``cloud-shunt``) loads, and with
``--same-swift-as`` (this Python is the onespace virtualenv's) that:

- it imports the very Swift installation that PROXY_PYTHON imports (the
  proxy keeps its own Swift), and
- no package of the virtualenv hides one of PROXY_PYTHON's at another
  version (the proxy would run with packages it was never run with).

Prints one line per problem and exits 1, or prints a summary and exits 0.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig

PROBE = r"""
import importlib.metadata, json, os, swift
print(json.dumps({
    "swift": os.path.realpath(swift.__file__),
    "dists": {d.metadata["Name"].lower().replace("_", "-"): d.version
              for d in importlib.metadata.distributions() if d.metadata["Name"]},
}))
"""
# installers, never imported by the proxy
IGNORED = {"pip"}


def own_distributions():
    """Distributions installed in this environment itself (not the system's)."""
    here = sysconfig.get_paths()["purelib"]
    return {d.metadata["Name"].lower().replace("_", "-"): d.version
            for d in importlib.metadata.distributions(path=[here]) if d.metadata["Name"]}


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    name, problems = argv[0], []
    try:
        eps = importlib.metadata.entry_points(group="paste.filter_factory", name=name)
        if not eps:
            problems.append("%s has no paste filter %r: onespace is not installed for it"
                            % (sys.executable, name))
        for ep in eps:
            ep.load()
    except Exception as e:  # the message names the missing module
        problems.append("%s cannot load the paste filter %r: %s: %s"
                        % (sys.executable, name, type(e).__name__, e))
    if "--same-swift-as" in argv:
        proxy_python = argv[argv.index("--same-swift-as") + 1]
        run = subprocess.run([proxy_python, "-c", PROBE], capture_output=True, text=True)
        if run.returncode:
            problems.append("%s cannot import swift: %s"
                            % (proxy_python, (run.stderr.strip().splitlines() or ["?"])[-1]))
        else:
            proxy = json.loads(run.stdout)
            try:
                import swift
                ours = os.path.realpath(swift.__file__)
            except ImportError as e:
                ours = "nothing (%s)" % e
            if ours != proxy["swift"]:
                problems.append(
                    "%s imports swift from %s but the proxy's Python %s from %s: create the "
                    "virtualenv with onespace_install_system_site_packages: true (and no Swift "
                    "of its own)" % (sys.executable, ours, proxy_python, proxy["swift"]))
            for dist, version in sorted(own_distributions().items()):
                theirs = proxy["dists"].get(dist)
                if dist not in IGNORED and theirs not in (None, version):
                    problems.append(
                        "the virtualenv's %s %s would replace the proxy's %s %s" % (
                            dist, version, dist, theirs))
    if problems:
        print("\n".join(problems))
        return 1
    print("%s loads %r%s" % (sys.executable, name,
                             " and runs the proxy's own Swift" if "--same-swift-as" in argv else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
