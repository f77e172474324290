#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How much a scan through the daemon slows the regular polls of the bus it runs on.

    bench/scan_slowdown.py [--build DIR] [--devices 8] [--interval-ms 200] [--seconds 20]
                           [--timeout-ms 100] [--rtu] [--serve N]

Starts the detector simulator (Modbus TCP on loopback, or RTU at 9600 baud over a socat
pseudo-terminal pair with --rtu: one unit, the devices' count is 1 then) and firegw polling
its units; watches each unit's request counter in the simulator every 2 ms and takes the
times between two requests of a device as its poll intervals. First `--seconds` without a
scan, then as long as `firegwctl scan` of the units nobody serves (each a silent unit: the
worst case, a full timeout per unit) runs. Prints both, and the scan's own duration.
The figures are in docs/performance.md ("Scans through the daemon")."""
import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SRC / "tests" / "integration"))
from modbus_peers import ModbusSim, SocatPair  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def watch(sim, units, stop, out):
    """Appends (unit, monotonic time) each time a unit's request counter moves."""
    last = {u: sim.stats(u) for u in units}
    while not stop.is_set():
        for u in units:
            n = sim.stats(u)
            if n != last[u]:
                out.append((u, time.monotonic()))
                last[u] = n
        time.sleep(0.002)


def intervals(events, units, t0, t1):
    per = {u: [t for (x, t) in events if x == u and t0 <= t <= t1] for u in units}
    return [(b - a) * 1000 for ts in per.values() for a, b in zip(ts, ts[1:])]


def summary(name, iv, nominal):
    late = sum(1 for x in iv if x > nominal * 1.5)
    print(f"{name}: {len(iv)} intervals, p50 {pct(iv, 50):.0f} ms, p99 {pct(iv, 99):.0f} ms, "
          f"max {max(iv):.0f} ms, mean {statistics.mean(iv):.1f} ms (nominal {nominal} ms); "
          f"{late} over 1.5x nominal")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(SRC / "build"))
    ap.add_argument("--devices", type=int, default=8)
    ap.add_argument("--interval-ms", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--timeout-ms", type=int, default=100)
    ap.add_argument("--rtu", action="store_true")
    ap.add_argument("--serve", type=int, default=0,
                    help="TCP: units the simulator serves (default: the devices only); the "
                    "scan covers those after the devices, then the silent rest up to 247")
    a = ap.parse_args()
    build = Path(a.build)
    tmp = Path(tempfile.mkdtemp(prefix="fgw-scanbench-"))
    peers = []
    try:
        if a.rtu:
            pair = SocatPair(tmp)
            peers.append(pair)
            pair.start()
            units = [5]
            sim = ModbusSim(build / "tests" / "modbus-sim",
                            ["--rtu", pair.b, "--baud", 9600, "--units", 5], name="sim")
            peers.append(sim)
            sim.start("ready")
            bus = f'bus "b" {{\n  type = "rtu"\n  port = "{pair.a}"\n  baud = 9600\n}}\n'
            scan_units = "6-247"
        else:
            units = list(range(1, a.devices + 1))
            sim = ModbusSim(build / "tests" / "modbus-sim",
                            ["--tcp", 0, "--units", f"1-{max(a.devices, a.serve)}"],
                            name="sim")
            peers.append(sim)
            port = int(sim.start("listening").split()[1])
            bus = f'bus "b" {{\n  type = "tcp"\n  host = "127.0.0.1"\n  tcp_port = {port}\n}}\n'
            scan_units = f"{a.devices + 1}-247"
        sock = tmp / "ctl"
        conf = tmp / "firegw.conf"
        conf.write_text(
            f'gateway {{\n  id = "BENCH"\n  data_dir = "{tmp}/data"\n'
            f'  profile_dir = "{SRC}/config/profiles"\n  control_socket = "{sock}"\n'
            f'  log_level = "notice"\n}}\n' + bus +
            "".join(f'device "d{u}" {{\n  bus = "b"\n  unit = {u}\n  profile = "rcd-4t"\n'
                    f'  location = "x"\n  interval = "{a.interval_ms}ms"\n'
                    f'  timeout = "500ms"\n}}\n' for u in units), encoding="utf-8")
        fw = subprocess.Popen([build / "firegw", "-f", "-c", conf], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1)
            events, stop = [], threading.Event()
            th = threading.Thread(target=watch, args=(sim, units, stop, events), daemon=True)
            th.start()
            t0 = time.monotonic()
            time.sleep(a.seconds)
            t1 = time.monotonic()
            r = subprocess.run([build / "firegwctl", "-s", sock, "scan", "b", "--units",
                                scan_units, "--timeout", str(a.timeout_ms)],
                               capture_output=True, text=True)
            t2 = time.monotonic()
            stop.set()
            th.join()
        finally:
            fw.terminate()
            fw.wait(timeout=30)
        served = f"units up to {a.serve} answer" if a.serve > a.devices else "nobody there"
        print(f"{'RTU 9600 baud' if a.rtu else 'TCP loopback'}: {len(units)} device(s) at "
              f"{a.interval_ms} ms; scan of units {scan_units} ({served}), "
              f"{a.timeout_ms} ms each: {t2 - t1:.1f} s, exit {r.returncode}")
        summary("without a scan", intervals(events, units, t0, t1), a.interval_ms)
        summary("during the scan", intervals(events, units, t1, t2), a.interval_ms)
    finally:
        for p in reversed(peers):
            p.close()


if __name__ == "__main__":
    main()
