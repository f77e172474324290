# SPDX-License-Identifier: MIT
"""firegw-web, the web console, as an installer and an attacker meet it.

Each test starts the real firegw-web on a free loopback port (and, where pages need data, the
real firegw with the detector simulator, as test_control does) and speaks HTTP to it: the
login (no default password, wrong and right passwords, the lock-out after repeated
failures), the cookie's flags, the CSRF check of every POST, the security headers of every
reply, requests too large, and pages that show what `firegwctl --json` says. One test drives
headless Chromium (Debian's chromium, chromium-driver, python3-selenium) on a phone-sized
window: it logs in and watches the devices page change a value without reloading. Its
screenshots are kept in <build>/pytest-results/web/.
"""

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

import conftest
from conftest import BUILD_ROOT, SLOW
from test_control import ctl_json, sockdir, write  # noqa: F401 (fixtures)
from test_uplink import (GATEWAY, LONG, gw, pki, platform,  # noqa: F401 (fixtures)
                         start_gw, wait_until, _clean_exit)

WEB = BUILD_ROOT / "tools" / "web" / "firegw-web"
SHOTS = BUILD_ROOT / "pytest-results" / "web"
PASSWORD = "correct horse 电池"
CSP = "default-src 'self'; frame-ancestors 'none'"
# Every wait, scaled for a slow build (valgrind, sanitizers) as the harness's own are.
WAIT = LONG * SLOW


class Web:
    """A running firegw-web; .port, .log(), .stop()."""

    def __init__(self, sock, passwd, args=()):
        self.exe = str(WEB)
        # Under valgrind as firegw is (FIREGW_VALGRIND=1), but for a test marked no_valgrind.
        argv, self.pattern = (conftest.valgrind_argv(self.exe, "firegw-web")
                              if conftest._wrap else ([self.exe], None))
        self.lines = []
        self.proc = subprocess.Popen(
            [*argv, "-s", str(sock), "-p", str(passwd), "--firegw", str(conftest.FIREGW),
             *(map(str, args) if args else ["-l", "127.0.0.1:0"])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.port = None

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def log(self):
        return "\n".join(self.lines)

    def wait_listening(self):
        def port():
            m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", self.log())
            if self.proc.poll() is not None:
                raise AssertionError(f"firegw-web exited {self.proc.returncode}:\n{self.log()}")
            return int(m.group(1)) if m else None
        self.port = wait_until("firegw-web listening", port, timeout=WAIT)
        return self

    def wait_log(self, pattern):
        return wait_until(f"firegw-web logs {pattern!r}",
                          lambda: re.search(pattern, self.log()), timeout=WAIT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=conftest.KILL_AFTER * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        return conftest.valgrind_problems(self.pattern, self.proc.pid, self.proc.returncode)


@pytest.fixture
def web_bin():
    if not WEB.is_file():
        pytest.fail(f"firegw-web not found at {WEB}: build it first", pytrace=False)
    return WEB


@pytest.fixture
def webs(web_bin):
    """webs(sock, passwd, args=None) -> a started Web; all stopped in teardown, their logs
    printed, and a valgrind error fails the test."""
    made = []

    def make(sock, passwd, args=None, wait=True):
        w = Web(sock, passwd, args)
        made.append(w)
        return w.wait_listening() if wait else w

    yield make
    problems = [p for p in (w.stop() for w in made) if p]
    for w in made:
        print(f"--- firegw-web (exit {w.proc.returncode}) ---\n{w.log()}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def set_password(passwd, user="admin", password=PASSWORD):
    r = subprocess.run([str(WEB), "passwd", user, "-p", str(passwd)], input=password + "\n",
                       capture_output=True, text=True, timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr
    return r


class Client:
    """A browser in miniature: keeps cookies, never follows redirects."""

    def __init__(self, port, tls=None):
        self.port, self.tls = port, tls
        self.cookies = {}
        self.set_cookie = []

    def req(self, method, path, body=None, headers=None):
        if self.tls:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                            timeout=WAIT)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(body, dict):
            body = urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            text = r.read().decode("utf-8", "replace")
        finally:
            c.close()
        self.set_cookie = r.headers.get_all("Set-Cookie") or []
        for sc in self.set_cookie:
            name, _, rest = sc.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in sc or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r.status, r.headers, text

    def csrf(self, html):
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert m, f"no CSRF token in the page:\n{html}"
        return m.group(1)

    def login(self, user="admin", password=PASSWORD):
        st, _, html = self.req("GET", "/login")
        assert st == 200
        return self.req("POST", "/login", {"csrf": self.csrf(html), "user": user,
                                           "password": password})


@pytest.fixture
def passwd(tmp_path):
    return tmp_path / "web-passwd"


def test_no_default_password_then_login_wrong_and_right(webs, passwd, sockdir):
    """With no password file nobody gets in and the login page says how to set one;
    `firegw-web passwd` writes a 0600 file of libcrypt hashes; a wrong password is refused
    and logged, the right one gives a new session in an HttpOnly SameSite=Strict cookie."""
    w = webs(sockdir / "ctl", passwd)
    c = Client(w.port)
    st, hdr, _ = c.req("GET", "/")
    assert st == 303 and hdr["Location"] == "/login"
    st, _, html = c.req("GET", "/login")
    assert "firegw-web passwd admin" in html and 'id="nopassword"' in html
    st, _, html = c.login("admin", "admin")
    assert st == 401 and 'id="error"' in html

    set_password(passwd)
    assert passwd.stat().st_mode & 0o777 == 0o600
    text = passwd.read_text()
    assert text.startswith("admin:$y$") and PASSWORD not in text  # yescrypt, Debian's default
    st, _, html = c.req("GET", "/login")
    assert 'id="nopassword"' not in html

    st, _, html = c.login("admin", "wrong")
    assert st == 401 and ("Wrong user name" in html or "用户名或密码错误" in html)
    st, _, html = c.login("nobody", PASSWORD)
    assert st == 401
    w.wait_log(r"login failed: user admin from 127\.0\.0\.1")
    anon = c.cookies["fgw_session"]

    st, hdr, _ = c.login()
    assert st == 303 and hdr["Location"] == "/"
    cookie = next(s for s in c.set_cookie if s.startswith("fgw_session="))
    flags = [f.strip() for f in cookie.split(";")]
    assert "HttpOnly" in flags and "SameSite=Strict" in flags and "Path=/" in flags
    max_age = int(next(f for f in flags if f.startswith("Max-Age=")).split("=")[1])
    assert 0 < max_age <= 12 * 3600
    assert c.cookies["fgw_session"] != anon, "the session id must change at login"
    w.wait_log(r"login: user admin from 127\.0\.0\.1")
    # Logged in: pages answer (firegw is not running here, and the page says so).
    st, _, html = c.req("GET", "/")
    assert st == 502 and "firegw is not running" in html
    assert 'action="/logout"' in html, "an error page keeps the logged-in navigation"
    # A user name with a newline cannot forge a log line.
    c2 = Client(w.port)
    c2.login("x\nforged: login: user admin", "nope")
    w.wait_log(r"login failed: user x\\x0aforged")
    assert not any(line.startswith("forged") for line in w.lines)


def test_logins_rate_limited_per_address(webs, passwd, sockdir):
    """Five wrong passwords lock the address out: even the right one is then refused (429)."""
    set_password(passwd)
    w = webs(sockdir / "ctl", passwd)
    c = Client(w.port)
    for _ in range(5):
        st, _, _ = c.login("admin", "guess")
        assert st == 401
    st, _, html = c.login()
    assert st == 429 and ("Too many failed logins" in html or "登录失败次数过多" in html)
    assert "fgw_session" not in c.cookies or c.req("GET", "/")[0] == 303
    w.wait_log(r"login refused, too many failures .*: user admin from 127\.0\.0\.1")


def test_every_post_needs_its_csrf_token(webs, passwd, sockdir):
    """A POST without the session's CSRF token (or with another's) is refused and changes
    nothing; with it, logout ends the session."""
    set_password(passwd)
    w = webs(sockdir / "ctl", passwd)
    # The login form itself: no token, no login.
    c = Client(w.port)
    c.req("GET", "/login")
    st, _, _ = c.req("POST", "/login", {"user": "admin", "password": PASSWORD})
    assert st == 403
    st, _, _ = c.req("GET", "/devices")
    assert st == 303  # still not logged in

    c = Client(w.port)
    assert c.login()[0] == 303
    other = Client(w.port)
    assert other.login()[0] == 303
    _, _, html = other.req("GET", "/config")
    foreign = other.csrf(html)
    for body in ({}, {"csrf": "0" * 64}, {"csrf": foreign}):
        st, _, _ = c.req("POST", "/logout", body)
        assert st == 403, body
    w.wait_log(r"POST /logout refused .*: user admin from 127\.0\.0\.1")
    st, _, html = c.req("GET", "/config")
    assert st == 200, "a refused POST must not end the session"
    st, hdr, _ = c.req("POST", "/logout", {"csrf": c.csrf(html)})
    assert st == 303 and hdr["Location"] == "/login"
    w.wait_log(r"logout: user admin from 127\.0\.0\.1")
    st, _, _ = c.req("GET", "/config")
    assert st == 303
    assert other.req("GET", "/config")[0] == 200


def test_security_headers_and_no_inline_script(webs, passwd, sockdir):
    """Every reply, page, script, redirect or error, carries the CSP, nosniff and
    Referrer-Policy; no page holds inline script or style."""
    set_password(passwd)
    w = webs(sockdir / "ctl", passwd)
    c = Client(w.port)
    seen = []
    for method, path in [("GET", "/login"), ("GET", "/"), ("GET", "/static/app.js"),
                         ("GET", "/static/style.css"), ("GET", "/nope"), ("PUT", "/")]:
        st, hdr, body = c.req(method, path)
        seen.append((path, st))
        assert hdr["Content-Security-Policy"].startswith(CSP), path
        assert "unsafe-inline" not in hdr["Content-Security-Policy"]
        assert hdr["X-Content-Type-Options"] == "nosniff", path
        assert hdr["Referrer-Policy"] == "no-referrer", path
        if "text/html" in hdr.get("Content-Type", ""):
            assert not re.search(r"<script(?![^>]*\bsrc=)", body), path
            assert not re.search(r"\son\w+=|\sstyle=", body), path
    assert ("/static/app.js", 200) in seen and ("/login", 200) in seen
    # Plain HTTP answers loopback names only: a page whose own name was rebound to
    # 127.0.0.1 (DNS rebinding) gets nothing.
    for host in ("evil.example", "evil.example:8080", "127.0.0.1.evil.example"):
        assert c.req("GET", "/login", headers={"Host": host})[0] == 421, host
    for host in ("localhost", f"localhost:{w.port}", f"127.0.0.1:{w.port}"):
        assert c.req("GET", "/login", headers={"Host": host})[0] == 200, host
    assert c.login()[0] == 303
    for path in ["/", "/devices", "/hazards", "/config"]:
        st, hdr, body = c.req("GET", path)
        assert hdr["Content-Security-Policy"].startswith(CSP)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), path


def test_oversized_requests_refused(webs, passwd, sockdir):
    """A body over 4 KiB is refused with 413 before it is read; headers beyond the
    connection's memory are refused too; the console serves the next request as before."""
    set_password(passwd)
    w = webs(sockdir / "ctl", passwd)
    c = Client(w.port)
    st, _, html = c.req("POST", "/login", "user=admin&password=" + "x" * 100000,
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 413
    # A body without Content-Length (chunked) is bounded all the same.
    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=WAIT)
    conn.putrequest("POST", "/login")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/x-www-form-urlencoded")
    conn.endheaders()
    chunk = b"a=" + b"y" * 8000
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk))
    r = conn.getresponse()
    assert r.status == 413
    conn.close()
    try:
        st, _, _ = c.req("GET", "/login", headers={"X-Big": "z" * 200000})
        assert st in (413, 431)
    except (ConnectionError, http.client.HTTPException):
        pass  # closed without a reply: refused all the same
    assert Client(w.port).login()[0] == 303


def test_connections_per_address_bounded(webs, passwd, sockdir):
    """One address holds at most 8 connections: of nine opened together, each with a request
    started (so the console counts it as in use), at least one is closed without an answer;
    and the address is served again once they are gone. (Which one is closed depends on
    whether a connection of the start-up probe is still being reaped: counted, it makes the
    8th the one refused.)"""
    import socket
    set_password(passwd)
    w = webs(sockdir / "ctl", passwd)
    conns = [socket.create_connection(("127.0.0.1", w.port), timeout=WAIT) for _ in range(9)]
    answered = 0
    try:
        for s in conns:
            try:
                s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
            except ConnectionError:
                pass  # closed already: refused
        for s in conns:
            try:
                s.sendall(b"\r\n")
                answered += s.recv(100).startswith(b"HTTP/1.1 ")
            except ConnectionError:
                pass
        assert 1 <= answered <= 8, f"{answered} of 9 connections from one address were served"
    finally:
        for s in conns:
            s.close()

    def served():
        try:
            return Client(w.port).req("GET", "/login")[0] == 200
        except (ConnectionError, http.client.HTTPException):
            return False  # the held connections are not yet seen closed
    wait_until("served again", served, timeout=WAIT)


def test_plain_http_only_on_loopback_and_tls(webs, passwd, sockdir, pki):
    """Without a certificate firegw-web will not listen beyond loopback; with one it speaks
    TLS and its cookies are Secure."""
    set_password(passwd)
    w = webs(sockdir / "ctl", passwd, ["-l", "0.0.0.0:0"], wait=False)
    assert w.proc.wait(timeout=WAIT) == 1
    w.reader.join(timeout=5)
    assert "plain HTTP is only served on 127.0.0.1" in w.log()

    cert, key = pki.cert("server")
    w = webs(sockdir / "ctl", passwd, ["-l", "127.0.0.1:0", "--tls-cert", cert,
                                        "--tls-key", key])
    ctx = ssl.create_default_context(cafile=str(pki.ca()))
    c = Client(w.port, tls=ctx)
    st, hdr, _ = c.req("GET", "/login")
    assert st == 200 and "Strict-Transport-Security" in hdr
    assert any("; Secure" in s for s in c.set_cookie)
    assert c.login()[0] == 303


def _dd(html, key):
    m = re.search(rf'data-k="{key}">([^<]*)<', html)
    assert m, f"no {key} on the page"
    return m.group(1)


def test_pages_show_the_running_gateway(webs, passwd, gw, sockdir, sims, daemon_factory):
    """The overview matches `firegwctl status --json`; the devices page and /api/devices show
    each device with its state and values; a fire alarm shows on the hazards page (filtered
    by status and grade) and its history on the hazard's page; Chinese by default, English
    when asked; the config page shows the file and firegw check's verdict."""
    sim = sims("20")
    sock = write(gw, sockdir, smoke_port=sim.port, dead=1)
    d = start_gw(daemon_factory, gw)
    set_password(passwd)
    w = webs(sock, passwd, ["-l", "127.0.0.1:0", "-c", gw.conf])
    c = Client(w.port)
    assert c.login()[0] == 303
    wait_until("smoke-1 online, dead-1 offline and its item counted", lambda: (
        lambda s: s["devices_online"] == 1 and s["devices_offline"] == 1 and
        sum(s["open_hazards"].values()) >= 1)(ctl_json(sock, "status")), daemon=d)

    st, hdr, html = c.req("GET", "/")
    status = ctl_json(sock, "status")
    assert st == 200 and '<html lang="zh-CN">' in html and "概览" in html
    assert _dd(html, "gateway") == GATEWAY == status["gateway"]
    assert int(_dd(html, "devices_online")) == status["devices_online"] == 1
    assert int(_dd(html, "devices_offline")) == status["devices_offline"] == 1
    for g, n in status["open_hazards"].items():
        assert int(_dd(html, f"open_{g}")) == n, g
    assert int(_dd(html, "outbox_alarm")) == status["outbox"]["alarm"]

    st, _, html = c.req("GET", "/devices?lang=en")
    assert st == 200 and '<html lang="en">' in html and "Last poll" in html
    smoke = re.search(r'<tr data-dev="smoke-1".*?</tr>', html).group(0)
    assert "sim/20" in smoke and ">ok<" in smoke and "status 0" in smoke and "3F 走廊" in smoke
    dead = re.search(r'<tr data-dev="dead-1".*?</tr>', html).group(0)
    assert "link down" in dead
    # The language asked for stays (cookie); Accept-Language alone also chooses.
    assert '<html lang="en">' in c.req("GET", "/")[2]
    assert '<html lang="zh-CN">' in c.req("GET", "/?lang=zh")[2]
    c2 = Client(w.port)
    assert c2.login()[0] == 303
    assert "Overview" in c2.req("GET", "/", headers={"Accept-Language": "en-US,en;q=0.8"})[2]

    st, hdr, body = c.req("GET", "/api/devices")
    assert st == 200 and hdr["Content-Type"] == "application/json"
    assert {x["id"] for x in json.loads(body)["devices"]} == {"smoke-1", "dead-1"}
    assert Client(w.port).req("GET", "/api/devices")[0] == 401

    sim.set(20, "input", 0, 0b1)
    m = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=WAIT)
    hid = m.group(1)
    wait_until("the alarm committed", lambda: any(
        h["id"] == hid for h in ctl_json(sock, "hazards", "--open")["hazards"]), daemon=d)
    st, _, html = c.req("GET", "/hazards?status=open&grade=immediate")
    assert st == 200 and f'data-hazard="{hid}"' in html
    # In Chinese (the language chosen last), the kind and status in words, the code kept.
    assert 'title="fire_alarm">火警<' in html and 'title="open">待处理<' in html
    assert 'data-hazard="' + hid in c.req("GET", "/hazards")[2]
    html = c.req("GET", "/hazards?status=open&grade=general")[2]
    assert hid not in html
    html = c.req("GET", "/hazards?status=closed")[2]
    assert hid not in html and 'id="nohazards"' in html
    st, _, html = c.req("GET", f"/hazard?id={hid}")
    assert st == 200 and _dd(html, "kind") == "fire_alarm" and _dd(html, "grade") == "immediate"
    assert "<td>raised</td>" in html
    st, _, html = c.req("GET", f"/hazard?id={GATEWAY}-999999")
    assert st == 404 and "no such hazard" in html

    st, _, html = c.req("GET", "/config")
    assert st == 200 and f"id = &quot;{GATEWAY}&quot;" in html
    check = re.search(r'<pre id="check" class="(\w+)">(.*?)</pre>', html, re.S)
    # The running daemon's check (its secret files judged by its own user, not this one's).
    assert check.group(1) == "good" and "no errors (checked by the running firegw)" in \
        check.group(2), check.group(2)


def test_test_alarm_followed_to_the_platform(webs, passwd, gw, sockdir, platform, sims,
                                             daemon_factory, pki):
    """The devices page's test alarm: refused without the CSRF token (nothing recorded);
    with it, logged with user and address, and the item's page follows each event until the
    platform has accepted raised, cleared and closed."""
    rx = platform()
    sim = sims("20")
    sock = write(gw, sockdir, rx=rx, pki=pki, smoke_port=sim.port, dead=0)
    d = start_gw(daemon_factory, gw)
    set_password(passwd)
    w = webs(sock, passwd)
    c = Client(w.port)
    assert c.login()[0] == 303
    st, _, html = c.req("GET", "/devices")
    assert 'id="testform"' in html and '<option value="smoke-1">' in html
    st, _, _ = c.req("POST", "/test", {"device": "smoke-1"})
    assert st == 403
    st, _, _ = c.req("POST", "/test", {"device": "smoke-1", "csrf": "f" * 64})
    assert st == 403
    assert "asks for a test alarm" not in d.log_text()

    st, hdr, _ = c.req("POST", "/test", {"device": "smoke-1", "csrf": c.csrf(html)})
    assert st == 303 and hdr["Location"].startswith("/hazard?id=")
    hid = hdr["Location"].split("=", 1)[1]
    w.wait_log(r"test alarm on smoke-1: user admin from 127\.0\.0\.1")
    d.wait_log(r"asks for a test alarm on smoke-1")

    def delivered():
        page = c.req("GET", hdr["Location"])[2]
        rows = re.findall(r"<tr><td>\d+</td><td>(\w+)</td><td>[^<]*</td><td>([^<]*)</td>", page)
        done = [t for t, state in rows if state == "delivered"]
        return page if done == ["raised", "cleared", "closed"] else None
    page = wait_until("the test alarm's three events delivered, on its page", delivered,
                      timeout=WAIT * 2, daemon=d)
    assert _dd(page, "test") == "true" and _dd(page, "status") == "closed"
    assert [e["type"] for e in rx.events() if e["hazard_id"] == hid and e["type"] != "resync"] \
        == ["raised", "cleared", "closed"]
    # An unknown device: the daemon's answer, on a page.
    st, _, html = c.req("POST", "/test", {"device": "box-99", "csrf": c.csrf(html)})
    assert st == 404 and "no device" in html


def _samples(text):
    """{'name{labels}': value} of a Prometheus text; every line checked for its shape."""
    out = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"# (HELP|TYPE) firegw_[a-z_]+ ", line), line
            continue
        m = re.fullmatch(r'(firegw_[a-z_]+(?:\{[a-z]+="[^"]*"(?:,[a-z]+="[^"]*")*\})?) (\S+)', line)
        assert m, f"not a sample line: {line!r}"
        out[m.group(1)] = float(m.group(2))
    return out


def test_metrics_for_a_fleet(webs, passwd, gw, sockdir, sims, daemon_factory):
    """/metrics: the numbers of `firegwctl status --json` in the Prometheus text format,
    behind the login unless --metrics-public; firegw_up 0 once firegw is gone."""
    sim = sims("20")
    sock = write(gw, sockdir, smoke_port=sim.port, dead=1)
    d = start_gw(daemon_factory, gw)
    set_password(passwd)
    private = webs(sock, passwd)
    assert Client(private.port).req("GET", "/metrics")[0] == 401
    c = Client(private.port)
    assert c.login()[0] == 303
    assert c.req("GET", "/metrics")[0] == 200

    w = webs(sock, passwd, ["-l", "127.0.0.1:0", "--metrics-public"])
    wait_until("smoke-1 polled, dead-1 offline and its item counted", lambda: (
        lambda s: s["devices_online"] == 1 and s["devices_offline"] == 1 and
        sum(s["open_hazards"].values()) >= 1)(ctl_json(sock, "status")), daemon=d)
    st, hdr, text = Client(w.port).req("GET", "/metrics")
    assert st == 200 and hdr["Content-Type"].startswith("text/plain; version=0.0.4")
    m = _samples(text)
    status = ctl_json(sock, "status")
    assert m["firegw_up"] == 1
    assert m['firegw_devices{state="online"}'] == status["devices_online"] == 1
    assert m['firegw_devices{state="offline"}'] == status["devices_offline"] == 1
    assert m['firegw_device_online{device="smoke-1"}'] == 1
    assert m['firegw_device_online{device="dead-1"}'] == 0
    assert m['firegw_device_polls_total{device="smoke-1"}'] >= 1
    assert m['firegw_device_failures_total{device="dead-1"}'] >= 1
    assert m['firegw_reading{device="smoke-1",point="status"}'] == 0
    for g, n in status["open_hazards"].items():
        assert m[f'firegw_open_hazards{{grade="{g}"}}'] == n
    assert m['firegw_outbox_events{lane="alarm"}'] == status["outbox"]["alarm"]
    assert m["firegw_ledger_ok"] == 1 and m["firegw_disk_free_bytes"] > 0

    # The same figures once on stdout, for node_exporter's textfile collector.
    r = subprocess.run([str(WEB), "metrics", "-s", str(sock)], capture_output=True, text=True,
                       timeout=WAIT)
    assert r.returncode == 0, r.stderr
    once = _samples(r.stdout)
    assert set(once) == set(m)
    assert once['firegw_devices{state="online"}'] == 1
    assert once['firegw_device_online{device="dead-1"}'] == 0

    d.stop()
    st, _, text = Client(w.port).req("GET", "/metrics")
    assert st == 200 and _samples(text) == {"firegw_up": 0}
    r = subprocess.run([str(WEB), "metrics", "-s", str(sock)], capture_output=True, text=True,
                       timeout=WAIT)
    assert r.returncode == 3 and _samples(r.stdout) == {"firegw_up": 0}
    assert "firegw is not running" in r.stderr


def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _driver():
    """Headless Chromium on a phone-sized window (390 x 844, as an iPhone 12's viewport)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--lang=zh-CN"):
        opts.add_argument(a)
    # A headless window is at least 500 px wide: the phone's screen is emulated instead.
    opts.add_experimental_option("mobileEmulation", {"deviceMetrics": {
        "width": 390, "height": 844, "pixelRatio": 1}})
    opts.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def _text(drv, by, sel):
    """An element's text, or "" while the page is replacing it (the live refresh)."""
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException)
    try:
        return drv.find_element(by, sel).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


@pytest.mark.no_valgrind
def test_browser_login_and_live_devices_on_a_phone(webs, passwd, gw, sockdir, sims,
                                                   daemon_factory):
    """In headless Chromium on a phone-sized window: the login page, a wrong password
    refused, the right one let in; a fire alarm on the simulator appears on the open hazard
    list, and the detector's new value on the devices page, without the page being reloaded;
    the English page renders too. Screenshots are kept."""
    if not _chromium() or not shutil.which("chromedriver"):
        pytest.skip("chromium and chromium-driver are not installed (apt-get install "
                    "chromium chromium-driver python3-selenium)")
    from selenium.webdriver.common.by import By
    sim = sims("20")
    sock = write(gw, sockdir, smoke_port=sim.port, dead=1)
    d = start_gw(daemon_factory, gw)
    set_password(passwd)
    w = webs(sock, passwd)
    base = f"http://127.0.0.1:{w.port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    drv = _driver()
    try:
        drv.set_page_load_timeout(WAIT * 3)
        drv.get(base + "/")
        assert drv.current_url.endswith("/login")
        assert drv.find_element(By.ID, "login").text == "登录"
        drv.find_element(By.ID, "user").send_keys("admin")
        drv.find_element(By.ID, "password").send_keys("wrong")
        drv.find_element(By.ID, "login").click()
        wait_until("the refusal", lambda: "用户名或密码错误" in _text(drv, By.ID, "error"),
                   timeout=WAIT)
        drv.find_element(By.ID, "user").send_keys("admin")
        drv.find_element(By.ID, "password").send_keys(PASSWORD)
        drv.find_element(By.ID, "login").click()
        wait_until("the overview after login", lambda: drv.find_elements(
            By.CSS_SELECTOR, '[data-k="gateway"]'), timeout=WAIT)
        drv.save_screenshot(str(SHOTS / "overview-zh.png"))
        # The page fits the phone's width: nothing wider than the window but the tables'
        # own scrolling boxes.
        assert drv.execute_script("return window.innerWidth") == 390
        assert drv.execute_script("return document.documentElement.scrollWidth") <= 390

        # The hazard list, open before the alarm: the alarm appears without a reload.
        drv.get(base + "/hazards")
        assert "火警" not in drv.find_element(By.ID, "hazard-list").text
        drv.execute_script("window.fgwNotReloaded = true;")
        sim.set(20, "input", 0, 0b1)
        wait_until("the fire alarm on the hazard list, without a reload", lambda: "火警" in
                   _text(drv, By.ID, "hazards"), timeout=WAIT * 2, daemon=d)
        assert drv.execute_script("return window.fgwNotReloaded === true")
        drv.save_screenshot(str(SHOTS / "hazards-zh.png"))

        # The devices page: the detector's value changes back without a reload.
        drv.get(base + "/devices")
        cell = '[data-dev="smoke-1"] td.values'
        wait_until("smoke-1's values", lambda: "status 1" in _text(drv, By.CSS_SELECTOR, cell),
                   timeout=WAIT)
        drv.execute_script("window.fgwNotReloaded = true;")
        sim.set(20, "input", 0, 0)
        wait_until("the new value on the page, without a reload", lambda: "status 0" in
                   _text(drv, By.CSS_SELECTOR, cell), timeout=WAIT * 2, daemon=d)
        assert drv.execute_script("return window.fgwNotReloaded === true")
        assert drv.find_element(By.ID, "refreshed").text != "-"
        drv.save_screenshot(str(SHOTS / "devices-zh.png"))
        # The test alarm from the same page: its item's page shows it as it goes (no platform
        # here: recorded, waiting in the outbox).
        drv.find_element(By.ID, "testbutton").click()
        wait_until("the test alarm's page", lambda: "/hazard?id=" in drv.current_url,
                   timeout=WAIT)
        wait_until("its history", lambda: "raised" in _text(drv, By.ID, "events"), timeout=WAIT)
        drv.save_screenshot(str(SHOTS / "test-alarm-zh.png"))

        drv.get(base + "/devices?lang=en")
        assert drv.find_element(By.TAG_NAME, "h1").text == "Devices"
        drv.save_screenshot(str(SHOTS / "devices-en.png"))
        drv.get(base + "/hazards")
        assert "fire_alarm" in _text(drv, By.ID, "hazards")
        drv.save_screenshot(str(SHOTS / "hazards-en.png"))
    finally:
        drv.quit()
