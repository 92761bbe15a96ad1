#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# The Debian package, end to end (root, on a machine the package may be
# installed on and purged from): build it from the working tree with
# dpkg-buildpackage, install it, check its files, user and permissions, run
# the installed bridge as the unit does against a real Synapse
# (run_installed.py), and purge it.
# Usage: tests/package/test-package.sh   (PA_VENV: the venv with Synapse)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${PA_VENV:-$ROOT/.venv}
[ "$(id -u)" = 0 ] || { echo "test-package.sh: run as root (dpkg -i)" >&2; exit 1; }
if dpkg -s passerelle >/dev/null 2>&1; then
  echo "test-package.sh: a passerelle package is installed already; purge it first" >&2
  exit 1
fi
start=$(date +%s)
work=$(mktemp -d /tmp/passerelle-deb-XXXXXX)
cleanup() {
  dpkg --purge passerelle >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> package: copy of the tree, dpkg-buildpackage -b"
# The tree as git sees it (tracked and new files, not ignored ones), with
# the dependencies scripts/setup-deps fetched (.deps: the Olvid generators).
mkdir "$work/src"
git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/src"
[ -d .deps ] && ln -s "$ROOT/.deps" "$work/src/.deps"
(cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
   dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) \
  || { tail -n 60 "$work/build.log"; exit 1; }
built=$(date +%s)
deb=$(ls "$work"/passerelle_*.deb)
echo "    $(basename "$deb"), $(du -h "$deb" | cut -f1), built in $((built - start)) s"

echo "==> package: contents"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for f in ./usr/bin/passerelle ./lib/systemd/system/passerelle.service ./etc/passerelle/config.yaml \
         "./usr/lib/$multiarch/passerelle/purple.so" "./usr/lib/$multiarch/passerelle/telegram.so" \
         "./usr/lib/$multiarch/passerelle/whatsapp.so" "./usr/lib/$multiarch/passerelle/olvid.so" \
         ./usr/share/doc/passerelle/deployment.md; do
  grep -qx "$f" <<<"$contents" || { echo "missing from the package: $f" >&2; exit 1; }
done
# Whatever meson installs is in the package (a worker executable in
# libexecdir included), and nothing from the tests or benchmarks.
if grep -E 'loopback|goecho|bench|/test-' <<<"$contents"; then
  echo "test plugins or benchmarks in the package" >&2; exit 1
fi
dpkg-deb -I "$deb" conffiles | grep -qx /etc/passerelle/config.yaml

echo "==> package: dpkg -i"
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
getent passwd passerelle | awk -F: '$3 < 1000 && $6 == "/var/lib/passerelle" {ok=1} END {exit !ok}' \
  || { echo "passerelle is not a system user at home in /var/lib/passerelle" >&2; exit 1; }
check_stat() {  # path owner:group mode
  got=$(stat -c '%U:%G %a' "$1")
  [ "$got" = "$2 $3" ] || { echo "$1: $got, want $2 $3" >&2; exit 1; }
}
check_stat /var/lib/passerelle passerelle:passerelle 700
check_stat /etc/passerelle root:passerelle 770
check_stat /etc/passerelle/config.yaml root:passerelle 640
check_stat /usr/bin/passerelle root:root 755
grep -qx 'database: /var/lib/passerelle/passerelle.db' /etc/passerelle/config.yaml
passerelle --version
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no /lib/systemd/system/passerelle.service
  echo "    systemd-analyze verify: clean"
fi

echo "==> package: the installed bridge against Synapse, as the unit runs it"
"$VENV/bin/python" tests/package/run_installed.py

echo "==> package: dpkg --purge"
dpkg --purge passerelle >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; exit 1; }
for p in /usr/bin/passerelle /var/lib/passerelle /etc/passerelle /lib/systemd/system/passerelle.service; do
  [ ! -e "$p" ] || { echo "left after purge: $p" >&2; exit 1; }
done
echo "==> package stage: $(( $(date +%s) - start )) s (build $((built - start)) s)"
