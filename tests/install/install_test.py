#!/usr/bin/env python3
"""make install, checked the way a packager and an application would use it.

Usage: install_test.py --source SRC --work DIR [--outer BUILD] [--jobs N]

1. Configures DIR/build as make install's release build does (gcc, Release,
   no sanitizers, BUILD_TESTING=OFF: only what is installed), plus
   HK_WERROR=ON: the plain gcc Release build must compile without a warning.
   DIR/build is kept between runs (and ccache is used when present), so a
   second run rebuilds only what changed.
2. Installs it with DESTDIR=DIR/root and prefix /usr (the multiarch library
   directory of GNUInstallDirs) and checks every installed part: programs
   without sanitizer runtimes, the plugin, headers, libhubkey.a and the
   module libraries, hubkey.pc, the CMake package, man pages, the systemd
   unit (naming the installed agent), the example configuration, the docs.
3. Builds tests/install/consumer, an application outside the tree, against
   the installation with pkg-config and with find_package, runs it and
   checks what it prints (a SHA-256 serial number computed independently
   here, the version from include/hubkey/version.h).
4. Starts the installed hubkey-cloud on a free loopback port, which must
   find the installed broker plugin, and stops it.
5. When BUILD (the build this test belongs to) is instrumented, checks that
   `cmake --install BUILD` refuses and installs nothing.

Prints the time of each step. Exit 0 when every check passed.
"""
import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time


class Failure(Exception):
    pass


def run(cmd, what, env=None, cwd=None, expect_rc=0, timeout=1500):
    """Runs cmd; returns its output (stdout + stderr). Fails naming `what`."""
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("%s: timed out after %d s: %s" % (what, timeout, " ".join(cmd)))
    if expect_rc is not None and p.returncode != expect_rc:
        tail = "\n".join(p.stdout.splitlines()[-40:])
        raise Failure("%s: exit %d (expected %d): %s\n%s" %
                      (what, p.returncode, expect_rc, " ".join(cmd), tail))
    return p.stdout if expect_rc is not None else (p.returncode, p.stdout)


def version_of(source):
    with open(os.path.join(source, "include", "hubkey", "version.h")) as f:
        m = re.search(r'^#define HUBKEY_VERSION "([0-9]+\.[0-9]+\.[0-9]+)"', f.read(), re.M)
    if not m:
        raise Failure("include/hubkey/version.h: no HUBKEY_VERSION")
    return m.group(1)


def cache_value(build, name):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"^%s:[A-Z]+=(.*)$" % re.escape(name), line.strip())
                if m:
                    return m.group(1)
    except OSError:
        pass
    return None


def is_on(v):
    return v is not None and v.upper() in ("ON", "1", "TRUE", "YES", "Y")


class Steps:
    def __init__(self):
        self.times = []

    def step(self, name, fn):
        t0 = time.monotonic()
        print("install test: %s ..." % name, flush=True)
        out = fn()
        dt = time.monotonic() - t0
        self.times.append((name, dt))
        print("install test: %s: %.1f s" % (name, dt), flush=True)
        return out


def clean_env():
    env = dict(os.environ)
    for k in ("DESTDIR", "HUBKEY_CLOUD_PLUGIN", "HUBKEY_CLOUD_DIR", "HUBKEY_CLOUD_MOSQUITTO",
              "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH", "CFLAGS", "LDFLAGS", "ASAN_OPTIONS",
              "LD_PRELOAD"):
        env.pop(k, None)
    return env


def configure_and_build(source, build, jobs):
    args = ["cmake", "-S", source, "-B", build, "-DCMAKE_C_COMPILER=gcc",
            "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF", "-DHK_WERROR=ON",
            "-DHK_MANPAGES=ON", "-DCMAKE_INSTALL_PREFIX=/usr"]
    if shutil.which("ccache"):
        args.append("-DCMAKE_C_COMPILER_LAUNCHER=ccache")
    env = clean_env()
    run(args, "configure the release build", env=env)
    out = run(["cmake", "--build", build, "-j", str(jobs)], "build the release build", env=env)
    # HK_WERROR makes a warning fail the build; a note of any that get
    # through (a new warning flag of a newer compiler) is still wanted.
    warnings = [l for l in out.splitlines() if "warning:" in l]
    if warnings:
        raise Failure("the gcc Release build printed warnings:\n" + "\n".join(warnings[:20]))


def check_installed(build, root, version):
    libdir = cache_value(build, "CMAKE_INSTALL_LIBDIR") or "lib"
    usr = os.path.join(root, "usr")
    programs = ["hubkey", "hubkey-factory", "hubkey-cloud", "hubkey-chip-bridge"]
    expected = ["bin/" + p for p in programs]
    expected += ["share/man/man1/%s.1" % p for p in programs]
    expected += [libdir + "/hubkey/hubkey-cloud-plugin.so",
                 libdir + "/libhubkey.a", libdir + "/libhk_json.a", libdir + "/libhk_tls.a",
                 libdir + "/libhk_emu_atecc608.a",
                 libdir + "/pkgconfig/hubkey.pc",
                 libdir + "/cmake/hubkey/hubkeyConfig.cmake",
                 libdir + "/cmake/hubkey/hubkeyConfigVersion.cmake",
                 libdir + "/cmake/hubkey/hubkeyTargets.cmake",
                 "include/hubkey/version.h", "include/hubkey/json.h", "include/hubkey/record.h",
                 "include/hubkey/device.h", "include/hubkey/hk_posix.h",
                 "lib/systemd/system/hubkey.service",
                 "share/doc/hubkey/README.md", "share/doc/hubkey/LICENSE",
                 "share/doc/hubkey/CHANGELOG.md", "share/doc/hubkey/SECURITY.md",
                 "share/doc/hubkey/docs/install.md", "share/doc/hubkey/docs/hubkey-agent.md",
                 "share/doc/hubkey/examples/hubkey.conf"]
    missing = [e for e in expected if not os.path.isfile(os.path.join(usr, e))]
    if missing:
        raise Failure("not installed under %s: %s" % (usr, ", ".join(missing)))

    # Every public header in the tree is installed.
    source_headers = sorted(os.listdir(os.path.join(ARGS.source, "include", "hubkey")))
    for h in source_headers:
        if h.endswith(".h") and not os.path.isfile(os.path.join(usr, "include/hubkey", h)):
            raise Failure("include/hubkey/%s is not installed" % h)

    # Optimised programs without sanitizer runtimes (the test build's are
    # instrumented; they must never be what gets installed).
    for p in programs + [libdir + "/hubkey/hubkey-cloud-plugin.so"]:
        path = os.path.join(usr, p if "/" in p else "bin/" + p)
        with open(path, "rb") as f:
            data = f.read()
        for marker in (b"__asan_init", b"__ubsan_handle", b"__sanitizer_cov", b"LLVMFuzzer"):
            if marker in data:
                raise Failure("%s carries %s: an instrumented build was installed" %
                              (p, marker.decode()))
    for p in programs:
        run([os.path.join(usr, "bin", p), "--help"], "installed %s --help" % p,
            env=clean_env())
        # A program that reports a version reports version.h's.
        rc, out = run([os.path.join(usr, "bin", p), "--version"], "installed %s --version" % p,
                      env=clean_env(), expect_rc=None, timeout=60)
        m = re.search(r"\b(\d+\.\d+\.\d+)\b", out)
        if rc == 0 and m and m.group(1) != version:
            raise Failure("%s --version says %s, include/hubkey/version.h %s" %
                          (p, m.group(1), version))

    for p in programs:
        with open(os.path.join(usr, "share/man/man1/%s.1" % p)) as f:
            page = f.read()
        if not re.search(r'^\.TH "?%s"? "?1"?' % re.escape(p.upper()), page, re.M) or \
                version not in page:
            raise Failure("man page %s.1 lacks its title or version %s" % (p, version))

    with open(os.path.join(usr, "lib/systemd/system/hubkey.service")) as f:
        unit = f.read()
    if not re.search(r"^ExecStart=/usr/bin/hubkey ", unit, re.M):
        raise Failure("the installed systemd unit does not start /usr/bin/hubkey:\n" + unit)
    return libdir


def check_consumer_output(out, version, what):
    pub = bytes(range(64))
    sn = hashlib.sha256(pub + bytes(3)).hexdigest()
    want = ["version " + version,
            'json {"device":"consumer-1","temperature":21}',
            "temperature 21",
            "record hub.example.net dev-0001",
            "sn " + sn,
            "tls linked"]
    got = out.splitlines()
    if got != want:
        raise Failure("%s printed:\n%s\nexpected:\n%s" % (what, out, "\n".join(want)))


def consumer_pkg_config(root, libdir, work, version):
    env = clean_env()
    env["PKG_CONFIG_LIBDIR"] = os.path.join(root, "usr", libdir, "pkgconfig")
    env["PKG_CONFIG_SYSROOT_DIR"] = root
    env["PKG_CONFIG_ALLOW_SYSTEM_CFLAGS"] = "1"
    env["PKG_CONFIG_ALLOW_SYSTEM_LIBS"] = "1"
    got = run(["pkg-config", "--modversion", "hubkey"], "pkg-config --modversion", env=env).strip()
    if got != version:
        raise Failure("hubkey.pc says version %s, include/hubkey/version.h %s" % (got, version))
    flags = run(["pkg-config", "--cflags", "--libs", "hubkey"], "pkg-config", env=env).split()
    if not any(f.startswith("-I" + root) for f in flags):
        raise Failure("pkg-config --cflags does not point into the installation: %s" % flags)
    exe = os.path.join(work, "consumer-pkg-config")
    src = os.path.join(ARGS.source, "tests", "install", "consumer", "main.c")
    run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", src, "-o", exe] + flags,
        "build the consumer with pkg-config", env=env)
    check_consumer_output(run([exe], "run the pkg-config consumer"), version,
                          "the pkg-config consumer")


def consumer_cmake(root, work, version):
    build = os.path.join(work, "consumer-cmake")
    shutil.rmtree(build, ignore_errors=True)
    env = clean_env()
    prefix = os.path.join(root, "usr")
    run(["cmake", "-S", os.path.join(ARGS.source, "tests", "install", "consumer"), "-B", build,
         "-DCMAKE_C_COMPILER=gcc", "-DCMAKE_BUILD_TYPE=Release",
         "-DCMAKE_PREFIX_PATH=" + prefix, "-DHK_EXPECT_VERSION=" + version,
         "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"],
        "configure the consumer with find_package", env=env)
    found = cache_value(build, "hubkey_DIR") or ""
    if not found.startswith(prefix + "/"):
        raise Failure("find_package(hubkey) took %r, not the installation in %s" % (found, prefix))
    run(["cmake", "--build", build, "-j", "2"], "build the consumer with find_package", env=env)
    check_consumer_output(run([os.path.join(build, "consumer")], "run the CMake consumer"),
                          version, "the find_package consumer")
    out = run([os.path.join(build, "consumer_json")], "run the hubkey::json consumer")
    if out.strip() != "json-only HK_OK 3":
        raise Failure("the hubkey::json consumer printed %r" % out)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def installed_cloud(root, work):
    """The installed hubkey-cloud starts the broker with the installed plugin."""
    cli = os.path.join(root, "usr", "bin", "hubkey-cloud")
    state = os.path.join(work, "cloud-state")
    shutil.rmtree(state, ignore_errors=True)
    env = clean_env()
    started = False
    try:
        for _ in range(5):
            rc, out = run([cli, "--dir", state, "start", "--port", str(free_port())],
                          "installed hubkey-cloud start", env=env, expect_rc=None, timeout=120)
            if rc == 0:
                started = True
                break
            if rc != 4:  # 4: the broker did not start (the port was taken meanwhile)
                break
        if not started:
            raise Failure("the installed hubkey-cloud did not start (exit %d):\n%s" % (rc, out))
        out = run([cli, "--dir", state, "status", "--json"], "installed hubkey-cloud status",
                  env=env, timeout=60)
        if '"running":true' not in out.replace(" ", ""):
            raise Failure("installed hubkey-cloud status: not running:\n" + out)
    finally:
        if started:
            run([cli, "--dir", state, "stop"], "installed hubkey-cloud stop", env=env,
                timeout=60)


def outer_refuses(outer, work):
    """An instrumented build refuses cmake --install and installs nothing."""
    dest = os.path.join(work, "refused")
    shutil.rmtree(dest, ignore_errors=True)
    env = clean_env()
    env["DESTDIR"] = dest
    rc, out = run(["cmake", "--install", outer], "cmake --install of the test build", env=env,
                  expect_rc=None, timeout=120)
    if rc == 0 or "instrumented" not in out:
        raise Failure("cmake --install of the instrumented build %s did not refuse "
                      "(exit %d):\n%s" % (outer, rc, out))
    if os.path.exists(dest) and any(files for _, _, files in os.walk(dest)):
        raise Failure("the refused install still wrote files under %s" % dest)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--outer")
    ap.add_argument("--jobs", type=int, default=2)
    ARGS = ap.parse_args()
    ARGS.source = os.path.abspath(ARGS.source)
    work = os.path.abspath(ARGS.work)
    os.makedirs(work, exist_ok=True)
    build = os.path.join(work, "build")
    root = os.path.join(work, "root")
    version = version_of(ARGS.source)
    s = Steps()
    try:
        s.step("gcc Release build (BUILD_TESTING=OFF, HK_WERROR=ON)",
               lambda: configure_and_build(ARGS.source, build, ARGS.jobs))
        shutil.rmtree(root, ignore_errors=True)

        def install():
            env = clean_env()
            env["DESTDIR"] = root
            run(["cmake", "--install", build], "cmake --install", env=env)
        s.step("install into DESTDIR", install)
        libdir = s.step("check the installed files", lambda: check_installed(build, root, version))
        s.step("consumer with pkg-config", lambda: consumer_pkg_config(root, libdir, work, version))
        s.step("consumer with find_package", lambda: consumer_cmake(root, work, version))
        s.step("installed hubkey-cloud with its plugin", lambda: installed_cloud(root, work))
        if ARGS.outer and (is_on(cache_value(ARGS.outer, "HK_SANITIZE")) or
                           is_on(cache_value(ARGS.outer, "HK_FUZZ"))):
            s.step("the instrumented build refuses to install",
                   lambda: outer_refuses(os.path.abspath(ARGS.outer), work))
    except Failure as e:
        print("install test: FAILED: %s" % e, file=sys.stderr)
        return 1
    total = sum(t for _, t in s.times)
    print("install test: passed in %.1f s (%s)" %
          (total, ", ".join("%s %.1f s" % (n.split(" (")[0], t) for n, t in s.times)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
