#!/usr/bin/env python3
"""Tests of the hubkey-cloud web console (label: console).

    test_console.py http      the API without a browser: loopback only, Host
                              check, token (missing, wrong, right), read-only
                              mode, content types and security headers,
                              actions reaching the CLI's state, the device
                              list's search, sort and paging and their errors
    test_console.py hostile   device IDs, telemetry (body and properties) and
                              twin keys holding markup and script: headless
                              Chromium shows them as text on every page, no
                              element is injected and no script runs; a desired
                              patch and disable/enable made on the page reach
                              the CLI; a read-only console offers no action
    test_console.py fleet     a hubkey-factory batch provisions through the
                              agent; the overview and device list in Chromium
                              show the fleet and the connection state; a
                              message sent by a running agent appears on the
                              page within a second; a method invoked from the
                              page reaches `hubkey run --method-command` and
                              its answer is shown

Set HKC_CONSOLE_SCREENSHOTS=DIR to save screenshots of the pages (fleet).
Each scenario starts its own cloud and console on free loopback ports and
stops them at the end. Waits are bounded polls of a condition, never sleeps.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402
from console_env import Lines, check, main, poll  # noqa: E402

HUB1 = "hub-1.hubkey.test"


def js(s):
    return json.dumps(s)


def add_device(env, device_id, hub=HUB1):
    cert, key = env.device_cert(device_id)
    env.cloud("device", "add", device_id, "--hub", hub, "--cert", cert)
    return cert, key


# ---------------------------------------------------------------- http
def scenario_http(env):
    # The command line: exit codes and messages.
    r = env.cloud("console", check_rc=False)
    check(r.returncode == 3 and "run `hubkey-cloud start` first" in r.stderr, f"console without state: {r}")
    r = env.cloud("console", "--help", check_rc=False)
    check(r.returncode == 0 and "--read-only" in r.stdout, f"console --help: {r}")
    env.start_cloud()
    for args, rc, text in ((["--port", "70000"], 2, "0..65535"), (["--port"], 2, "0..65535"),
                           (["--bogus"], 1, "unknown argument '--bogus'")):
        r = env.cloud("console", *args, check_rc=False)
        check(r.returncode == rc and text in r.stderr, f"console {args}: {r}")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    r = env.cloud("console", "--port", busy.getsockname()[1], check_rc=False)
    busy.close()
    check(r.returncode == 4 and "cannot listen on 127.0.0.1" in r.stderr, f"console on a busy port: {r}")
    c = env.start_console()
    port = c["port"]
    # Bound to loopback only: the listening socket in /proc/net/tcp is 127.0.0.1.
    listen = [l.split() for l in open("/proc/net/tcp").read().splitlines()[1:]]
    mine = [l[1] for l in listen if l[3] == "0A" and int(l[1].split(":")[1], 16) == port]
    check(mine == ["0100007F:%04X" % port], f"console listens on {mine}, expected 127.0.0.1 only")

    # Assets and their types; headers on every answer.
    for path, ctype in (("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css"),
                        ("/api/overview", "application/json")):
        status, headers, body = env.http("GET", path)
        check(status == 200, f"GET {path}: {status}")
        check(headers.get("Content-Type", "").startswith(ctype), f"{path}: type {headers.get('Content-Type')}")
        check(headers.get("X-Content-Type-Options") == "nosniff", f"{path}: no nosniff")
        check("script-src 'self'" in headers.get("Content-Security-Policy", ""), f"{path}: no CSP")
    status, _, body = env.http("GET", "/")
    check(b"http://" not in body and b"https://" not in body, "the page refers to another site")
    status, _, _ = env.http("GET", "/nothing")
    check(status == 404, f"unknown path: {status}")
    status, _, _ = env.http("DELETE", "/api/overview")
    check(status == 405, f"DELETE: {status}")

    # Host must be the console's own address (DNS rebinding).
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1"):
        status, _, _ = env.http("GET", "/api/overview", headers={"Host": host})
        check(status == 421, f"Host {host}: {status}, expected 421")
    status, _, _ = env.http("GET", "/api/overview", headers={"Host": f"localhost:{port}"})
    check(status == 200, f"Host localhost: {status}")

    dev = "dev-1"
    add_device(env, dev)
    ok = {"device_id": dev, "body": "hi"}
    # Actions: no token, a wrong one, one differing in the last character,
    # a form post (what a cross-site page could send), then the right one.
    status, _, body = env.http("POST", "/api/c2d", json.dumps(ok), {"Content-Type": "application/json"})
    check(status == 401, f"no token: {status}")
    wrong = c["token"][:-1] + ("0" if c["token"][-1] != "0" else "1")
    for t in ("x", wrong, c["token"] + "0"):
        status, _ = env.action("c2d", ok, token=t)
        check(status == 401, f"wrong token {t}: {status}")
    status, _, _ = env.http("POST", "/api/c2d", "device_id=dev-1&body=hi",
                            {"Content-Type": "application/x-www-form-urlencoded",
                             "X-Hubkey-Token": c["token"]})
    check(status == 415, f"form post: {status}")
    status, _, _ = env.http("POST", "/api/c2d", "{not json", {"Content-Type": "application/json",
                                                              "X-Hubkey-Token": c["token"]})
    check(status == 400, f"bad JSON: {status}")
    status, _, _ = env.http("POST", "/api/c2d", "x" * (600 * 1024), {"Content-Type": "application/json",
                                                                    "X-Hubkey-Token": c["token"]})
    check(status == 413, f"large body: {status}")

    status, r = env.action("c2d", {**ok, "props": {"k": "v"}})
    check(status == 200 and r.get("ok"), f"c2d: {status} {r}")
    pending = json.loads(env.get_json(f"/api/device?hub={HUB1}&id={dev}")["commands"][0]["props"])
    check(pending == {"k": "v"}, f"c2d properties stored as {pending}")
    status, r = env.action("c2d", {"device_id": "nobody", "body": "x"})
    check(status == 409 and "no device nobody" in r["error"], f"c2d to nobody: {status} {r}")
    status, r = env.action("c2d", {"device_id": dev, "body": "x" * 70000})
    check(status == 400 and "64 KB" in r["error"], f"large c2d: {status} {r}")
    status, r = env.action("twin", {"device_id": dev, "patch": '{"desired":{"rate":5}}'})
    check(status == 200 and r["desired_version"] == 2, f"twin: {status} {r}")
    shown = json.loads(env.cloud("twin", "show", dev).stdout)
    check(shown["properties"]["desired"].get("rate") == 5, f"the CLI does not see the patch: {shown}")
    status, r = env.action("twin", {"device_id": dev, "patch": "[1]"})
    check(status == 400 and "JSON object" in r["error"], f"twin array: {status} {r}")
    status, r = env.action("enable", {"device_id": dev, "enabled": False})
    check(status == 200, f"disable: {status} {r}")
    rows = json.loads(env.cloud("devices", "--json").stdout)
    check(rows[0]["enabled"] == 0, f"the CLI still sees the device enabled: {rows}")
    status, r = env.action("enable", {"device_id": dev, "enabled": "no"})
    check(status == 400, f"enable with a string: {status}")
    status, r = env.action("method", {"device_id": dev, "name": "a/b"})
    check(status == 400 and "not a valid method name" in r["error"], f"method name: {status} {r}")
    status, r = env.action("method", {"device_id": dev, "name": "m", "payload": "{"})
    check(status == 400 and "not JSON" in r["error"], f"method payload: {status} {r}")
    status, r = env.action("enable", {"device_id": dev, "enabled": True})
    check(status == 200 and r["enabled"] is True, f"enable: {status} {r}")
    # Direct method to a device that is not connected: the cloud's 404 answer, as the CLI gets it.
    status, r = env.action("method", {"device_id": dev, "name": "m", "timeout": 5})
    check(status == 200 and r["status"] == 404 and not r["ok"], f"method offline: {status} {r}")
    status, r = env.action("nothing", {"device_id": dev})
    check(status == 404, f"unknown action: {status}")

    # The device list: search, sort, paging and their errors.
    for i in range(2, 13):
        env.cloud("device", "add", f"dev-{i}", "--hub", "hub-2.hubkey.test", "--thumbprint", "%040x" % i)
    r = env.get_json("/api/devices?limit=5&sort=device_id&order=desc")
    check(r["total"] == 12 and [d["device_id"] for d in r["items"]] == ["dev-9", "dev-8", "dev-7", "dev-6", "dev-5"],
          f"sorted page: {r}")
    r = env.get_json("/api/devices?limit=5&offset=10")
    check([d["device_id"] for d in r["items"]] == ["dev-8", "dev-9"], f"last page: {r['items']}")
    r = env.get_json("/api/devices?limit=3&sort=last_seen&order=desc")
    check(len(r["items"]) == 3 and r["sort"] == "last_seen" and r["desc"], f"by last seen: {r}")
    r = env.get_json("/api/devices?q=hub-1")
    check([d["device_id"] for d in r["items"]] == ["dev-1"], f"search by hub: {r['items']}")
    r = env.get_json("/api/devices?q=_")
    check(r["total"] == 0, "a LIKE wildcard in the search matched")
    r = env.get_json("/api/devices?q=%25")
    check(r["total"] == 0, "a LIKE wildcard in the search matched")
    for bad in ("sort=password", "limit=0", "limit=501", "offset=-1", "order=up", "limit=1x"):
        status, _, _ = env.http("GET", "/api/devices?" + bad)
        check(status == 400, f"devices?{bad}: {status}")
    status, _, _ = env.http("GET", f"/api/device?hub={HUB1}&id=nobody")
    check(status == 404, "unknown device")

    # Read-only: no token printed, every action refused even with a token.
    ro = env.start_console("--read-only")
    check(ro["token"] is None, "the read-only console printed a token")
    status, _, _ = env.http("POST", "/api/c2d", json.dumps(ok),
                            {"Content-Type": "application/json", "X-Hubkey-Token": c["token"]}, console=ro)
    check(status == 403, f"read-only action: {status}")
    status, _, body = env.http("GET", "/api/overview", headers={"Host": f"127.0.0.1:{ro['port']}"}, console=ro)
    check(status == 200 and json.loads(body)["read_only"] is True, "read-only overview")

    # SSE: an event stream answers with its type and a first fleet update.
    import http.client
    h = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h.request("GET", "/api/events")
    resp = h.getresponse()
    check(resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream"),
          f"events: {resp.status} {resp.getheader('Content-Type')}")
    seen = b""
    while b"event: change" not in seen:
        seen += resp.fp.readline()
    h.close()
    # Stopping the console with SIGTERM ends it cleanly.
    c["proc"].terminate()
    check(c["proc"].wait(20) == 0, "console exit code on SIGTERM")


# ---------------------------------------------------------------- hostile
HOSTILE_ID = "x'-(window.__pwned=1)-'"
HOSTILE_BODY = '<img src=x onerror="window.__pwned=2"><script>window.__pwned=3</script>&amp;'
HOSTILE_KEY = "<img src=x onerror=window.__pwned=4>"
HOSTILE_VALUE = "</pre><script>window.__pwned=5</script>"
HOSTILE_PROP = "<b onmouseover=window.__pwned=6>p</b>"

NO_INJECTION = """(() => {
  const v = document.getElementById('view');
  return window.__pwned === undefined && v.querySelectorAll('img, script, b, iframe, svg').length === 0;
})()"""


def scenario_hostile(env):
    env.start_cloud()
    cert, key = add_device(env, HOSTILE_ID)
    env.cloud("twin", "set", HOSTILE_ID, json.dumps({HOSTILE_KEY: HOSTILE_VALUE}))
    c = env.start_console()
    # Reported properties and telemetry from the device itself, over MQTT.
    env.mqtt_pub(cert, key, HOSTILE_ID, HUB1, "$iothub/twin/PATCH/properties/reported/?$rid=1",
                 json.dumps({HOSTILE_KEY: HOSTILE_VALUE}))
    from urllib.parse import quote
    bag = quote(HOSTILE_PROP, safe="") + "=" + quote(HOSTILE_VALUE, safe="")
    env.mqtt_pub(cert, key, HOSTILE_ID, HUB1, f"devices/{HOSTILE_ID}/messages/events/{bag}", HOSTILE_BODY)
    poll(lambda: env.get_json("/api/telemetry")["items"], 20, "the hostile telemetry in the cloud")
    d = env.get_json(f"/api/device?hub={HUB1}&id={quote(HOSTILE_ID, safe='')}")
    check(d["twin"]["reported"].get(HOSTILE_KEY) == HOSTILE_VALUE, f"reported twin not stored: {d['twin']}")
    with Browser() as b:
        b.goto(c["url"])
        b.wait_for("document.body.dataset.ready === '#/'", 20, "the overview")
        b.goto(c["base"] + "#/devices")
        b.wait_for("document.querySelector('#device-table tbody tr') !== null", 20, "the device list")
        cell = b.eval("document.querySelector('#device-table tbody tr td:nth-child(2)').textContent")
        check(cell == HOSTILE_ID, f"device list shows {cell!r}")
        check(b.eval(NO_INJECTION), "markup from a device ID was interpreted in the device list")
        # The device page: ID, twin keys and values, telemetry body and properties.
        b.eval("document.querySelector('#device-table tbody a').click()")
        b.wait_for("document.querySelector('#device-telemetry tbody tr') !== null", 20, "the device page")
        check(b.eval("document.getElementById('device-title').textContent") == HOSTILE_ID, "device title")
        desired = json.loads(b.eval("document.getElementById('twin-desired').textContent"))
        reported = json.loads(b.eval("document.getElementById('twin-reported').textContent"))
        check(desired.get(HOSTILE_KEY) == HOSTILE_VALUE, f"desired shown as {desired}")
        check(reported.get(HOSTILE_KEY) == HOSTILE_VALUE, f"reported shown as {reported}")
        body = b.eval("document.querySelector('#device-telemetry .tm-body').textContent")
        check(body == HOSTILE_BODY, f"telemetry body shown as {body!r}")
        props = b.eval("document.querySelector('#device-telemetry .tm-props').textContent")
        check(HOSTILE_PROP + "=" + HOSTILE_VALUE in props, f"properties shown as {props!r}")
        check(b.eval(NO_INJECTION), "markup from a device was interpreted on the device page")
        # Actions from the page: a desired patch and disable, then enable again.
        b.eval("document.getElementById('twin-patch').value = '{\"interval\": 7}';"
               "document.querySelector('#twin-result').previousSibling.firstChild.click()")
        b.wait_for("document.getElementById('twin-result').textContent === 'desired $version 3'", 10,
                   "the patch's answer")
        b.wait_for("JSON.parse(document.getElementById('twin-desired').textContent).interval === 7", 10,
                   "the patched desired properties")
        check(json.loads(env.cloud("twin", "show", HOSTILE_ID).stdout)["properties"]["desired"]["interval"] == 7,
              "the CLI does not see the patch made on the page")
        b.eval("document.getElementById('enable-button').click()")
        b.wait_for("document.getElementById('enable-result').textContent === 'disabled' && "
                   "document.getElementById('enable-button').textContent === 'Enable device'", 10, "disable")
        check(json.loads(env.cloud("devices", "--json").stdout)[0]["enabled"] == 0, "the CLI sees the device enabled")
        b.eval("document.getElementById('enable-button').click()")
        b.wait_for("document.getElementById('enable-result').textContent === 'enabled' && "
                   "document.getElementById('enable-button').textContent === 'Disable device'", 10, "enable")
        # The telemetry page, with a message arriving live over the event stream.
        b.goto(c["base"] + "#/telemetry")
        b.wait_for("document.body.dataset.ready === '#/telemetry' && "
                   "document.querySelector('#telemetry-table tbody tr') !== null", 20, "the telemetry page")
        env.mqtt_pub(cert, key, HOSTILE_ID, HUB1, f"devices/{HOSTILE_ID}/messages/events/", HOSTILE_BODY + "live")
        b.wait_for("document.querySelector('#telemetry-table tbody tr .tm-body').textContent === %s"
                   % js(HOSTILE_BODY + "live"), 20, "the live hostile message")
        check(b.eval("document.querySelector('#telemetry-table tbody tr a').textContent") == HOSTILE_ID,
              "telemetry page device link text")
        check(b.eval(NO_INJECTION), "markup from a device was interpreted on the telemetry page")
        errors = [m for m in b.console if "exception" in m]
        check(not errors, f"page errors: {errors}")
    # A read-only console shows the device without any action.
    ro = env.start_console("--read-only")
    with Browser() as b:
        b.goto(ro["base"] + "#/device/" + quote(HUB1, safe="") + "/" + quote(HOSTILE_ID, safe=""))
        b.wait_for("document.querySelector('#device-telemetry tbody tr') !== null", 20, "the read-only device page")
        check(b.eval("document.getElementById('actions') === null"), "the read-only page offers actions")
        check(b.eval("document.getElementById('mode').textContent") == "read-only", "mode label")
        check(b.eval(NO_INJECTION), "markup from a device was interpreted on the read-only page")


# ---------------------------------------------------------------- fleet
def scenario_fleet(env):
    shots = os.environ.get("HKC_CONSOLE_SCREENSHOTS")
    n = 6
    env.start_cloud()
    c = env.start_console()
    ca, batch, chips = env.make_batch(n)
    with Browser() as b:
        b.goto(c["url"])
        b.wait_for("document.body.dataset.ready === '#/'", 20, "the overview")
        check(b.eval("document.getElementById('ov-devices').textContent") == "0", "devices before provisioning")
        # The batch provisions (DPS, then the hub) in parallel.
        agents = [env.bg(env.agent_args(os.path.join(batch, ch["chip_file"]), ca) + ["provision"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for ch in chips]
        for a in agents:
            check(a.wait(120) == 0, "hubkey provision failed: " + a.stderr.read().decode()[-500:])
        _, t = b.wait_for(f"document.getElementById('ov-devices').textContent === '{n}'", 10,
                          "the overview to show the batch")
        check(int(b.eval("document.getElementById('ov-regs-hour').textContent")) >= n, "registrations in the last hour")
        per_hub = b.eval("[...document.querySelectorAll('#hub-table .hub-devices')].map(e => +e.textContent)")
        check(sum(per_hub) == n, f"devices per hub {per_hub}")
        # The broker sees each agent's disconnect a moment after the agent
        # exited: the count comes down to 0 through the live updates.
        b.wait_for("document.getElementById('ov-connected').textContent === '0'", 10,
                   "no device connected after provision")
        regs = b.eval("[...document.querySelectorAll('#recent-registrations tbody tr td:nth-child(2)')].map(e => e.textContent)")
        check(regs == ["assigned"] * n, f"latest registrations on the overview: {regs}")

        # Two agents stay connected: hubkey run, telemetry from standard input.
        runners = []
        for ch in chips[:2]:
            p = env.bg(env.agent_args(os.path.join(batch, ch["chip_file"]), ca) +
                       ["--json", "--method-command",
                        'cat >/dev/null; echo "{\\"method\\":\\"$1\\",\\"answer\\":\\"<b>42</b>\\"}"', "run"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            p.out = Lines(p.stdout)
            runners.append(p)
        for p in runners:
            p.out.wait('"next":"ready"', 60, "hubkey run to connect")
        b.wait_for("document.getElementById('ov-connected').textContent === '2'", 10, "2 connected on the overview")
        if shots:
            b.screenshot(os.path.join(shots, "console-overview.png"))

        # The device list: connection state, enrollment, sorting by state.
        b.goto(c["base"] + "#/devices")
        b.wait_for(f"document.querySelectorAll('#device-table tbody tr').length === {n}", 10, "the device list")
        b.eval("document.querySelector('th[data-sort=connected]').click()")
        b.eval("document.querySelector('th[data-sort=connected]').click()")  # descending
        b.wait_for("document.querySelector('#device-table tbody tr td').textContent.includes('connected')"
                   " && document.querySelector('th[data-sort=connected]').classList.contains('desc')", 10,
                   "connected devices first")
        states = b.eval("[...document.querySelectorAll('#device-table tbody tr td:first-child')].map(e => e.textContent)")
        check(states == ["connected"] * 2 + ["offline"] * (n - 2), f"states {states}")
        enr = b.eval("document.querySelector('#device-table tbody tr td:nth-child(4)').textContent")
        check(enr.startswith("group "), f"enrollment column {enr!r}")
        if shots:
            b.screenshot(os.path.join(shots, "console-devices.png"))

        # A message from a running agent reaches the page within a second.
        dev = chips[0]["registration_id"]
        hub = json.loads(env.cloud("devices", "--json").stdout)
        hub = next(r["hub"] for r in hub if r["device_id"] == dev)
        from urllib.parse import quote
        b.goto(c["base"] + "#/device/" + quote(hub, safe="") + "/" + quote(dev, safe=""))
        b.wait_for("document.body.dataset.ready.startsWith('#/device/') && "
                   "document.getElementById('method-name') !== null", 10, "the device page")
        b.wait_for("document.querySelector('#live').textContent === 'live'", 10, "the event stream")
        worst = 0.0
        for i in range(5):
            msg = json.dumps({"temp": 20 + i, "humidity": 40 - i, "seq": i})
            runners[0].stdin.write(msg + "\n")
            runners[0].stdin.flush()
            _, t = b.wait_for("document.querySelector('#device-telemetry tbody tr .tm-body')?.textContent === %s"
                              % js(msg), 5, f"message {i} on the device page")
            worst = max(worst, t)
        print(f"telemetry on the page after at most {worst * 1000:.0f} ms")
        check(worst < 1.0, f"telemetry took {worst:.2f} s to appear")
        check(b.eval("document.querySelectorAll('#plot-legend span').length") == 3, "plotted fields")

        # A direct method from the page reaches hubkey run; its answer is shown.
        b.eval("document.getElementById('method-name').value = 'reboot';"
               "document.getElementById('method-payload').value = '{\"delay\":1}';"
               "document.querySelector('#method-result').previousSibling.firstChild.click()")
        text, _ = b.wait_for("(t => t.startsWith('status') && t)(document.getElementById('method-result').textContent)",
                             20, "the method's answer")
        check(text == 'status 200: {"method":"reboot","answer":"<b>42</b>"}', f"method answer shown as {text!r}")
        check(b.eval("document.querySelectorAll('#view b').length") == 0, "markup in the method answer was interpreted")
        # A C2D message from the page is delivered to the running agent.
        b.eval("document.getElementById('c2d-body').value = 'hello from the console';"
               "document.querySelector('#c2d-result').previousSibling.firstChild.click()")
        b.wait_for("document.getElementById('c2d-result').textContent.startsWith('queued')", 10, "the C2D answer")
        runners[0].out.wait("hello from the console", 20, "the agent to print the C2D message")
        b.wait_for("[...document.querySelectorAll('#commands tbody td')].some(e => e.textContent === 'delivered')", 10,
                   "the C2D delivery state on the page")
        if shots:
            b.screenshot(os.path.join(shots, "console-device.png"))
        b.goto(c["base"] + "#/telemetry")
        b.wait_for("document.querySelectorAll('#telemetry-table tbody tr').length >= 5", 10, "the telemetry page")
        if shots:
            b.screenshot(os.path.join(shots, "console-telemetry.png"))

        # Disconnect: the overview counts one connected device.
        runners[1].terminate()
        runners[1].wait(20)
        b.goto(c["base"] + "#/")
        b.wait_for("document.body.dataset.ready === '#/' && "
                   "document.getElementById('ov-connected').textContent === '1'", 10, "the disconnect on the overview")
        # The cloud stops: nobody is connected any more.
        env.cloud("stop")
        b.wait_for("document.getElementById('ov-connected').textContent === '0'", 10,
                   "the stopped cloud on the overview")
        errors = [m for m in b.console if "exception" in m]
        check(not errors, f"page errors: {errors}")
        for p in runners[:1]:
            p.stdin.close()


if __name__ == "__main__":
    sys.exit(main({"http": scenario_http, "hostile": scenario_hostile, "fleet": scenario_fleet}))
