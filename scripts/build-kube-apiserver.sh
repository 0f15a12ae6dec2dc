#!/usr/bin/env bash
# A real kube-apiserver (v1.20.2) and etcd for the Kubernetes adapter's integration tests,
# built from Debian's `kubernetes` source package with bullseye's Go 1.15, under .cache/ with a
# private apt configuration (nothing installed system-wide). About 4.5 minutes on 2 cores the
# first time; cached afterwards. Prints the directory holding kube-apiserver and etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
T="$PWD/.cache/kube"
BIN="$T/bin"
# One build at a time: npm test builds in the background while a suite may ask for the binaries;
# the second caller waits here and then finds them built.
mkdir -p "$PWD/.cache"
exec 9> "$PWD/.cache/kube.lock"
flock 9
if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ]; then echo "$BIN"; exit 0; fi
# Build tools a bare machine may lack (no compiler needed: CGO is off).
if ! command -v make >/dev/null || ! command -v dpkg-source >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends make dpkg-dev >&2
fi
rm -rf "$T/src"  # a half-finished earlier attempt
mkdir -p "$T/apt/lists/partial" "$T/apt/cache/archives/partial" "$T/root" "$T/src" "$T/home" "$BIN"
source scripts/debian-mirror.sh
MIRROR="$(debian_mirror)"
KEY=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$T/apt/sources.list" <<LIST
deb [signed-by=$KEY] $MIRROR bookworm main
deb-src [signed-by=$KEY] $MIRROR bookworm main
deb [signed-by=$KEY] $MIRROR bullseye main
LIST
APTO=(-o "Dir::Etc::SourceList=$T/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$T/apt/lists" -o "Dir::Cache=$T/apt/cache" -o Debug::NoLocking=1)
apt-get "${APTO[@]}" update -qq >&2
cd "$T/src"
apt-get "${APTO[@]}" download golang-1.15-go/bullseye golang-1.15-src/bullseye etcd-server/bookworm rsync/bookworm libpopt0/bookworm >&2
for d in *.deb; do dpkg -x "$d" "$T/root"; done
apt-get "${APTO[@]}" source --download-only kubernetes=1.20.5+really1.20.2-1.1+deb12u1 >&2
dpkg-source -x kubernetes_1.20.5+really1.20.2-1.1+deb12u1.dsc >&2
cd kubernetes-1.20.5+really1.20.2
export LD_LIBRARY_PATH="$T/root/usr/lib/x86_64-linux-gnu:$T/root/lib/x86_64-linux-gnu" GOROOT="$T/root/usr/lib/go-1.15" PATH="$T/root/usr/lib/go-1.15/bin:$T/root/usr/bin:$PATH" \
       CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor GOPATH="$PWD/.go" HOME="$T/home"
mkdir -p .go/src/k8s.io && ln -sfn ../../.. .go/src/k8s.io/kubernetes
make WHAT=cmd/kube-apiserver >&2
cp _output/bin/kube-apiserver "$BIN/"
cp "$T/root/usr/bin/etcd" "$BIN/"
cd "$T" && rm -rf src   # the tree is ~1 GB; only the binaries are kept
echo "$BIN"
