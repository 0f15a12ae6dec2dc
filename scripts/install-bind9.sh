#!/usr/bin/env bash
# Debian's bind9 (named, for the DNS source's integration tests) and bind9-dnsutils (dig,
# nsupdate). Installed once; tests run named as the current user on loopback.
set -euo pipefail
if command -v named >/dev/null && command -v dig >/dev/null && command -v nsupdate >/dev/null; then exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends bind9 bind9-dnsutils >&2
# The package starts a system named on port 53; the tests bring their own on a free port.
$SUDO systemctl disable --now named >/dev/null 2>&1 || $SUDO service named stop >/dev/null 2>&1 || true
named -v >&2
