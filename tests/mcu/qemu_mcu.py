"""Helpers for tests that run firmware images on QEMU's mps2-an386 board.

    from qemu_mcu import Peer, run_qemu, check, read_line, read_exactly

- Peer(talk, timeout): a TCP server thread on a random 127.0.0.1 port
  (peer.port). QEMU's user network maps the guest's 10.0.2.2 to the host's
  127.0.0.1, so the image connects to 10.0.2.2:peer.port; a peer can also
  be UART1's backend (`-serial tcp:127.0.0.1:PORT`, QEMU connects to it).
  It accepts one connection and runs talk(conn); its return value lands in
  peer.result, an exception (a socket timeout included) in peer.error.
- run_qemu(qemu, image, args, uart1, timeout): runs the image with
  -nographic, the LAN9118 on user networking and semihosting (args become
  the command line the image reads with board_cmdline, joined by spaces;
  no argument may hold a comma or a space); uart1 is a
  -serial backend for UART1 or None. Returns (exit status, console text
  with QEMU's own messages); a run that outlives timeout fails the test.
- check(cond, what): fails the test with "FAIL: what".
"""
import socket
import subprocess
import sys
import threading

# board.h: exit statuses of the board itself.
BOARD_EXIT_FAULT = 3
BOARD_EXIT_ASSERT = 4


def read_line(conn):
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(min(65536, n - len(data)))
        if not chunk:
            break
        data += chunk
    return data


class Peer(threading.Thread):
    """Accepts one connection and runs `talk(conn)`, which returns what it
    wants recorded; exceptions (timeouts included) are recorded too."""

    def __init__(self, talk, timeout):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(timeout)
        self.port = self.sock.getsockname()[1]
        self.talk = talk
        self.timeout = timeout
        self.result = None
        self.error = None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(self.timeout)
                self.result = self.talk(conn)
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()


def run_qemu(qemu, image, args, uart1, timeout):
    # QEMU splits its option values at commas; spaces separate the words
    # the image sees.
    check(all("," not in a and " " not in a and a for a in args),
          "semihosting arguments must be non-empty, without commas or spaces: %r" % (args,))
    cmd = [qemu, "-M", "mps2-an386", "-nographic", "-nic", "user,model=lan9118",
           "-semihosting-config",
           "enable=on,target=native," + ",".join("arg=" + a for a in args)]
    if uart1:
        cmd += ["-serial", "mon:stdio", "-serial", uart1]
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
