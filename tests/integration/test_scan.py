# SPDX-License-Identifier: MIT
"""Scan and probe through the daemon: `firegwctl scan BUS` and `firegwctl probe DEVICE` put a
job on the bus's worker, between its regular polls, while firegw owns the bus.

Each test runs firegw on a bus of the detector simulator (over TCP, or over RTU on a socat
pseudo-terminal pair), drives the real firegwctl (or the socket itself, to cancel), and checks
what an installer checks: the units found and their config blocks, the probe's values, that
the other devices were polled all along, that a cancel stops the scan, that bad names get a
clear error, and that the standalone `firegw scan` points to firegwctl when the port is held.
"""

import json
import shutil
import os
import re
import socket
import tempfile
import time
from pathlib import Path

import pytest

import conftest
from conftest import BUILD_ROOT, TIMEOUT, ledger_query, run_firegw, wait_until
from test_modbus import (BUS, LEAK, device, gw, peers, rtu_bus,  # noqa: F401 (fixtures)
                         tcp_bus)
from test_web import passwd, web_bin, webs  # noqa: F401 (fixtures)

FIREGWCTL = BUILD_ROOT / "firegwctl"
# firegwctl waits for a scan to end: generous, for valgrind and ASan builds.
LONG = 20 * TIMEOUT


@pytest.fixture
def sock():
    """A short path for the control socket (AF_UNIX paths hold 107 bytes)."""
    d = tempfile.mkdtemp(prefix="fgw-scan-")
    yield Path(d) / "ctl"
    for p in Path(d).iterdir():
        p.unlink()
    os.rmdir(d)


def write(gw, sock, bus, *devices):
    conf = gw.write(bus, *devices)
    conf.write_text(conf.read_text(encoding="utf-8") +
                    f'gateway {{\n  control_socket = "{sock}"\n}}\n', encoding="utf-8")
    return conf


def ctl(sock, *args, check=None):
    r = conftest.run_tool(FIREGWCTL, ["-s", sock, *args], timeout=LONG)
    if check is not None:
        assert r.returncode == check, (f"firegwctl {' '.join(map(str, args))}: exit "
                                       f"{r.returncode}, expected {check}\n{r.stdout}{r.stderr}")
    return r


def request(sock, **req):
    """One request on the socket; the reply as a dict."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(LONG)
    s.connect(str(sock))
    try:
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            assert chunk, f"firegw closed the socket without a reply to {req}"
            buf += chunk
        return json.loads(buf)
    finally:
        s.close()


def found_units(stdout):
    return [int(u) for u in re.findall(r"^unit (\d+): answers", stdout, re.M)]


def device_blocks(stdout):
    return re.findall(r'^device "([^"]+)" \{\n  bus = "([^"]+)"\n  unit = (\d+)\n'
                      r'  profile = "([^"]+)"', stdout, re.M)


def test_scan_while_the_daemon_polls_the_bus(gw, peers, sock, daemon_factory):
    """firegw polls units 1 and 2; a scan of 1-20 on the same bus finds 1, 2, 7 and 12 with
    a progress line and their config blocks, and units 1 and 2 are polled all through it."""
    sim = peers.sim_tcp("1,2,7,12")
    sim.set(1, "input", LEAK, 123, 305)
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1), device("box-2", 2))
    d = daemon_factory(gw.conf).start()
    wait_until("box-1 polled", lambda: sim.stats(1) >= 2, daemon=d)

    before = (sim.stats(1), sim.stats(2))
    r = ctl(sock, "scan", BUS, "--units", "1-20", "--timeout", 100, check=0)
    after = (sim.stats(1), sim.stats(2))
    assert found_units(r.stdout) == [1, 2, 7, 12], r.stdout
    assert re.search(rf"scanning bus {BUS}: \d+ of 20 units \(1-20\), \d+ found", r.stderr), \
        r.stderr
    assert "scan done: 4 unit(s) answered between 1 and 20" in r.stderr
    blocks = device_blocks(r.stdout)
    assert [(b, int(u), p) for _, b, u, p in blocks] == [
        (BUS, u, "rcd-4t") for u in (1, 2, 7, 12)], r.stdout
    assert [name for name, *_ in blocks] == [f"{BUS}-{u}" for u in (1, 2, 7, 12)]
    # The scan took 16 silent units of 100 ms at least: the 200 ms polls went on meanwhile.
    assert after[0] - before[0] >= 4 and after[1] - before[1] >= 4, (before, after)
    assert ledger_query(gw.ledger, "SELECT COUNT(*) FROM hazards WHERE kind = 'device_offline'"
                        ) == [(0,)]
    devs = json.loads(ctl(sock, "--json", "devices", check=0).stdout)["devices"]
    assert all(x["why"] == "ok" for x in devs), devs

    # --json: the whole status, with the config to copy.
    st = json.loads(ctl(sock, "--json", "scan", BUS, "--units", "6-8", check=0).stdout)
    assert (st["state"], st["scanned"], st["total"]) == ("done", 3, 3)
    assert [f["unit"] for f in st["found"]] == [7]
    assert 'unit = 7' in st["config"] and 'profile = "rcd-4t"' in st["config"]


def test_cancel_stops_a_scan(gw, peers, sock, daemon_factory):
    """A scan of 1-247 with 300 ms per silent unit is cancelled after it started: it ends
    'cancelled' long before its end, having scanned only some of the units; a second scan of
    the same bus meanwhile is refused, naming the running one."""
    sim = peers.sim_tcp("1")
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1))
    d = daemon_factory(gw.conf).start()

    st = request(sock, cmd="scan", bus=BUS, timeout=300)
    assert st["ok"] and st["state"] == "running", st
    scan_id = st["id"]
    wait_until("the scan under way", lambda: request(sock, cmd="scan-status", id=scan_id)
               ["scanned"] >= 2, daemon=d)
    busy = request(sock, cmd="scan", bus=BUS)
    assert not busy["ok"] and scan_id in busy["error"], busy

    r = ctl(sock, "--json", "scan-cancel", scan_id, check=0)
    assert json.loads(r.stdout)["id"] == scan_id
    st = wait_until("the scan cancelled", lambda: (lambda s: s if s["state"] != "running"
                                                   else None)(
        request(sock, cmd="scan-status", id=scan_id)), daemon=d)
    assert st["state"] == "cancelled", st
    assert 2 <= st["scanned"] < 247
    assert [f["unit"] for f in st["found"]] == [1]
    assert any(f"cancels {scan_id}" in line for line in d.log_since()), "cancel not logged"
    # The bus is free for the next scan.
    assert request(sock, cmd="scan", bus=BUS, units="1")["ok"]


def test_probe_through_the_daemon(gw, peers, sock, daemon_factory):
    """probe reads a configured device on the daemon's bus worker and prints every point;
    a unit that does not answer or answers an exception exits 1 and says so."""
    sim = peers.sim_tcp("1-3")
    sim.set(1, "input", 0, 123, 305, 0xFFCE, 0, 999, 0, 0, 0, 0, 0)
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1), device("box-2", 2),
          device("box-3", 3))
    d = daemon_factory(gw.conf).start()
    wait_until("box-1 polled", lambda: sim.stats(1) >= 1, daemon=d)
    sim.mode(2, "silent")
    sim.mode(3, "exception", 2)

    r = ctl(sock, "probe", "box-1", check=0)
    assert r.stdout.startswith(f"box-1: rcd-4t, unit 1 on bus '{BUS}'"), r.stdout
    pts = {m[0]: (float(m[1]), m[2]) for m in
           re.findall(r"^\s+(\S+)\s+(\S+) (\S*)", r.stdout, re.M)}
    assert list(pts) == ["leak", "t1", "t2", "t3", "t4", "open", "short"]
    assert pts["leak"] == (123, "mA") and pts["t1"] == (30.5, "degC")
    assert pts["t2"] == (-5.0, "degC") and pts["t4"] == (99.9, "degC")

    r = ctl(sock, "probe", "box-2", check=1)
    assert f"box-2: unit 2 on bus '{BUS}' does not answer" in r.stderr
    r = ctl(sock, "probe", "box-3", check=1)
    assert f"box-3: unit 3 on bus '{BUS}' answered Modbus exception 2" in r.stderr
    assert any("probe" in line and "box-1" in line for line in d.log_since())


def test_bad_names_are_refused(gw, peers, sock, daemon_factory):
    """An unknown bus or device, a bus firegw does not poll, a bad unit range or timeout and
    an unknown scan id each get a clear error and exit 1 (2 for a usage error)."""
    sim = peers.sim_tcp("1")
    spare = 'bus "spare" {\n  type = "tcp"\n  host = "127.0.0.1"\n  tcp_port = 1\n}\n'
    write(gw, sock, tcp_bus(sim.port) + spare, device("box-1", 1))
    daemon_factory(gw.conf).start()

    r = ctl(sock, "scan", "nosuch", check=1)
    assert "no bus 'nosuch'" in r.stderr
    r = ctl(sock, "scan", "spare", check=1)
    assert "not polled by firegw" in r.stderr and "firegw scan --bus spare" in r.stderr
    r = ctl(sock, "probe", "nosuch", check=1)
    assert "no device 'nosuch'" in r.stderr and "firegwctl devices" in r.stderr
    r = ctl(sock, "scan", BUS, "--units", "0-300", check=1)
    assert "not N or N-M within 1-247" in r.stderr
    r = ctl(sock, "scan", BUS, "--timeout", "99999", check=1)
    assert "timeout must be 1..60000 ms" in r.stderr
    r = ctl(sock, "scan-status", "scan-999", check=1)
    assert "no scan or probe 'scan-999'" in r.stderr
    ctl(sock, "scan", check=2)
    st = request(sock, cmd="scan", bus=BUS, units=5)
    assert not st["ok"] and "units" in st["error"]


def test_rtu_bus_owned_by_the_daemon(gw, peers, sock, daemon_factory, tmp_path):
    """On a serial line firegw owns, scan and probe go through firegwctl; the standalone
    `firegw scan` and `firegw probe` say the port is held and name the firegwctl command."""
    pair = peers.socat(tmp_path)
    sim = peers.sim_rtu(pair.b, "5,6")
    sim.set(5, "input", LEAK, 40, 305)
    write(gw, sock, rtu_bus(pair.a), device("box-5", 5, timeout="500ms", retries=1))
    d = daemon_factory(gw.conf).start()
    wait_until("box-5 polled", lambda: sim.stats(5) >= 2, daemon=d)

    # Absent units 4 and 7 around them: on a shared line, the frames for nobody must not
    # upset the units that are there.
    r = ctl(sock, "scan", BUS, "--units", "4-7", "--timeout", 200, check=0)
    assert found_units(r.stdout) == [5, 6], r.stdout + r.stderr
    assert 'profile = "rcd-4t"' in r.stdout
    r = ctl(sock, "probe", "box-5", check=0)
    assert re.search(r"^\s+leak\s+40 mA", r.stdout, re.M), r.stdout

    r = run_firegw("scan", "-c", gw.conf, "--bus", BUS, "--units", "5")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "in use" in r.stderr and f"firegwctl scan {BUS}" in r.stderr, r.stderr
    r = run_firegw("probe", "-c", gw.conf, "box-5")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "firegwctl probe box-5" in r.stderr, r.stderr
    before = sim.stats(5)
    wait_until("box-5 still polled", lambda: sim.stats(5) >= before + 2, daemon=d)


# ---- firegw-web's commissioning page, at the HTTP level ----


def _job_page(c, location, state):
    """The job's page, once its state is `state` (it is refreshed while it runs)."""
    def page():
        st, _, html = c.req("GET", location)
        assert st == 200, html
        m = re.search(r'<section id="job"[^>]* data-state="([a-z]+)"', html)
        assert m, html
        return html if m.group(1) == state else None
    return wait_until(f"{location} {state}", page, timeout=LONG)


def test_web_commissioning_scan_probe_cancel(gw, peers, sock, daemon_factory, webs, passwd):
    """On firegw-web's commissioning page a logged-in installer scans the bus (a progress bar
    while it runs, then the units found and their config blocks), probes a device and cancels
    a scan; each action is logged with the user and address, and needs the CSRF token."""
    from test_web import Client, set_password
    sim = peers.sim_tcp("1,2,7,12")
    sim.set(1, "input", LEAK, 123, 305)
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1), device("box-2", 2))
    daemon_factory(gw.conf).start()
    set_password(passwd)
    w = webs(sock, passwd)
    c = Client(w.port)
    assert c.login()[0] == 303

    st, _, html = c.req("GET", "/commission?lang=en")
    assert st == 200
    assert re.search(rf'<select name="bus" id="scanbus"><option value="{BUS}">', html), html
    assert '<option value="box-1">' in html and 'id="probeform"' in html
    token = c.csrf(html)

    # Without the token: refused, and nothing started.
    st, _, _ = c.req("POST", "/scan", {"bus": BUS, "units": "1-20"})
    assert st == 403
    assert "no scan or probe" in request(sock, cmd="scan-status", id="scan-1")["error"]

    st, hdr, _ = c.req("POST", "/scan", {"csrf": token, "bus": BUS, "units": "1-20",
                                         "timeout": "100"})
    assert st == 303 and hdr["Location"] == "/commission?job=scan-1", (st, hdr)
    st, _, html = c.req("GET", hdr["Location"])
    assert st == 200
    assert re.search(r'<progress id="scanprogress" value="\d+" max="20">', html), html
    html = _job_page(c, hdr["Location"], "done")
    assert re.search(r'<progress id="scanprogress" value="20" max="20">', html), html
    assert re.findall(r"<tr><td>(\d+)</td><td>", html) == ["1", "2", "7", "12"]
    config = re.search(r'<pre id="config">(.*?)</pre>', html, re.S).group(1)
    assert "\ndevice &quot;conv-7&quot; {\n  bus = &quot;conv&quot;\n  unit = 7\n" in config
    assert "profile = &quot;rcd-4t&quot;" in config
    w.wait_log(rf"scan of bus {BUS}: user admin from 127\.0\.0\.1")

    st, hdr, _ = c.req("POST", "/probe", {"csrf": token, "device": "box-1"})
    assert st == 303 and hdr["Location"].startswith("/commission?job=probe-"), (st, hdr)
    html = _job_page(c, hdr["Location"], "done")
    assert re.search(r"<tr><td>leak</td><td>123 mA</td>", html), html
    assert re.search(r"<tr><td>t1</td><td>30.5 degC</td>", html), html
    w.wait_log(r"probe of device box-1: user admin from 127\.0\.0\.1")

    st, hdr, _ = c.req("POST", "/scan", {"csrf": token, "bus": BUS, "timeout": "300"})
    assert st == 303
    job = hdr["Location"].split("=", 1)[1]
    st, _, html = c.req("GET", hdr["Location"])
    assert 'id="cancelform"' in html and "data-live" in html
    st, hdr, _ = c.req("POST", "/scan-cancel", {"csrf": token, "job": job})
    assert st == 303 and hdr["Location"] == f"/commission?job={job}"
    html = _job_page(c, hdr["Location"], "cancelled")
    assert "data-live" not in html.split('<section id="job"')[1].split(">")[0]
    w.wait_log(rf"cancel of {job}: user admin from 127\.0\.0\.1")

    st, _, html = c.req("POST", "/scan", {"csrf": token, "bus": "nosuch"})
    assert st == 404 and re.search(r"no bus (&#39;|')nosuch", html), html


def test_reload_ends_a_running_scan(gw, peers, sock, daemon_factory):
    """A reload restarts the bus workers: a scan running then ends 'failed' with the reason
    (to start it again), the bus is polled again, and a new scan runs."""
    sim = peers.sim_tcp("1")
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1))
    d = daemon_factory(gw.conf).start()

    st = request(sock, cmd="scan", bus=BUS, timeout=300)
    assert st["ok"], st
    wait_until("the scan under way", lambda: request(sock, cmd="scan-status", id=st["id"])
               ["scanned"] >= 1, daemon=d)
    assert request(sock, cmd="reload")["ok"]
    end = request(sock, cmd="scan-status", id=st["id"])
    assert end["state"] == "failed" and "reload" in end["reason"], end
    before = sim.stats(1)
    wait_until("box-1 polled after the reload", lambda: sim.stats(1) >= before + 2, daemon=d)
    r = ctl(sock, "scan", BUS, "--units", "1-2", check=0)
    assert found_units(r.stdout) == [1]


def test_ctrl_c_cancels_the_scan(gw, peers, sock, daemon_factory):
    """Ctrl-C on `firegwctl scan` cancels the daemon's scan (it does not go on unseen) and
    says how far it got; exit 1."""
    import signal
    import subprocess
    sim = peers.sim_tcp("1")
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1))
    d = daemon_factory(gw.conf).start()
    p = subprocess.Popen([str(FIREGWCTL), "-s", str(sock), "scan", BUS, "--timeout", "300"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until("the scan under way",
                   lambda: (lambda s: s["ok"] and s["scanned"] >= 2)(
                       request(sock, cmd="scan-status", id="scan-1")), daemon=d)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=LONG)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, (out, err)
    assert re.search(r"scan cancelled after \d+ unit\(s\): 1 answered", err), err
    st = request(sock, cmd="scan-status", id="scan-1")
    assert st["state"] == "cancelled" and st["scanned"] < 247, st


@pytest.mark.no_valgrind
def test_browser_scan_with_a_progress_bar(gw, peers, sock, daemon_factory, webs, passwd):
    """In headless Chromium on a phone-sized window: the commissioning page starts a scan,
    its progress bar moves to the end without the page being reloaded, and the units found
    come with their config blocks. Screenshots are kept with test_web.py's."""
    from test_web import PASSWORD, SHOTS, WAIT, _chromium, _driver, _text, set_password
    if not _chromium() or not shutil.which("chromedriver"):
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium.webdriver.common.by import By
    sim = peers.sim_tcp("1,2,7,12")
    write(gw, sock, tcp_bus(sim.port), device("box-1", 1), device("box-2", 2))
    d = daemon_factory(gw.conf).start()
    set_password(passwd)
    w = webs(sock, passwd)
    base = f"http://127.0.0.1:{w.port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    drv = _driver()
    try:
        drv.set_page_load_timeout(WAIT * 3)
        drv.get(base + "/login")
        drv.find_element(By.ID, "user").send_keys("admin")
        drv.find_element(By.ID, "password").send_keys(PASSWORD)
        drv.find_element(By.ID, "login").click()
        wait_until("logged in", lambda: not drv.current_url.endswith("/login"), timeout=WAIT)
        drv.get(base + "/commission")
        assert drv.find_element(By.TAG_NAME, "h1").text == "调试"
        units = drv.find_element(By.ID, "scanunits")
        units.clear()
        units.send_keys("1-20")
        timeout = drv.find_element(By.ID, "scantimeout")
        timeout.clear()
        timeout.send_keys("300")  # about 5 s in all: the bar is seen moving
        drv.find_element(By.ID, "scanbutton").click()
        wait_until("the scan's page", lambda: "job=scan-1" in drv.current_url, timeout=WAIT)
        first = int(drv.find_element(By.ID, "scanprogress").get_attribute("value"))
        drv.execute_script("window.fgwNotReloaded = true;")
        wait_until("the scan done on the page", lambda: _text(drv, By.ID, "jobstate") == "完成",
                   timeout=WAIT * 4, daemon=d)
        assert drv.execute_script("return window.fgwNotReloaded === true")
        bar = drv.find_element(By.ID, "scanprogress")
        assert first < 20 and bar.get_attribute("value") == bar.get_attribute("max") == "20"
        assert 'device "conv-7" {' in drv.find_element(By.ID, "config").text
        drv.save_screenshot(str(SHOTS / "commission-zh.png"))
        drv.get(drv.current_url + "&lang=en")
        assert drv.find_element(By.ID, "jobstate").text == "done"
        drv.save_screenshot(str(SHOTS / "commission-en.png"))
    finally:
        drv.quit()
