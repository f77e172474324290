#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""firegw's demo: a rental building's gateway with its detectors, a broker and the county
platform, all on 127.0.0.1, and hazards flowing end to end.

Peers started here, stopped on exit (Ctrl-C too):
  - the detector simulator (tests/sim/modbus_sim.c) on Modbus TCP, as behind an
    RS-485-to-Ethernet converter: six residual-current + 4-temperature detectors (units 1-6),
    a residual-current relay (unit 10) and two smoke / fire alarm modules (units 20, 21);
  - mosquitto, where three wireless smoke alarms report JSON (profile smoke-json);
  - the platform receiver (tests/platform/receiver.py) over HTTPS with a demo CA;
  - firegw on config/examples/demo.conf (a copy with this run's ports and paths).

The scenario: everything normal; leakage on 3F rises through pre-alarm to alarm; a cable
overheats on 5F; a smoke module alarms; a wireless smoke alarm goes off and is hushed; the
platform acknowledges; a detector is unplugged; everything returns to normal; the platform is
down while the main relay trips, and gets it when back; the platform assigns, accepts and
closes the leakage item. Each step says what firegw did and what the platform stored; at the
end the platform's store is checked (every event once, no dead letter). Then (without
--quick) the gateway runs on until Ctrl-C, and firegwctl can be tried against it.

Usage: scripts/demo [--quick] [--keep]   (scripts/demo installs and builds first)
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("FIREGW_BUILD_ROOT", ROOT / "build"))
sys.path.insert(0, str(ROOT / "tests" / "platform"))
from receiver import Receiver  # noqa: E402

GATEWAY = "DEMO-0001"
T0 = time.monotonic()


def say(msg, indent=0):
    print(f"[{time.monotonic() - T0:6.1f}s] {'  ' * indent}{msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, fn, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.05)
    raise RuntimeError(f"demo: no {what} within {timeout:.0f} s")


class Procs:
    """Every child process, stopped in reverse order on exit."""

    def __init__(self):
        self.procs = []

    def start(self, name, argv, **kw):
        p = subprocess.Popen([str(a) for a in argv], **kw)
        self.procs.append((name, p))
        return p

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


class Sim:
    """The Modbus detector simulator, driven through its stdin command channel."""

    def __init__(self, procs):
        self.p = procs.start("modbus-sim", [BUILD / "tests" / "modbus-sim", "--tcp", 0,
                                            "--units", "1-6,10,20,21"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("listening"):
            raise RuntimeError(f"demo: the simulator did not start: {line!r}")
        self.port = int(line.split()[1])
        self.lock = threading.Lock()

    def set(self, unit, table, addr, *values):
        with self.lock:
            self.p.stdin.write(f"set {unit} {table} {addr} {' '.join(map(str, values))}\n")
            self.p.stdin.flush()
            self.p.stdout.readline()

    def mode(self, unit, how):
        with self.lock:
            self.p.stdin.write(f"mode {unit} {how}\n")
            self.p.stdin.flush()
            self.p.stdout.readline()


def make_pki(d):
    def ossl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=firegw demo CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                  "extendedKeyUsage=serverAuth\n")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")


def write_config(work, sim_port, mqtt_port, platform_url, sock):
    """config/examples/demo.conf, copied into the working directory with this run's ports and
    paths (its relative paths, token and CA, then resolve there)."""
    token = work / "platform-token"
    token.write_text("demo-token\n")
    token.chmod(0o600)
    shutil.copy(work / "ca.pem", work / "demo-ca.pem")
    text = (ROOT / "config" / "examples" / "demo.conf").read_text(encoding="utf-8")
    port = int(platform_url.rsplit(":", 1)[1].split("/")[0])
    for old, new in (("tcp_port = 15020", f"tcp_port = {sim_port}"),
                     ("port = 11883", f"port = {mqtt_port}"),
                     ("https://127.0.0.1:18443/api", f"https://127.0.0.1:{port}/api"),
                     ('"/var/tmp/firegw-demo/data"', f'"{work / "data"}"'),
                     ('"/var/tmp/firegw-demo/control"', f'"{sock}"'),
                     ('profile_dir = "../profiles"',
                      f'profile_dir = "{ROOT / "config" / "profiles"}"')):
        assert old in text, f"demo.conf no longer has {old!r}"
        text = text.replace(old, new)
    conf = work / "firegw.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


class Demo:
    def __init__(self, args):
        self.args = args
        self.procs = Procs()
        self.work = Path(tempfile.mkdtemp(prefix="firegw-demo-"))
        self.sock = self.work / "ctl"
        self.rx = None
        self.log_lines = []
        self.web_url = None

    # ---- peers ----

    def start(self):
        for exe in (BUILD / "firegw", BUILD / "firegwctl", BUILD / "tests" / "modbus-sim"):
            if not exe.exists():
                raise RuntimeError(f"demo: {exe} not built; run scripts/demo")
        say(f"working directory {self.work}")
        self.sim = Sim(self.procs)
        say(f"detector simulator: Modbus TCP on 127.0.0.1:{self.sim.port}, units 1-6, 10, 20, 21")
        self.mqtt_port = free_port()
        (self.work / "mosquitto.conf").write_text(
            f"listener {self.mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_packet_size 1048576\n")
        self.procs.start("mosquitto", ["mosquitto", "-c", self.work / "mosquitto.conf"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until("mosquitto", lambda: self._connects(self.mqtt_port))
        say(f"MQTT broker: mosquitto on 127.0.0.1:{self.mqtt_port}")
        make_pki(self.work)
        self.rx = Receiver(db=self.work / "platform.db", token="demo-token", base="/api",
                           tls_cert=self.work / "server.pem", tls_key=self.work / "server.key")
        self.rx.start()
        say(f"county platform: the receiver at {self.rx.url} (HTTPS, demo CA)")
        conf = write_config(self.work, self.sim.port, self.mqtt_port, self.rx.url, self.sock)
        subprocess.run([BUILD / "firegw", "check", "-c", conf], check=True)
        self.gw = self.procs.start("firegw", [BUILD / "firegw", "-f", "-c", conf],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        wait_until("firegw's control socket", lambda: self.ctl("status", quiet=True))
        say("firegw is running (its log: " + str(self.work / "firegw.log") + ")")
        self.start_web(conf)

    def start_web(self, conf):
        """firegw-web on loopback, with a demo password (a real gateway has none until
        `firegw-web passwd` sets one)."""
        web = BUILD / "tools" / "web" / "firegw-web"
        if not web.exists():
            say(f"web console: not built ({web})")
            return
        passwd = self.work / "web-passwd"
        subprocess.run([web, "passwd", "admin", "-p", passwd], input="firegw-demo\n",
                       text=True, check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        self.web_log = open(self.work / "firegw-web.log", "w", encoding="utf-8")
        self.procs.start("firegw-web", [web, "-l", f"127.0.0.1:{port}", "-s", self.sock,
                                        "-p", passwd, "-c", conf, "--firegw", BUILD / "firegw"],
                         stdout=subprocess.DEVNULL, stderr=self.web_log)
        wait_until("firegw-web", lambda: self._connects(port))
        self.web_url = f"http://127.0.0.1:{port}/"
        say(f"web console: {self.web_url} (user admin, password firegw-demo; "
            f"its log: {self.work / 'firegw-web.log'})")

    def _pump(self):
        with open(self.work / "firegw.log", "w", encoding="utf-8") as f:
            for line in self.gw.stderr:
                f.write(line)
                f.flush()
                self.log_lines.append(line.rstrip("\n"))
                if self.args.verbose:
                    print("    firegw: " + line.rstrip("\n"), flush=True)

    @staticmethod
    def _connects(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self):
        if self.rx:
            self.rx.stop()
        self.procs.stop()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    # ---- looking ----

    def ctl(self, *args, quiet=False, show=False):
        r = subprocess.run([BUILD / "firegwctl", "-s", self.sock, "--json", *args],
                           capture_output=True, text=True)
        if r.returncode not in (0, 1):
            if quiet:
                return None
            raise RuntimeError(f"firegwctl {' '.join(args)}: {r.stderr}")
        out = json.loads(r.stdout) if r.stdout.strip() else None
        if show:
            table = subprocess.run([BUILD / "firegwctl", "-s", self.sock, *args],
                                   capture_output=True, text=True).stdout
            print("\n    $ firegwctl " + " ".join(args))
            print("\n".join("    " + line for line in table.rstrip().splitlines()) + "\n")
        return out

    def stored(self, hid):
        return [e for e in self.rx.events() if e["hazard_id"] == hid]

    def expect(self, kind, device, grade=None, t_change=None):
        """Waits for the item firegw raises, then for the platform to store it."""
        def find():
            for h in self.ctl("hazards", "--open", "--device", device)["hazards"]:
                if h["kind"] == kind and h["active"]:
                    return h
            return None
        h = wait_until(f"{kind} on {device}", find)
        say(f"firegw raised {h['id']}: {kind}, grade {h['grade']}, at {device}/{h['point']}"
            f" ({h.get('location', '')})", 1)
        if grade:
            assert h["grade"] == grade, f"{h['id']}: grade {h['grade']}, expected {grade}"
        wait_until(f"the platform storing {h['id']}", lambda: self.stored(h["id"]))
        ev = self.stored(h["id"])[0]
        lat = ""
        if t_change:
            lat = f", {(ev['received_ms'] / 1000 - t_change) * 1000:.0f} ms after the change"
        say(f"the platform stored its '{ev['type']}' event (event_id {ev['event_id'][:8]}…)"
            f"{lat}", 1)
        return h

    def expect_cleared(self, hid):
        wait_until(f"{hid} cleared at the platform",
                   lambda: any(e["type"] == "cleared" for e in self.stored(hid)))
        say(f"{hid} cleared; the platform has it", 1)

    # ---- the scenario ----

    def mqtt(self, key, **payload):
        payload.setdefault("id", key)
        payload.setdefault("ts", int(time.time() * 1000))
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.mqtt_port), "-q",
                        "1", "-t", f"smoke/{key}/state", "-m", json.dumps(payload)],
                       check=True)

    def normal(self):
        for unit in range(1, 7):
            self.sim.set(unit, "input", 0, 35)                   # leak 35 mA
            self.sim.set(unit, "input", 1, 245, 251, 238, 240)   # 24.5 .. 25.1 degC
        self.sim.set(10, "holding", 0, 40, 0, 300, 200)          # relay: 40 mA, no bits
        self.sim.set(20, "input", 0, 0)
        self.sim.set(21, "input", 0, 0)
        for key in ("SA-301", "SA-302", "SA-401"):
            self.mqtt(key, alarm=False, fault=False, tamper=False, battery=90)

    def wait_event(self, hid, typ, timeout=20):
        wait_until(f"a '{typ}' event of {hid}", lambda: any(
            e["type"] == typ for e in self.ctl("hazard", hid)["events"]), timeout=timeout)

    def platform_has(self, hid, typ):
        wait_until(f"the platform storing '{typ}' of {hid}",
                   lambda: any(e["type"] == typ for e in self.stored(hid)), timeout=30)

    def command(self, cid, typ, hid, **extra):
        self.rx.queue_command({"id": cid, "type": typ, "hazard_id": hid, **extra})

    def scenario(self):
        say("1. twelve devices, everything normal: leakage 35-40 mA, cables at 25 °C, "
            "smoke alarms quiet")
        self.normal()

        def settled():
            st = self.ctl("status")
            leak = {x["id"]: x.get("values", {}).get("leak", {}).get("value")
                    for x in st["devices"]}
            return st["devices_online"] == 12 and leak["box-6f"] == 35
        wait_until("every device online with normal values", settled)
        self.ctl("status", show=True)

        say("2. leakage current in the 3F box creeps up to 270 mA: pre-alarm at 250")
        t = time.time()
        self.sim.set(3, "input", 0, 270)
        leak = self.expect("residual_current", "box-3f", "general", t)
        say("   ... and on to 420 mA: alarm at 300")
        self.sim.set(3, "input", 0, 420)
        self.wait_event(leak["id"], "escalated")
        self.platform_has(leak["id"], "escalated")
        say(f"{leak['id']} escalated to grade "
            f"{self.ctl('hazard', leak['id'])['hazard']['grade']}; the platform has it", 1)

        say("3. a cable in the 5F box heats up to 76 °C (alarm at 70)")
        t = time.time()
        self.sim.set(5, "input", 1, 760)
        heat = self.expect("overtemperature", "box-5f", "significant", t)

        say("4. the east stair's smoke module reports a fire alarm")
        t = time.time()
        self.sim.set(20, "input", 0, 1)
        fire = self.expect("fire_alarm", "smoke-east", "immediate", t)

        say("5. the wireless smoke alarm in room 301 goes off (MQTT), then is hushed")
        t = time.time()
        self.mqtt("SA-301", alarm=True, fault=False, tamper=False, battery=88)
        r301 = self.expect("fire_alarm", "smoke-301", "immediate", t)
        self.mqtt("SA-301", event="silenced", alarm=True, battery=88)
        self.wait_event(r301["id"], "silenced")
        say(f"{r301['id']}: 'silenced' recorded; the item stays open until it clears", 1)

        say("6. the platform acknowledges the fire alarm (a command; it rides on the reply to "
            "firegw's next request, at the latest the 5 s heartbeat)")
        self.command("demo-ack-1", "hazard.acknowledge", fire["id"])
        self.wait_event(fire["id"], "acknowledged", timeout=30)
        say(f"{fire['id']} is acknowledged in the ledger; the result went back", 1)

        say("7. someone unplugs the 6F detector")
        self.sim.mode(6, "silent")
        off = self.expect("device_offline", "box-6f", "general")

        say("8. everything returns to normal and the 6F detector is plugged back")
        self.sim.mode(6, "ok")
        self.normal()
        for h in (leak, heat, fire, r301, off):
            self.expect_cleared(h["id"])

        say("9. the platform goes down (503) while the main incomer's relay trips on leakage")
        self.rx.set_fail("503", retry_after="1")
        self.sim.set(10, "holding", 0, 350, 0b10)
        h = wait_until("the relay's alarm in the ledger", lambda: next(
            (x for x in self.ctl("hazards", "--open", "--device", "main-rcd")["hazards"]
             if x["kind"] == "residual_current"), None))
        say(f"firegw raised {h['id']}; the platform answers 503, it waits in the outbox", 1)
        time.sleep(4)
        ob = self.ctl("outbox")["lanes"]["alarm"]["depth"]
        say(f"outbox: {ob} event(s) waiting; firegw retries with backoff", 1)
        self.rx.set_fail("none")
        wait_until("the backlog delivered", lambda: self.stored(h["id"]), timeout=30)
        say(f"the platform is back: {h['id']} delivered", 1)
        self.sim.set(10, "holding", 0, 40, 0)

        say("10. the platform closes the 3F leakage item: assigned to the landlord, "
            "rectified, accepted, closed")
        self.command("demo-assign-1", "hazard.assign", leak["id"], assignee="王房东",
                     deadline=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(time.time() + 7 * 86400)))
        self.command("demo-accept-1", "hazard.accept", leak["id"])
        self.command("demo-close-1", "hazard.close", leak["id"])
        self.wait_event(leak["id"], "closed", timeout=30)
        self.platform_has(leak["id"], "closed")
        say(f"{leak['id']} is closed; its whole history is on the platform", 1)

        wait_until("an empty outbox", lambda: self.ctl("outbox")["lanes"]["alarm"]["depth"]
                   == 0, timeout=30)
        st = self.rx.state()
        stored = self.rx.events()
        ids = [e["event_id"] for e in stored]
        types = {}
        for e in stored:
            types[e["type"]] = types.get(e["type"], 0) + 1
        say(f"the platform stored {len(ids)} events, {len(set(ids))} distinct: each exactly "
            f"once ({st['duplicates']} repeated deliveries deduplicated)")
        say("by type: " + ", ".join(f"{k} {v}" for k, v in sorted(types.items())), 1)
        if len(ids) != len(set(ids)):
            raise RuntimeError("demo: the platform stored an event twice")
        dead = self.ctl("deadletter")["deadletter"]
        if dead:
            raise RuntimeError(f"demo: the platform rejected events: {dead}")
        self.ctl("status", show=True)
        self.ctl("hazards", show=True)
        self.ctl("hazard", leak["id"], show=True)

    def run_on(self):
        say("the gateway runs on; try, in another terminal:")
        print(f"\n    {BUILD / 'firegwctl'} -s {self.sock} status\n"
              f"    {BUILD / 'firegwctl'} -s {self.sock} hazards --open\n"
              f"    {BUILD / 'firegwctl'} -s {self.sock} test box-1f\n"
              f"    {BUILD / 'firegwctl'} -s {self.sock} report --month "
              f"{time.strftime('%Y-%m')}\n\n"
              + (f"  or open the web console: {self.web_url} (admin / firegw-demo)\n\n"
                 if self.web_url else "") +
              "  every 20 s a detector on 1F has a leakage spike; Ctrl-C stops everything.\n",
              flush=True)
        n = 0
        while True:
            time.sleep(10)
            n += 1
            self.sim.set(1, "input", 0, 420 if n % 2 else 35)
            st = self.ctl("status")
            say(f"open hazards {st['open_hazards']}, outbox {st['outbox']['alarm']}, "
                f"platform stored {len(self.rx.events())} events")


def main():
    ap = argparse.ArgumentParser(description="firegw demo on loopback")
    ap.add_argument("--quick", action="store_true",
                    help="run the scenario once and exit (0 if every step worked)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="show firegw's log")
    args = ap.parse_args()
    demo = Demo(args)
    stop = threading.Event()

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        demo.start()
        demo.scenario()
        say("the scenario worked: every alarm reached the platform, once")
        if not args.quick:
            demo.run_on()
    except KeyboardInterrupt:
        say("stopping")
    except (RuntimeError, AssertionError, subprocess.CalledProcessError) as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        print("--- the last lines of firegw's log ---", file=sys.stderr)
        print("\n".join(demo.log_lines[-30:]), file=sys.stderr)
        code = 1
    finally:
        stop.set()
        demo.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
