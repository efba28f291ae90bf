#!/usr/bin/env bash
# Installs what the benchmarks in bench/ need on top of the test rig (install-system-deps.sh): Debian's
# mydumper (mydumper and myloader, the load benchmark's second baseline), GNU time (every bench measures
# its children with /usr/bin/time), and the MariaDB client tools (mysql, mysqldump) and gzip the by-hand
# pipelines use. Run as root; does nothing when all are there.
set -euo pipefail

need=()
command -v myloader >/dev/null 2>&1 || need+=(mydumper)
[ -x /usr/bin/time ] || need+=(time)
command -v mysqldump >/dev/null 2>&1 || need+=(mariadb-client)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-bench-deps: everything is installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-bench-deps: missing ${need[*]}; run this script as root (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "install-bench-deps: installing ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-bench-deps: done"
