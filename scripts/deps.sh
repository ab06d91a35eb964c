#!/usr/bin/env bash
# scripts/deps.sh: installs the Debian 12 packages raterd builds, runs and
# tests with, only those that are missing. Sourced by demo.sh and test.sh.
set -euo pipefail

RATERD_PACKAGES=(gcc pkg-config meson ninja-build libzmq3-dev libmsgpack-dev liblmdb-dev libsystemd-dev
                 libinih-dev libjson-c-dev python3 python3-zmq python3-msgpack)

raterd_install_deps() {
        local missing=() p sudo=()
        for p in "${RATERD_PACKAGES[@]}" "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
        done
        ((${#missing[@]})) || return 0
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        echo "installing: ${missing[*]}" >&2
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures (once) and builds the tree in build/.
raterd_build() {
        local dir=${1:-build}; shift || true
        [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
        ninja -C "$dir"
}
