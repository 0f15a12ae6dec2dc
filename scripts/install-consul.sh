#!/usr/bin/env bash
# Fetch Debian bullseye's consul (1.8.7) with a private apt configuration and unpack it
# under .cache/consul: no system change, idempotent, cached between runs on one machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/consul"
bin="$dest/root/usr/bin/consul"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

source "$root/scripts/debian-mirror.sh"
mirror="$(debian_mirror)"

apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dest/deb"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} bullseye main" > "$apt_dir/sources.list"
APTO=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
apt-get "${APTO[@]}" -qq update >&2
( cd "$dest/deb" && apt-get "${APTO[@]}" -qq download consul >&2 )
dpkg-deb -x "$dest"/deb/consul_*.deb "$dest/root"
[ -x "$bin" ] || { echo "install-consul: $bin missing after unpack" >&2; exit 1; }
"$bin" version >&2
echo "$bin"
