#!/usr/bin/env bash
# The firmware on a Cortex-M4 (QEMU mps2-an386, lwIP, the chip over a
# serial line to hubkey-chip-bridge) against a real hubkey-cloud.
#
#   mcu.sh SCENARIO      cold_warm | reprovision | bridge_killed
#
# Environment: see tests/mcu/mcu_lib.sh. Each scenario has its own
# temporary directory, cloud, chip and bridge, all stopped on exit.
set -uo pipefail

scenario=${1:?usage: mcu.sh SCENARIO}
work=$(mktemp -d -t hubkey-mcu.XXXXXX)
chmod 755 "$work"
failures=0
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/mcu/mcu_lib.sh
. "$here/mcu_lib.sh"

log() { printf '[%s] %s\n' "$scenario" "$*"; }
fail() {
  printf '[%s] FAIL: %s\n' "$scenario" "$*" >&2
  failures=$((failures + 1))
}
die() {
  fail "$@"
  exit 1
}
show_console() {
  echo "--- console of boot $1:"
  cat "$work/$1.console" 2>/dev/null
  echo "--- qemu:"
  cat "$work/$1.qemu" 2>/dev/null
}

finish() {
  local rc=$?
  if [ "$failures" -ne 0 ] || [ "$rc" -ne 0 ]; then
    [ -f "$work/bridge.out" ] && { echo "--- bridge:"; tail -n 20 "$work/bridge.out"; }
    [ -f "$cloud_dir/mosquitto.log" ] && { echo "--- broker:"; tail -n 20 "$cloud_dir/mosquitto.log"; }
  fi
  mcu_cleanup
  rm -rf "$work"
  if [ "$failures" -ne 0 ]; then
    echo "[$scenario] $failures check(s) failed"
    exit 1
  fi
  exit "$rc"
}
trap finish EXIT

# A boot that must end with status 0 and the summary line.
boot_ok() {
  local name=$1
  qemu_boot "$name"
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    show_console "$name"
    fail "boot $name: QEMU exited $rc, expected 0"
    return 1
  fi
  file_has "$work/$name.console" "summary:" || { show_console "$name"; fail "boot $name: no summary"; return 1; }
  return 0
}

cold_warm() {
  boot_ok cold || return
  file_has "$work/cold.console" "summary: boot=cold registrations=1 acked=2" ||
    { show_console cold; fail "first boot is not a cold boot with one registration and 2 messages"; }
  file_has "$work/cold.console" "dps: assigned to hub-" || fail "no DPS assignment on the console"
  [ "$(reg_count)" = 1 ] || fail "after the cold boot the cloud counts $(reg_count) registrations"
  [ -n "$(current_hub)" ] || fail "the cloud has no hub device for $reg_id"
  boot_ok warm || return
  file_has "$work/warm.console" "summary: boot=warm registrations=0 acked=2" ||
    { show_console warm; fail "second boot on the same chip file is not warm"; }
  ! file_has "$work/warm.console" "dps-connect" || fail "the warm boot contacted DPS"
  [ "$(reg_count)" = 1 ] || fail "the warm boot moved the registration count to $(reg_count)"
  log "cold and warm boots: $(grep -h 'summary:' "$work/cold.console" "$work/warm.console" | tr '\n' ' ')"
}

reprovision() {
  boot_ok cold || return
  hub=$(current_hub)
  [ -n "$hub" ] || { fail "no hub device after the cold boot"; return; }
  cloud device disable "$reg_id" --hub "$hub" >/dev/null || { fail "device disable"; return; }
  # The hub refuses the record's identity: the firmware provisions again
  # through DPS (once: the assignment is the same hub), keeps retrying the
  # hub, and connects once the device is enabled again.
  qemu_boot_bg again
  wait_for 60 file_has "$work/again.console" "dps-connect" ||
    { show_console again; fail "no new DPS registration after the hub refused"; return; }
  wait_for 60 file_has "$work/again.console" "dps: assigned" ||
    { show_console again; fail "the new registration was not assigned"; return; }
  wait_for 60 file_has "$work/again.console" "hub-session -> wait: HK_ERR_MQTT_REFUSED" ||
    wait_for 1 file_has "$work/again.console" "HK_ERR_MQTT_REFUSED" ||
    { show_console again; fail "the hub's refusal is not on the console"; return; }
  cloud device enable "$reg_id" --hub "$hub" >/dev/null || { fail "device enable"; return; }
  wait "$qemu_pid"
  local rc=$?
  [ "$rc" = 0 ] || { show_console again; fail "boot after enable: QEMU exited $rc"; return; }
  file_has "$work/again.console" "summary: boot=cold registrations=1 acked=2" ||
    { show_console again; fail "the reprovisioned boot did not finish its telemetry"; }
  [ "$(reg_count)" = 2 ] || fail "expected exactly one re-registration, the cloud counts $(reg_count)"
}

bridge_killed() {
  # The bridge dies in the middle of the boot (once the first DPS
  # connection is being made: the chip is needed for the TLS signature).
  # The firmware reports chip errors and retries, never faults; with the
  # bridge back on the same port (QEMU reconnects the line) it finishes.
  qemu_boot_bg killed
  wait_for 60 file_has "$work/killed.console" "dps-connect" ||
    { show_console killed; fail "the boot did not reach DPS"; return; }
  bridge_stop
  wait_for 60 grep -Eq "HK_ERR_(IO|SE_)" "$work/killed.console" ||
    { show_console killed; fail "the firmware did not report the dead chip line"; return; }
  ! file_has "$work/killed.console" "HardFault" || fail "the firmware faulted"
  kill -0 "$qemu_pid" 2>/dev/null || { show_console killed; fail "QEMU stopped while the line was dead"; return; }
  bridge_start || { fail "bridge restart"; return; }
  wait "$qemu_pid"
  local rc=$?
  [ "$rc" = 0 ] || { show_console killed; fail "boot with the bridge restarted: QEMU exited $rc"; return; }
  file_has "$work/killed.console" "summary: boot=cold" || { show_console killed; fail "no summary"; }
  ! file_has "$work/killed.console" "HardFault" || fail "the firmware faulted"
}

mcu_setup || die "set-up failed"
bridge_start || die "the chip bridge did not start"
log "cloud on 127.0.0.1:$port (ID scope $scope), chip $reg_id, bridge on 127.0.0.1:$bridge_port"
case "$scenario" in
  cold_warm | reprovision | bridge_killed) "$scenario" ;;
  *) die "unknown scenario $scenario" ;;
esac
