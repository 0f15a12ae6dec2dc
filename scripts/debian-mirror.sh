# Sourced by install scripts: prints the machine's own Debian mirror (deb822 URIs: line, or a
# classic deb line), enabled files only, so private apt configurations use what this machine can reach.
debian_mirror() {
  local mirror
  mirror="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)"
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror="$(grep -hE '^deb ' /etc/apt/sources.list | grep -oE 'https?://[^ ]+/debian/?' | head -1 || true)"
  fi
  [ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt sources" >&2; return 1; }
  echo "${mirror%/}"
}
