#!/usr/bin/env bash
# Fetch Debian bookworm's prometheus (2.42) with a private apt configuration and unpack it under
# .cache/prometheus: no system change, idempotent, quiet, cached between runs on one machine.
# Prints the path of the prometheus binary (promtool sits beside it). Debian builds it without
# consul_sd_configs; http_sd_configs (what Switchboard serves) is there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/prometheus"
bin="$dest/root/usr/bin/prometheus"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

source "$root/scripts/debian-mirror.sh"
mirror="$(debian_mirror)"

apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dest/deb"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} bookworm main" > "$apt_dir/sources.list"
APTO=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
apt-get "${APTO[@]}" -qq update >&2
( cd "$dest/deb" && apt-get "${APTO[@]}" -qq download prometheus >&2 )
dpkg-deb -x "$dest"/deb/prometheus_*.deb "$dest/root"
[ -x "$bin" ] || { echo "install-prometheus: $bin missing after unpack" >&2; exit 1; }
"$bin" --version 2>&1 | head -1 >&2
echo "$bin"
