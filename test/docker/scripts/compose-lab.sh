#!/bin/sh
# The Docker labs end to end, inside the guest kernel (ESP): a Docker engine (Debian's docker.io) on
# a fresh tmpfs, the image ikeway-lab loaded from the archive the host made (lab/docker/image.ts:
# the local base plus docker/Dockerfile), then BOTH compose files up side by side with
# docker-compose: the policy-based lab (docker/compose.yaml, project ikeway-lab) and the route-based
# one (docker/compose.route-based.yaml, project ikeway-route). Per lab: the tunnel awaited (bounded),
# LAN-to-LAN pings both ways under a capture of the WAN bridge, the routers' ESP SA counters.
# Run from the repository root: sh compose-lab.sh <image.tar> <out-dir>.
# Prints `IKW-DOCKER <key> <value...>` lines for the test; keys never leave the routers (the SA
# dumps are reduced to addresses, SPIs and counters here).
set -u
IMAGE_TAR="$1"
OUT="$2"
# docker-compose 1.29 gives each engine request 60 s; under TCG creating a container takes longer.
export COMPOSE_HTTP_TIMEOUT=900 DOCKER_CLIENT_TIMEOUT=900
LABS="ikeway-lab:docker/compose.yaml ikeway-route:docker/compose.route-based.yaml"
say() { echo "IKW-DOCKER $*"; }
up() { read -r u _ < /proc/uptime; echo "$u"; }
fail() {
  say fail "$*"
  exit 1
}
T0=$(up)
mark() { say time "$1" "$(awk -v a="$T0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')"; }
# A compose service's container, found by the labels both Compose versions set (docker exec is a
# Go binary; each docker-compose call starts Python, seconds under TCG).
cid() { $DOCKER ps -q -f "label=com.docker.compose.project=$1" -f "label=com.docker.compose.service=$2"; }

# 1. What dockerd needs from the guest. The root is an overlay (tmpfs over the host's / on 9p), and
# overlay2 cannot use an overlayfs as its backing file system: /var/lib/docker gets a tmpfs of its
# own. Cgroups: v2, mounted where runc looks. Modules: bridges and veths for the networks.
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
mkdir -p /var/lib/docker /var/lib/containerd
mount -t tmpfs -o size=1200m,mode=0711 tmpfs /var/lib/docker || fail "tmpfs /var/lib/docker"
mount -t tmpfs -o mode=0711 tmpfs /var/lib/containerd || fail "tmpfs /var/lib/containerd"
modprobe -a bridge veth xfrm_interface 2> "$OUT/modprobe.err" || fail "modprobe: $(cat "$OUT/modprobe.err")"
# The engine's programs, copied once into the guest's RAM and first on PATH: the guest's root is a
# 9p share without a page cache, so every exec of a Go binary read it again from the host (runc,
# the shim and dockerd's libnetwork-setkey hook run for every container). `iptables` there is a
# no-op: with --iptables=false dockerd adds no rules of its own, but the embedded DNS resolver of
# user-defined networks still calls iptables about six times per container (in the container's
# namespace) and each call took 2-5 s under TCG. The labs use addresses only, never DNS names.
BIN=/run/ikw-docker-bin
mkdir -p "$BIN"
# Debian's packages' paths (another docker client may be first on PATH).
for f in /usr/sbin/dockerd /usr/bin/docker /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/sbin/runc; do
  cp "$f" "$BIN/" || fail "copy $f"
done
printf '#!/bin/sh\nexit 0\n' > "$BIN/iptables"
chmod 755 "$BIN/iptables"
export PATH="$BIN:$PATH"
DOCKER=$BIN/docker
mark binaries
# containerd first: dockerd gives the containerd it spawns itself only 10 s to answer, and under
# TCG its first start may take longer.
containerd > "$OUT/containerd.log" 2>&1 &
CONTAINERD=$!
cleanup() {
  if [ -n "${DOCKERD:-}" ]; then
    pids=
    for lab in $LABS; do
      docker-compose -p "${lab%%:*}" -f "${lab#*:}" down -t 5 > "$OUT/down-${lab%%:*}.log" 2>&1 &
      pids="$pids $!"
    done
    wait $pids # not a bare wait: containerd and dockerd are children too
    for lab in $LABS; do
      [ "$(grep -c '^Removing network' "$OUT/down-${lab%%:*}.log")" = 3 ] && say down "${lab%%:*}" ok || say down "${lab%%:*}" failed
    done
  fi
  kill "${DOCKERD:-}" "$CONTAINERD" 2> /dev/null
}
trap cleanup EXIT
i=0
until [ -S /run/containerd/containerd.sock ]; do
  i=$((i + 1))
  [ $i -le 600 ] || fail "containerd did not answer in 120 s: $(tail -5 "$OUT/containerd.log")"
  kill -0 "$CONTAINERD" 2> /dev/null || fail "containerd exited: $(tail -5 "$OUT/containerd.log")"
  sleep 0.2
done
mark containerd
# --iptables=false: the labs' traffic stays on their bridges and goes through the router
# containers, so Docker's NAT and isolation rules play no part; under TCG each iptables-nft call
# costs seconds. --bridge=none: compose makes its own networks, docker0 is not used.
dockerd --storage-driver=overlay2 --iptables=false --ip-masq=false --bridge=none --userland-proxy=false \
  --containerd=/run/containerd/containerd.sock > "$OUT/dockerd.log" 2>&1 &
DOCKERD=$!
i=0
until [ -S /var/run/docker.sock ] && $DOCKER version > /dev/null 2>&1; do
  i=$((i + 1))
  [ $i -le 300 ] || fail "dockerd did not answer in 300 tries: $(tail -5 "$OUT/dockerd.log")"
  kill -0 "$DOCKERD" 2> /dev/null || fail "dockerd exited: $(tail -5 "$OUT/dockerd.log")"
  sleep 0.5
done
mark dockerd
say engine "$($DOCKER info --format '{{.ServerVersion}} driver={{.Driver}} cgroup={{.CgroupDriver}}/v{{.CgroupVersion}}')"

# 2. The image, made on the host from this tree (never a cached one): load, no build here.
$DOCKER load -i "$IMAGE_TAR" > "$OUT/load.log" 2>&1 || fail "docker load: $(tail -3 "$OUT/load.log")"
mark load
say image "$($DOCKER image inspect ikeway-lab --format '{{.Id}} {{.Size}}')"

# 3. The keys (made here, on the guest's tmpfs overlay: never in the host checkout), and both labs
# up at once (docker-compose finds the image and builds nothing).
umask 077
for d in site-a site-b route-a route-b; do mkdir -p "docker/$d/secrets"; done
head -c 32 /dev/urandom | base64 > docker/site-a/secrets/branch.psk
cp docker/site-a/secrets/branch.psk docker/site-b/secrets/branch.psk
head -c 32 /dev/urandom | base64 > docker/route-a/secrets/tunnel.psk
cp docker/route-a/secrets/tunnel.psk docker/route-b/secrets/tunnel.psk
umask 022
pids=
for lab in $LABS; do
  docker-compose -p "${lab%%:*}" -f "${lab#*:}" up -d > "$OUT/up-${lab%%:*}.log" 2>&1 &
  pids="$pids $!"
done
wait $pids
mark up
for lab in $LABS; do
  p=${lab%%:*}
  grep -q 'Building\|Pulling' "$OUT/up-$p.log" && fail "compose up $p built or pulled: $(head -3 "$OUT/up-$p.log")"
  for s in router-a router-b host-a host-b; do
    [ -n "$(cid "$p" "$s")" ] || fail "$p $s not running: $(tail -5 "$OUT/up-$p.log")"
  done
  say project "$p" "$($DOCKER network ls --format '{{.Name}}' | grep -c "^${p}_")"
done

# 4. The tunnels: each router holds an inbound and an outbound ESP SA (bounded by the guest clock).
# Polled from the guest in the router's network namespace (XFRM state is per namespace): cheaper
# under TCG than a `docker exec` (runc) every second.
pid() { $DOCKER inspect -f '{{.State.Pid}}' "$(cid "$1" "$2")"; }
for p in ikeway-lab ikeway-route; do
  for r in router-a router-b; do eval "PID_$(echo "$p$r" | tr -c 'a-z\n' _)=$(pid "$p" "$r")"; done
done
sas() { eval "n=\$PID_$(echo "$1$2" | tr -c 'a-z\n' _)"; nsenter -t "$n" -n ip xfrm state 2> /dev/null | grep -c '^src'; }
LIMIT=$(awk -v u="$(up)" 'BEGIN { print int(u) + 600 }')
for p in ikeway-lab ikeway-route; do
  until [ "$(sas "$p" router-a)" -ge 2 ] && [ "$(sas "$p" router-b)" -ge 2 ]; do
    if [ "$(up | cut -d. -f1)" -gt "$LIMIT" ]; then
      for r in router-a router-b; do $DOCKER logs "$(cid "$p" "$r")" > "$OUT/$p-$r.log" 2>&1; done
      fail "$p: no tunnel in 600 s: $(tail -4 "$OUT/$p-router-a.log") $(tail -4 "$OUT/$p-router-b.log")"
    fi
    sleep 1
  done
  mark "tunnel-$p"
done

# 5. Traffic, watched on each WAN bridge in the guest's own namespace: ESP only, no cleartext ICMP.
ping_lab() { # project, b's LAN host address, a's LAN host address
  wan=br-$($DOCKER network inspect "${1}_wan" --format '{{.Id}}' | cut -c1-12)
  timeout 120 tcpdump -n -l -i "$wan" 'esp or icmp or udp port 4500' > "$OUT/$1-wan.txt" 2> /dev/null &
  cap=$!
  sleep 1
  $DOCKER exec "$(cid "$1" host-a)" ping -c 5 -i 0.3 -W 3 "$2" > "$OUT/$1-ping-a.txt" 2>&1
  $DOCKER exec "$(cid "$1" host-b)" ping -c 5 -i 0.3 -W 3 "$3" > "$OUT/$1-ping-b.txt" 2>&1
  sleep 1
  kill "$cap" 2> /dev/null
  wait "$cap" 2> /dev/null
  say ping "$1" a-to-b "$(grep -o '[0-9]* received' "$OUT/$1-ping-a.txt" | cut -d' ' -f1)"
  say ping "$1" b-to-a "$(grep -o '[0-9]* received' "$OUT/$1-ping-b.txt" | cut -d' ' -f1)"
  say wan "$1" "esp=$(grep -c ': ESP(' "$OUT/$1-wan.txt") icmp=$(grep -c ': ICMP ' "$OUT/$1-wan.txt")"
}
ping_lab ikeway-lab 10.2.0.10 10.1.0.10
ping_lab ikeway-route 10.4.0.10 10.3.0.10
mark traffic

# 6. The kernel's ESP SA counters in each router (the documented check, reduced: no keys), and for
# the route-based lab the XFRM interface and the route ikeway installed.
for p in ikeway-lab ikeway-route; do
  for r in router-a router-b; do
    $DOCKER exec "$(cid "$p" "$r")" ip -s xfrm state 2> /dev/null | awk -v r="$p/$r" '
      /^src / { src = $2; dst = $4 }
      /proto esp spi/ { spi = $4 }
      /if_id/ { for (i = 1; i < NF; i++) if ($i == "if_id") ifid = $(i + 1) }
      /lifetime current:/ { cur = 1; next }
      cur && /\(packets\)/ { gsub(/[(),a-z]/, " "); print "IKW-DOCKER sa", r, src, dst, spi, $1, $2, (ifid == "" ? "-" : ifid); cur = 0; ifid = "" }'
  done
done
for r in router-a:ipsec-b:10.4.0.0/24 router-b:ipsec-a:10.3.0.0/24; do
  eval "n=\$PID_$(echo "ikeway-route${r%%:*}" | tr -c 'a-z\n' _)"
  i=$(echo "$r" | cut -d: -f2)
  say xfrmi "${r%%:*}" "$i" "$(nsenter -t "$n" -n ip -d link show "$i" 2> /dev/null | grep -o 'if_id 0x[0-9a-f]*' | head -1 | tr ' ' '=')" \
    "route=$(nsenter -t "$n" -n ip route show "${r##*:}" 2> /dev/null | grep -c "dev $i")"
done
mark done
