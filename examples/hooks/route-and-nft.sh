#!/bin/sh
# ikeway hook: on child-up, route the peer's subnets and let their traffic through the forward
# chain; on child-down, take both away again. Use it as
#
#   connections:
#     branch:
#       hook: { program: /etc/ikeway/hooks/route-and-nft.sh, events: [child-up, child-down] }
#
# Settings live next to this script in route-and-nft.conf (shell syntax), because a hook gets only
# the IKEWAY_* facts in its environment:
#   DEV=lan0          # device the routes point at (default: the one towards the peer)
#   TABLE=main        # routing table
#   NFT_TABLE=ikeway  # nftables table (family inet) holding the forward rules
# The facts used: IKEWAY_EVENT, IKEWAY_CONNECTION, IKEWAY_CHILD, IKEWAY_REMOTE_ADDR,
# IKEWAY_LOCAL_TS and IKEWAY_REMOTE_TS (space-separated prefixes or address ranges).
set -eu

DEV=''
TABLE=main
NFT_TABLE=ikeway
conf="$(dirname "$0")/route-and-nft.conf"
# shellcheck source=/dev/null
[ -r "$conf" ] && . "$conf"

event=${IKEWAY_EVENT:?not run by ikeway}
tag="ikeway:${IKEWAY_CONNECTION}:${IKEWAY_CHILD:-}"
[ -n "$DEV" ] || DEV=$(ip route get "$IKEWAY_REMOTE_ADDR" | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)

family() { case "$1" in *:*) echo ip6 ;; *) echo ip ;; esac; }

routes() { # $1 = replace | del
  for ts in ${IKEWAY_REMOTE_TS:-}; do
    case "$ts" in
      */*) ip route "$1" "$ts" dev "$DEV" table "$TABLE" 2>/dev/null || [ "$1" = del ] ;;
      *) ;; # an address range has no route form; only prefixes are routed
    esac
  done
}

rules_add() {
  nft add table inet "$NFT_TABLE"
  nft add chain inet "$NFT_TABLE" forward '{ type filter hook forward priority 0; policy accept; }'
  for r in ${IKEWAY_REMOTE_TS:-}; do
    for l in ${IKEWAY_LOCAL_TS:-}; do
      f=$(family "$r")
      [ "$f" = "$(family "$l")" ] || continue
      nft add rule inet "$NFT_TABLE" forward "$f" saddr "$r" "$f" daddr "$l" accept comment "\"$tag\""
      nft add rule inet "$NFT_TABLE" forward "$f" saddr "$l" "$f" daddr "$r" accept comment "\"$tag\""
    done
  done
}

rules_del() {
  nft -a list chain inet "$NFT_TABLE" forward 2>/dev/null |
    sed -n "s/.*comment \"$tag\" # handle \([0-9]*\)\$/\1/p" |
    while read -r h; do nft delete rule inet "$NFT_TABLE" forward handle "$h"; done
}

case "$event" in
  child-up)
    routes replace
    rules_del # a restart after a crash leaves no duplicates
    rules_add
    ;;
  child-down)
    routes del
    rules_del
    ;;
  *) ;;
esac
