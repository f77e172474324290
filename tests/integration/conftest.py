# SPDX-License-Identifier: MIT
"""Integration harness for firegw: paths, config writers, and a Daemon that is always stopped.

Run by meson (`meson test --setup all`: each test_NAME.py is the meson test NAME, the files
side by side, the tests marked `alone` in NAME-alone with nothing beside them) with
FIREGW_SOURCE_ROOT and FIREGW_BUILD_ROOT set, or by hand:

    /usr/bin/python3 -m pytest -q tests/integration

in which case the source root is found from this file and the build root is `<source>/build`.
Only Debian's /usr/bin/python3 with its stdlib and python3-pytest is used.

FIREGW_VALGRIND=1 runs every firegw the tests start (Daemon and run_firegw) and every
firegwctl (run_tool) under valgrind's memcheck (`scripts/test --valgrind`): a definite leak
or an invalid access fails the test
(exit code 99, or the errors in the process's valgrind log, kept in FIREGW_VALGRIND_LOGS).
Every wait is scaled by FIREGW_SLOW (default 5 under valgrind). A firegw that a test starts
under a wrapper of its own (strace) runs as it is, and so do the daemons of a test marked
@pytest.mark.no_valgrind (kill -9 and timing tests).
"""

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

# Every wait is bounded by this (seconds); generous so a slow or sanitized build still passes.
TIMEOUT = 10.0
# How long a process gets after SIGTERM before it is killed in teardown.
KILL_AFTER = 5.0

# Valgrind: see the module's docstring.
VALGRIND = os.environ.get("FIREGW_VALGRIND", "") not in ("", "0")
# How much slower firegw runs: every bounded wait of this harness is multiplied by it.
SLOW = float(os.environ.get("FIREGW_SLOW") or (5 if VALGRIND else 1))
VALGRIND_EXIT = 99


def _source_root():
    env = os.environ.get("FIREGW_SOURCE_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def _build_root(src):
    env = os.environ.get("FIREGW_BUILD_ROOT")
    if env:
        return Path(env).resolve()
    return src / "build"


SOURCE_ROOT = _source_root()
BUILD_ROOT = _build_root(SOURCE_ROOT)
FIREGW = BUILD_ROOT / "firegw"
# The binary itself: a test that puts a wrapper of its own in FIREGW is not run under valgrind.
_REAL_FIREGW = FIREGW
EXAMPLES = SOURCE_ROOT / "config" / "examples"
# The message catalogues as built (po/<lang>/LC_MESSAGES/firegw.mo), for firegw and firegwctl.
os.environ.setdefault("FIREGW_LOCALEDIR", str(BUILD_ROOT / "po"))
PROFILES = SOURCE_ROOT / "config" / "profiles"


def project_version():
    """The version in the top-level meson.build's project()."""
    text = (SOURCE_ROOT / "meson.build").read_text(encoding="utf-8")
    m = re.search(r"project\s*\(.*?version\s*:\s*'([^']+)'", text, re.S)
    assert m, "no version in meson.build's project()"
    return m.group(1)


def sanitized_build():
    """True when the build under test has ASan/UBSan (its meson options say so)."""
    import json
    try:
        opts = json.loads((BUILD_ROOT / "meson-info" / "intro-buildoptions.json").read_text())
    except (OSError, ValueError):
        return False
    return any(o["name"] == "b_sanitize" and o["value"] != "none" for o in opts)


def daemon_env(extra=None):
    """The environment for a firegw child: ours, minus anything systemd would hand it."""
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
              "LISTEN_FDNAMES", "INVOCATION_ID", "JOURNAL_STREAM"):
        env.pop(k, None)
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def person_env(lang):
    """The environment of a person at a shell: LANG as given (zh_CN.UTF-8, C), nothing
    overriding it (daemon_env's LC_ALL=C dropped)."""
    env = daemon_env()
    for k in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        env.pop(k, None)
    env["LANG"] = lang
    return env


# ---- valgrind ----

_wrap = VALGRIND  # off during a test marked no_valgrind


def _valgrind_log_dir():
    d = os.environ.get("FIREGW_VALGRIND_LOGS")
    d = Path(d) if d else Path(tempfile.gettempdir()) / f"firegw-valgrind-{os.getpid()}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def firegw_argv(name="firegw"):
    """The argv that starts FIREGW: under valgrind when asked, with the log file the process's
    valgrind report goes to (name.PID.log); (argv, log pattern or None)."""
    exe = str(FIREGW)
    if not (_wrap and Path(exe) == _REAL_FIREGW):
        return [exe], None
    return valgrind_argv(exe, name)


def valgrind_argv(exe, name):
    """[valgrind ..., exe] and the pattern of its report's file (name.PID.log)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    pattern = str(_valgrind_log_dir() / f"{safe}.%p.log")
    argv = ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
            "--track-fds=no", "--num-callers=30", f"--log-file={pattern}"]
    supp = SOURCE_ROOT / "tests" / "valgrind.supp"
    if supp.is_file():
        argv.append(f"--suppressions={supp}")
    return argv + [exe], pattern


def valgrind_problems(pattern, pid, returncode):
    """The valgrind report of a process if it found errors, else None. A process killed by a
    signal (SIGKILL in a test) wrote no summary: nothing to judge."""
    if pattern is None or returncode is None or returncode < 0:
        return None
    log = Path(pattern.replace("%p", str(pid)))
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    m = re.search(r"ERROR SUMMARY: ([0-9,]+) errors", text)
    errors = int(m.group(1).replace(",", "")) if m else 0
    if errors == 0 and returncode != VALGRIND_EXIT:
        return None
    return f"valgrind found {errors} error(s) (pid {pid}, exit {returncode}); " \
           f"{log}:\n{text}"


def _run_to_end(label, argv, pattern, args, timeout, env=None):
    """Runs argv + args to completion; an error valgrind reports (pattern: its log) fails the
    test here. Returns CompletedProcess (text)."""
    p = subprocess.Popen([*argv, *map(str, args)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", env=env)
    try:
        out, err = p.communicate(timeout=timeout * SLOW)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    problems = valgrind_problems(pattern, p.pid, p.returncode)
    if problems:
        raise AssertionError(f"{label} {' '.join(map(str, args))}: {problems}")
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def run_firegw(*args, timeout=30):
    """Runs firegw to completion (for --version, check, ...); returns CompletedProcess (text).
    Under valgrind, an error it reports fails the test here."""
    argv, pattern = firegw_argv("run")
    return _run_to_end("firegw", argv, pattern, args, timeout, env=daemon_env())


def run_tool(exe, args, timeout):
    """Runs one of firegw's tools (firegwctl) to completion, under valgrind when asked (an
    error valgrind reports fails the test here); returns CompletedProcess (text)."""
    name = Path(exe).name
    argv, pattern = valgrind_argv(str(exe), name) if _wrap else ([str(exe)], None)
    return _run_to_end(name, argv, pattern, args, timeout)


def line_of(path, needle, nth=1):
    """The 1-based number of the nth line of a file that contains needle."""
    seen = 0
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError(f"{path}: no line {nth} containing {needle!r}")


def write_site_config(path, data_dir, example="rental.conf", extra=""):
    """A site config: an example included whole, data_dir moved into the test's tmp dir.

    The include must stand alone on its line; an untitled section written twice merges, so
    the second `gateway` only overrides data_dir. Relative paths in the example (profiles)
    resolve against the example's own directory.
    """
    # The platform moves to loopback too (a closed port: uploads fail and are retried, and
    # no traffic leaves the machine), with a token file only the owner reads.
    token = Path(path).parent / "platform-token"
    token.write_text("test-token\n", encoding="utf-8")
    token.chmod(0o600)
    # The control socket in the test's own directory (AF_UNIX paths hold 107 bytes).
    sock = Path(path).parent / "ctl"
    if len(str(sock)) > 100:
        sock = Path(tempfile.mkdtemp(prefix="fgw-")) / "ctl"
    text = (f'include("{EXAMPLES / example}")\n'
            f'gateway {{\n'
            f'  data_dir = "{data_dir}"\n'
            f'  control_socket = "{sock}"\n'
            f'}}\n'
            f'platform {{\n'
            f'  url = "https://127.0.0.1:1/api"\n'
            f'  token_file = "{token}"\n'
            f'}}\n')
    if extra:
        text += extra if extra.endswith("\n") else extra + "\n"
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


def ledger_connect(path):
    """A read-only connection to a ledger file (the test looks, it does not touch)."""
    assert Path(path).exists(), f"no ledger at {path}"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT)


def ledger_query(path, sql, params=()):
    con = ledger_connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def ledger_sequences(path):
    """sqlite_sequence as a dict {table: seq}."""
    return dict(ledger_query(path, "SELECT name, seq FROM sqlite_sequence"))


def wait_until(what, fn, timeout=TIMEOUT, daemon=None, interval=0.1):
    """Polls fn until it returns something truthy; returns that. Fails with `what` (and the
    daemon's log) when the time is up or the daemon died. The time is scaled by SLOW."""
    timeout *= SLOW
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if daemon is not None and not daemon.alive():
            raise AssertionError(f"firegw exited while waiting for {what}\n{daemon.log_text()}")
        if time.monotonic() > deadline:
            log = f"\n{daemon.log_text()}" if daemon is not None else ""
            raise AssertionError(f"no {what} within {timeout} s{log}")
        time.sleep(interval)


def wait_subscribed(broker, d):
    """Until the broker has firegw's SUBSCRIBE: "connected" is logged at the CONNACK, and an
    alarm published before the subscription exists is not kept for a new session (MQTT).
    The broker handles one packet at a time, so what is published after this line is."""
    wait_until("firegw's SUBSCRIBE at the broker", lambda: any(
        "Received SUBSCRIBE from firegw-" in x for x in broker.log_lines()), daemon=d)


class DaemonError(AssertionError):
    pass


class Daemon:
    """One `firegw -f -c CONF` child.

    Its stderr (and stdout) are read by background threads into `lines` / `stdout_lines`;
    sd_notify datagrams arrive on a NOTIFY_SOCKET the harness binds, collected into `notes`.
    Every wait is bounded and fails fast, with the log, if the process exits meanwhile.
    """

    def __init__(self, conf, name="firegw", args=(), env=None):
        self.conf = Path(conf)
        self.name = name
        self.args = list(args)
        self.extra_env = env or {}
        self.proc = None
        self.lines = []          # stderr lines, without the newline
        self.stdout_lines = []
        self.notes = []          # sd_notify datagrams, as text
        self.returncode = None
        self.valgrind_log = None  # the log pattern when it runs under valgrind
        self._cond = threading.Condition()
        self._threads = []
        self._sock = None
        self._sockdir = None
        self._closing = threading.Event()

    # ---- start and stop ----

    def start(self, wait_ready=True, timeout=TIMEOUT):
        assert self.proc is None, "already started"
        # A short directory: AF_UNIX paths are limited to 108 bytes and tmp_path is long.
        self._sockdir = tempfile.mkdtemp(prefix="firegw-notify-")
        sock_path = os.path.join(self._sockdir, "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(sock_path)
        self._sock.settimeout(0.2)
        self._spawn_thread(self._read_notify, "notify")

        argv, self.valgrind_log = firegw_argv(self.name)
        cmd = [*argv, "-f", "-c", str(self.conf), *self.args]
        env = daemon_env({"NOTIFY_SOCKET": sock_path, **self.extra_env})
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self._spawn_thread(lambda: self._read_pipe(self.proc.stderr, self.lines), "stderr")
        self._spawn_thread(lambda: self._read_pipe(self.proc.stdout, self.stdout_lines),
                           "stdout")
        if wait_ready:
            self.wait_ready(timeout=timeout)
        return self

    def _spawn_thread(self, fn, what):
        t = threading.Thread(target=fn, name=f"{self.name}-{what}", daemon=True)
        t.start()
        self._threads.append(t)

    def _read_pipe(self, pipe, into):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._cond:
                into.append(line)
                self._cond.notify_all()
        pipe.close()
        with self._cond:
            self._cond.notify_all()

    def _read_notify(self):
        while not self._closing.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            with self._cond:
                self.notes.append(data.decode("utf-8", errors="replace"))
                self._cond.notify_all()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def valgrind_problems(self):
        """Under valgrind, once exited: its report if it found errors, else None."""
        if self.proc is None:
            return None
        return valgrind_problems(self.valgrind_log, self.proc.pid, self.proc.returncode)

    def send(self, sig):
        assert self.alive(), f"{self.name} is not running\n{self.log_text()}"
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=TIMEOUT):
        """Waits for the process to exit; returns its exit code, output read to the end."""
        timeout *= SLOW
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DaemonError(f"{self.name} (pid {self.pid}) did not exit within {timeout} s"
                              f"\n{self.log_text()}") from None
        self._join_readers(timeout)
        return self.returncode

    def stop(self, timeout=TIMEOUT):
        """SIGTERM and wait; returns the exit code (the caller asserts it)."""
        self.send(signal.SIGTERM)
        return self.wait_exit(timeout)

    def _join_readers(self, timeout):
        for t in self._threads:
            if t.name.endswith(("-stderr", "-stdout")):
                t.join(timeout)

    def close(self):
        """Teardown: whatever happened, the process is gone and the socket closed after this."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=KILL_AFTER * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            if self.returncode is None:
                self.returncode = self.proc.returncode
            self._join_readers(TIMEOUT * SLOW)
        self._closing.set()
        for t in self._threads:
            t.join(TIMEOUT)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None

    # ---- waiting ----

    def mark(self):
        """A position in the log and the notify stream; later waits can start from it."""
        with self._cond:
            return (len(self.lines), len(self.notes))

    def _wait(self, what, test, timeout):
        timeout *= SLOW
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = test()
                if found is not None:
                    return found
                if self.proc is not None and self.proc.poll() is not None:
                    # One more look: the last lines may have arrived with the exit.
                    self._cond.wait(0.2)
                    found = test()
                    if found is not None:
                        return found
                    raise DaemonError(f"{self.name} exited with {self.proc.returncode} while "
                                      f"waiting for {what}\n{self.log_text()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DaemonError(f"{self.name}: no {what} within {timeout} s"
                                      f"\n{self.log_text()}")
                self._cond.wait(min(left, 0.5))

    def wait_log(self, pattern, since=None, timeout=TIMEOUT):
        """Waits for a stderr line matching the regex (re.search); returns the match."""
        rx = re.compile(pattern)
        start = since[0] if since else 0

        def test():
            for line in self.lines[start:]:
                m = rx.search(line)
                if m:
                    return m
            return None

        return self._wait(f"log line matching {pattern!r}", test, timeout)

    def wait_notify(self, field, since=None, timeout=TIMEOUT):
        """Waits for an sd_notify datagram holding the line `field` (e.g. "READY=1")."""
        start = since[1] if since else 0

        def test():
            for i in range(start, len(self.notes)):
                if field in self.notes[i].split("\n"):
                    return i
            return None

        return self._wait(f"sd_notify {field}", test, timeout)

    def wait_ready(self, since=None, timeout=TIMEOUT):
        return self.wait_notify("READY=1", since=since, timeout=timeout)

    def reload(self, timeout=TIMEOUT):
        """SIGHUP; waits for RELOADING=1 then READY=1 after it. Returns the mark before."""
        m = self.mark()
        self.send(signal.SIGHUP)
        i = self.wait_notify("RELOADING=1", since=m, timeout=timeout)
        self.wait_ready(since=(m[0], i + 1), timeout=timeout)
        return m

    # ---- reading the log ----

    def log_since(self, since=None):
        with self._cond:
            return list(self.lines[since[0] if since else 0:])

    def log_text(self):
        with self._cond:
            out = [f"--- {self.name} stderr ({len(self.lines)} lines) ---", *self.lines]
            if self.stdout_lines:
                out += [f"--- {self.name} stdout ---", *self.stdout_lines]
            out += [f"--- {self.name} sd_notify ---", *(repr(n) for n in self.notes)]
        return "\n".join(out)


@pytest.fixture(scope="session")
def firegw_bin():
    """The daemon binary; a missing one fails the tests loudly (build it first)."""
    if not FIREGW.is_file() or not os.access(FIREGW, os.X_OK):
        pytest.fail(f"firegw binary not found at {FIREGW}: build it first "
                    f"(e.g. `ninja -C {BUILD_ROOT} firegw`), or set FIREGW_BUILD_ROOT to the "
                    f"build directory that holds it", pytrace=False)
    return FIREGW


@pytest.fixture
def daemon_factory(firegw_bin, request):
    """daemon_factory(conf, name=...) -> a Daemon, not started. All are stopped in teardown,
    on failure too; their logs are printed then (pytest shows them for a failed test)."""
    made = []

    def make(conf, name=None, **kw):
        d = Daemon(conf, name=name or f"firegw#{len(made) + 1}", **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
    for d in made:
        print(d.log_text())
        print(f"--- {d.name} exit code: {d.returncode} ---")
    problems = [p for p in (d.valgrind_problems() for d in made) if p]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "no_valgrind: the firegw this test starts runs without "
                            "valgrind even when FIREGW_VALGRIND is set (kill -9, timing)")
    config.addinivalue_line("markers", "alone: run with no other test beside it (meson runs "
                            "these in NAME-alone, is_parallel: false): its checks count what "
                            "happens within a time limit, under strace")


@pytest.fixture(autouse=True)
def _valgrind_marker(request):
    """A test marked no_valgrind starts its firegw as it is."""
    global _wrap
    _wrap = VALGRIND and request.node.get_closest_marker("no_valgrind") is None
    yield
    _wrap = VALGRIND


@pytest.fixture
def site(tmp_path):
    """A tmp dir with a site config (rental example, data_dir inside the tmp dir)."""

    class Site:
        root = tmp_path
        data = tmp_path / "data"
        conf = tmp_path / "firegw.conf"
        ledger = tmp_path / "data" / "ledger.db"

        def write(self, extra="", example="rental.conf"):
            return write_site_config(self.conf, self.data, example=example, extra=extra)

    s = Site()
    s.write()
    return s


# ---- peers shared by several test files ----

SIM = BUILD_ROOT / "tests" / "modbus-sim"


@pytest.fixture
def sims():
    """sims("20") -> a started detector simulator (Modbus TCP on a free port, .port) with
    those units; every one is stopped in teardown and described in the output."""
    from modbus_peers import ModbusSim
    made = []

    def make(units):
        if not SIM.is_file():
            pytest.fail(f"simulator not found at {SIM}: build it first", pytrace=False)
        sim = ModbusSim(SIM, ["--tcp", 0, "--units", units], name=f"modbus-sim {units}")
        made.append(sim)
        sim.port = int(sim.start("listening").split()[1])
        return sim

    yield make
    for s in made:
        s.close()
    for s in made:
        print(s.describe())


@pytest.fixture
def broker(tmp_path):
    """One mosquitto with persistence on a free loopback port, stopped in teardown (woken
    first if a test froze it with SIGSTOP). A test file may define its own `broker`."""
    from mqtt_peers import Broker
    b = Broker(tmp_path / "broker", persistence=True)
    b.start()
    yield b
    if b.proc is not None and b.proc.poll() is None:
        b.proc.send_signal(signal.SIGCONT)  # a test that failed mid-freeze
    b.stop()
    print(b.describe())


def peak_rss_kb(d):
    """A running Daemon's peak resident memory (VmHWM), in kB."""
    with open(f"/proc/{d.pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


def small_tmpfs(path, size="8m"):
    """Mounts a tmpfs of `size` on path (made if missing) and yields it, always unmounting it
    after; skips the test, saying why, without the right to mount (root, as in CI's
    container). For a generator fixture: `yield from small_tmpfs(dir)`."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                        str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the data directory: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
