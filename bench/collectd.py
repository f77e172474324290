# SPDX-License-Identifier: MIT
"""firegw against collectd's modbus plugin (Debian collectd-core) on the same work: 50 devices
(unit ids) on one Modbus TCP bus of the detector simulator, each read as the bench's firegw
profile (rcd-4t) reads it, polled as fast as each can, then both at one fixed interval.

A read is one Modbus request/response, counted by the simulator (its `stats`) for both.
firegw reads a device's registers (input 0-4 and 8-9) in one request (input 0-9, the
profile's max_block); collectd's modbus plugin makes one request per <Data> block, and a
<Data> block is one value (1, 2 or 4 registers), so it makes 7 requests for the same values.
The table gives requests (its "reads") and device polls (every value of the profile read
once: the work).

collectd runs in the foreground (collectd -f -C conf) from a temp dir: its own BaseDir and
PIDFile, no system service. Its configuration:
- one <Host> (one TCP connection: one bus, as firegw's one bus worker) with 50 <Slave>
  blocks; ReadThreads 1. A <Host> is one read callback that reads its slaves in turn. (50
  <Host>s of one <Slave> each, 50 connections, measured about the same here.)
- the Host's own Interval, not the global one: collectd's main loop wakes every global
  Interval to scan its value cache for timeouts (with a global 0.0001 collectd took 116 % of
  a core here, about 60 % with the Host's), while a Host's Interval only paces its reads.
  Interval 0.000001 is accepted; a round of 50 slaves takes longer than that, and collectd
  then starts the next round at once (it logs a warning each round that the read took longer
  than its interval: LogLevel err keeps that log out of the figures).
- no write plugin: values go through plugin_dispatch_values into collectd's value cache,
  then a PostCache chain stops them. firegw keeps its readings in memory and writes to disk
  only on a hazard event (none here), so neither writes per reading. With no write plugin
  and no chain collectd logs an error per value; csv would add a file write per value.

Needs /usr/sbin/collectd and /usr/lib/collectd/modbus.so; otherwise the row says skipped.
Installing collectd-core starts a collectd service with Debian's default configuration, so
scripts/install-deps does not install it."""
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

COLLECTD = Path("/usr/sbin/collectd")
PLUGIN = Path("/usr/lib/collectd/modbus.so")
SKIP = ("collectd comparison skipped: collectd-core not installed (apt-get install "
        "--no-install-recommends collectd-core, then systemctl disable --now collectd)")

# The rcd-4t profile's points (config/profiles/rcd-4t.conf): name, input register, type.
POINTS = [("leak", 0, "Uint16"), ("t1", 1, "Int16"), ("t2", 2, "Int16"), ("t3", 3, "Int16"),
          ("t4", 4, "Int16"), ("open", 8, "Uint16"), ("short", 9, "Uint16")]
FIXED = 0.1  # the fixed-interval comparison: every device every 100 ms


def installed():
    return COLLECTD.exists() and PLUGIN.exists()


def conf(tmp, port, units, interval):
    data = "".join(f'  <Data "{n}">\n    RegisterBase {a}\n    RegisterCmd ReadInput\n'
                   f'    RegisterType {t}\n    Type gauge\n    Instance "{n}"\n  </Data>\n'
                   for n, a, t in POINTS)
    collect = "".join(f'      Collect "{n}"\n' for n, _, _ in POINTS)
    slaves = "".join(f'    <Slave {u}>\n      Instance "d{u}"\n{collect}    </Slave>\n'
                     for u in units)
    types = "/usr/share/collectd/types.db"
    path = tmp / "collectd.conf"
    path.write_text(
        f'Hostname "bench"\nFQDNLookup false\nBaseDir "{tmp}"\nPIDFile "{tmp}/collectd.pid"\n'
        f'PluginDir "{PLUGIN.parent}"\n' + (f'TypesDB "{types}"\n' if Path(types).exists() else "")
        + 'Interval 10\nReadThreads 1\nWriteThreads 1\n'
        f'LoadPlugin logfile\n<Plugin logfile>\n  LogLevel err\n  File "{tmp}/collectd.log"\n'
        '</Plugin>\n'
        'PostCacheChain "PostCache"\n<Chain "PostCache">\n  Target "stop"\n</Chain>\n'
        'LoadPlugin modbus\n<Plugin modbus>\n' + data
        + f'  <Host "sim">\n    Address "127.0.0.1"\n    Port "{port}"\n'
        f'    Interval {interval}\n' + slaves + '  </Host>\n</Plugin>\n')
    return path


def measure(sim, units, pid, settle, seconds, cpu_seconds):
    """Requests the simulator served, and the process's CPU seconds, over `seconds`."""
    time.sleep(settle)
    r0, c0, t0 = sim.requests(units), cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    r1, c1, t1 = sim.requests(units), cpu_seconds(pid), time.monotonic()
    return (r1 - r0) / (t1 - t0), (c1 - c0) / (t1 - t0)


def run_collectd(sim, units, interval, seconds, cpu_seconds):
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        p = subprocess.Popen([str(COLLECTD), "-f", "-C", str(conf(tmp, sim.port, units,
                                                                  interval))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline, before = time.monotonic() + 10, sim.requests(units)
            while sim.requests(units) == before:  # polling: connected, configuration taken
                if p.poll() is not None or time.monotonic() > deadline:
                    log = (tmp / "collectd.log")
                    raise RuntimeError("collectd did not poll the simulator:\n"
                                       + (log.read_text() if log.exists() else ""))
                time.sleep(0.05)
            return measure(sim, units, p.pid, 0.3, seconds, cpu_seconds)
        finally:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_firegw(build, sim, units, interval, seconds, Firegw, write_conf, cpu_seconds):
    with tempfile.TemporaryDirectory() as t:
        fw = Firegw(build, write_conf(Path(t), sim.port, units, interval))
        try:
            return measure(sim, units, fw.p.pid, 0.5, seconds, cpu_seconds)
        finally:
            fw.stop()


def compare(build, seconds, runs, Sim, Firegw, write_conf, cpu_seconds, ndev=50):
    """Rows for bench/run's table (scenario, figure, ratio, target, met) and its notes.
    Each run: firegw then collectd on one simulator, at the fastest interval, then at 100 ms."""
    target = ">= 1.0, and less CPU per read"
    scen = f"collectd modbus plugin, the same work (1 bus, {ndev} devices, fastest interval)"
    if not installed():
        print(SKIP, flush=True)
        return [(scen, "skipped: collectd-core not installed", "", target, None)], []
    units = list(range(1, ndev + 1))
    fast, fixed = [], []
    sim = Sim(build, f"1-{ndev}")
    try:
        for i in range(runs):
            # firegw first in even runs, collectd first in odd ones: load from elsewhere
            # that comes and goes should not fall on one side only
            for into, fw_iv, cd_iv in ((fast, "1ms", "0.000001"),
                                       (fixed, f"{FIXED * 1000:.0f}ms", f"{FIXED}")):
                order = [0, 1] if i % 2 == 0 else [1, 0]
                got = [None, None]
                for k in order:
                    got[k] = (run_firegw(build, sim, units, fw_iv, seconds, Firegw, write_conf,
                                         cpu_seconds) if k == 0 else
                              run_collectd(sim, units, cd_iv, seconds, cpu_seconds))
                into.append(tuple(got))
    finally:
        sim.stop()

    def med(xs, i, j):
        return statistics.median(x[i][j] for x in xs)

    fw_rate, cd_rate = med(fast, 0, 0), med(fast, 1, 0)
    fw_fr, cd_fr = med(fixed, 0, 0), med(fixed, 1, 0)
    # Requests per device poll: collectd one per <Data> block; firegw one (input 0-9 fit the
    # profile's max_block). The fixed-interval run shows it on an idle machine: 500 and 3,500
    # requests/s for 50 devices every 100 ms.
    fw_per, per = 1, len(POINTS)
    # CPU seconds per 1,000 requests: the medians of each run's own ratio
    fw_cpu = statistics.median(x[0][1] / x[0][0] * 1000 for x in fast)
    cd_cpu = statistics.median(x[1][1] / x[1][0] * 1000 for x in fast)
    # The same work is every value of every device read once (a device poll): firegw does it
    # in one request, collectd in one per value. The ratio is the median of each run's own
    # (firegw and collectd seconds apart); per request they are reported beside it.
    ratio = statistics.median(x[0][0] / x[1][0] for x in fast)
    ratio_dev = statistics.median((x[0][0] / fw_per) / (x[1][0] / per) for x in fast)
    fw_cpu_dev, cd_cpu_dev = fw_cpu * fw_per, cd_cpu * per
    ok = ratio_dev >= 1.0 and fw_cpu_dev < cd_cpu_dev
    fw_dev, cd_dev = fw_rate / fw_per, cd_rate / per
    rows = [(scen,
             f"device polls/s (every value of a device once; collectd makes {per} requests "
             f"for it, one per value, firegw {fw_per}): firegw {fw_dev:,.0f}, "
             f"{fw_cpu_dev:.3f} CPU s per 1,000; collectd {cd_dev:,.0f}, {cd_cpu_dev:.3f} CPU "
             f"s per 1,000. Per Modbus request: firegw {fw_rate:,.0f}/s, {fw_cpu:.3f} CPU s "
             f"per 1,000; collectd {cd_rate:,.0f}/s, {cd_cpu:.3f}",
             f"{ratio_dev:.1f} (per request: {ratio:.2f})", target, ok)]
    fw_pct, cd_pct = med(fixed, 0, 1) * 100, med(fixed, 1, 1) * 100
    rows.append((f"collectd modbus plugin, the same work at a fixed interval (every device "
                 f"every {FIXED * 1000:.0f} ms)",
                 f"CPU: firegw {fw_pct:.1f} % of one core ({fw_fr:,.0f} reads/s), collectd "
                 f"{cd_pct:.1f} % ({cd_fr:,.0f} reads/s); per 1,000 device polls: firegw "
                 f"{fw_pct / 100 / (fw_fr / fw_per) * 1000:.3f} CPU s, collectd "
                 f"{cd_pct / 100 / (cd_fr / per) * 1000:.3f} CPU s",
                 f"collectd/firegw CPU {cd_pct / fw_pct:.1f}" if fw_pct > 0 else "",
                 "reported", None))
    notes = [f"collectd {collectd_version()}: one <Host> (one TCP connection) with {ndev} "
             f"<Slave> blocks of {len(POINTS)} <Data> blocks each (the rcd-4t profile's "
             "registers), Host Interval 0.000001 s (rounds back to back), ReadThreads 1, "
             "values into its cache and no write plugin (bench/collectd.py says why)."]
    return rows, notes


def collectd_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "collectd-core"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        out = ""
    return out or shutil.which("collectd") or str(COLLECTD)
