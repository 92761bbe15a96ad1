#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# Self-test of scripts/check-source (meson suite 'unit'): the bad samples
# here (named *.txt so the tree scan never sees them) must fail with the
# expected file:line reports, the good one must pass, and the tree itself
# must pass.  Python 3 standard library only.
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
check = os.path.join(root, "scripts", "check-source")
failures = []


def run(*args):
    r = subprocess.run([sys.executable, check, *args], cwd=here, capture_output=True, text=True)
    return r.returncode, r.stdout


def expect(name, ok):
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures.append(name)


no_lists = ("--format-list", "-", "--exceptions", "-")

rc, out = run(*no_lists, "bad-calls.c.txt")
expect("bad calls fail", rc == 1)
for line, name in ((10, "strcpy"), (11, "sprintf"), (12, "atoi"), (13, "srand"), (14, "system"),
                   (14, "rand")):
    expect(f"bad calls: {name} at line {line}", f"bad-calls.c.txt:{line}: {name}() is banned" in out)
expect("bad calls: nothing else", len(out.strip().split("\n")) == 6)

rc, out = run(*no_lists, "bad-header.c.txt")
expect("bad header fails", rc == 1 and "bad-header.c.txt:1: the first line" in out)
rc, out = run(*no_lists, "no-purpose.h.txt")
expect("no purpose fails", rc == 1 and "no-purpose.h.txt:2: no comment" in out)

rc, out = run(*no_lists, "good.c.txt")
expect("good sample passes: " + out.strip(), rc == 0)

# An exception tolerates its violation; one that matches nothing fails.
exc = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"check-source-exc-{os.getpid()}.txt")
try:
    with open(exc, "w") as fh:
        fh.write("bad-header.c.txt header\ngood.c.txt strcpy\n")
    rc, out = run("--format-list", "-", "--exceptions", exc, "bad-header.c.txt")
    expect("exception tolerates", rc == 0)
    rc, out = run("--format-list", "-", "--exceptions", exc, "bad-header.c.txt", "good.c.txt")
    expect("stale exception fails", rc == 1 and "no longer breaks rule 'strcpy'" in out)
finally:
    os.unlink(exc)

# Go files: the SPDX header and gofmt (written here: a .go sample in the tree would be scanned).
gotmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"check-source-go-{os.getpid()}")
os.makedirs(gotmp)
try:
    good_go = os.path.join(gotmp, "good.go")
    bad_go = os.path.join(gotmp, "bad.go")
    with open(good_go, "w") as fh:
        fh.write("// SPDX-License-Identifier: AGPL-3.0-or-later\n\n// A sample Go file.\n\n"
                 "package sample\n\nfunc f() {}\n")
    with open(bad_go, "w") as fh:
        fh.write("// SPDX-License-Identifier: AGPL-3.0-or-later\n\n// A sample Go file.\n\n"
                 "package sample\n\nfunc  f() { system() }\n")
    rc, out = run(*no_lists, good_go)
    expect("good Go sample passes: " + out.strip(), rc == 0)
    rc, out = run(*no_lists, bad_go)
    expect("unformatted Go fails, and only for that", rc == 1 and "bad.go:1: not gofmt-formatted" in out
           and "banned" not in out)
finally:
    for f in os.listdir(gotmp):
        os.unlink(os.path.join(gotmp, f))
    os.rmdir(gotmp)

r = subprocess.run([sys.executable, check, "--root", root], capture_output=True, text=True)
expect("the tree passes", r.returncode == 0)
if r.returncode != 0:
    print(r.stdout + r.stderr)

sys.exit(1 if failures else 0)
