"""What the console tests share: a hubkey-cloud on a free loopback port,
its console, emulated chips from hubkey-factory and hubkey agents.

Environment: HUBKEY_CLOUD, HUBKEY, HUBKEY_FACTORY (the programs); with the
instrumented broker plugin, the variables tests/cloud sets (HKT_CLOUD_ENV).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def poll(fn, timeout, what):
    """Calls fn every 20 ms until it returns a truthy value (returned), or
    fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Lines:
    """Collects the lines a process writes to a pipe (a thread reads them),
    so that a test can wait for one with a deadline."""

    def __init__(self, stream):
        import threading
        self.lines = []
        self.cond = threading.Condition()
        t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        t.start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait(self, text, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in l for l in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure(f"timed out after {timeout} s waiting for {what}; "
                                      f"last lines: {self.lines[-5:]}")
                self.cond.wait(left)


class Env:
    def __init__(self, name):
        self.name = name
        self.work = tempfile.mkdtemp(prefix=f"hubkey-console-{name}.")
        self.cloud_dir = os.path.join(self.work, "cloud")
        self.cloud_bin = os.environ["HUBKEY_CLOUD"]
        self.procs = []
        self.console = None
        self.consoles = []
        self.port = None

    # ---- processes
    def run(self, *args, check_rc=True, **kw):
        r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
        if check_rc and r.returncode != 0:
            raise TestFailure(f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r

    def cloud(self, *args, **kw):
        return self.run(self.cloud_bin, "--dir", self.cloud_dir, *args, **kw)

    def start_cloud(self):
        self.port = free_port()
        self.cloud("start", "--port", self.port, "--hubs", 2)
        self.scope = json.loads(self.cloud("status", "--json").stdout)["id_scope"]
        self.cloud("config", "set", "retry-after", "0")

    def start_console(self, *extra):
        p = subprocess.Popen([self.cloud_bin, "--dir", self.cloud_dir, "console", "--port", "0", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:(\d+)/)(#token=([0-9a-f]{32}))?", line)
        if not m:
            raise TestFailure("console did not print its URL: %r %s" % (line, p.stderr.read() if p.poll() is not None else ""))
        console = {"proc": p, "base": m.group(1), "port": int(m.group(2)),
                   "token": m.group(4), "url": m.group(0)}
        if self.console is None:
            self.console = console
        self.consoles.append(console)
        return console

    def bg(self, args, **kw):
        p = subprocess.Popen([str(a) for a in args], **kw)
        self.procs.append(p)
        return p

    def close(self, failed):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for c in self.consoles:
            err = c["proc"].stderr.read() if c["proc"].stderr else ""
            if "Sanitizer" in err or "runtime error:" in err:
                print(err, file=sys.stderr)
                failed = True
        self.run(self.cloud_bin, "--dir", self.cloud_dir, "stop", check_rc=False)
        out = os.path.join(self.cloud_dir, "mosquitto.out")
        if os.path.exists(out):
            text = open(out, errors="replace").read()
            if re.search(r"ERROR: (Address|Leak)Sanitizer|AddressSanitizer:DEADLYSIGNAL|runtime error:", text):
                print("sanitizer report from the broker plugin:\n" + text, file=sys.stderr)
                failed = True
        if failed and os.path.exists(os.path.join(self.cloud_dir, "mosquitto.log")):
            print("--- last lines of the broker log:", file=sys.stderr)
            print("".join(open(os.path.join(self.cloud_dir, "mosquitto.log"), errors="replace").readlines()[-20:]), file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)
        return failed

    # ---- HTTP
    def http(self, method, path, body=None, headers=None, console=None):
        c = console or self.console
        req = urllib.request.Request(c["base"].rstrip("/") + path, method=method,
                                     data=body.encode() if isinstance(body, str) else body,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get_json(self, path):
        status, headers, body = self.http("GET", path)
        check(status == 200, f"GET {path}: HTTP {status} {body[:200]!r}")
        return json.loads(body)

    def action(self, name, obj, token=None):
        status, _, body = self.http("POST", "/api/" + name, json.dumps(obj),
                                    {"Content-Type": "application/json",
                                     "X-Hubkey-Token": token or self.console["token"]})
        return status, json.loads(body)

    # ---- devices
    def factory(self, *args):
        return self.run(os.environ["HUBKEY_FACTORY"], *args)

    def make_batch(self, n):
        ca = os.path.join(self.work, "ca")
        batch = os.path.join(self.work, "batch")
        self.factory("ca", "init", "--ca", ca)
        self.factory("batch", "--count", n, "--dir", batch, "--ca", ca, "--quiet")
        self.factory("enroll", "--cloud", self.cloud_dir, "group", "--ca", ca)
        manifest = json.load(open(os.path.join(batch, "manifest.json")))
        chips = manifest["chips"] if isinstance(manifest, dict) else manifest
        return ca, batch, chips

    def agent_args(self, chip_file, ca):
        return [os.environ["HUBKEY"], "--chip", "emu:" + chip_file, "--certdefs", ca,
                "--id-scope", self.scope, "--dps", "dps.hubkey.test",
                "--cloud-address", f"127.0.0.1:{self.port}",
                "--trust", os.path.join(self.cloud_dir, "pki", "server-ca.pem"),
                "--reconnect-min", "200ms", "--reconnect-max", "1s", "--reconnect-jitter", "100ms",
                "--timeout", "60s"]

    def device_cert(self, cn):
        """A self-signed P-256 device certificate with CN=cn: (cert, key) paths."""
        d = tempfile.mkdtemp(dir=self.work)
        key, cert = os.path.join(d, "dev.key"), os.path.join(d, "dev.pem")
        self.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn)
        return cert, key

    def mqtt_pub(self, cert, key, device_id, hub, topic, message):
        self.run("mosquitto_pub", "-h", "127.0.0.1", "-p", self.port, "-V", "mqttv311",
                 "--cafile", os.path.join(self.cloud_dir, "pki", "server-ca.pem"),
                 "--cert", cert, "--key", key, "-i", device_id, "-q", "1",
                 "-u", f"{hub}/{device_id}/?api-version=2021-04-12", "-t", topic, "-m", message)


def main(scenarios):
    """Runs the scenario named by argv[1] in its own Env."""
    if len(sys.argv) != 2 or sys.argv[1] not in scenarios:
        print("usage: %s %s" % (sys.argv[0], "|".join(scenarios)), file=sys.stderr)
        return 2
    env = Env(sys.argv[1])
    failed = False
    try:
        scenarios[sys.argv[1]](env)
    except Exception as e:  # noqa: BLE001 - report every failure the same way
        failed = True
        import traceback
        traceback.print_exc()
        print(f"[{sys.argv[1]}] FAIL: {e}", file=sys.stderr)
    finally:
        failed = env.close(failed)
    if not failed:
        print(f"[{sys.argv[1]}] ok")
    return 1 if failed else 0
