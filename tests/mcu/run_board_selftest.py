#!/usr/bin/env python3
"""Runs the mps2-an386 board self-test image under QEMU and checks it.

Usage: run_board_selftest.py QEMU IMAGE echo|fault [--timeout S]

echo   starts a TCP echo server on a random loopback port and a line peer
       for UART1 on another, writes a one-line file, then runs the image
       with port=, file=, now= and line on its semihosting command line.
       Passes when QEMU exits 0, the console shows the self-test's PASS,
       the echo server received exactly the file's line, and the UART1 peer
       received the ping it answered.
fault  runs the image with the `fault` switch (a load from an address
       nothing decodes). Passes when QEMU exits with the board's fault
       status (3) and the console shows the BusFault register dump.

QEMU runs with a bounded timeout; a run that does not end in time fails.
Servers are threads bound to 127.0.0.1 (QEMU's user network maps the
guest's 10.0.2.2 to it), with socket timeouts, closed at the end.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

BOARD_EXIT_FAULT = 3


class Peer(threading.Thread):
    """Accepts one connection; reads until a newline; answers `reply(line)`."""

    def __init__(self, reply, timeout):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(timeout)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.timeout = timeout
        self.received = None
        self.error = None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(self.timeout)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.received = data
                conn.sendall(self.reply(data))
                # Wait for the peer to close (bounded by the socket timeout).
                while conn.recv(4096):
                    pass
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()


def run_qemu(qemu, image, args, serial_extra, timeout):
    cmd = [qemu, "-M", "mps2-an386", "-nographic", "-nic", "user,model=lan9118",
           "-semihosting-config",
           "enable=on,target=native," + ",".join("arg=" + a for a in args)]
    if serial_extra:
        cmd += ["-serial", "mon:stdio", "-serial", serial_extra]
    cmd += ["-kernel", image]
    print("+ " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        print(out)
        sys.exit("FAIL: QEMU did not exit within %d s" % timeout)
    out = p.stdout.decode("utf-8", "replace")
    print(out, flush=True)
    return p.returncode, out


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


def test_echo(qemu, image, timeout):
    line = "hubkey echo %d %s" % (os.getpid(), time.strftime("%H%M%S"))
    echo = Peer(lambda data: data, timeout)
    uart = Peer(lambda data: b"hubkey-line pong\n" if data == b"hubkey-line ping\n" else b"?\n",
                timeout)
    echo.start()
    uart.start()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "line.txt")
        with open(path, "w") as f:
            f.write(line)
        check("," not in path and " " not in path, "temporary path unusable on a command line")
        rc, out = run_qemu(qemu, image,
                           ["board-selftest", "port=%d" % echo.port, "file=" + path,
                            "now=%d" % int(time.time()), "line"],
                           "tcp:127.0.0.1:%d" % uart.port, timeout)
    echo.join(timeout)
    uart.join(timeout)
    check(rc == 0, "QEMU exit status %d, expected 0" % rc)
    check("selftest: PASS" in out, "no PASS line on the console")
    check("selftest: echo ok (%d bytes)" % (len(line) + 1) in out, "no echo line on the console")
    check("selftest: UART1 line ok" in out, "no UART1 line on the console")
    check(echo.error is None, "echo server: %s" % echo.error)
    check(echo.received == (line + "\n").encode(),
          "echo server received %r, expected %r" % (echo.received, line + "\n"))
    check(uart.received == b"hubkey-line ping\n", "UART1 peer received %r" % uart.received)
    m = re.search(r"stack high-water (\d+) of (\d+) bytes", out)
    check(m is not None and 0 < int(m.group(1)) < int(m.group(2)), "no stack figure")
    print("PASS: echo of %d bytes, stack high-water %s bytes" % (len(line) + 1, m.group(1)))


def test_fault(qemu, image, timeout):
    rc, out = run_qemu(qemu, image, ["board-selftest", "fault"], None, timeout)
    check(rc == BOARD_EXIT_FAULT, "QEMU exit status %d, expected %d" % (rc, BOARD_EXIT_FAULT))
    check("*** BusFault" in out, "no BusFault report on the console")
    for reg in ("r0", "r1", "r2", "r3", "r12", "lr", "pc", "xpsr",
                "CFSR", "HFSR", "MMFAR", "BFAR"):
        check(re.search(r"\b%s\s*=0x[0-9a-f]{8}\b" % reg, out), "no %s in the dump" % reg)
    check("BFAR=0x30000000" in out, "BFAR does not name the faulting address")
    check("no fault" not in out, "the load returned")
    print("PASS: fault reported, exit status %d" % rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qemu")
    ap.add_argument("image")
    ap.add_argument("mode", choices=["echo", "fault"])
    ap.add_argument("--timeout", type=int, default=60)
    a = ap.parse_args()
    check(os.path.isfile(a.image), "no image %s (make firmware builds it)" % a.image)
    if a.mode == "echo":
        test_echo(a.qemu, a.image, a.timeout)
    else:
        test_fault(a.qemu, a.image, a.timeout)


if __name__ == "__main__":
    main()
