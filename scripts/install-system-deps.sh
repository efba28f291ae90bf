#!/usr/bin/env bash
# Installs the Debian packages Ganymede's test rig and demo need, when missing: MariaDB (the Ganymede and
# Cloud Control databases), OpenSSH's sshd (SFTP inboxes), GnuPG (interoperability checks), and the
# MongoDB-wire stand-in's python3-mockupdb + python3-mongomock, iproute2's `ip` (the cluster test's network
# namespaces; slim container images lack it), python3-prometheus-client (the Prometheus project's parser
# that reads /metrics in the tests; 200 kB, where Debian's promtool comes only in the 96 MB prometheus
# package), Debian's Chromium with the DejaVu fonts it renders text in (the console's browser tests drive it
# through playwright-core, so no browser is downloaded from anywhere else); then OpenStack Swift
# (install-swift.sh) for the archive store tests. Run as root; does nothing when all are there.
# --list-missing: print the packages missing (these and Swift's) on one line and install nothing (scripts/setup.mjs).
set -euo pipefail

need=()
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
# iproute2 puts `ip` in /bin (linked from /sbin), outside a non-root PATH on some systems: test the files.
[ -x /bin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
/usr/bin/python3 -c 'import mockupdb, mongomock' >/dev/null 2>&1 || need+=(python3-mockupdb python3-mongomock)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || need+=(python3-prometheus-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Headless Chromium draws text only with the fonts fontconfig finds. chromium brings a font only as one of
# fontconfig-config's alternatives (fonts-liberation is a recommendation, skipped here): name DejaVu, so the
# screenshots show the same letters on every machine.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)

if [ "${1:-}" = "--list-missing" ]; then
  echo "${need[*]} $(bash "$(dirname "$0")/install-swift.sh" --list-missing)"
  exit 0
fi
if [ "${#need[@]}" -eq 0 ]; then
  echo "install-system-deps: everything is installed"
  bash "$(dirname "$0")/install-swift.sh"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing ${need[*]}; run this script as root (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "install-system-deps: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-system-deps: done"
bash "$(dirname "$0")/install-swift.sh"
