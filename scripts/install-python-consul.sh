#!/usr/bin/env bash
# python3-consul (Debian's package, 0.7.x) for the third-party client suite: installed with apt
# into the system python3 (/usr/bin/python3). Idempotent; prints the interpreter to use.
set -euo pipefail
py=/usr/bin/python3
if "$py" -c 'import consul' 2>/dev/null; then echo "$py"; exit 0; fi
if ! apt-cache policy python3-consul | grep -q 'Candidate: [0-9]'; then
  apt-get -qq update >&2
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-consul >&2
"$py" -c 'import consul' && echo "$py"
