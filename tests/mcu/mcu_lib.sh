# hubkey firmware in QEMU against hubkey-cloud: the shared steps of the mcu
# tests (tests/mcu/mcu.sh) and of the firmware demo (scripts/demo-firmware).
# Sourced, not run. The caller sets:
#   HUBKEY_CLOUD HUBKEY_FACTORY HUBKEY_CHIP_BRIDGE   the host programs
#   HUBKEY_FIRMWARE                                  the firmware image (.elf)
#   HUBKEY_FIRMWARE_CA                               the CA directory the image's
#                                                    certificate definitions came from
#   work                                             a private temporary directory
# and calls mcu_cleanup from its EXIT trap. Nothing waits for time to pass:
# every wait polls for what it expects, with a bound.

: "${HUBKEY_CLOUD:?}" "${HUBKEY_FACTORY:?}" "${HUBKEY_CHIP_BRIDGE:?}"
: "${HUBKEY_FIRMWARE:?}" "${HUBKEY_FIRMWARE_CA:?}" "${work:?}"

cloud_dir=$work/cloud
mcu_pids=()
bridge_pid=

# Safe under set -e: processes that already ended are fine.
mcu_cleanup() {
  local pid
  for pid in "${mcu_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${mcu_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  "$HUBKEY_CLOUD" --dir "$cloud_dir" stop >/dev/null 2>&1 || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cloud() { "$HUBKEY_CLOUD" --dir "$cloud_dir" "$@"; }

json_field() { # json_field FIELD  (one JSON object on stdin)
  python3 -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"
}

# wait_for TIMEOUT_S COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
  return 0
}

file_has() { grep -q -- "$2" "$1"; }

# The cloud on a free port, the firmware's CA enrolled as a group, a chip
# configured and provisioned with that CA. Sets port, scope, reg_id.
mcu_setup() {
  port=$(free_port)
  cloud start --port "$port" --hubs 2 >"$work/cloud-start.out" 2>&1 ||
    { cat "$work/cloud-start.out"; return 1; }
  scope=$(cloud status --json | json_field id_scope)
  [ -n "$scope" ] || { echo "no ID scope from hubkey-cloud status"; return 1; }
  cloud config set retry-after 0 >/dev/null || return 1
  "$HUBKEY_FACTORY" chip configure --chip "emu:$work/chip.emu" >"$work/factory.out" 2>&1 &&
    "$HUBKEY_FACTORY" chip provision --chip "emu:$work/chip.emu" --ca "$HUBKEY_FIRMWARE_CA" \
      >>"$work/factory.out" 2>&1 &&
    "$HUBKEY_FACTORY" enroll --cloud "$cloud_dir" group --ca "$HUBKEY_FIRMWARE_CA" \
      >>"$work/factory.out" 2>&1 || { cat "$work/factory.out"; return 1; }
  reg_id=$(sed -n 's/.*registration ID[: ]*\([A-Za-z0-9._:-]*\).*/\1/p' "$work/factory.out" | head -n1)
  [ -n "$reg_id" ] || { cat "$work/factory.out"; echo "no registration ID from hubkey-factory"; return 1; }
  # The firmware's settings: every name goes to the host (10.0.2.2 in
  # QEMU's user network), TLS still checks the real names.
  cat >"$work/fw.conf" <<CONF
# hubkey firmware settings (docs/firmware.md)
id_scope=$scope
dps_host=dps.hubkey.test
port=$port
route=* 10.0.2.2
trust=$cloud_dir/pki/server-ca.pem
telemetry=${MCU_TELEMETRY:-2}
interval_ms=200
reconnect_min_ms=200
reconnect_max_ms=1000
reconnect_jitter_ms=100
# QEMU's CPU is emulated, and slower still on a loaded machine: room for
# the handshakes and the chip line.
connect_timeout_ms=120000
chip_timeout_ms=5000
${MCU_EXTRA_SETTINGS:-}
CONF
}

# The chip bridge on a free port (restartable on the same port). Sets
# bridge_port on the first start.
bridge_start() {
  local listen=127.0.0.1:${bridge_port:-0}
  rm -f "$work/bridge.port"
  "$HUBKEY_CHIP_BRIDGE" --chip "$work/chip.emu" --listen "$listen" --port-file "$work/bridge.port" \
    >>"$work/bridge.out" 2>&1 &
  bridge_pid=$!
  mcu_pids+=("$bridge_pid")
  wait_for 20 test -s "$work/bridge.port" || { cat "$work/bridge.out"; return 1; }
  bridge_port=$(cat "$work/bridge.port")
}

bridge_stop() {
  [ -n "$bridge_pid" ] || return 0
  kill -TERM "$bridge_pid" 2>/dev/null
  wait "$bridge_pid" 2>/dev/null
  bridge_pid=
}

# DPS registrations the cloud counted for the chip's registration ID.
reg_count() {
  cloud registrations --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["reg_id"].lower() == sys.argv[1].lower()]
print(rows[0]["count"] if rows else 0)' "$reg_id"
}

current_hub() {
  cloud devices --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r.get("device_id", "").lower() == sys.argv[1].lower()]
print(rows[0]["hub"] if rows else "")' "$reg_id"
}

# qemu_boot NAME [QEMU-TIMEOUT-S]: one boot of the firmware; the console
# goes to $work/NAME.console. Runs in the background: sets qemu_pid.
qemu_boot_bg() {
  local name=$1 limit=${2:-420}
  : >"$work/$name.console"
  timeout --signal=TERM "$limit" qemu-system-arm -M mps2-an386 -display none -monitor none \
    -serial "file:$work/$name.console" \
    -chardev "socket,id=chip,host=127.0.0.1,port=$bridge_port,reconnect=1,nodelay=on" -serial chardev:chip \
    -nic user,model=lan9118 \
    -semihosting-config "enable=on,target=native,arg=hubkey-fw,arg=$work/fw.conf" \
    ${MCU_QEMU_EXTRA:-} -kernel "$HUBKEY_FIRMWARE" >"$work/$name.qemu" 2>&1 &
  qemu_pid=$!
  mcu_pids+=("$qemu_pid")
}

# qemu_boot NAME: a boot in the foreground; returns QEMU's exit status.
qemu_boot() {
  qemu_boot_bg "$@"
  wait "$qemu_pid"
}
