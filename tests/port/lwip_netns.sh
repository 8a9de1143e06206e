#!/usr/bin/env bash
# ports/lwip-sockets over real lwIP, inside a network namespace of its own.
#
#   lwip_netns.sh suite   the port conformance suite (test_port_lwip)
#   lwip_netns.sh boot    a cold and a warm boot of the device through the
#                         port against hubkey-cloud (lwip_boot)
#
# Environment: TEST_PORT_LWIP (suite); LWIP_BOOT, HUBKEY_CLOUD,
# HUBKEY_FACTORY (boot).
#
# The namespace holds only its loopback and a TAP device, hktap0, with
# 10.200.0.1/24 on the namespace's side; lwIP (Debian's liblwip, in the test
# program) attaches to the TAP as 10.200.0.2. The namespace has no other
# interface and no route, so no packet of the test can leave it. The cloud
# runs inside the namespace too (ip netns exec).
#
# Needs root, network namespaces and /dev/net/tun: where one of them is
# missing the test is skipped (exit 77, CTest's SKIP_RETURN_CODE) with the
# reason. Nothing waits for time to pass: the programs poll with deadlines.
set -uo pipefail

mode=${1:?usage: lwip_netns.sh suite|boot}
SKIP=77
TAP=hktap0
HOST_IP=10.200.0.1
LWIP_IP=10.200.0.2
CLOUD_PORT=8883 # the namespace is empty: any port is free

skip() {
  echo "lwip_netns: SKIPPED: $*"
  exit $SKIP
}

[ "$(id -u)" -eq 0 ] || skip "needs root to create a network namespace and a TAP device"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing (no TUN/TAP support)"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is missing"

ns=hk-lwip-$$-$RANDOM
work=$(mktemp -d -t hubkey-lwip.XXXXXX)
cloud_dir=$work/cloud
in_ns() { ip netns exec "$ns" "$@"; }

cleanup() {
  if [ -n "${HUBKEY_CLOUD:-}" ] && [ -d "$cloud_dir" ]; then
    in_ns "$HUBKEY_CLOUD" --dir "$cloud_dir" stop >/dev/null 2>&1
  fi
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}

if ! ip netns add "$ns" 2>"$work/err"; then
  reason=$(cat "$work/err")
  rm -rf "$work"
  skip "cannot create a network namespace: $reason"
fi
trap cleanup EXIT
in_ns ip link set lo up || { echo "lwip_netns: FAIL: loopback in the namespace"; exit 1; }
if ! in_ns ip tuntap add dev "$TAP" mode tap 2>"$work/err"; then
  skip "cannot create a TAP device: $(cat "$work/err")"
fi
# MTU 576 on the namespace's side: Debian's liblwip 2.1.3 copies a frame
# read from the TAP into a pbuf allocated with 616 bytes, so a full-size
# 1514-byte Ethernet frame overflows it (AddressSanitizer reports the heap
# overflow in pbuf_take, in lwIP's tapif thread). With this MTU the kernel
# never sends lwIP a frame over 590 bytes (TCP segments of 536), which
# fits; lwIP's own frames to the kernel keep lwIP's MTU.
in_ns ip addr add "$HOST_IP/24" dev "$TAP" && in_ns ip link set "$TAP" mtu 576 &&
  in_ns ip link set "$TAP" up ||
  { echo "lwip_netns: FAIL: cannot configure $TAP"; exit 1; }

case $mode in
suite)
  : "${TEST_PORT_LWIP:?}"
  in_ns "$TEST_PORT_LWIP" "$TAP" "$LWIP_IP" "$HOST_IP"
  exit $?
  ;;
boot) ;;
*)
  echo "usage: lwip_netns.sh suite|boot" >&2
  exit 2
  ;;
esac

: "${LWIP_BOOT:?}" "${HUBKEY_CLOUD:?}" "${HUBKEY_FACTORY:?}"
cloud() { in_ns "$HUBKEY_CLOUD" --dir "$cloud_dir" "$@"; }
factory() { "$HUBKEY_FACTORY" "$@" >"$work/factory.out" 2>&1 || { cat "$work/factory.out"; echo "lwip_netns: FAIL: hubkey-factory $*"; exit 1; }; }

cloud start --port "$CLOUD_PORT" --hubs 1 >"$work/cloud.out" 2>&1 ||
  { cat "$work/cloud.out"; echo "lwip_netns: FAIL: hubkey-cloud did not start"; exit 1; }
# The device's minimum retry-after: the cold boot polls DPS once after 1 s.
cloud config set retry-after 1 >/dev/null && cloud config set registration-rate 0 >/dev/null ||
  { echo "lwip_netns: FAIL: cloud config"; exit 1; }
scope=$(cloud status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["id_scope"])')
ca=$work/ca
chip=$work/chip.emu
factory ca init --ca "$ca"
factory chip configure --chip "emu:$chip"
factory chip provision --chip "emu:$chip" --ca "$ca"
factory enroll --cloud "$cloud_dir" group --ca "$ca"

failures=0
for kind in cold warm; do
  out=$(in_ns "$LWIP_BOOT" --tap "$TAP" --ip "$LWIP_IP" --peer "$HOST_IP" --chip "$chip" \
        --certdefs "$ca" --trust "$cloud_dir/pki/server-ca.pem" --id-scope "$scope" \
        --dps dps.hubkey.test --cloud-port "$CLOUD_PORT" --timeout-ms 60000 2>"$work/boot.err")
  rc=$?
  echo "lwip_netns: $kind boot: $out"
  got=$(printf '%s' "$out" | python3 -c 'import json, sys; d = json.loads(sys.stdin.read() or "{}"); print(d.get("kind", "") if d.get("ok") else "failed")' 2>/dev/null)
  if [ "$rc" -ne 0 ] || [ "$got" != "$kind" ]; then
    cat "$work/boot.err"
    echo "lwip_netns: FAIL: the $kind boot (exit $rc, got '$got')"
    failures=$((failures + 1))
    [ -f "$cloud_dir/mosquitto.log" ] && tail -n 20 "$cloud_dir/mosquitto.log"
  fi
done
[ "$failures" -eq 0 ] && echo "lwip_netns: cold and warm boot through ports/lwip-sockets: ok"
exit $((failures != 0))
