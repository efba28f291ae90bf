#!/usr/bin/env bash
# Installs Ganymede on a host (run as root from a built checkout: npm ci && npm run build):
#   - a `ganymede` system user and group
#   - the CLI under /opt/ganymede with /usr/local/bin/ganymede pointing at it
#   - /etc/ganymede (0750) with a config skeleton (0640) when none exists; key and secret files go here, 0600
#   - /var/lib/ganymede (0700) and /var/log/ganymede (0750) owned by ganymede
#   - on a central host (--centre): the API's systemd unit and the logrotate config
# Safe to run again: existing config, keys and data are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
role=geo
[ "${1:-}" = "--centre" ] && role=centre
[ "$(id -u)" -eq 0 ] || { echo "install: run as root" >&2; exit 1; }
[ -f dist/main.js ] || { echo "install: build first: npm ci && npm run build" >&2; exit 1; }

id ganymede >/dev/null 2>&1 || useradd --system --home-dir /var/lib/ganymede --shell /usr/sbin/nologin ganymede
install -d -m 0755 /opt/ganymede
cp -r bin dist package.json package-lock.json /opt/ganymede/
(cd /opt/ganymede && npm ci --omit=dev --no-audit --no-fund >/dev/null)
ln -sf /opt/ganymede/bin/ganymede /usr/local/bin/ganymede
install -d -m 0750 -o root -g ganymede /etc/ganymede
install -d -m 0700 -o ganymede -g ganymede /var/lib/ganymede
install -d -m 0750 -o ganymede -g ganymede /var/log/ganymede
if [ ! -e /etc/ganymede/ganymede.json ]; then
  if [ "$role" = centre ]; then
    cat >/etc/ganymede/ganymede.json <<'JSON'
{
  "mysql": { "url": "mysql://ganymede@127.0.0.1:3306/ganymede", "password_file": "/etc/ganymede/mysql.password" },
  "mongodb": { "url": "mongodb://127.0.0.1:27017", "database": "ganymede" },
  "api": { "listen": "127.0.0.1:8080", "url": "http://127.0.0.1:8080", "admin_token_file": "/etc/ganymede/admin.token" },
  "centre": { "private_key_file": "/etc/ganymede/keys/centre.key.asc" },
  "glassbeam": { "url": "sftp://ganymede@sftp.glassbeam.example:22/incoming", "key_file": "/etc/ganymede/glassbeam.key" },
  "archive": { "url": "file:///var/lib/ganymede/archive" }
}
JSON
  else
    cat >/etc/ganymede/ganymede.json <<'JSON'
{
  "api": { "url": "https://ganymede-central.example:8080" },
  "agent": {
    "geo": "CHANGE-ME",
    "token_file": "/etc/ganymede/agent.token",
    "source": { "url": "mysql://ganymede_reader@127.0.0.1:3306/cloudcontrol", "password_file": "/etc/ganymede/source.password" },
    "signing_key_file": "/etc/ganymede/keys/CHANGE-ME.key.asc",
    "centre_public_key_file": "/etc/ganymede/keys/centre.pub.asc",
    "inbox": "sftp://ganymede-CHANGE-ME@ganymede-central.example:22/inbox/CHANGE-ME",
    "sftp_key_file": "/etc/ganymede/inbox.key"
  }
}
JSON
  fi
  chown root:ganymede /etc/ganymede/ganymede.json
  chmod 0640 /etc/ganymede/ganymede.json
  echo "install: wrote /etc/ganymede/ganymede.json — edit it, then run: sudo -u ganymede ganymede config check"
fi
if [ "$role" = centre ]; then
  cp scripts/ganymede-api.service /etc/systemd/system/ganymede-api.service
  cp scripts/ganymede.logrotate /etc/logrotate.d/ganymede
  command -v systemctl >/dev/null 2>&1 && systemctl daemon-reload || true
  echo "install: API unit installed; enable it with: systemctl enable --now ganymede-api"
fi
echo "install: done ($role). Cron lines: crontab.example"
