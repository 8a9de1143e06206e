#!/usr/bin/env bash
# End-to-end tests of the hubkey agent against a real hubkey-cloud (Mosquitto
# with the DPS/IoT Hub plugin) and an emulated ATECC608A made by
# hubkey-factory.
#
#   e2e.sh SCENARIO
#
# Environment: HUBKEY, HUBKEY_CLOUD, HUBKEY_FACTORY (the three programs).
# Every scenario makes its own temporary directory, starts its own cloud on a
# free loopback port and stops it on exit, also on failure. Nothing waits for
# time to pass: the script polls for what it expects (agent output, cloud
# state) with a bounded deadline, and the agent and cloud are given short
# retry timings.
set -uo pipefail

scenario=${1:?usage: e2e.sh SCENARIO}
: "${HUBKEY:?}" "${HUBKEY_CLOUD:?}" "${HUBKEY_FACTORY:?}"

work=$(mktemp -d -t hubkey-e2e.XXXXXX)
cloud_dir=$work/cloud
# `run` listens on a local socket in the runtime directory by default: each
# scenario has its own, so parallel scenarios never meet there.
export XDG_RUNTIME_DIR=$work/xdg
unset RUNTIME_DIRECTORY
mkdir -m 0700 "$XDG_RUNTIME_DIR"
bg_pids=()
failures=0

cleanup() {
  for pid in "${bg_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${bg_pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  "$HUBKEY_CLOUD" --dir "$cloud_dir" stop >/dev/null 2>&1
  if [ "$failures" -ne 0 ] && [ -f "$cloud_dir/mosquitto.log" ]; then
    echo "--- last lines of the broker log:"
    tail -n 20 "$cloud_dir/mosquitto.log"
  fi
  # With the instrumented plugin (tests/cloud/sanitized-mosquitto) a
  # sanitizer report in the broker's output fails the scenario.
  local sanitizer=0
  if [ -f "$cloud_dir/mosquitto.out" ] && grep -qE \
      'ERROR: (Address|Leak)Sanitizer|AddressSanitizer:DEADLYSIGNAL|runtime error:' \
      "$cloud_dir/mosquitto.out"; then
    printf '[%s] FAIL: sanitizer report from the broker plugin:\n' "$scenario" >&2
    cat "$cloud_dir/mosquitto.out" >&2
    sanitizer=1
  fi
  rm -rf "$work"
  if [ "$sanitizer" -ne 0 ]; then
    exit 1
  fi
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$scenario" "$*"; }
fail() {
  printf '[%s] FAIL: %s\n' "$scenario" "$*" >&2
  failures=$((failures + 1))
}
die() {
  fail "$@"
  exit 1
}

# Runs "$@", expecting exit code $1 (first argument); keeps the output in
# $work/last.out and shows it on a mismatch.
expect_rc() {
  local want=$1
  shift
  "$@" >"$work/last.out" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    cat "$work/last.out"
    fail "expected exit code $want, got $rc: $*"
    return 1
  fi
  return 0
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cloud() { "$HUBKEY_CLOUD" --dir "$cloud_dir" "$@"; }

json_field() { # json_field FIELD  (reads one JSON object on stdin)
  python3 -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"
}

# DPS registrations the cloud counted for the chip's registration ID.
reg_count() {
  cloud registrations --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["reg_id"].lower() == sys.argv[1].lower()]
print(rows[0]["count"] if rows else 0)' "$reg_id"
}

telemetry_count() { # messages the cloud stored from the device with body $1
  cloud telemetry --json --device "$reg_id" --limit 1000 | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r.get("body") == sys.argv[1]))' "$1"
}

telemetry_arrived() { [ "$(telemetry_count "$1")" -ge 1 ]; }

# wait_for TIMEOUT_S COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.05
  done
  return 0
}

file_has() { grep -q -- "$2" "$1"; }

# Waits for a background agent to exit and returns its exit code.
wait_agent() {
  local pid=$1 rc
  wait "$pid"
  rc=$?
  local keep=()
  for p in "${bg_pids[@]}"; do
    [ "$p" != "$pid" ] && keep+=("$p")
  done
  bg_pids=("${keep[@]}")
  return $rc
}

# ---- set-up: cloud, CA, chip, group enrollment ----

port=$(free_port)
cloud start --port "$port" --hubs 2 >"$work/cloud-start.out" 2>&1 ||
  { cat "$work/cloud-start.out"; die "hubkey-cloud start failed"; }
scope=$(cloud status --json | json_field id_scope)
[ -n "$scope" ] || die "no ID scope from hubkey-cloud status"
# Short retry timings, except in the scenario that checks the cloud's own
# default retry-after.
if [ "$scenario" != retry_after_default ]; then
  cloud config set retry-after 0 >/dev/null || die "config set retry-after"
fi

"$HUBKEY_FACTORY" ca init --ca "$work/ca" >"$work/factory.out" 2>&1 || { cat "$work/factory.out"; die "ca init"; }
"$HUBKEY_FACTORY" chip configure --chip "emu:$work/chip.emu" >>"$work/factory.out" 2>&1 || { cat "$work/factory.out"; die "chip configure"; }
"$HUBKEY_FACTORY" chip provision --chip "emu:$work/chip.emu" --ca "$work/ca" >>"$work/factory.out" 2>&1 || { cat "$work/factory.out"; die "chip provision"; }
"$HUBKEY_FACTORY" enroll --cloud "$cloud_dir" group --ca "$work/ca" >>"$work/factory.out" 2>&1 || { cat "$work/factory.out"; die "enroll"; }
group=$(cloud enroll group list --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["name"])')

agent_cmd=("$HUBKEY" --chip "emu:$work/chip.emu" --certdefs "$work/ca" --id-scope "$scope"
  --dps dps.hubkey.test --cloud-address "127.0.0.1:$port" --trust "$cloud_dir/pki/server-ca.pem"
  --reconnect-min 200ms --reconnect-max 1s --reconnect-jitter 100ms --timeout 60s)
agent() { "${agent_cmd[@]}" "$@"; }

reg_id=$(agent status --json | json_field registration_id)
[ -n "$reg_id" ] || die "no registration ID from hubkey status"

current_hub() { agent status --json | json_field hub; }
other_hub() { if [ "$1" = hub-1.hubkey.test ]; then echo hub-2.hubkey.test; else echo hub-1.hubkey.test; fi; }
move_enrollment_to() { cloud enroll group add "$group" --cert "$work/ca/chain.pem" --hubs "$1" >/dev/null; }

# Starts the agent in the background with --json output in $work/$1.json.
agent_bg() {
  local name=$1
  shift
  # The program itself in the background (not a shell function), so that
  # $! is its process and signals reach it.
  "${agent_cmd[@]}" --json "$@" >"$work/$name.json" 2>"$work/$name.err" &
  bg_pids+=($!)
  last_pid=$!
}

# ---- scenarios ----

cold_warm() {
  expect_rc 4 agent status || return
  expect_rc 0 agent provision || return
  file_has "$work/last.out" "cold boot" || fail "first boot is not cold"
  [ "$(reg_count)" = 1 ] || fail "after a cold boot the cloud counts $(reg_count) registrations, expected 1"
  hub=$(current_hub)
  [ -n "$hub" ] || fail "no record after provisioning"
  expect_rc 0 agent provision || return
  file_has "$work/last.out" "warm boot" || fail "second boot is not warm"
  ! file_has "$work/last.out" "dps-connect" || fail "warm boot contacted DPS"
  [ "$(reg_count)" = 1 ] || fail "warm boot registered with DPS (count $(reg_count))"
  expect_rc 0 agent send '{"n":1}' 'plain text' || return
  wait_for 10 telemetry_arrived '{"n":1}' || fail "telemetry did not reach the cloud"
  [ "$(telemetry_count 'plain text')" -ge 1 ] || fail "text telemetry did not reach the cloud"
  printf 'stdin line 1\nstdin line 2' | agent send - >"$work/last.out" 2>&1 ||
    { cat "$work/last.out"; fail "send - failed"; }
  [ "$(telemetry_count 'stdin line 1')" -ge 1 ] && [ "$(telemetry_count 'stdin line 2')" -ge 1 ] ||
    fail "lines from standard input (the last one without a newline) were not all sent"
  expect_rc 0 agent forget || return
  expect_rc 4 agent status || return
  expect_rc 0 agent provision || return
  file_has "$work/last.out" "cold boot" || fail "boot after forget is not cold"
  [ "$(reg_count)" = 2 ] || fail "after forget + provision the count is $(reg_count), expected 2"
}

reprovision_disabled() {
  expect_rc 0 agent provision || return
  hub=$(current_hub)
  cloud device disable "$reg_id" --hub "$hub" >/dev/null || return
  # The hub refuses: one DPS registration at once (first time since boot),
  # the hub refuses the fresh assignment too, the agent gives up (6).
  expect_rc 6 agent provision --reprovision-interval 1h || return
  file_has "$work/last.out" "dps-register" || fail "no re-registration after the hub refused"
  [ "$(reg_count)" = 2 ] || fail "expected exactly one re-registration, the cloud counts $(reg_count)"
  [ "$(current_hub)" = "$hub" ] || fail "the record changed although the assignment did not"
  # A running agent keeps retrying the hub, never DPS again within the interval.
  agent_bg run run --reprovision-interval 1h
  wait_for 20 file_has "$work/run.json" '"event":"assigned"' || fail "running agent did not re-register"
  wait_for 20 file_has "$work/run.json" 'HK_ERR_MQTT_REFUSED' || fail "running agent saw no refusal"
  cloud device enable "$reg_id" --hub "$hub" >/dev/null || return
  wait_for 20 file_has "$work/run.json" '"next":"ready"' || fail "agent did not reconnect after enable"
  [ "$(reg_count)" = 3 ] || fail "running agent registered $(($(reg_count) - 2)) times, expected 1"
  kill -TERM "$last_pid"
  wait_agent "$last_pid" || { tail -n 5 "$work/run.json" "$work/run.err"; fail "run did not exit 0 on SIGTERM"; }
}

reprovision_deleted() {
  expect_rc 0 agent provision || return
  hub=$(current_hub)
  cloud device remove "$reg_id" --hub "$hub" >/dev/null || return
  expect_rc 0 agent provision || return
  file_has "$work/last.out" "dps-register" || fail "no re-registration after the device was deleted"
  [ "$(reg_count)" = 2 ] || fail "expected one re-registration, the cloud counts $(reg_count)"
  cloud devices --json | grep -q "$reg_id" || fail "the hub identity was not re-created"
}

# The hub refuses the device's certificate in the TLS handshake (an alert,
# before any MQTT): that is a refusal like a CONNACK refusal, so the flow goes
# back to DPS at once. The hub's host name is routed to openssl s_server,
# which presents the cloud's own server certificate (the device trusts it)
# but accepts only client certificates issued by a CA the device does not
# chain to, and ends the handshake with alert unknown_ca.
reprovision_tls_rejected() {
  expect_rc 0 agent provision || return
  hub=$(current_hub)
  [ -n "$hub" ] || { fail "no hub after provisioning"; return; }
  local rport
  rport=$(free_port)
  mkfifo "$work/s_server.in"
  # The FIFO stays open for writing on fd 3, so s_server's stdin never ends.
  exec 3<>"$work/s_server.in"
  openssl s_server -accept "127.0.0.1:$rport" -tls1_2 \
    -cert "$cloud_dir/pki/server.pem" -key "$cloud_dir/pki/server.key" \
    -Verify 1 -verify_return_error -CAfile "$cloud_dir/pki/server-ca.pem" \
    <"$work/s_server.in" >"$work/s_server.out" 2>&1 &
  bg_pids+=($!)
  wait_for 20 file_has "$work/s_server.out" "ACCEPT" || { fail "openssl s_server did not start"; return; }
  # At most one DPS registration per hour: the hub's refusal may use it at once.
  expect_rc 6 agent provision --connect "$hub=127.0.0.1:$rport" --reprovision-interval 1h \
    --timeout 30s || return
  grep -q "hub-connect.*HK_ERR_TLS_CLIENT_REJECTED" "$work/last.out" ||
    fail "the hub's TLS alert was not reported as HK_ERR_TLS_CLIENT_REJECTED at hub-connect"
  file_has "$work/last.out" "dps-register" || fail "no re-registration after the hub's TLS refusal"
  [ "$(reg_count)" = 2 ] || fail "expected exactly one re-registration, the cloud counts $(reg_count)"
  [ "$(current_hub)" = "$hub" ] || fail "the record changed although the assignment did not"
}

# The cloud as it comes (no retry-after configured): the 202 "assigning"
# answer carries the cloud's default retry-after, 1 s, in its topic
# ($dps/registrations/res/202/?$rid=..&retry-after=1), and the agent polls no
# earlier than that after the 202 arrived.
retry_after_default() {
  cloud config show --json | python3 -c '
import json, sys
v = [k["set"] for k in json.load(sys.stdin) if k["name"] == "retry-after"]
sys.exit(0 if v == [False] else 1)' || fail "retry-after is configured; this scenario needs the default"
  "${agent_cmd[@]}" --json provision >"$work/prov.json" 2>"$work/prov.err" ||
    { tail -n 20 "$work/prov.json" "$work/prov.err"; fail "provision failed"; return; }
  python3 - "$work/prov.json" <<'PY' || fail "retry-after of the 202 answer not sent or not honoured"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
dps = [e for e in ev if e.get("event") == "dps-response"]
i = next((k for k, e in enumerate(dps) if e["status"] == 202), None)
if i is None or i + 1 >= len(dps):
    sys.exit("no 202 answer followed by another answer: %s" % dps)
ra = dps[i]["retry_after_s"]
if ra != 1:
    sys.exit("the 202 answer said retry-after=%s, the cloud's default is 1" % ra)
gap = dps[i + 1]["t"] - dps[i]["t"]
if gap < ra:
    sys.exit("polled %.3f s after the 202, before retry-after=%d s" % (gap, ra))
print("202 with retry-after=%d, next answer %.3f s later" % (ra, gap))
PY
}

reassign() {
  expect_rc 0 agent provision || return
  from=$(current_hub)
  to=$(other_hub "$from")
  move_enrollment_to "$to" || return
  # The operator removes the device from the old hub: the agent finds out
  # from the refusal, registers again and moves.
  cloud device remove "$reg_id" --hub "$from" >/dev/null || return
  expect_rc 0 agent send moved || return
  [ "$(current_hub)" = "$to" ] || fail "record says $(current_hub), expected $to"
  [ "$(reg_count)" = 2 ] || fail "expected one re-registration, the cloud counts $(reg_count)"
  wait_for 10 telemetry_arrived moved || fail "telemetry did not arrive at the new hub"
  # An explicit --force moves it back without any refusal.
  move_enrollment_to "$from" || return
  expect_rc 0 agent provision --force || return
  [ "$(current_hub)" = "$from" ] || fail "--force did not move the device back to $from"
}

dps_429() {
  expect_rc 0 agent provision || return
  # One poll per 15 s: the second provision's poll comes within 15 s of the
  # first one's even on a loaded machine (3 s did not always), and the
  # retry-after it gets is what is left of the window.
  cloud config set poll-limit 1 >/dev/null
  cloud config set poll-window-ms 15000 >/dev/null
  expect_rc 0 agent forget || return
  expect_rc 0 agent --json provision || return
  file_has "$work/last.out" '"status":429' || fail "no 429 seen (poll limit 1 per 15 s)"
  [ "$(reg_count)" = 2 ] || fail "throttling caused extra registrations (count $(reg_count))"
}

dps_5xx() {
  cloud fault set error-rate 1 >/dev/null
  agent_bg p provision
  wait_for 20 file_has "$work/p.json" '"status":500' || fail "no 500 seen with error-rate 1"
  cloud fault clear >/dev/null
  wait_agent "$last_pid" || { cat "$work/p.json" "$work/p.err"; fail "provision failed after the 5xx ended"; return; }
  [ "$(reg_count)" -le 2 ] || fail "5xx answers caused $(reg_count) registrations"
  [ -n "$(current_hub)" ] || fail "not provisioned"
}

# The connection cut at one named step (the cloud's drop knob); the device
# must end provisioned with at most one extra registration and its message
# delivered.
saw_cut() { grep '"result":"HK_ERR_' "$1" | grep -qv HK_ERR_RECORD_EMPTY; }

ready_twice() { [ "$(grep -c '"next":"ready"' "$1")" -ge 2 ]; }

cut_at() {
  local step=$1
  cloud fault set drop "$step" >/dev/null
  if [ "$step" = hub-twin ]; then
    # The twin GET leaves after READY, so a send can be done before it:
    # run stays connected until the cut and the session after it.
    agent_bg cut run
    wait_for 30 saw_cut "$work/cut.json" || fail "no connection failure seen with drop at $step"
    cloud fault clear >/dev/null
    wait_for 30 ready_twice "$work/cut.json" || fail "no session again after the cut at $step"
    kill -TERM "$last_pid"
    wait_agent "$last_pid" || { cat "$work/cut.err"; fail "run did not stop cleanly after the cut"; }
    [ -n "$(current_hub)" ] || fail "not provisioned after a cut at $step"
    [ "$(reg_count)" = 1 ] || fail "cut at $step: $(reg_count) registrations, expected 1"
    return
  fi
  agent_bg cut send "after cut at $step"
  # The first connection failure (leaving the record state without a record
  # is not one: the fault must stay set until the cut really happened).
  if ! wait_for 30 saw_cut "$work/cut.json"; then
    fail "no connection failure seen with drop at $step"
  fi
  cloud fault clear >/dev/null
  if ! wait_agent "$last_pid"; then
    cat "$work/cut.json" "$work/cut.err"
    fail "send failed after a cut at $step"
    return
  fi
  [ -n "$(current_hub)" ] || fail "not provisioned after a cut at $step"
  local n
  n=$(reg_count)
  [ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "cut at $step: $n registrations, expected 1 or 2"
  # After the 202 the operation is polled on the next connection, never
  # registered again.
  if [ "$step" = dps-poll ]; then
    [ "$n" = 1 ] || fail "cut at $step (after the 202): $n registrations, expected 1"
  fi
  wait_for 10 telemetry_arrived "after cut at $step" ||
    fail "message not delivered after a cut at $step"
}

# 3 %: a boot is about 40 chip commands in a few wakes, few enough that
# 1 % left some seeds without a single fault.
chip_faults() {
  local seed total_faults=0
  for seed in 1 2 3; do
    expect_rc 0 agent forget || return
    expect_rc 0 agent --json --chip-faults "30000,$seed" send "faults $seed" || {
      fail "the flow failed with 3 % chip faults (seed $seed)"
      continue
    }
    local faults
    faults=$(grep '"event":"summary"' "$work/last.out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["chip"]["faults"])')
    [ "${faults:-0}" -ge 1 ] || fail "no chip fault was injected (seed $seed): the test would prove nothing"
    total_faults=$((total_faults + ${faults:-0}))
    wait_for 10 telemetry_arrived "faults $seed" || fail "message lost (seed $seed)"
  done
  [ "$(reg_count)" -le 6 ] || fail "chip faults caused $(reg_count) registrations for 3 boots"
  log "$total_faults chip faults injected over 3 cold boots"
}

# Power fails inside the record write (the N-th Write command of the run,
# after K of its bytes): the chip must keep the old or the new assignment,
# never lose both, and the next boot must end on the new hub.
power_loss() {
  expect_rc 0 agent provision || return
  local n k rc before target losses=0
  for n in 1 2 3; do
    for k in 0 17; do
      before=$(current_hub)
      target=$(other_hub "$before")
      move_enrollment_to "$target" || return
      agent --chip-power-loss "$n,$k" provision --force >"$work/last.out" 2>&1
      rc=$?
      [ "$rc" -eq 3 ] && losses=$((losses + 1))
      if [ "$rc" -ne 3 ] && [ "$rc" -ne 0 ]; then
        cat "$work/last.out"
        fail "power loss at write $n after $k bytes: exit $rc (expected 3, or 0 when the write needed fewer Writes)"
      fi
      expect_rc 0 agent status || { fail "record lost after power loss at write $n, $k bytes"; continue; }
      now=$(current_hub)
      [ "$now" = "$before" ] || [ "$now" = "$target" ] ||
        fail "record holds $now after power loss, neither $before nor $target"
      expect_rc 0 agent provision || { fail "no recovery after power loss at write $n, $k bytes"; continue; }
      [ "$(current_hub)" = "$target" ] || fail "after recovery the record says $(current_hub), expected $target"
    done
  done
  [ "$losses" -ge 2 ] || fail "power was lost in only $losses runs: the record write was not hit"
  log "power lost in $losses of 6 record writes; every time the old or new record survived"
}

# The registration custom payload: sent by the device, and the enrollment's
# payload (standing in for a custom allocation's reply) received back.
payload() {
  cloud enroll group add "$group" --cert "$work/ca/chain.pem" --payload '{"site":"lab-7"}' >/dev/null ||
    return
  expect_rc 0 agent --json --payload '{"model":"sensor-2"}' provision || return
  grep '"event":"assigned"' "$work/last.out" | python3 -c '
import json, sys
e = json.load(sys.stdin)
sys.exit(0 if e.get("payload") == {"site": "lab-7"} else 1)' ||
    { cat "$work/last.out"; fail "the payload DPS returned is not in the assigned event"; }
  expect_rc 1 agent --payload '{"model":' provision || return
}

# The development software key (soft:KEY,CERT,SIGNER): a device key and
# certificate from a test CA enrolled as a group; the record lives in a file.
softkey() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$work/soft-ca.key" -subj "/CN=hubkey soft test CA" -days 30 \
    -out "$work/soft-ca.pem" 2>/dev/null || { fail "openssl: test CA"; return; }
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/soft.key" 2>/dev/null || return
  openssl req -new -key "$work/soft.key" -subj "/CN=soft-device-1" -out "$work/soft.csr" \
    2>/dev/null || return
  openssl x509 -req -in "$work/soft.csr" -CA "$work/soft-ca.pem" -CAkey "$work/soft-ca.key" \
    -CAcreateserial -days 30 -out "$work/soft.pem" 2>/dev/null || { fail "openssl: device"; return; }
  cloud enroll group add soft-group --cert "$work/soft-ca.pem" >/dev/null || return
  local soft=("$HUBKEY" --chip "soft:$work/soft.key,$work/soft.pem,$work/soft-ca.pem" --id-scope "$scope"
    --dps dps.hubkey.test --cloud-address "127.0.0.1:$port" --trust "$cloud_dir/pki/server-ca.pem"
    --timeout 60s)
  expect_rc 4 "${soft[@]}" status || return
  expect_rc 0 "${soft[@]}" send soft-hello || return
  [ -f "$work/soft.key.record" ] || fail "no record file next to the key"
  expect_rc 0 "${soft[@]}" --json status || return
  grep -q '"registration_id":"soft-device-1"' "$work/last.out" || fail "wrong registration ID"
  grep -q '"provisioned":true' "$work/last.out" || fail "soft key not provisioned"
  expect_rc 0 "${soft[@]}" provision || return
  file_has "$work/last.out" "warm boot" || fail "second soft boot is not warm"
  grep -q "PRIVATE KEY" "$work/last.out" && fail "key material in the output"
  expect_rc 2 "$HUBKEY" --chip "soft:$work/missing.key,$work/soft.pem" status
}

run_session() {
  expect_rc 0 agent provision || return
  local fifo=$work/stdin
  mkfifo "$fifo"
  "${agent_cmd[@]}" --json --method-command 'cat >/dev/null; echo "{\"method\":\"$1\"}"' \
    --report '{"fw":"1.0"}' run <"$fifo" >"$work/run.json" 2>"$work/run.err" &
  bg_pids+=($!)
  local pid=$!
  exec 7>"$fifo"
  wait_for 20 file_has "$work/run.json" '"next":"ready"' || { fail "run did not connect"; return; }
  echo '{"line":1}' >&7
  wait_for 10 telemetry_arrived '{"line":1}' || fail "stdin line not sent as telemetry"
  cloud c2d send "$reg_id" "hello device" --prop k=v >/dev/null || fail "c2d send"
  wait_for 10 file_has "$work/run.json" '"event":"c2d"' || fail "C2D not printed"
  file_has "$work/run.json" 'hello device' || fail "C2D payload not printed"
  cloud twin set "$reg_id" '{"rate":7}' >/dev/null || fail "twin set"
  wait_for 10 file_has "$work/run.json" '"event":"desired"' || fail "desired update not printed"
  file_has "$work/run.json" '"event":"twin"' || fail "twin document not printed"
  wait_for 10 file_has "$work/run.json" '"event":"reported"' || fail "reported patch not acknowledged"
  cloud twin show "$reg_id" | grep -q '"fw"' || fail "reported properties not in the cloud's twin"
  cloud method invoke "$reg_id" reboot '{"delay":1}' --timeout 10 >"$work/method.out" ||
    fail "method invoke failed"
  grep -q '"method": *"reboot"' "$work/method.out" || { cat "$work/method.out"; fail "method answer is not the command's output"; }
  exec 7>&-
  kill -TERM "$pid"
  wait_agent "$pid" || { tail -n 5 "$work/run.json" "$work/run.err"; fail "run did not exit 0 on SIGTERM"; }
}

# A trust bundle on the enrollment: DPS returns it, the agent keeps it and
# trusts it (instead of --trust) for the hub connection. A bundle of an
# unrelated CA makes the hub connection fail as untrusted, which shows the
# bundle is what the agent uses; the cloud's server CA makes it work.
trust_bundle() {
  cloud enroll group add "$group" --cert "$work/ca/chain.pem" --trust-bundle "$work/ca/root.pem" \
    >/dev/null || { fail "enroll with --trust-bundle"; return; }
  agent --json --timeout 3s send 'not trusted' >"$work/last.out" 2>&1
  local rc=$?
  [ "$rc" -ne 0 ] || fail "the hub was trusted through a bundle that does not hold its CA"
  grep '"event":"assigned"' "$work/last.out" | head -n 1 | grep -q '"trust_bundle_certificates":1' ||
    { cat "$work/last.out"; fail "the agent did not report keeping the bundle of 1 certificate"; }
  file_has "$work/last.out" HK_ERR_TLS_UNTRUSTED || fail "the hub connection did not use the bundle"
  [ "$(telemetry_count 'not trusted')" = 0 ] || fail "a message went through an untrusted hub"
  cloud enroll group add "$group" --cert "$work/ca/chain.pem" \
    --trust-bundle "$cloud_dir/pki/server-ca.pem" >/dev/null || return
  expect_rc 0 agent forget || return
  expect_rc 0 agent --json send 'via bundle' || return
  grep '"event":"assigned"' "$work/last.out" | grep -q '"trust_bundle_certificates":1' ||
    fail "the agent did not report keeping the bundle"
  wait_for 10 telemetry_arrived 'via bundle' || fail "telemetry over the bundle-trusted hub did not arrive"
}

cli_errors() {
  expect_rc 1 "$HUBKEY" || return
  expect_rc 1 "$HUBKEY" frobnicate
  expect_rc 1 "$HUBKEY" --chip nope:x status
  expect_rc 1 "$HUBKEY" --chip "emu:$work/chip.emu" --timeout 5parsecs provision
  expect_rc 1 "$HUBKEY" --chip "emu:$work/chip.emu" --connect nohost provision
  expect_rc 1 "$HUBKEY" --chip "emu:$work/chip.emu" provision # no ID scope
  expect_rc 3 "$HUBKEY" --chip "emu:$work/missing.emu" --certdefs "$work/ca" status
  expect_rc 3 "$HUBKEY" --chip "i2c:$work/no-such-adapter@0x60" --certdefs "$work/ca" status
  file_has "$work/last.out" "no-such-adapter" || fail "the I2C error does not name the adapter"
  expect_rc 2 "$HUBKEY" --chip "emu:$work/chip.emu" --certdefs "$work/nowhere" status
  expect_rc 2 agent --trust "$work/missing.pem" provision
  printf 'garbage\n' >"$work/bad.pem"
  expect_rc 2 agent --trust "$work/bad.pem" provision
  printf 'id-scope %s\nno-such-option 1\n' "$scope" >"$work/bad.conf"
  expect_rc 1 "$HUBKEY" --config "$work/bad.conf" status
  # Nothing listens on this port: a timeout, with the reason named.
  local closed
  closed=$(free_port)
  expect_rc 5 "$HUBKEY" --chip "emu:$work/chip.emu" --certdefs "$work/ca" --id-scope "$scope" \
    --dps dps.hubkey.test --cloud-address "127.0.0.1:$closed" --trust "$cloud_dir/pki/server-ca.pem" \
    --timeout 2s provision
  file_has "$work/last.out" HK_ERR_CONNECT || fail "timeout message does not name the connect error"
  # The built-in Azure roots do not trust the local cloud: TLS names it.
  expect_rc 5 "$HUBKEY" --chip "emu:$work/chip.emu" --certdefs "$work/ca" --id-scope "$scope" \
    --dps dps.hubkey.test --cloud-address "127.0.0.1:$port" --timeout 2s provision
  file_has "$work/last.out" HK_ERR_TLS_UNTRUSTED || fail "untrusted server not reported"
  # A configuration file with the same settings as the command line works,
  # and certdefs next to it are found.
  cp "$work/ca/device.certdef" "$work/ca/signer.certdef" "$work/"
  cat >"$work/hubkey.conf" <<EOF
# agent configuration
chip = emu:$work/chip.emu
id-scope $scope
dps dps.hubkey.test
cloud-address 127.0.0.1:$port
trust $cloud_dir/pki/server-ca.pem
json
EOF
  expect_rc 0 "$HUBKEY" --config "$work/hubkey.conf" provision || return
  file_has "$work/last.out" '"event":"summary"' || fail "--json from the configuration file not applied"
}

# A chip file that cannot be saved: every command that changes the chip says
# so (file and reason), exits 3, and never reports the change as kept.
readonly_chip() {
  chmod 0444 "$work/chip.emu"
  expect_rc 3 agent provision
  file_has "$work/last.out" "chip file $work/chip.emu cannot be saved: Permission denied" ||
    fail "the failed save does not name the file and the reason"
  ! file_has "$work/last.out" "record saved" || fail "a record that was not saved is reported saved"
  ! file_has "$work/last.out" "provisioned:" || fail "a provisioning that was not kept is reported done"
  chmod 0600 "$work/chip.emu"
  expect_rc 4 agent status || fail "the record reached the read-only chip file"
  expect_rc 0 agent provision || return
  [ "$(reg_count)" = 2 ] || fail "expected 2 registrations, the cloud counts $(reg_count)"
  chmod 0444 "$work/chip.emu"
  expect_rc 3 agent forget
  file_has "$work/last.out" "cannot be saved: Permission denied" || fail "forget: the failed save is not named"
  ! file_has "$work/last.out" "forgot hub" || fail "forget reports success although nothing was saved"
  chmod 0600 "$work/chip.emu"
  expect_rc 0 agent status || fail "the forgotten record reached the read-only chip file"
  # A directory that cannot be written (root writes anywhere: only checked
  # for other users).
  if [ "$(id -u)" -ne 0 ]; then
    agent forget >/dev/null 2>&1
    chmod 0555 "$work"
    expect_rc 3 agent provision
    chmod 0755 "$work"
    file_has "$work/last.out" "cannot be saved: Permission denied" || fail "read-only directory not reported"
    expect_rc 4 agent status || fail "a record reached a read-only directory"
  fi
}

# A chip from a CA the cloud does not know: the broker refuses its
# certificate in the handshake (alert unknown_ca). The agent names the
# alert, stops after HK_DEVICE_REFUSALS_MAX (3) refusals in a row with exit 6,
# long before --timeout, and never registers.
untrusted_ca() {
  "$HUBKEY_FACTORY" ca init --ca "$work/ca2" >>"$work/factory.out" 2>&1 || { cat "$work/factory.out"; die "ca init ca2"; }
  "$HUBKEY_FACTORY" chip configure --chip "emu:$work/chip2.emu" >>"$work/factory.out" 2>&1 || die "chip2 configure"
  "$HUBKEY_FACTORY" chip provision --chip "emu:$work/chip2.emu" --ca "$work/ca2" >>"$work/factory.out" 2>&1 || die "chip2 provision"
  local start=$SECONDS
  expect_rc 6 "$HUBKEY" --chip "emu:$work/chip2.emu" --certdefs "$work/ca2" --id-scope "$scope" \
    --dps dps.hubkey.test --cloud-address "127.0.0.1:$port" --trust "$cloud_dir/pki/server-ca.pem" \
    --timeout 30s provision
  [ $((SECONDS - start)) -lt 25 ] || fail "the refusal took $((SECONDS - start)) s (a timeout, not a refusal)"
  file_has "$work/last.out" "TLS alert unknown_ca from the server: the server does not trust the device certificate's issuer" ||
    fail "the alert is not named"
  ! file_has "$work/last.out" "closed by peer" || fail "the refusal reads as a closed connection"
  [ "$(grep -c 'HK_ERR_TLS_CLIENT_REJECTED' "$work/last.out")" -ge 3 ] || fail "fewer than 3 refusals before giving up"
  file_has "$work/last.out" "DPS refused the device" || fail "no refusal line"
}

# Certificate definitions that do not match the chip (the two files mixed
# up): the device certificate cannot be rebuilt. status and provision fail
# at once with exit 3 (the identity is not usable), naming the cause;
# nothing is retried, nothing registers.
bad_identity() {
  mkdir -p "$work/swapped"
  cp "$work/ca/signer.certdef" "$work/swapped/device.certdef"
  cp "$work/ca/device.certdef" "$work/swapped/signer.certdef"
  expect_rc 3 agent --certdefs "$work/swapped" status
  file_has "$work/last.out" "cannot be used: HK_ERR_CERT_WRONG_DEF" ||
    fail "status does not say the identity cannot be used"
  local start=$SECONDS
  expect_rc 3 agent --certdefs "$work/swapped" --timeout 30s provision
  [ $((SECONDS - start)) -lt 20 ] || fail "an unusable identity was retried for $((SECONDS - start)) s"
  file_has "$work/last.out" "HK_ERR_CERT" || fail "the certificate error is not named"
  [ "$(reg_count)" = 0 ] || fail "an unusable identity registered"
}

# What the options can refuse is refused when they are read, with the limit
# or the rule; a --force registration that fails is not reported as a cold
# boot that succeeded.
payload_limits() {
  local big
  big=$(python3 -c 'print("\"" + "x" * 862 + "\"")') # 864 bytes
  expect_rc 1 agent --payload "$big" --force provision
  file_has "$work/last.out" "at most 863 fit" || fail "the payload limit is not in the message"
  expect_rc 1 agent --reconnect-min 200ms --reconnect-max 1s --reconnect-jitter 2s provision
  file_has "$work/last.out" "must not exceed --reconnect-max" || fail "the jitter rule is not in the message"
  ! file_has "$work/last.out" "caller bug" || fail "a bad option reads as a caller bug"
  expect_rc 0 agent provision || return
  # DPS unreachable: --force cannot register; the device falls back to the
  # hub of its record, which is not what --force asked for.
  local closed
  closed=$(free_port)
  expect_rc 5 agent --connect "dps.hubkey.test=127.0.0.1:$closed" --dps-deadline 2s --force provision
  file_has "$work/last.out" "DPS registration failed" || fail "the failed registration is not named"
  ! file_has "$work/last.out" "cold boot" || fail "a cold boot is reported that did not happen"
  [ "$(reg_count)" = 1 ] || fail "expected 1 registration, the cloud counts $(reg_count)"
}

# --help after every command and help COMMAND: that command's usage on
# standard output, with the exit codes, exit 0; --version and version print
# the release version of include/hubkey/version.h. Every key of the JSON
# output is snake_case; status and forget print one object.
cli_help() {
  local version
  version=$(sed -n 's/^#define HUBKEY_VERSION "\(.*\)"$/\1/p' "$(dirname "$0")/../../include/hubkey/version.h")
  [ -n "$version" ] || { fail "no HUBKEY_VERSION in version.h"; return; }
  local c form rc
  for c in provision status send run forget; do
    for form in "$c --help" "$c -h" "help $c" "--help $c"; do
      # shellcheck disable=SC2086
      "$HUBKEY" $form >"$work/help.out" 2>"$work/help.err"
      rc=$?
      [ "$rc" = 0 ] || fail "hubkey $form: exit $rc"
      [ ! -s "$work/help.err" ] || fail "hubkey $form wrote to standard error"
      head -n 1 "$work/help.out" | grep -q "^usage: hubkey \[OPTIONS\] $c" ||
        fail "hubkey $form: not the usage of $c: $(head -n 1 "$work/help.out")"
      file_has "$work/help.out" "Exit codes: 0 ok, 1 usage" || fail "hubkey $form lists no exit codes"
    done
  done
  "$HUBKEY" run --help | grep -q -- "--socket PATH|off" || fail "run --help does not name --socket"
  "$HUBKEY" run --help | grep -q -- "--method-command" || fail "run --help does not name --method-command"
  ! "$HUBKEY" status --help | grep -q -- "--method-command" || fail "status --help lists run's options"
  expect_rc 0 "$HUBKEY" --help || return
  file_has "$work/last.out" "help \[COMMAND\]" || fail "--help: no overview"
  expect_rc 1 "$HUBKEY" help frobnicate
  [ "$("$HUBKEY" --version)" = "hubkey $version" ] || fail "--version: $("$HUBKEY" --version), expected hubkey $version"
  [ "$("$HUBKEY" version)" = "hubkey $version" ] || fail "version: $("$HUBKEY" version)"
  [ "$("$HUBKEY" status --version)" = "hubkey $version" ] || fail "--version after a command"
  # eval "$(hubkey-cloud env)" gives the agent every setting of the local
  # cloud: a warm boot reaches the hub with only the chip on the command line.
  expect_rc 0 agent provision || return
  (
    eval "$(cloud env)" || exit 1
    "$HUBKEY" --chip "emu:$work/chip.emu" --certdefs "$work/ca" --timeout 60s provision
  ) >"$work/env.out" 2>&1 || { cat "$work/env.out"; fail "provision with the settings of hubkey-cloud env failed"; }
  file_has "$work/env.out" "warm boot" || fail "provision with hubkey-cloud env: no warm boot"
  HUBKEY_DPS='bad host' "$HUBKEY" --chip "emu:$work/chip.emu" status >"$work/env.out" 2>&1
  [ $? = 1 ] || fail "a bad HUBKEY_DPS is not a usage error"
  file_has "$work/env.out" "HUBKEY_DPS" || fail "a bad HUBKEY_DPS is not named"
  # JSON: snake_case keys everywhere (payloads are the user's and not looked into).
  agent --json status >"$work/status.json"
  agent --json --report '{"fw":"1"}' provision >"$work/prov.json" || { cat "$work/prov.json"; fail "provision"; }
  agent --json send '{"k":1}' >"$work/send.json" || fail "send"
  agent --json forget >"$work/forget.json" || fail "forget"
  python3 - "$work/status.json" "$work/prov.json" "$work/send.json" "$work/forget.json" <<'PY' || fail "JSON keys are not all snake_case"
import json, re, sys
snake = re.compile(r"^[a-z][a-z0-9_]*$")
def walk(v, where):
    if isinstance(v, dict):
        for k, x in v.items():
            if not snake.match(k):
                sys.exit("%s: key %r is not snake_case" % (where, k))
            if k != "payload":
                walk(x, where)
    elif isinstance(v, list):
        for x in v:
            walk(x, where)
for path in sys.argv[1:]:
    lines = [l for l in open(path) if l.strip()]
    if path.endswith(("status.json", "forget.json")) and len(lines) != 1:
        sys.exit("%s: %d lines, expected one object" % (path, len(lines)))
    for l in lines:
        walk(json.loads(l), path)
PY
}

# A wrong ID scope and a registration DPS does not know: the command stops
# (exit 6) with a message that says what to check, and its last progress
# line announces no retry.
refusal_hints() {
  expect_rc 6 agent --id-scope 0ne00WRONG provision || return
  file_has "$work/last.out" "check the ID scope 0ne00WRONG" || { cat "$work/last.out"; fail "wrong ID scope: no hint"; }
  grep -E '^\[' "$work/last.out" | tail -n 1 | grep -q -- "-> giving up" ||
    { cat "$work/last.out"; fail "wrong ID scope: the last progress line announces a retry"; }
  expect_rc 6 agent --json --id-scope 0ne00WRONG provision || return
  grep '"event":"state"' "$work/last.out" | tail -n 1 | grep -q '"stop":true' ||
    fail "JSON: the last state event does not say the command stops"
  ! grep '"event":"state"' "$work/last.out" | tail -n 1 | grep -q '"wait_ms"' ||
    fail "JSON: the last state event announces a wait"
  # run keeps trying, and says once what to check.
  agent_bg run_scope --id-scope 0ne00WRONG run
  wait_for 30 file_has "$work/run_scope.err" "check the ID scope 0ne00WRONG.*(run keeps trying)" ||
    { cat "$work/run_scope.err"; fail "run: no hint after DPS refused the connection"; }
  kill -TERM "$last_pid"
  wait_agent "$last_pid" || fail "run did not exit 0 on SIGTERM"
  [ "$(grep -c "check the ID scope" "$work/run_scope.err")" = 1 ] || fail "run: the hint is repeated"
  # The CA known to the cloud (uploaded, verified) but no enrollment: 401.
  cloud enroll group remove "$group" >/dev/null || return
  cloud ca add "$work/ca/chain.pem" >/dev/null || return
  expect_rc 6 agent provision || return
  file_has "$work/last.out" "DPS does not know registration ID $reg_id" ||
    { cat "$work/last.out"; fail "unknown registration: no hint naming the registration ID"; }
  file_has "$work/last.out" "ID scope $scope has an enrollment" || fail "unknown registration: the ID scope is not named"
  grep -E '^\[' "$work/last.out" | tail -n 1 | grep -q -- "-> giving up" ||
    fail "unknown registration: the last progress line announces a retry"
}

# A DPS host name that does not resolve: the message names the host and the
# option it came from. (The resolver is told not to wait long.)
dps_unresolvable() {
  export RES_OPTIONS="timeout:1 attempts:1"
  expect_rc 5 "$HUBKEY" --chip "emu:$work/chip.emu" --certdefs "$work/ca" --id-scope "$scope" \
    --dps dps-nowhere.invalid --trust "$cloud_dir/pki/server-ca.pem" --timeout 3s provision
  file_has "$work/last.out" "host dps-nowhere.invalid cannot be resolved (--dps" ||
    { cat "$work/last.out"; fail "the unresolved DPS host is not named"; }
  expect_rc 5 agent --connect dps.hubkey.test=dps-elsewhere.invalid --timeout 3s provision
  file_has "$work/last.out" "host dps-elsewhere.invalid cannot be resolved (--connect" ||
    { cat "$work/last.out"; fail "the unresolved --connect address is not named"; }
  expect_rc 5 agent --json --connect dps.hubkey.test=dps-elsewhere.invalid --timeout 2s provision
  file_has "$work/last.out" '"reason":"host dps-elsewhere.invalid cannot be resolved' ||
    fail "JSON: the reason does not name the host"
}

# The local socket of `run`: an application sends telemetry and reported
# properties while the agent is connected; each line gets its answer, in
# order, once the hub has acknowledged. Also: telemetry from standard input
# is acknowledged at the default verbosity, and a method command given as a
# program gets the method name as $1.
local_socket() {
  expect_rc 0 agent provision || return
  printf '#!/bin/sh\ncat >/dev/null\nprintf '"'"'{"method":"%%s","env":"%%s"}\\n'"'"' "$1" "$HUBKEY_METHOD"\n' \
    >"$work/handler.sh"
  chmod 0755 "$work/handler.sh"
  local fifo=$work/stdin sock=$XDG_RUNTIME_DIR/hubkey.sock
  mkfifo "$fifo"
  expect_rc 1 agent --socket-group no-such-group-here run </dev/null
  file_has "$work/last.out" "no-such-group-here: no such group" || fail "an unknown --socket-group is not named"
  "${agent_cmd[@]}" --method-command "$work/handler.sh" --socket-group "$(id -gn)" run \
    <"$fifo" >"$work/run.out" 2>"$work/run.err" &
  bg_pids+=($!)
  local pid=$!
  exec 7>"$fifo"
  wait_for 20 file_has "$work/run.out" "ready .*boot" || { cat "$work/run.out" "$work/run.err"; fail "run did not connect"; return; }
  [ -S "$sock" ] || { cat "$work/run.err"; fail "no socket at $sock (the default under XDG_RUNTIME_DIR)"; return; }
  [ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock"), expected 660"
  [ "$(stat -c %G "$sock")" = "$(id -gn)" ] || fail "socket group $(stat -c %G "$sock"), expected $(id -gn)"
  # A second agent cannot take the socket of a running one.
  expect_rc 2 agent run </dev/null
  file_has "$work/last.out" "another agent listens there" || fail "the second agent does not say the socket is taken"
  # The client: five requests (and a blank line), five answers in order.
  python3 - "$sock" >"$work/client.out" <<'PY' || { cat "$work/client.out"; fail "socket client"; }
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b'{"via":"socket"}\ntelemetry plain via socket\nreported {"app":"2.1"}\n'
          b'frobnicate\n\ntelemetry\n')
buf = b""
while buf.count(b"\n") < 5:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("connection closed after %r" % buf)
    buf += chunk
answers = buf.decode().splitlines()
print("\n".join(answers))
want = ["ok", "ok", "ok version", "error unknown request", "error telemetry needs a message"]
for a, w in zip(answers, want):
    if not a.startswith(w):
        sys.exit("answer %r, expected %r..." % (a, w))
# A client that shuts down its sending side (as socat does at the end of
# its input) still gets its answer, then the agent closes the connection.
h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
h.settimeout(30)
h.connect(sys.argv[1])
h.sendall(b"telemetry half closed")  # the last line needs no newline
h.shutdown(socket.SHUT_WR)
got = b""
while True:
    chunk = h.recv(4096)
    if not chunk:
        break
    got += chunk
print(got.decode().rstrip())
if got != b"ok\n":
    sys.exit("half-closed client: got %r, expected the answer ok and the end" % got)
PY
  wait_for 10 telemetry_arrived '{"via":"socket"}' || fail "JSON telemetry from the socket did not arrive"
  wait_for 10 telemetry_arrived 'plain via socket' || fail "text telemetry from the socket did not arrive"
  wait_for 10 telemetry_arrived 'half closed' || fail "telemetry from the half-closed client did not arrive"
  cloud twin show "$reg_id" | grep -q '"app"' || fail "the reported patch from the socket is not in the twin"
  # Standard input: acknowledged without -v.
  local acks
  acks=$(grep -c "acknowledged by the hub" "$work/run.out")
  echo 'from stdin' >&7
  wait_for 10 telemetry_arrived 'from stdin' || fail "stdin line not sent"
  wait_for 10 test "$(grep -c "acknowledged by the hub" "$work/run.out")" -gt "$acks" ||
    fail "no acknowledgement line at the default verbosity"
  # The method command is a program: its $1 is the method name.
  cloud method invoke "$reg_id" reboot '{}' --timeout 10 >"$work/method.out" || fail "method invoke"
  grep -q '"method": *"reboot"' "$work/method.out" || { cat "$work/method.out"; fail "the program did not get the method name as \$1"; }
  grep -q '"env": *"reboot"' "$work/method.out" || fail "HUBKEY_METHOD not set"
  exec 7>&-
  kill -TERM "$pid"
  wait_agent "$pid" || { tail -n 5 "$work/run.out" "$work/run.err"; fail "run did not exit 0 on SIGTERM"; }
  [ ! -e "$sock" ] || fail "the socket file is left behind"
  # An explicit path that cannot be used stops run with exit 2, naming it.
  expect_rc 2 agent --socket "$work/nowhere/x.sock" run </dev/null
  file_has "$work/last.out" "local socket $work/nowhere/x.sock" || fail "the bad socket path is not named"
  printf 'not a socket' >"$work/file.sock"
  expect_rc 2 agent --socket "$work/file.sock" run </dev/null
  file_has "$work/last.out" "is not a socket" || fail "a regular file at the socket path is not refused"
}

case "$scenario" in
  cold_warm | reprovision_disabled | reprovision_deleted | reprovision_tls_rejected | reassign | \
    dps_429 | dps_5xx | chip_faults | power_loss | payload | softkey | run_session | cli_errors | \
    trust_bundle | retry_after_default | readonly_chip | untrusted_ca | bad_identity | payload_limits | \
    cli_help | refusal_hints | dps_unresolvable | local_socket)
    "$scenario"
    ;;
  cut_dps_connect) cut_at dps-connect ;;
  cut_dps_register) cut_at dps-register ;;
  cut_dps_poll) cut_at dps-poll ;;
  cut_hub_connect) cut_at hub-connect ;;
  cut_hub_twin) cut_at hub-twin ;;
  cut_hub_telemetry) cut_at hub-telemetry ;;
  *) die "unknown scenario $scenario" ;;
esac

if [ "$failures" -ne 0 ]; then
  log "$failures check(s) failed"
  exit 1
fi
log "passed"
exit 0
