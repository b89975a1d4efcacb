#!/usr/bin/env bash
# Installs the Debian packages the tests and labs use (idempotent; skips what is present).
#  - nftables: the lab NAT router (masquerade)
#  - iproute2, iputils-ping: network namespaces, veth and reachability checks for host-kernel and lab tests
#  - qemu-system-x86, linux-image-amd64, busybox-static, kmod: the guest kernel with ESP (docs: KERNEL-LAB)
#  - strongswan-*: the interoperability peer; openssl: test certificates; tcpdump: lab captures
#  - docker.io (20.10: dockerd, containerd, runc, iptables), docker-compose (1.29): the Docker lab
#    (docker/), run inside the guest kernel by test/docker; on the host no engine is started
set -euo pipefail
pkgs=(iproute2 iputils-ping kmod nftables qemu-system-x86 linux-image-amd64 busybox-static openssl tcpdump
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins
  libcharon-extra-plugins strongswan-pki)
pkgs+=(docker.io docker-compose)
pkgs+=(iperf3) # npm run bench: data-plane throughput through the tunnels (bench/lib/dataplane.ts)
pkgs+=(tshark)     # debug-keys: the key files decrypt a capture (test/daemon/keylog.test.ts)
pkgs+=(prometheus) # promtool checks examples/monitoring/alerts.yml; the lab starts its own server
pkgs+=(frr)        # route-based lab: bgpd + zebra peer over the XFRM interfaces (started in namespaces)
pkgs+=(keepalived) # HA lab: VRRP between the two ikeway nodes (started in namespaces)
pkgs+=(dnsmasq-base) # peers by DNS name: a small resolver in a lab namespace (no system service)
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
  # No service may start during the install (docker.io would start an engine on the host, which adds
  # a bridge and iptables rules to the machine's own namespace): Debian's policy-rc.d says no.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
# Debian enables charon via systemd on install; our tests start their own instances.
systemctl disable --now strongswan-starter strongswan >/dev/null 2>&1 || true
systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
systemctl disable --now frr keepalived >/dev/null 2>&1 || true
# Likewise docker.io's engine: test/docker starts dockerd inside the guest kernel only. A host engine
# would add bridges, addresses and iptables rules to the machine's own network namespace.
systemctl disable --now docker.socket docker.service containerd.service >/dev/null 2>&1 || true

# Libreswan 4.10 (the second interoperability peer) conflicts with the strongSwan packages: installing
# it would remove them. So it is unpacked with `dpkg -x` into a fixed directory outside the checkout
# (lab/peers/libreswan.ts looks there; LIBRESWAN_ROOT overrides) and only its libraries are installed.
# strongSwan is never removed. pluto runs from there in a private mount namespace (docs: KERNEL-LAB).
LIBRESWAN_ROOT="${LIBRESWAN_ROOT:-/opt/ikeway-libreswan}"
lsw_libs=(libnss3-tools libnss3 libnspr4 libldns3 libunbound8 libevent-core-2.1-7 libevent-pthreads-2.1-7
  libcurl3-nss libcap-ng0 libaudit1 libldap-2.5-0 libpam0g libselinux1 libsystemd0 util-linux)
lsw_missing=()
for p in "${lsw_libs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || lsw_missing+=("$p")
done
if [ ${#lsw_missing[@]} -gt 0 ] || [ ! -x "$LIBRESWAN_ROOT/usr/libexec/ipsec/pluto" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install Libreswan into $LIBRESWAN_ROOT" >&2
    exit 1
  fi
  if [ ${#lsw_missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${lsw_missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lsw_missing[@]}" >/dev/null
  fi
  if [ ! -x "$LIBRESWAN_ROOT/usr/libexec/ipsec/pluto" ]; then
    echo "install-deps: unpacking libreswan into $LIBRESWAN_ROOT"
    lsw_tmp="$(mktemp -d)"
    (cd "$lsw_tmp" && apt-get download -qq libreswan 2>/dev/null) || {
      apt-get update -qq
      (cd "$lsw_tmp" && apt-get download -qq libreswan)
    }
    rm -rf "$LIBRESWAN_ROOT.new"
    mkdir -p "$LIBRESWAN_ROOT.new"
    dpkg -x "$lsw_tmp"/libreswan_*.deb "$LIBRESWAN_ROOT.new"
    rm -rf "$lsw_tmp" "$LIBRESWAN_ROOT"
    mv "$LIBRESWAN_ROOT.new" "$LIBRESWAN_ROOT"
  fi
fi
