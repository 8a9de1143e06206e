#!/usr/bin/env bash
# The README's commands, run as written: every ```sh block of README.md, in
# order, in one bash shell with `set -e` (a command that fails fails the
# test), in a fresh HOME and working directory, with the built programs
# first on PATH. Blocks fenced ```shell (the install-as-root quick start,
# which `make demo` and `make test` cover) are not run.
#
# The cloud the README starts listens on a random free loopback port: the
# state directory is made first with `hubkey-cloud start --port N` and
# stopped, and `hubkey-cloud start` keeps the port of the last start. Every
# cloud started here is stopped at the end, whatever happened.
#
# usage: readme.sh README.md BIN_DIR
set -euo pipefail

readme=$1
bin=$2
for p in hubkey hubkey-cloud hubkey-factory; do
  [ -x "$bin/$p" ] || { echo "readme: $bin/$p is not built"; exit 1; }
done

work=$(mktemp -d -t hubkey-readme.XXXXXX)
export HOME=$work/home
mkdir -p "$HOME" "$work/cwd"
export PATH="$bin:$PATH"
unset HUBKEY_CLOUD_DIR HUBKEY_FACTORY_CA HUBKEY_CHIP HUBKEY_ID_SCOPE HUBKEY_CERTDEFS

cleanup() {
  "$bin/hubkey-cloud" --dir "$HOME/.hubkey-cloud" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The blocks, each line as written, with a note of where it comes from.
script=$work/readme-commands.sh
awk -v src="$readme" '
  /^```sh[[:space:]]*$/ { inside = 1; block++; printf "echo \"+ README block %d (%s line %d)\"\n", block, src, NR; next }
  /^```/ { inside = 0; next }
  inside { print }
' "$readme" >"$script"
blocks=$(grep -c '^```sh[[:space:]]*$' "$readme" || true)
[ "$blocks" -ge 4 ] || { echo "readme: only $blocks runnable blocks found in $readme"; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# The cloud's port for this run (retried when another process took it meanwhile).
started=1
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  set +e
  "$bin/hubkey-cloud" start --port "$port" >"$work/prestart.out" 2>&1
  started=$?
  set -e
  [ "$started" -ne 4 ] && break
done
[ "$started" -eq 0 ] || { cat "$work/prestart.out"; echo "readme: the cloud did not start"; exit 1; }
"$bin/hubkey-cloud" stop >/dev/null

cd "$work/cwd"
set +e
bash -e -x "$script" >"$work/readme.out" 2>&1
rc=$?
set -e
cat "$work/readme.out"
if [ "$rc" -ne 0 ]; then
  echo "readme: FAIL: a README command failed (exit $rc); the last command above is the one"
  exit 1
fi
# What the README promises happened did happen.
grep -q 'cold boot' "$work/readme.out" || { echo "readme: FAIL: provision did not report a cold boot"; exit 1; }
grep -v '^+' "$work/readme.out" | grep -q 'temperature' || { echo "readme: FAIL: the telemetry listing does not show the message"; exit 1; }
grep -q 'hubkey-cloud stopped' "$work/readme.out" || { echo "readme: FAIL: the cloud was not stopped"; exit 1; }
echo "readme: PASS ($blocks blocks)"
