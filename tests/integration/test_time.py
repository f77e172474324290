# SPDX-License-Identifier: MIT
"""The wall clock jumping forward and back under a running firegw (libfaketime).

firegw runs with libfaketime preloaded: its wall clock (time, gettimeofday, CLOCK_REALTIME) is
the real one plus an offset read from a file the test rewrites (FAKETIME_TIMESTAMP_FILE,
FAKETIME_NO_CACHE), while its monotonic clock stays real (FAKETIME_DONT_FAKE_MONOTONIC). The
peers (platform receiver, Modbus simulator) run on the real clock. The tests jump the offset
forward (+1 day, +1 year) and back (-1 day) while a detector's hold time is pending, while
the platform is failing and firegw is backing off, and while heartbeats and events flow, and
check what a user would: the hazard is raised after its hold (not at the jump, not never), the
retry comes after the backoff, heartbeats keep their pace, every event reaches the platform
exactly once with the faked time in `at`, and events and heartbeats carry `time_quality`
exactly as the kernel's synchronisation state says (adjtimex, asked here with ctypes).

TLS depends on the wall clock: the PKI of these tests is valid from 3 days before to 800 days
after now, so the jumps stay inside it; one test shows what a clock wrong by a year does with a
2-day certificate (the platform is unreachable, nothing is lost, all arrives once the clock is
right).
"""

import ctypes
import json
import os
import subprocess
import sys
import time
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import pytest

import test_uplink
from conftest import SOURCE_ROOT
from test_uplink import (GATEWAY, LONG, TOKEN, Gw, Pki, _clean_exit,  # noqa: F401
                         assert_exactly_once, iso_ms, platform, requests, wait_delivered,
                         wait_event, wait_until)

sys.path.insert(0, str(SOURCE_ROOT / "tests" / "platform"))
from receiver import Receiver  # noqa: E402

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
DAY = 86400
YEAR = 365 * DAY
HOLD = 5.0  # the leak point's hold time in these tests, seconds


# ---- what the kernel says about the clock ----


class _Timex(ctypes.Structure):
    # struct timex up to status; the rest (and more) as padding.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("_rest", ctypes.c_byte * 256)]


def kernel_time_quality():
    """What firegw should put in time_quality: None (synchronised), "unsynchronised" or
    "unknown", from adjtimex(2) with modes 0 as firegw asks it."""
    libc = ctypes.CDLL(None, use_errno=True)
    tx = _Timex()
    rc = libc.adjtimex(ctypes.byref(tx))
    if rc < 0:
        return "unknown"
    TIME_ERROR, STA_UNSYNC = 5, 0x0040
    return "unsynchronised" if rc == TIME_ERROR or tx.status & STA_UNSYNC else None


# ---- a PKI that survives the jumps ----


def _faked_env(offset):
    env = dict(os.environ)
    env.update({"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": offset})
    return env


def _openssl(d, *args, offset="-3d"):
    r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True,
                       env=_faked_env(offset))
    assert r.returncode == 0, f"openssl {' '.join(args)}:\n{r.stderr}"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Like test_uplink's, but made 3 days in the past (openssl under libfaketime) and valid
    for 800 days: -1 day and +1 year are both inside it. Overrides test_uplink's `pki` for the
    `platform` fixture used here."""
    if not LIBFAKETIME.is_file():
        pytest.fail(f"{LIBFAKETIME} not found: install the Debian package libfaketime "
                    "(scripts/install-deps lists it)", pytrace=False)
    d = tmp_path_factory.mktemp("pki-long")
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "800", "-subj",
             "/CN=firegw test CA (long)", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=serverAuth\n")
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=server")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "800", "-extfile", "server.ext")
    return Pki(d)


# ---- firegw under libfaketime ----


class FakeClock:
    """The offset file libfaketime reads at every time call of the daemon."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.set(0)

    def set(self, seconds):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{seconds:+d}\n")
        os.replace(tmp, self.path)  # never a half-written file
        self.offset = seconds

    def env(self):
        return {
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            # The monotonic clocks stay real: what firegw's timers run on.
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            # A sanitizer build: its runtime need not come first with libfaketime preloaded.
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0",
        }


@pytest.fixture
def clock(tmp_path):
    if not LIBFAKETIME.is_file():
        pytest.fail(f"{LIBFAKETIME} not found: install the Debian package libfaketime",
                    pytrace=False)
    return FakeClock(tmp_path / "faketime.rc")


@pytest.fixture
def gw(tmp_path):
    return Gw(tmp_path)


_PIDS = []


@pytest.fixture(autouse=True)
def _faketime_shm():
    """libfaketime keeps a semaphore and shared memory per process in /dev/shm; a clean exit
    removes them, a crash does not: remove those of the daemons started here."""
    _PIDS.clear()
    yield
    for pid in _PIDS:
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            try:
                os.unlink(f"/dev/shm/{name}")
            except FileNotFoundError:
                pass


def start_faked(daemon_factory, gw, clock, name=None):
    d = daemon_factory(gw.conf, name=name, env=clock.env()).start(timeout=LONG)
    test_uplink._STARTED.append(d)
    _PIDS.append(d.pid)
    return d


RCD = ('device "rcd-1" {{\n  bus = "sim"\n  unit = 10\n  profile = "rcd-4t"\n'
       '  location = "配电箱"\n  interval = "200ms"\n  timeout = "500ms"\n'
       '  setpoint "leak" {{ hold = "{hold}s" clear_hold = "0s" }}\n}}\n')


def write_with_rcd(gw, rx, pki, sim, **kw):
    """The site of test_uplink (smoke-1 on unit 20) plus a residual-current detector on unit 10
    whose leak point has a HOLD-second hold time."""
    gw.write(rx.url, pki.ca(), smoke_port=sim.port, **kw)
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(RCD.format(hold=int(HOLD)))


def real_ms(at, offset):
    """The real time of a faked ISO time stamp, in ms."""
    return iso_ms(at) - offset * 1000


def phase_of(at, phases):
    """The offset of the phase (offset, real start, real end) whose faked time holds `at`."""
    for offset, begin, end in phases:
        if begin - 1 <= real_ms(at, offset) / 1000 <= end + 1:
            return offset
    return None


def assert_time_quality(stored, heartbeats=()):
    """Every event (and heartbeat) carries time_quality exactly as the kernel says now."""
    want = kernel_time_quality()
    for e in stored:
        got = e["body"]["hazard"].get("time_quality")
        assert got == want, f"event {e['seq']} {e['type']}: time_quality {got!r}, kernel: {want!r}"
    for hb in heartbeats:
        got = hb["body"].get("time_quality")
        assert got == want, f"heartbeat {hb['body'].get('sent_at')}: time_quality {got!r}, " \
                            f"kernel: {want!r}"
    return want


# ---- the tests ----


@pytest.mark.parametrize("jump", [DAY, YEAR, -DAY], ids=["+1d", "+1y", "-1d"])
def test_hold_time_survives_a_jump(gw, platform, sims, daemon_factory, pki, clock, jump):
    """A residual current over its alarm setpoint with a 5 s hold; the wall clock jumps while
    the hold is pending. The hazard is raised once the hold has passed on the real clock: not
    at the jump (forward), not never (back); its `at` is the faked time; cleared afterwards;
    both events reach the platform exactly once."""
    rx = platform()
    sim = sims("10,20")
    write_with_rcd(gw, rx, pki, sim)
    d = start_faked(daemon_factory, gw, clock)
    wait_until("polls of the detector", lambda: sim.stats(10) >= 2, daemon=d)

    t_set = time.time()
    sim.set(10, "input", 0, 350)  # mA: over the alarm setpoint (300)
    n = sim.stats(10)
    wait_until("two polls that read the leak", lambda: sim.stats(10) >= n + 2, daemon=d)
    clock.set(jump)
    jumped = time.time() - t_set
    assert jumped < HOLD - 1.0, f"the jump came {jumped:.1f} s after the leak: machine too slow"

    def raised():
        return gw.q("SELECT hazard_id, body FROM events WHERE type = 'raised'")
    (hid, body), = wait_until("the residual_current raised", raised, daemon=d)
    at = json.loads(body)["at"]
    when = real_ms(at, jump) / 1000 - t_set
    print(f"jump {jump:+d} s {jumped:.2f} s after the leak; raised {when:.2f} s after it "
          f"(hold {HOLD} s), at {at}")
    assert when >= HOLD - 0.2, f"raised {when:.2f} s after the leak: the hold ({HOLD} s) " \
                               f"did not hold across a {jump:+d} s jump"
    assert when <= time.time() - t_set + 1, f"`at` {at} is not the faked time (offset {jump})"

    sim.set(10, "input", 0, 0)
    wait_event(gw, hid, "cleared", d)
    wait_delivered(gw, rx, d)
    stored = assert_exactly_once(gw, rx)
    mine = [e for e in stored if e["hazard_id"] == hid]
    assert [e["type"] for e in mine if e["type"] != "resync"] == ["raised", "cleared"]
    for e in mine:  # recorded after the jump: the faked time, within the test's duration
        r = real_ms(e["body"]["at"], jump) / 1000
        assert t_set - 1 <= r <= time.time() + 1, f"{e['type']} at {e['body']['at']}"
    assert_time_quality(stored)


@pytest.mark.parametrize("form,start,then", [("http-date", -DAY, YEAR), ("seconds", YEAR, -DAY)],
                         ids=["http-date:-1d->+1y", "seconds:+1y->-1d"])
def test_backoff_survives_a_jump(gw, platform, daemon_factory, pki, clock, form, start, then):
    """The platform answers 503 with Retry-After (seconds, or an HTTP date on the real clock
    while the gateway's is a day behind or a year ahead); the wall clock jumps during the
    backoff. The retry comes no earlier than asked and not never; the events arrive once,
    stamped with the faked time they were recorded at."""
    rx = platform()
    ra = "4" if form == "seconds" else formatdate(time.time() + 8, usegmt=True)
    rx.set_fail("503", count=1, retry_after=ra, path="events")
    gw.write(rx.url, pki.ca(), dead=2)
    clock.set(start)
    t0 = time.time()
    d = start_faked(daemon_factory, gw, clock)

    def refused():
        return next((r for r in requests(rx) if r["status"] == "503"), None)
    first = wait_until("the platform's 503", refused, daemon=d, interval=0.02)
    clock.set(then)
    t_jump = time.time()
    wait_delivered(gw, rx, d)
    stored = assert_exactly_once(gw, rx)
    log = requests(rx)
    i = log.index(first)
    gap = log[i + 1]["arrived_mono"] - first["arrived_mono"]
    floor = 4.0 if form == "seconds" else parsedate_to_datetime(ra).timestamp() - \
        first["arrived_ts"]
    assert floor > 1.0, f"the test's date was too close: {floor:.2f} s"
    print(f"Retry-After {ra!r}, clock {start:+d} s then {then:+d} s: retried after {gap:.2f} s "
          f"(at least {floor:.2f} s)")
    assert gap >= floor - 0.1, f"retried after {gap:.2f} s despite Retry-After {ra!r}: {log}"
    # Each event stamped with the faked time of when it was recorded: before the jump, or
    # after it (a resync after the recovery; overdue when a year ahead passed the deadlines).
    phases = [(start, t0, t_jump), (then, t_jump, time.time())]
    for e in stored:
        assert phase_of(e["body"]["at"], phases) is not None, \
            f"{e['type']} at {e['body']['at']}: not in the faked time of {phases}"
    assert_time_quality(stored)


def test_heartbeats_and_events_across_jumps(gw, platform, sims, daemon_factory, pki, clock):
    """Heartbeats every 2 s and a smoke alarm raised and cleared in each of four phases: real
    time, +1 day, +1 year, -1 day. Heartbeats keep coming at their pace after every jump (no
    burst after a forward jump, no silence after a backward one), each event and heartbeat is
    stamped with the faked time of its phase, and every event reaches the platform once."""
    interval = 2.0
    rx = platform()
    sim = sims("20")
    gw.write(rx.url, pki.ca(), smoke_port=sim.port, heartbeat=f"{int(interval)}s")
    d = start_faked(daemon_factory, gw, clock)
    phases = []  # (offset, real start, real end)
    for offset in (0, DAY, YEAR, -DAY):
        clock.set(offset)
        begin, mono0 = time.time(), time.monotonic()
        hb0 = len(requests(rx, "/v1/heartbeat"))
        n = len(gw.events())
        sim.set(20, "input", 0, 0b1)
        wait_until(f"an alarm event at {offset:+d} s", lambda: len(gw.events()) > n, daemon=d)
        sim.set(20, "input", 0, 0)
        wait_until(f"a cleared event at {offset:+d} s",
                   lambda: any(t == "cleared" for s, h, t in list(gw.events().values())[n:]),
                   daemon=d)
        wait_until(f"two heartbeats after the jump to {offset:+d} s",
                   lambda: len(requests(rx, "/v1/heartbeat")) >= hb0 + 2, daemon=d)
        phases.append((offset, begin, time.time()))
        beats = len(requests(rx, "/v1/heartbeat")) - hb0
        span = time.monotonic() - mono0
        print(f"clock {offset:+d} s: {beats} heartbeat(s) in {span:.1f} s")
        assert beats <= span / interval + 2, \
            f"{beats} heartbeats in {span:.1f} s at a {interval} s interval after a jump"

    wait_delivered(gw, rx, d)
    phases[-1] = (*phases[-1][:2], time.time())  # a resync or overdue may come last
    stored = assert_exactly_once(gw, rx)
    for e in stored:
        assert phase_of(e["body"]["at"], phases) is not None, \
            f"{e['type']} at {e['body']['at']} is in no phase's faked time: {phases}"
    hbs = [h for h in rx.heartbeats() if h["gateway"] == GATEWAY]
    seen = {phase_of(h["body"]["sent_at"], phases) for h in hbs}
    assert {0, DAY, YEAR, -DAY} <= seen, f"heartbeats' sent_at in phases {seen}"
    want = assert_time_quality(stored, hbs)
    print(f"{len(stored)} events, {len(hbs)} heartbeats; time_quality {want!r}")


def test_clock_a_year_off_fails_tls_then_recovers(gw, daemon_factory, clock, tmp_path):
    """A gateway whose clock is a year ahead sees the platform's 2-day certificate as expired:
    nothing is sent, the log says why, the events wait in the outbox. Once the clock is right
    they all arrive, once."""
    d0 = tmp_path / "pki-short"
    d0.mkdir()
    test_uplink._make_ca(d0, "ca", "firegw test CA")
    test_uplink._make_cert(d0, "server", "ca", "IP:127.0.0.1")
    short = Pki(d0)
    c, k = short.cert("server")
    rx = Receiver(db=tmp_path / "platform.db", token=TOKEN, base="/api", tls_cert=c, tls_key=k,
                  strict=True)
    rx.start()
    try:
        gw.write(rx.url, short.ca(), dead=2)
        clock.set(YEAR)
        d = start_faked(daemon_factory, gw, clock)
        d.wait_log(r"<4>platform uplink: https://127\.0\.0\.1:\d+/api/v1/events: "
                   r".*certificate has expired", timeout=LONG)
        wait_until("two device_offline items", lambda: len(gw.hazard_ids()) == 2, daemon=d)
        assert rx.state()["events"] == 0 and gw.outbox() >= 2
        clock.set(0)
        wait_delivered(gw, rx, d)
        assert_exactly_once(gw, rx)
    finally:
        rx.stop()
