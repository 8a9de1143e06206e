#!/usr/bin/env python3
"""Runs the mps2-an386 board self-test image under QEMU and checks it.

Usage: run_board_selftest.py QEMU IMAGE echo|refused|fault|overflow [--timeout S]

echo   starts a TCP echo server on a random loopback port and a line peer
       for UART1 on another, writes a one-line file, then runs the image
       with port=, file=, now=, bulk= and line on its semihosting command
       line. The server echoes the line, sends BULK bytes of a pattern and
       reads as many back. Passes when QEMU exits 0, the console shows the
       self-test's PASS and its checks, the server received exactly the
       file's line and the pattern, and the UART1 peer received the ping it
       answered.
refused runs the image against a loopback port nothing listens on. Passes
       when the self-test reports the connection error and exits 1: the
       self-test can fail.
overflow runs the image with the `overflow` switch (unbounded recursion).
       Passes when the MPU's stack guard turns it into a reported MemManage
       fault with MMFAR inside the guard and QEMU exits with status 3.
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
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemu_mcu import BOARD_EXIT_FAULT, Peer, check, read_exactly, read_line, run_qemu  # noqa: E402

# Bytes each way after the echo: many receive windows (8,760 bytes) and send
# buffers (5,840 bytes) of full-size segments.
BULK = 100000
# What selftest.c's log_formats() must print (board_log's conversions).
FORMAT_LINE = ("selftest: format [   42|-7  |0beef|4294967295|-2147483648|deadbeef|12345|k|hub|"
               "key|   right|l  |0x2000abcd|%|ABCD|-9000000000|44|0]")


def bulk_pattern(n):
    """Bytes 0..n-1 of the bulk stream (selftest.c: bulk_byte)."""
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def test_echo(qemu, image, timeout):
    line = "hubkey echo %d %s" % (os.getpid(), time.strftime("%H%M%S"))

    def echo_talk(conn):
        # The line back, then BULK bytes of the pattern out and as many in.
        got = read_line(conn)
        conn.sendall(got)
        conn.sendall(bulk_pattern(BULK))
        back = read_exactly(conn, BULK)
        return got, back

    def uart_talk(conn):
        got = read_line(conn)
        conn.sendall(b"hubkey-line pong\n" if got == b"hubkey-line ping\n" else b"?\n")
        # Until QEMU goes away (bounded by the socket timeout).
        while conn.recv(4096):
            pass
        return got

    echo = Peer(echo_talk, timeout)
    uart = Peer(uart_talk, timeout)
    echo.start()
    uart.start()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "line.txt")
        with open(path, "w") as f:
            f.write(line)
        rc, out = run_qemu(qemu, image,
                           ["board-selftest", "port=%d" % echo.port, "file=" + path,
                            "now=%d" % int(time.time()), "bulk=%d" % BULK, "line"],
                           "tcp:127.0.0.1:%d" % uart.port, timeout)
    echo.join(timeout)
    uart.join(timeout)
    check(rc == 0, "QEMU exit status %d, expected 0" % rc)
    # QEMU drops a frame the LAN9118's receive FIFO cannot take; with the
    # receive window lwipopts.h sets, a whole window always fits.
    check("Failed to send packet" not in out,
          "QEMU dropped frames for the board (receive FIFO full: TCP_WND too large?)")
    check("selftest: PASS" in out, "no PASS line on the console")
    check("selftest: echo ok (%d bytes)" % (len(line) + 1) in out, "no echo line on the console")
    check("selftest: bulk ok (%d bytes each way" % BULK in out, "no bulk line on the console")
    check("selftest: UART1 line ok" in out, "no UART1 line on the console")
    check("selftest: host edges ok" in out, "host file and command line edges not checked")
    check(FORMAT_LINE in out, "board_log output differs from\n  " + FORMAT_LINE)
    check(echo.error is None, "echo server: %s" % echo.error)
    got, back = echo.result
    check(got == (line + "\n").encode(), "echo server received %r, expected %r" % (got, line + "\n"))
    check(back == bulk_pattern(BULK),
          "bulk data from the board: %d bytes, pattern %s" %
          (len(back), "matches" if back == bulk_pattern(len(back)) else "differs"))
    check(uart.error is None, "UART1 peer: %s" % uart.error)
    check(uart.result == b"hubkey-line ping\n", "UART1 peer received %r" % uart.result)
    m = re.search(r"stack high-water (\d+) of (\d+) bytes", out)
    check(m is not None and 0 < int(m.group(1)) < int(m.group(2)), "no stack figure")
    print("PASS: echo of %d bytes, %d bytes each way, stack high-water %s bytes" %
          (len(line) + 1, BULK, m.group(1)))


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


def test_refused(qemu, image, timeout):
    # A loopback port nothing listens on: bound, then closed again.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, out = run_qemu(qemu, image, ["board-selftest", "port=%d" % port], None, timeout)
    check(rc == 1, "QEMU exit status %d, expected 1 (the self-test's failure)" % rc)
    check("selftest: FAIL connection error" in out, "no connection error on the console")
    check("selftest: PASS" not in out, "PASS without a server")
    print("PASS: a refused connection fails the self-test, exit status %d" % rc)


def test_overflow(qemu, image, timeout):
    rc, out = run_qemu(qemu, image, ["board-selftest", "overflow"], None, timeout)
    check(rc == BOARD_EXIT_FAULT, "QEMU exit status %d, expected %d" % (rc, BOARD_EXIT_FAULT))
    check("*** MemManage" in out, "no MemManage report on the console")
    check(re.search(r"CFSR=0x[0-9a-f]{8}", out), "no CFSR in the dump")
    # The guards: the stack's lowest 32 bytes at the start of RAM and the
    # 16 MiB below it (a 256-byte frame may step over the small one).
    m = re.search(r"MMFAR=0x([0-9a-f]{8})", out)
    check(m is not None and 0x1F000000 <= int(m.group(1), 16) < 0x20000020,
          "MMFAR does not point into the stack guards")
    check("no fault" not in out, "the recursion returned")
    print("PASS: stack overflow reported, exit status %d" % rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qemu")
    ap.add_argument("image")
    ap.add_argument("mode", choices=["echo", "fault", "refused", "overflow"])
    ap.add_argument("--timeout", type=int, default=60)
    a = ap.parse_args()
    check(os.path.isfile(a.image), "no image %s (make firmware builds it)" % a.image)
    {"echo": test_echo, "fault": test_fault, "refused": test_refused,
     "overflow": test_overflow}[a.mode](
        a.qemu, a.image, a.timeout)


if __name__ == "__main__":
    main()
