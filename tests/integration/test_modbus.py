# SPDX-License-Identifier: MIT
"""Modbus acquisition against real peers: the detector simulator over TCP and over RTU (a socat
pseudo-terminal pair), and a pymodbus server nobody here wrote.

Each test writes its own site config (one bus, short poll intervals and hold times so that it
runs in seconds), starts firegw and its peers, changes registers the way a detector would, and
looks where a user would look: the hazard ledger, the log, and the output of `firegw scan` and
`firegw probe`. Every wait polls with a bound; nothing sleeps and hopes.
"""

import re
import time

import pytest

from conftest import BUILD_ROOT, PROFILES, TIMEOUT, ledger_query, run_firegw, wait_until
from modbus_peers import ModbusSim, PymodbusServer, SocatPair

SIM = BUILD_ROOT / "tests" / "modbus-sim"
BUS = "conv"

# rcd-4t input registers: leak (mA) at 0, t1-t4 (0.1 degC) at 1-4, open and short bitmaps at 8, 9.
LEAK, T1 = 0, 1
# Setpoint overrides that make the profile's rules act at once (its holds are 5-30 s).
QUICK_LEAK = 'setpoint "leak" { hold = "0s" clear_hold = "0s" }'
QUICK_T1 = 'setpoint "t1" { hold = "0s" clear_hold = "0s" }'
ALARM_KINDS = ("residual_current", "overtemperature", "fire_alarm", "arc_fault",
               "overcurrent", "overvoltage", "undervoltage")


# ---- config ----


def tcp_bus(port, name=BUS):
    return (f'bus "{name}" {{\n  type = "tcp"\n  host = "127.0.0.1"\n  tcp_port = {port}\n'
            f'  connect_timeout = "1s"\n}}\n')


def rtu_bus(port, name=BUS, baud=9600):
    return f'bus "{name}" {{\n  type = "rtu"\n  port = "{port}"\n  baud = {baud}\n}}\n'


def device(dev_id, unit, profile="rcd-4t", bus=BUS, interval="200ms", timeout="200ms",
           retries=0, offline_after=3, extra=""):
    return (f'device "{dev_id}" {{\n  bus = "{bus}"\n  unit = {unit}\n'
            f'  profile = "{profile}"\n  location = "test box {unit}"\n'
            f'  interval = "{interval}"\n  timeout = "{timeout}"\n  retries = {retries}\n'
            f'  offline_after = {offline_after}\n  {extra}\n}}\n')


class Site:
    """A tmp dir with a gateway config of one bus and its devices, and the ledger's path."""

    def __init__(self, root):
        self.root = root
        self.data = root / "data"
        self.conf = root / "firegw.conf"
        self.ledger = self.data / "ledger.db"

    def write(self, bus, *devices):
        self.conf.write_text(
            'gateway {\n  id = "MB-0001"\n'
            f'  data_dir = "{self.data}"\n  profile_dir = "{PROFILES}"\n'
            '  log_level = "info"\n}\n' + bus + "".join(devices), encoding="utf-8")
        return self.conf


# ---- fixtures ----


@pytest.fixture
def gw(tmp_path):
    return Site(tmp_path)


@pytest.fixture
def peers(firegw_bin):
    """Starts simulators, pymodbus servers and socat pairs; all stopped in teardown, on
    failure too (their stderr is printed then)."""
    if not SIM.is_file():
        pytest.fail(f"simulator not found at {SIM}: build it first (ninja -C {BUILD_ROOT} "
                    f"tests/modbus-sim)", pytrace=False)
    made = []

    class Peers:
        def sim_tcp(self, units, port=0):
            sim = ModbusSim(SIM, ["--tcp", port, "--units", units], name=f"modbus-sim {units}")
            made.append(sim)
            sim.port = int(sim.start("listening").split()[1])
            return sim

        def sim_rtu(self, tty, unit, baud=9600):
            sim = ModbusSim(SIM, ["--rtu", tty, "--baud", baud, "--units", unit],
                            name=f"modbus-sim rtu {unit}")
            made.append(sim)
            sim.start("ready")
            return sim

        def pymodbus(self, units):
            srv = PymodbusServer(units)
            made.append(srv)
            srv.port = int(srv.start("listening").split()[1])
            return srv

        def socat(self, directory):
            pair = SocatPair(directory)
            made.append(pair)
            return pair.start()

    yield Peers()
    for p in reversed(made):
        p.close()
    for p in made:
        print(p.describe())


# ---- waiting and looking ----


def hazards(gw, **where):
    """Hazard rows as dicts, filtered by column = value."""
    cols = ("id", "device", "point", "kind", "grade", "status", "active", "occurrences")
    sql = f"SELECT {', '.join(cols)} FROM hazards"
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
    rows = ledger_query(gw.ledger, sql + " ORDER BY num", tuple(where.values()))
    return [dict(zip(cols, r)) for r in rows]


def wait_hazard(gw, d, timeout=TIMEOUT, **where):
    """Waits for exactly one hazard matching `where` and returns it."""
    def one():
        found = hazards(gw, **where)
        assert len(found) <= 1, f"more than one item for {where}: {found}"
        return found[0] if found else None

    return wait_until(f"hazard {where}", one, timeout=timeout, daemon=d)


def events(gw, hazard_id):
    """The types of a hazard's events, in ledger order."""
    return [r[0] for r in ledger_query(
        gw.ledger, "SELECT type FROM events WHERE hazard_id = ? ORDER BY seq", (hazard_id,))]


def wait_polls(sim, unit, more, d, timeout=TIMEOUT):
    """Waits until the simulator has seen `more` further requests for a unit: proof that the
    daemon read its registers again since now."""
    start = sim.stats(unit)
    wait_until(f"{more} more polls of unit {unit}", lambda: sim.stats(unit) >= start + more,
               timeout=timeout, daemon=d)


def count_lines(d, pattern):
    rx = re.compile(pattern)
    return sum(1 for line in d.log_since() if rx.search(line))


def probe_points(stdout):
    """`firegw probe` output as {point: (value, unit, status bits)}: after a header line, one
    line per point, `  NAME VALUE UNIT` with the unit in a 6-wide column, then the names of
    the status bits set."""
    points = {}
    for line in stdout.splitlines()[1:]:
        m = re.match(r"^\s+(\S+)\s+(\S+) (.{0,6})(.*)$", line)
        assert m, f"unexpected probe line {line!r}"
        name, value, unit, bits = m.groups()
        points[name] = (float(value), unit.strip(), bits.strip())
    return points


def scanned_units(stdout):
    return [int(u) for u in re.findall(r"^unit (\d+): answers", stdout, re.M)]


# ---- TCP, many devices behind one converter ----


def test_tcp_24_devices_leak_prealarm_alarm_clear(gw, peers, daemon_factory):
    """24 detectors behind one TCP converter are all polled and none goes offline; a leak on
    one of them past pre-alarm raises a general residual_current item, past alarm the same
    item becomes significant, back to 0 it is cleared but stays open."""
    units = range(1, 25)
    sim = peers.sim_tcp("1-24")
    gw.write(tcp_bus(sim.port), *(device(f"box-{u}", u, extra=QUICK_LEAK) for u in units))
    d = daemon_factory(gw.conf).start()
    d.wait_log(rf"bus '{BUS}': polling 24 device\(s\)")

    wait_until("requests for every unit",
               lambda: all(sim.stats(u) >= 3 for u in units), daemon=d)
    assert hazards(gw, kind="device_offline") == []

    sim.set(7, "input", LEAK, 250)
    h = wait_hazard(gw, d, device="box-7", kind="residual_current")
    assert (h["point"], h["grade"], h["status"], h["active"]) == ("leak", "general", "open", 1)
    d.wait_log(rf"hazard {h['id']} raised: residual_current open grade=general at box-7/leak")

    sim.set(7, "input", LEAK, 350)
    wait_until("the item escalated to significant",
               lambda: hazards(gw, id=h["id"], grade="significant"), daemon=d)
    d.wait_log(rf"hazard {h['id']} escalated: .*grade=significant at box-7/leak")

    sim.set(7, "input", LEAK, 0)
    wait_until("the item cleared", lambda: hazards(gw, id=h["id"], active=0), daemon=d)
    (after,) = hazards(gw, id=h["id"])
    assert (after["status"], after["grade"]) == ("open", "significant")
    assert events(gw, h["id"]) == ["raised", "escalated", "cleared"]
    # One item, on the one device that leaked; every other detector stayed quiet.
    assert [x["id"] for x in hazards(gw)] == [h["id"]]


# ---- what a detector reports ----


@pytest.mark.parametrize("raw", ["0xFC18", "0x7FFF"], ids=["minus-100C", "0x7FFF"])
def test_probe_open_circuit_is_sensor_fault_not_alarm(gw, peers, daemon_factory, raw):
    """A temperature probe that breaks (open bitmap bit 1) raises sensor_fault on t1; whatever
    nonsense the detector then reports as t1 (-100.0 degC, or 0x7FFF = 3276.7 degC) raises no
    overtemperature or any other alarm."""
    sim = peers.sim_tcp("1")
    sim.set(1, "input", LEAK, 20, 250, 250, 250, 250)
    gw.write(tcp_bus(sim.port), device("box-1", 1, extra=QUICK_T1))
    d = daemon_factory(gw.conf).start()
    wait_polls(sim, 1, 3, d)

    # One write: the probe breaks and its register goes wild in the same instant.
    sim.set(1, "input", T1, raw, 250, 250, 250, 0, 0, 0, 0b10)
    h = wait_hazard(gw, d, device="box-1", kind="sensor_fault")
    assert (h["point"], h["active"], h["status"]) == ("t1", 1, "open")
    wait_polls(sim, 1, 5, d)

    alarms = [x for x in hazards(gw, device="box-1") if x["kind"] in ALARM_KINDS]
    assert alarms == [], f"an open probe raised an alarm: {alarms}\n{d.log_text()}"
    assert [x["kind"] for x in hazards(gw)] == ["sensor_fault"]

    r = run_firegw("probe", "-c", gw.conf, "box-1")
    assert r.returncode == 0, r.stderr
    assert "t1_open" in probe_points(r.stdout)["open"][2]


def test_smoke_module_fire_alarm_is_immediate(gw, peers, daemon_factory):
    """A Modbus smoke input module reporting bit 0 (fire) raises a fire_alarm item of grade
    immediate on its 'smoke' channel; the bit going back clears it."""
    sim = peers.sim_tcp("20")
    gw.write(tcp_bus(sim.port), device("smoke-1", 20, profile="smoke-modbus"))
    d = daemon_factory(gw.conf).start()
    wait_polls(sim, 20, 2, d)
    assert hazards(gw) == []

    sim.set(20, "input", 0, 0b1)
    h = wait_hazard(gw, d, device="smoke-1", kind="fire_alarm")
    assert (h["point"], h["grade"], h["active"]) == ("smoke", "immediate", 1)
    d.wait_log(rf"hazard {h['id']} raised: fire_alarm open grade=immediate at smoke-1/smoke")

    sim.set(20, "input", 0, 0)
    wait_until("the fire alarm cleared", lambda: hazards(gw, id=h["id"], active=0), daemon=d)
    assert events(gw, h["id"]) == ["raised", "cleared"]


def test_relay_status_bits(gw, peers, daemon_factory):
    """A residual-current relay judges the current itself: its pre-warning bit raises a
    general residual_current item, its alarm bit makes it significant, its break-line bit is
    a sensor_fault on the leak channel."""
    sim = peers.sim_tcp("10")
    sim.set(10, "holding", 0, 120, 0, 300, 200)
    gw.write(tcp_bus(sim.port), device("main-rcd", 10, profile="rcd-relay"))
    d = daemon_factory(gw.conf).start()
    wait_polls(sim, 10, 2, d)

    sim.set(10, "holding", 0, 250, 0b001)
    h = wait_hazard(gw, d, device="main-rcd", kind="residual_current")
    assert (h["point"], h["grade"]) == ("leak", "general")
    sim.set(10, "holding", 0, 320, 0b011)
    wait_until("the relay's alarm bit escalating the item",
               lambda: hazards(gw, id=h["id"], grade="significant"), daemon=d)
    sim.set(10, "holding", 1, 0b100)
    f = wait_hazard(gw, d, device="main-rcd", kind="sensor_fault")
    assert f["point"] == "leak"
    wait_until("the residual_current item cleared",
               lambda: hazards(gw, id=h["id"], active=0), daemon=d)
    assert events(gw, h["id"]) == ["raised", "escalated", "cleared"]


# ---- faults on the line ----


def test_dead_unit_does_not_starve_the_others(gw, peers, daemon_factory):
    """One silent unit on a bus of 10 goes device_offline; the other 9 keep being read at close
    to their interval and none of them goes offline."""
    units = range(1, 11)
    dead = 4
    sim = peers.sim_tcp("1-10")
    sim.mode(dead, "silent")
    gw.write(tcp_bus(sim.port), *(device(f"box-{u}", u) for u in units))
    d = daemon_factory(gw.conf).start()

    h = wait_hazard(gw, d, device=f"box-{dead}", kind="device_offline")
    assert (h["point"], h["active"]) == ("online", 1)
    d.wait_log(rf"<4>device 'box-{dead}' \(unit {dead} on bus '{BUS}'\): timeout")
    d.wait_log(rf"<4>device 'box-{dead}' is offline")

    live = [u for u in units if u != dead]
    before = {u: sim.stats(u) for u in live}
    t0 = time.monotonic()
    time.sleep(3.0)  # the measuring window, not a wait for something to happen
    after = {u: sim.stats(u) for u in live}
    window = time.monotonic() - t0
    allowed = window / 0.200
    print(f"polls in {window:.1f} s (interval allows {allowed:.0f}): "
          f"{ {u: after[u] - before[u] for u in live} }")
    slow = {u: after[u] - before[u] for u in live if after[u] - before[u] < 0.4 * allowed}
    assert not slow, (f"units polled less than 40% of {allowed:.0f} polls in {window:.1f} s: "
                      f"{slow}\n{d.log_text()}")
    assert [x["device"] for x in hazards(gw, kind="device_offline")] == [f"box-{dead}"]
    # The timeout is logged once, not once per poll.
    assert count_lines(d, rf"device 'box-{dead}' .*: timeout") == 1


def test_converter_unplugged_and_plugged_back(gw, peers, daemon_factory):
    """Stopping the TCP converter makes every device behind it device_offline after its
    failed polls, with one 'cannot connect' line in the log; a converter on the same port
    again brings them all back online (device_offline items cleared)."""
    units = range(1, 5)
    sim = peers.sim_tcp("1-4")
    port = sim.port
    gw.write(tcp_bus(port), *(device(f"box-{u}", u) for u in units))
    d = daemon_factory(gw.conf).start()
    wait_until("every unit polled", lambda: all(sim.stats(u) >= 2 for u in units), daemon=d)
    assert hazards(gw) == []

    mark = d.mark()
    sim.close()
    wait_until("every device offline",
               lambda: len(hazards(gw, kind="device_offline", active=1)) == len(units),
               daemon=d)
    d.wait_log(rf"<4>{BUS}: bus '{BUS}': cannot connect to 127\.0\.0\.1:{port}", since=mark)
    for u in units:
        d.wait_log(rf"<4>device 'box-{u}' is offline", since=mark)

    mark = d.mark()
    sim2 = peers.sim_tcp("1-4", port=port)
    wait_until("every device back online",
               lambda: len(hazards(gw, kind="device_offline", active=0)) == len(units),
               timeout=2 * TIMEOUT, daemon=d)
    for u in units:
        d.wait_log(rf"<5>device 'box-{u}' is back online", since=mark)
    for h in hazards(gw, kind="device_offline"):
        assert events(gw, h["id"]) == ["raised", "cleared"]
        assert h["status"] == "open"
    wait_until("polls on the new converter", lambda: all(sim2.stats(u) >= 1 for u in units),
               daemon=d)
    # Retried every few seconds while it was down, but said once.
    assert count_lines(d, r"cannot connect to") == 1


def test_exception_and_garbage_are_failed_polls(gw, peers, daemon_factory):
    """A unit answering Modbus exception 2 and a unit answering garbage are failed polls: both
    go device_offline, neither raises an alarm although their registers hold one, the log
    names the exception, and a good unit on the same bus stays online."""
    sim = peers.sim_tcp("1-3")
    for u in (1, 2, 3):
        sim.set(u, "input", LEAK, 20)
    for u in (2, 3):
        sim.set(u, "input", LEAK, 400, 950)  # an alarm, if anyone believed these units
    sim.mode(2, "exception", 2)
    sim.mode(3, "garbage")
    gw.write(tcp_bus(sim.port),
             *(device(f"box-{u}", u, extra=f"{QUICK_LEAK} {QUICK_T1}") for u in (1, 2, 3)))
    d = daemon_factory(gw.conf).start()

    for u in (2, 3):
        wait_hazard(gw, d, device=f"box-{u}", kind="device_offline")
    d.wait_log(rf"<4>device 'box-2' \(unit 2 on bus '{BUS}'\): Modbus exception 2\b")
    d.wait_log(r"<4>device 'box-3' \(unit 3 on bus '" + BUS + r"'\): \S")
    wait_polls(sim, 1, 3, d)

    alarms = [x for x in hazards(gw) if x["kind"] in ALARM_KINDS]
    assert alarms == [], f"a failed poll raised an alarm: {alarms}"
    assert sorted(x["device"] for x in hazards(gw)) == ["box-2", "box-3"]


# ---- RTU ----


def test_rtu_over_socat_pty(gw, peers, daemon_factory, tmp_path):
    """Over a serial line (a socat pseudo-terminal pair): probe and scan find the detector,
    and a leak alarm set in it raises a residual_current item."""
    pair = peers.socat(tmp_path)
    sim = peers.sim_rtu(pair.b, 5)
    sim.set(5, "input", LEAK, 40, 305)
    gw.write(rtu_bus(pair.a),
             device("box-5", 5, timeout="500ms", retries=1, extra=QUICK_LEAK))

    # The installer's tools first: a serial port has one user at a time.
    r = run_firegw("probe", "-c", gw.conf, "box-5")
    assert r.returncode == 0, r.stderr
    pts = probe_points(r.stdout)
    assert pts["leak"][:2] == (40, "mA") and pts["t1"][:2] == (30.5, "degC")
    # Absent units on both sides of the one there (the simulator ignores frames for others).
    r = run_firegw("scan", "--port", pair.a, "--baud", 9600, "--units", "4-8",
                   "--timeout", 200, "--profiles", PROFILES)
    assert r.returncode == 0, r.stderr
    assert scanned_units(r.stdout) == [5]
    assert "rcd-4t" in r.stdout

    d = daemon_factory(gw.conf).start()
    wait_polls(sim, 5, 2, d)
    sim.set(5, "input", LEAK, 350)
    h = wait_hazard(gw, d, device="box-5", kind="residual_current")
    assert (h["point"], h["grade"], h["active"]) == ("leak", "significant", 1)
    assert hazards(gw, kind="device_offline") == []


# ---- pymodbus: a device nobody here wrote ----


def test_pymodbus_server_as_detector(gw, peers, daemon_factory):
    """A pymodbus TCP server serving unit ids 1 and 2 is polled like any detector: the alarm
    in its registers raises an item; scan finds exactly units 1 and 2; probe reads it."""
    srv = peers.pymodbus([1, 2])
    srv.set(1, "input", LEAK, 350, 305, 0xFF9C)
    srv.set(2, "input", LEAK, 15, 221)
    gw.write(tcp_bus(srv.port),
             device("pm-1", 1, timeout="500ms", extra=QUICK_LEAK),
             device("pm-2", 2, timeout="500ms", extra=QUICK_LEAK))
    d = daemon_factory(gw.conf).start()

    h = wait_hazard(gw, d, device="pm-1", kind="residual_current")
    assert (h["point"], h["grade"], h["active"]) == ("leak", "significant", 1)
    assert hazards(gw, device="pm-2") == []
    assert hazards(gw, kind="device_offline") == []

    r = run_firegw("scan", "--tcp", f"127.0.0.1:{srv.port}", "--units", "1-10",
                   "--timeout", 200, "--profiles", PROFILES)
    assert r.returncode == 0, r.stderr
    assert scanned_units(r.stdout) == [1, 2]
    assert "rcd-4t" in r.stdout

    r = run_firegw("probe", "-c", gw.conf, "pm-1")
    assert r.returncode == 0, r.stderr
    pts = probe_points(r.stdout)
    assert pts["leak"][:2] == (350, "mA")
    assert pts["t1"][:2] == (30.5, "degC")
    assert pts["t2"][:2] == (-10.0, "degC")


# ---- installer tools against the simulator ----


def test_scan_finds_exactly_the_served_units(gw, peers):
    """scan over TCP lists exactly the unit ids the converter serves (3, 7, 12 of 1-20), with a
    profile guess, and exits 1 when nothing answers in the range; scan by bus name from the
    config finds the same."""
    sim = peers.sim_tcp("3,7,12")
    r = run_firegw("scan", "--tcp", f"127.0.0.1:{sim.port}", "--units", "1-20",
                   "--timeout", 100, "--profiles", PROFILES)
    assert r.returncode == 0, r.stderr
    assert scanned_units(r.stdout) == [3, 7, 12]
    for line in r.stdout.splitlines():
        assert "looks like:" in line and "rcd-4t" in line, line
    assert "3 unit(s) answered between 1 and 20" in r.stderr

    r = run_firegw("scan", "--tcp", f"127.0.0.1:{sim.port}", "--units", "13-25",
                   "--timeout", 100, "--profiles", PROFILES)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert scanned_units(r.stdout) == []
    assert "0 unit(s) answered" in r.stderr

    gw.write(tcp_bus(sim.port), device("box-3", 3))
    r = run_firegw("scan", "-c", gw.conf, "--bus", BUS, "--units", "1-20", "--timeout", 100)
    assert r.returncode == 0, r.stderr
    assert scanned_units(r.stdout) == [3, 7, 12]


def test_probe_prints_every_point_and_fails_on_silence(gw, peers):
    """probe prints each point of a configured detector with its value and unit (a raw 305
    shows as 30.5 degC) and exits 1, naming the unit and bus, for a unit that does not
    answer or answers with an exception."""
    sim = peers.sim_tcp("1-3")
    sim.set(1, "input", 0, 123, 305, 0xFFCE, 0, 999, 0, 0, 0, 0, 0)
    sim.mode(2, "silent")
    sim.mode(3, "exception", 2)
    gw.write(tcp_bus(sim.port), device("box-1", 1), device("box-2", 2), device("box-3", 3))

    r = run_firegw("probe", "-c", gw.conf, "box-1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"box-1: rcd-4t, unit 1 on bus '{BUS}'"), r.stdout
    pts = probe_points(r.stdout)
    assert list(pts) == ["leak", "t1", "t2", "t3", "t4", "open", "short"]
    assert pts["leak"][:2] == (123, "mA")
    assert pts["t1"][:2] == (30.5, "degC")
    assert pts["t2"][:2] == (-5.0, "degC")
    assert pts["t3"][:2] == (0, "degC")
    assert pts["t4"][:2] == (99.9, "degC")
    assert pts["open"][:2] == (0, "") and pts["short"][:2] == (0, "")

    r = run_firegw("probe", "-c", gw.conf, "box-2")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"box-2: unit 2 on bus '{BUS}' does not answer" in r.stderr
    assert r.stdout == ""

    r = run_firegw("probe", "-c", gw.conf, "box-3")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"box-3: unit 3 on bus '{BUS}' answered Modbus exception 2" in r.stderr
    assert r.stdout == ""


def test_late_answers_do_not_fail_other_units(gw, peers, daemon_factory):
    """A unit that answers after its timeout (slow 300 ms, timeout 200 ms) fails its own polls
    only: its late answers never make another unit's poll on the same bus fail."""
    sim = peers.sim_tcp("1-3")
    sim.mode(2, "slow", 300)
    gw.write(tcp_bus(sim.port), *(device(f"box-{u}", u, timeout="200ms") for u in (1, 2, 3)))
    d = daemon_factory(gw.conf).start()

    wait_hazard(gw, d, device="box-2", kind="device_offline")
    wait_until("box-2 polled 5 times", lambda: sim.stats(2) >= 5, timeout=2 * TIMEOUT, daemon=d)
    others = [l for l in d.log_since() if re.search(r"device 'box-[13]'", l)]
    assert others == [], "a late answer for box-2 failed other units' polls:\n" + "\n".join(others)
    assert [x["device"] for x in hazards(gw)] == ["box-2"]
