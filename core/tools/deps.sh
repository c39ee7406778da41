#!/bin/sh
# Install the Debian packages purser needs, only those missing; silent when
# everything is present. Run by `make deps` (and so by every target that
# builds). As root it uses apt-get; otherwise it says what to run.
set -eu
PKGS="pkg-config libpq-dev libyaml-dev libcurl4-openssl-dev libcjson-dev libxlsxwriter-dev
      libcmocka-dev libmicrohttpd-dev libcsv-dev libssl-dev postgresql-15 postgresql-client-15
      tzdata python3-openpyxl python3-yaml clang wrk curl"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "purser needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "make deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql package would create and start a cluster of its own;
# purser runs its own clusters, so keep the package from doing that.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
