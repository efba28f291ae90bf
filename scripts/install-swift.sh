#!/usr/bin/env bash
# Installs Debian's OpenStack Swift 2.30 (proxy, object, container and account servers) and memcached for
# the test rig's one-node Swift, which also answers the S3 API (s3api). Run as root; does nothing when all
# are there (--list-missing: print what is missing, install nothing). The rig starts the servers itself from
# configs in a temp dir: no service is enabled here, and whatever the packages' postinst starts is stopped
# again, since the rig picks its own ports.
set -euo pipefail

need=()
for server in proxy object container account; do
  [ -x "/usr/bin/swift-${server}-server" ] || need+=("swift-${server}")
done
[ -x /usr/bin/memcached ] || need+=(memcached)
# The rig builds rings in one python3 process and checks user xattrs on the device dir.
/usr/bin/python3 -c 'import swift.common.ring, xattr' >/dev/null 2>&1 || need+=(python3-swift)

if [ "${1:-}" = "--list-missing" ]; then
  echo "${need[*]}"
  exit 0
fi
if [ "${#need[@]}" -eq 0 ]; then
  echo "install-swift: everything is installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-swift: missing ${need[*]}; run this script as root (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "install-swift: installing ${need[*]}"
apt-get update -qq
# policy-rc.d answering 101 keeps the packages from starting their services on a machine without systemd.
policy=/usr/sbin/policy-rc.d
added_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=true
fi
trap '[ "$added_policy" = true ] && rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-swift: done"
