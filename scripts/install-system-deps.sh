#!/usr/bin/env bash
# Install the third-party peers the tests drive (baresip; linphonec, which sends DTMF by SIP
# INFO; ffmpeg, tshark, PostgreSQL; Chromium for the web control tests; espeak-ng, whose
# speech must not be heard as DTMF; GStreamer's RTSP server as the IP camera; SIPp, which
# runs the session timer scenarios; Kamailio with its PostgreSQL module, the registrar and
# proxy of the PBX tests and the cluster's dispatcher (make cluster); dnsmasq, the DNS server of the dial-out-by-name tests:
# dnsmasq-base is the program without the service; cmake, gcc and make build ooh323c's
# `simple`, the H.323 peer no distribution packages, from tests/peers/ooh323c). The tests
# fail, naming this script, when one is missing.
# Idempotent: does nothing (not even apt-get update) when everything is present.
set -euo pipefail

PACKAGES=(baresip baresip-ffmpeg baresip-gstreamer baresip-x11 ffmpeg tshark postgresql chromium
          linphone-cli espeak-ng dnsmasq-base
          gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good
          gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
          gstreamer1.0-tools sip-tester kamailio kamailio-postgres-modules cmake gcc make)
COMMANDS=(baresip ffmpeg ffprobe tshark chromium linphonec espeak-ng gst-launch-1.0 sipp kamailio
          cmake gcc make)
HERE=$(cd "$(dirname "$0")" && pwd)
OOH323C="$HERE/../var/peers/ooh323c/ooh323c/build/tests/simple/libfakedsp.so"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        package_installed "$pkg" || echo "$pkg"
    done
}

all_commands_present() {
    local cmd
    for cmd in "${COMMANDS[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || return 1
    done
}

wait_for_apt_lock() {
    local lock waited=0
    for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock; do
        while command -v fuser >/dev/null 2>&1 && "${SUDO[@]}" fuser "$lock" >/dev/null 2>&1; do
            if [ "$waited" -ge 600 ]; then
                echo "install-system-deps: apt still locked after ${waited}s" >&2
                return 1
            fi
            echo "install-system-deps: waiting for apt lock $lock" >&2
            sleep 5
            waited=$((waited + 5))
        done
    done
}

main() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ] && all_commands_present; then
        echo "install-system-deps: all present"
        build_ooh323c
        return 0
    fi
    echo "install-system-deps: installing ${missing[*]:-(commands missing)}"
    wait_for_apt_lock
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
        | "${SUDO[@]}" debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    build_ooh323c
}

build_ooh323c() {
    if [ ! -x "$OOH323C" ]; then
        echo "install-system-deps: building ooh323c's simple (about a minute)"
        bash "$HERE/../tests/peers/ooh323c/build.sh" >/dev/null
    fi
}

main "$@"
