#!/bin/sh
# The Docker lab end to end, inside the guest kernel (ESP): a Docker engine (Debian's docker.io) on
# a fresh tmpfs, the local base image imported, docker/compose.yaml built and brought up with
# docker-compose, the tunnel awaited (bounded), LAN-to-LAN pings, the routers' ESP SA counters and a
# capture on the WAN bridge. Run from the repository root: sh compose-lab.sh <base.tar> <out-dir>.
# Prints `IKW-DOCKER <key> <value...>` lines for the test; keys never leave the routers (the SA
# dumps are reduced to addresses, SPIs and counters here).
set -u
BASE_TAR="$1"
OUT="$2"
COMPOSE="docker-compose -f docker/compose.yaml"
# docker-compose 1.29 gives each engine request 60 s; under TCG creating a container takes longer.
export COMPOSE_HTTP_TIMEOUT=900 DOCKER_CLIENT_TIMEOUT=900
DOCKER=/usr/bin/docker # Debian's client, the engine's own version (another may be first on PATH)
say() { echo "IKW-DOCKER $*"; }
up() { read -r u _ < /proc/uptime; echo "$u"; }
fail() {
  say fail "$*"
  exit 1
}
T0=$(up)
mark() { say time "$1" "$(awk -v a="$T0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')"; }

# 1. What dockerd needs from the guest. The root is an overlay (tmpfs over the host's / on 9p), and
# overlay2 cannot use an overlayfs as its backing file system: /var/lib/docker gets a tmpfs of its
# own. Cgroups: v2, mounted where runc looks. Modules: bridges and veths for the networks (with
# dockerd's iptables on, it also needs br_netfilter, nf_tables, nft_compat and xt_* matches).
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
mkdir -p /var/lib/docker
mount -t tmpfs -o size=1200m,mode=0711 tmpfs /var/lib/docker || fail "tmpfs /var/lib/docker"
modprobe -a bridge veth 2> "$OUT/modprobe.err" || fail "modprobe: $(cat "$OUT/modprobe.err")"
# containerd first, on a tmpfs too: dockerd gives the containerd it spawns itself only 10 s to
# answer, and under TCG its first start takes longer.
mkdir -p /var/lib/containerd
mount -t tmpfs -o mode=0711 tmpfs /var/lib/containerd || fail "tmpfs /var/lib/containerd"
containerd > "$OUT/containerd.log" 2>&1 &
CONTAINERD=$!
cleanup() {
  [ -z "${DOCKERD:-}" ] || { $COMPOSE down -t 5 > "$OUT/down.log" 2>&1 && say down ok || say down failed; }
  kill "${DOCKERD:-}" "$CONTAINERD" 2> /dev/null
}
trap cleanup EXIT
i=0
until [ -S /run/containerd/containerd.sock ]; do
  i=$((i + 1))
  [ $i -le 120 ] || fail "containerd did not answer in 120 s: $(tail -5 "$OUT/containerd.log")"
  kill -0 "$CONTAINERD" 2> /dev/null || fail "containerd exited: $(tail -5 "$OUT/containerd.log")"
  sleep 1
done
mark containerd
# --iptables=false: the lab's traffic stays on its bridges and goes through the router containers,
# so Docker's NAT and isolation rules play no part; under TCG each iptables-nft call costs seconds.
dockerd --storage-driver=overlay2 --iptables=false --containerd=/run/containerd/containerd.sock \
  > "$OUT/dockerd.log" 2>&1 &
DOCKERD=$!
i=0
until [ -S /var/run/docker.sock ] && $DOCKER version > /dev/null 2>&1; do
  i=$((i + 1))
  [ $i -le 120 ] || fail "dockerd did not answer in 120 s: $(tail -5 "$OUT/dockerd.log")"
  kill -0 "$DOCKERD" 2> /dev/null || fail "dockerd exited: $(tail -5 "$OUT/dockerd.log")"
  sleep 1
done
mark dockerd
say engine "$($DOCKER info --format '{{.ServerVersion}} driver={{.Driver}} cgroup={{.CgroupDriver}}/v{{.CgroupVersion}}')"
say compose "$(docker-compose version --short)"

# 2. The images: the local base from this machine's files, then docker/Dockerfile on top of it.
$DOCKER import "$BASE_TAR" ikeway-base:local > /dev/null || fail "docker import"
mark import
export IKEWAY_BASE=ikeway-base:local
# One build: all four services share the image ikeway-lab, and `up` uses it once it exists.
$COMPOSE build router-a > "$OUT/build.log" 2>&1 || fail "compose build: $(tail -5 "$OUT/build.log")"
mark build
say image "$($DOCKER image inspect ikeway-lab --format '{{.Size}}') $($DOCKER image inspect ikeway-base:local --format '{{.Size}}')"

# 3. The keys (made here, on the guest's tmpfs overlay: never in the host checkout), and up.
for s in site-a site-b; do mkdir -p "docker/$s/secrets"; done
umask 077
head -c 32 /dev/urandom | base64 > docker/site-a/secrets/branch.psk
cp docker/site-a/secrets/branch.psk docker/site-b/secrets/branch.psk
$COMPOSE up -d > "$OUT/up.log" 2>&1 || fail "compose up: $(tail -5 "$OUT/up.log")"
mark up
say project "$($DOCKER network ls --format '{{.Name}}' | grep -c '^ikeway-lab_')"

# 4. The tunnel: both routers hold an inbound and an outbound ESP SA (bounded by the guest clock).
RA=$($COMPOSE ps -q router-a)
RB=$($COMPOSE ps -q router-b)
sas() { $DOCKER exec "$1" ip xfrm state 2> /dev/null | grep -c '^src'; }
LIMIT=$(awk -v u="$(up)" 'BEGIN { print int(u) + 600 }')
until [ "$(sas "$RA")" -ge 2 ] && [ "$(sas "$RB")" -ge 2 ]; do
  if [ "$(up | cut -d. -f1)" -gt "$LIMIT" ]; then
    $COMPOSE logs --no-color router-a router-b > "$OUT/routers.log" 2>&1
    fail "no tunnel in 600 s: $(tail -8 "$OUT/routers.log")"
  fi
  sleep 2
done
mark tunnel

# 5. Traffic, watched on the WAN bridge in the guest's own namespace: ESP only, no cleartext ICMP.
WAN=br-$($DOCKER network inspect ikeway-lab_wan --format '{{.Id}}' | cut -c1-12)
timeout 60 tcpdump -n -l -i "$WAN" 'esp or icmp or udp port 4500' > "$OUT/wan.txt" 2> /dev/null &
CAP=$!
sleep 2
$COMPOSE exec -T host-a ping -c 5 -i 0.3 -W 2 10.2.0.10 > "$OUT/ping-a.txt" 2>&1
say ping a-to-b "$(grep -o '[0-9]* received' "$OUT/ping-a.txt" | cut -d' ' -f1)"
$COMPOSE exec -T host-b ping -c 5 -i 0.3 -W 2 10.1.0.10 > "$OUT/ping-b.txt" 2>&1
say ping b-to-a "$(grep -o '[0-9]* received' "$OUT/ping-b.txt" | cut -d' ' -f1)"
sleep 1
kill "$CAP" 2> /dev/null
wait "$CAP" 2> /dev/null
say wan "esp=$(grep -c ': ESP(' "$OUT/wan.txt") icmp=$(grep -c ': ICMP ' "$OUT/wan.txt")"
mark traffic

# 6. The kernel's ESP SA counters in each router (the documented check, reduced: no keys).
for r in router-a router-b; do
  $COMPOSE exec -T "$r" ip -s xfrm state 2> /dev/null | awk -v r="$r" '
    /^src / { src = $2; dst = $4 }
    /proto esp spi/ { spi = $4 }
    /lifetime current:/ { cur = 1; next }
    cur && /\(packets\)/ { gsub(/[(),a-z]/, " "); print "IKW-DOCKER sa", r, src, dst, spi, $1, $2; cur = 0 }'
done
mark done
