#!/bin/sh
# Install the Debian packages purser needs, only those missing; silent when
# everything is present. Run by `make deps` (and so by every target that
# builds). As root it uses apt-get; otherwise it says what to run.
set -eu
PKGS="pkg-config libpq-dev libyaml-dev libcurl4-openssl-dev libcjson-dev libxlsxwriter-dev
      libcmocka-dev libmicrohttpd-dev libcsv-dev libssl-dev postgresql-15 postgresql-client-15
      tzdata python3-openpyxl python3-yaml clang wrk curl"
# The web page's browser test (tests/integration/test_web_browser.sh):
# Debian's chromium, and node + npm for playwright-core unless a node is
# already there (e.g. from another source, whose npm comes with it).
BROWSER_PKGS="chromium fonts-dejavu-core"
command -v node >/dev/null 2>&1 || BROWSER_PKGS="$BROWSER_PKGS nodejs"
command -v npm >/dev/null 2>&1 || BROWSER_PKGS="$BROWSER_PKGS npm"
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed'; }
missing=""
for p in $PKGS; do
    installed "$p" || missing="$missing $p"
done
browser_missing=""
for p in $BROWSER_PKGS; do
    installed "$p" || browser_missing="$browser_missing $p"
done
[ -z "$missing$browser_missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    [ -z "$missing" ] && exit 0 # the browser test skips without chromium
    echo "purser needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "make deps: installing$missing$browser_missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql package would create and start a cluster of its own;
# purser runs its own clusters, so keep the package from doing that.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
[ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Only the browser test needs these: a machine without them still builds.
# shellcheck disable=SC2086
[ -z "$browser_missing" ] || apt-get install -y -qq --no-install-recommends $browser_missing \
    >/dev/null || echo "make deps: could not install$browser_missing; the browser test will be skipped" >&2
