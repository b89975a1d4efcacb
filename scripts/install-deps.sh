#!/usr/bin/env bash
# Installs the Debian packages the tests and labs use (idempotent; skips what is present).
#  - nftables: the lab NAT router (masquerade)
#  - iproute2, iputils-ping: network namespaces, veth and reachability checks for host-kernel and lab tests
#  - qemu-system-x86, linux-image-amd64, busybox-static, kmod: the guest kernel with ESP (docs: KERNEL-LAB)
#  - strongswan-*: the interoperability peer; openssl: test certificates; tcpdump: lab captures
set -euo pipefail
pkgs=(iproute2 iputils-ping kmod nftables qemu-system-x86 linux-image-amd64 busybox-static openssl tcpdump
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins
  libcharon-extra-plugins strongswan-pki)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian enables charon via systemd on install; our tests start their own instances.
systemctl disable --now strongswan-starter strongswan >/dev/null 2>&1 || true
