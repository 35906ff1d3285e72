#!/usr/bin/env python3
"""Build the onespace wheel from a source checkout, on the Ansible controller.

    build_wheel.py SOURCE_DIR OUTPUT_DIR [--no-build-isolation]

The checkout is copied first (without .git, virtualenvs, build output and
test state), so the build neither writes into the checkout nor picks up a
stale ``build/`` directory from it.  SOURCE_DATE_EPOCH is pinned, so the
same sources give a byte-identical wheel: copying it to the nodes is then
idempotent.  Prints the wheel's path on stdout; pip's output goes to stderr.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", ".tox", "build", "dist", "*.egg-info", "__pycache__",
    ".pytest_cache", ".lab*", "bench", "molecule", "roles", "playbooks", "tests")


def main(argv):
    isolation = "--no-build-isolation" not in argv
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, output = (os.path.abspath(a) for a in args)
    if not os.path.exists(os.path.join(source, "setup.py")) and \
            not os.path.exists(os.path.join(source, "pyproject.toml")):
        print("%s is not a Python project (no setup.py or pyproject.toml)" % source,
              file=sys.stderr)
        return 1
    os.makedirs(output, exist_ok=True)
    for old in glob.glob(os.path.join(output, "*.whl")):
        os.unlink(old)
    env = dict(os.environ, SOURCE_DATE_EPOCH="315532800", PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="onespace-wheel-") as tmp:
        tree = os.path.join(tmp, "src")
        shutil.copytree(source, tree, ignore=IGNORE, symlinks=True)
        cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
               "--disable-pip-version-check", "-w", output, tree]
        if not isolation:
            cmd.insert(4, "--no-build-isolation")
        result = subprocess.run(cmd, env=env, stdout=sys.stderr)
        if result.returncode:
            return result.returncode
    wheels = glob.glob(os.path.join(output, "*.whl"))
    if len(wheels) != 1:
        print("expected one wheel in %s, found %r" % (output, wheels), file=sys.stderr)
        return 1
    print(wheels[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
