#!/usr/bin/env bash
# Installs what building and testing lxdex needs, on Debian 12 (bookworm). Idempotent: when every
# package is already installed it does nothing and touches no network. Uses sudo only when not
# root. On a system without dpkg it lists the packages and leaves the rest to you.
set -euo pipefail

packages=(
    build-essential    # gcc 12, make, libc headers; gcc's ASan/UBSan runtimes
    cmake              # 3.25 in bookworm
    pkg-config
    clang              # clang 14: the fuzz build (libFuzzer)
    libclang-rt-14-dev # clang 14's sanitizer and libFuzzer runtimes
    libcmocka-dev      # unit tests
    libsodium-dev      # journal: ed25519 signatures, hashes
    libzstd-dev        # journal: snapshot compression
    libyaml-dev        # node: configuration file
    libjansson-dev     # gateways: JSON API
    libwebsockets-dev  # gateways: WebSocket and HTTP; lxdex watch (WebSocket client)
    libcurl4-openssl-dev # lxdex: HTTP client of the read commands
    python3-websockets # tests of the WebSocket gateway
    python3-nacl       # tests of the WebSocket gateway: the signer of signed logons and actions
    curl               # tests of the HTTP gateway
    jq                 # tests of the HTTP gateway: reading its JSON answers
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: not a Debian system; make sure these (or their equivalents) are installed:"
    echo "  ${packages[*]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-deps: missing ${missing[*]}, and not root and no sudo to install them" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
