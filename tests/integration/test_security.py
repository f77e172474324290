# SPDX-License-Identifier: MIT
"""Security: who may talk to firegw, what it never shows, and what cannot be switched off.

- The control socket: a second user (uid 65534, not in the socket's group) is refused at
  connect; a member of the socket's group is let in. firegw gives the socket to group
  `firegw` when that group exists; where it does not, the daemon runs in a private mount
  namespace whose /etc/group names a test group `firegw` (the machine's /etc stays as it is).
  firegw listens on no network port: only on that socket.
- Secrets: with a platform token, MQTT passwords (a wrong one first) and client keys for the
  platform and the broker, firegw goes through a refused MQTT login, a 401 from the platform, a
  reload, deliveries and heartbeats; no secret appears in its log, in any firegwctl output, in
  what the platform stored, or in the ledger. The same for the MQTT uplink's password and key.
- TLS verification: no config key turns it off; each likely attempt is refused by
  `firegw check` as file:line.

Needs root (a second uid, a mount namespace): the integration tests run as root.
"""

import datetime
import grp
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

import conftest
from conftest import line_of, run_firegw
from mqtt_peers import Broker, TestCA
from test_control import FIREGWCTL, ctl, ctl_bin, ctl_json, write  # noqa: F401 (fixtures)
from test_uplink import (LONG, gw, pki, platform, start_gw, wait_delivered,  # noqa: F401
                         wait_until, _clean_exit)
import test_uplink_mqtt as um

NOBODY = 65534

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: a second uid and a mount namespace")


def as_user(argv, uid=NOBODY, gid=NOBODY, groups=()):
    """Runs argv as another user (setpriv): uid, primary gid, supplementary groups."""
    ids = ["--reuid", str(uid), "--regid", str(gid)]
    ids += ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
    return subprocess.run(["setpriv", *ids, "--", *map(str, argv)], capture_output=True,
                          text=True, timeout=LONG, stdin=subprocess.DEVNULL)


@pytest.fixture
def open_sockdir():
    """A socket directory anyone may enter (0755): a refusal then comes from the socket's
    own mode, not from a directory other users cannot traverse."""
    d = Path(tempfile.mkdtemp(prefix="fgw-sec-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def firegw_group(tmp_path, monkeypatch):
    """The gid of group `firegw` as the daemon sees it. When the machine has no such group,
    firegw runs (through a wrapper) in a private mount namespace where /etc/group is a copy
    with a group `firegw` on a free gid; nothing on the machine changes."""
    try:
        return grp.getgrnam("firegw").gr_gid
    except KeyError:
        pass
    gid = next(g for g in range(64999, 60000, -1) if not _gid_used(g))
    group = tmp_path / "group"
    text = Path("/etc/group").read_text(encoding="utf-8")
    group.write_text(text + ("" if text.endswith("\n") else "\n") + f"firegw:x:{gid}:\n",
                     encoding="utf-8")
    group.chmod(0o644)
    wrapper = tmp_path / "firegw-in-ns"
    inner = 'mount --bind "$0" /etc/group && exec "$@"'
    wrapper.write_text(
        "#!/bin/sh\n"
        "# firegw in a private mount namespace whose /etc/group has a group firegw.\n"
        f"exec unshare --mount --propagation private -- /bin/sh -c {shlex.quote(inner)} "
        f"{shlex.quote(str(group))} {shlex.quote(str(conftest.FIREGW))} \"$@\"\n",
        encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "FIREGW", wrapper)
    return gid


def _gid_used(gid):
    try:
        grp.getgrgid(gid)
        return True
    except KeyError:
        return False


# ---- the control socket ----


@needs_root
def test_control_socket_refuses_other_users(gw, open_sockdir, firegw_group, daemon_factory,
                                            ctl_bin):
    """Another user is refused at connect (EACCES, firegwctl says what to do, exit 3); a
    member of group firegw (supplementary or primary) gets the status. When the socket's
    mode has been widened by hand, firegw itself still refuses that user (SO_PEERCRED,
    SO_PEERGROUPS), says so once in its log, and serves nothing."""
    sock = write(gw, open_sockdir, dead=0)
    d = start_gw(daemon_factory, gw)
    st = sock.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    assert st.st_gid == firegw_group, f"socket group {st.st_gid}, firegw is {firegw_group}"

    # Another user, not in the group: refused by the kernel at connect.
    r = as_user([FIREGWCTL, "-s", sock, "status"])
    assert r.returncode == 3, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert (f"firegwctl: {sock}: permission denied; run as root or as a member of group "
            "firegw") in r.stderr, r.stderr
    assert r.stdout == ""
    probe = ("import errno, socket, sys\n"
             "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
             "try:\n"
             "    s.connect(sys.argv[1])\n"
             "except OSError as e:\n"
             "    print(errno.errorcode[e.errno])\n"
             "else:\n"
             "    print('connected')\n")
    r = as_user(["/usr/bin/python3", "-c", probe, sock])
    assert r.stdout.strip() == "EACCES", r.stdout + r.stderr
    # Another user with some other supplementary group: refused too.
    r = as_user([FIREGWCTL, "-s", sock, "status"], groups=[NOBODY])
    assert r.returncode == 3 and "permission denied" in r.stderr, r.stderr

    # A member of the group: in, as a supplementary group and as the primary one.
    for kw in ({"groups": [firegw_group]}, {"gid": firegw_group}):
        r = as_user([FIREGWCTL, "-s", sock, "--json", "status"], **kw)
        assert r.returncode == 0, f"{kw}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert '"ok":true' in r.stdout.replace(" ", ""), r.stdout
    # And root, the owner.
    assert ctl_json(sock, "status")["ok"] is True

    # The socket's mode widened by hand: the kernel lets the other user connect, firegw
    # does not serve it; a member of the group is still served.
    m = d.mark()
    sock.chmod(0o666)
    for _ in range(3):
        r = as_user([FIREGWCTL, "-s", sock, "--json", "status"])
        assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert "permission denied; run as root or as a member of group firegw" in \
            r.stdout + r.stderr, r.stdout + r.stderr
        assert "devices" not in r.stdout, r.stdout
    d.wait_log(rf"<4>control socket {re.escape(str(sock))}: refused a connection from uid "
               rf"{NOBODY} \(pid \d+\)", since=m)
    # Logged once (at most once a minute), not once per attempt: a later line is waited for,
    # so every refusal has been logged or not by then.
    assert ctl_json(sock, "reload")["ok"] is True
    d.wait_log(r"<5>control: uid 0 \(pid \d+\) asks for a reload", since=m)
    refused = [x for x in d.lines[m[0]:] if "refused a connection" in x]
    assert len(refused) == 1, refused
    r = as_user([FIREGWCTL, "-s", sock, "--json", "status"], groups=[firegw_group])
    assert r.returncode == 0 and '"ok":true' in r.stdout.replace(" ", ""), r.stdout + r.stderr


def listening_sockets(pid):
    """The sockets process pid listens on: (kind, local address) for TCP in LISTEN, UDP
    bound but not connected, and unix stream sockets accepting connections (path)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    found = []
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{kind}").read_text().splitlines()[1:]:
            f = line.split()
            if f[9] not in inodes:
                continue
            if (kind.startswith("tcp") and f[3] == "0A") or \
                    (kind.startswith("udp") and re.fullmatch(r"0+:0000", f[2])):
                found.append((kind, f[1]))
    for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
        f = line.split()
        if f[6] in inodes and int(f[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
            found.append(("unix", f[7] if len(f) > 7 else "(unnamed)"))
    return found


def test_no_network_port_is_open(gw, pki, daemon_factory, open_sockdir):
    """firegw only connects out (Modbus TCP, the broker, the platform): with all of them
    configured it listens on no TCP or UDP port; the one thing it listens on is the control
    socket."""
    gw.write("https://127.0.0.1:1/api", pki.ca(), dead=1)
    sock = open_sockdir / "ctl"
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n'
                'mqtt {\n  host = "127.0.0.1"\n  port = 1\n}\n'
                'device "sa-1" {\n  key = "L1"\n  profile = "smoke-codes"\n}\n')
    d = start_gw(daemon_factory, gw)
    wait_until("a device_offline item", lambda: gw.hazard_ids(), daemon=d)
    d.wait_log(r"mqtt: 127\.0\.0\.1:1: cannot connect", timeout=LONG)
    assert listening_sockets(d.pid) == [("unix", str(sock))]


# ---- no secret shown anywhere ----


def _pem_body(path):
    """The base64 lines of a PEM file (its secret part), each long enough to be unique."""
    lines = [x.strip() for x in Path(path).read_text(encoding="ascii").splitlines()]
    return [x for x in lines if x and not x.startswith("-----") and len(x) >= 16]


def _find_secrets(where, text, secret_strings):
    return [f"{where}: {name}" for name, s in secret_strings.items() if s in text]


def test_no_secret_in_logs_status_or_platform(gw, platform, pki, daemon_factory, ctl_bin,
                                              tmp_path, open_sockdir):
    """Token, MQTT passwords (wrong and right) and the PEM bodies of both client keys never
    appear in firegw's log (debug level), in firegwctl's output (text and --json), in what
    the platform stored (heartbeats, events), or in the ledger files."""
    tag = secrets.token_hex(8)
    token = f"TOKEN-{tag}-platform-bearer-Zq7"
    mqtt_pw = f"MQTTPW-{tag}-broker-login-Vx3"
    wrong_pw = f"WRONGPW-{tag}-broker-login-Kp9"

    # The platform: HTTPS, requires a client certificate; at first it expects another token,
    # so firegw's first requests get 401.
    rx = platform(token=f"not-the-gateway-token-{tag}", client_ca=pki.ca())
    # The broker: TLS with a client certificate, and a password.
    ca = TestCA(tmp_path / "mqtt-pki")
    broker = Broker(tmp_path / "broker", passwords={"gw": mqtt_pw}, tls=ca)
    broker.start()
    try:
        pw_file = tmp_path / "mqtt-password"
        pw_file.write_text(wrong_pw + "\n", encoding="utf-8")
        pw_file.chmod(0o600)
        client_cert, client_key = pki.cert("client")
        gw.write(rx.url, pki.ca(), dead=1, token=token, heartbeat="1s",
                 extra_platform=f'  cert_file = "{client_cert}"\n'
                                f'  key_file = "{client_key}"\n')
        sock = open_sockdir / "ctl"
        with open(gw.conf, "a", encoding="utf-8") as f:
            f.write(f'gateway {{\n  control_socket = "{sock}"\n}}\n'
                    f'mqtt {{\n  host = "127.0.0.1"\n  port = {broker.port}\n'
                    f'  username = "gw"\n  password_file = "{pw_file}"\n  tls = true\n'
                    f'  ca_file = "{ca.ca_cert}"\n  cert_file = "{ca.client_cert}"\n'
                    f'  key_file = "{ca.client_key}"\n}}\n'
                    'device "sa-1" {\n  key = "SEC1"\n  profile = "smoke-codes"\n'
                    '  location = "1F"\n}\n')
        check = run_firegw("check", "-c", gw.conf)
        assert check.returncode == 0, check.stdout + check.stderr

        d = start_gw(daemon_factory, gw)
        d.wait_log(r"HTTP 401 .*is the token in token_file the one the platform issued\?",
                   timeout=LONG)
        d.wait_log(r"<4>mqtt: .*the broker refused the login", timeout=LONG)
        outputs = {"firegw check": check.stdout + check.stderr}

        def run_ctl(tag_, *args):
            r = ctl(sock, *args)
            outputs[f"firegwctl {tag_}"] = r.stdout + r.stderr
            return r

        # Looked at while both logins fail: the errors shown must not carry a secret.
        run_ctl("status (failing)", "status")
        run_ctl("status --json (failing)", "--json", "status")

        # Fixed: the platform now expects the gateway's token, the password file is right.
        rx.token = token
        pw_file.write_text(mqtt_pw + "\n", encoding="utf-8")
        mark = d.reload(timeout=LONG)
        d.wait_log(r"<5>mqtt: connected to", since=mark, timeout=LONG)
        broker.publish("smoke/SEC1/event", '{"code": 1}', tls=ca, user="gw", password=mqtt_pw)
        wait_until("the fire alarm in the ledger",
                   lambda: gw.hazard_ids("fire_alarm"), daemon=d)
        wait_delivered(gw, rx, d)
        wait_until("a heartbeat at the platform", lambda: rx.heartbeats(), daemon=d)

        hid = gw.hazard_ids("fire_alarm")[0]
        month = datetime.date.today().strftime("%Y-%m")
        for args in (("status",), ("devices",), ("hazards",), ("hazard", hid), ("outbox",),
                     ("deadletter",), ("report", "--month", month)):
            run_ctl(" ".join(args), *args)
            run_ctl(" ".join(args) + " --json", "--json", *args)
        assert '"ok":true' in outputs["firegwctl status --json"].replace(" ", "")
        d.reload(timeout=LONG)
        assert d.stop(timeout=LONG) == 0
    finally:
        broker.stop()

    secret_strings = _secrets_with_keys(
        {"token": token, "mqtt password": mqtt_pw, "wrong password": wrong_pw},
        ("platform key", client_key), ("broker client key", ca.client_key))
    found = []
    found += _find_secrets("firegw log", "\n".join(d.lines + d.stdout_lines), secret_strings)
    for where, text in outputs.items():
        found += _find_secrets(where, text, secret_strings)
    stored = repr(rx.heartbeats()) + repr(rx.events()) + repr(rx.state())
    found += _find_secrets("platform receiver", stored, secret_strings)
    for f in sorted(gw.data.iterdir()):
        if f.is_file():
            found += _find_secrets(f"ledger file {f.name}",
                                   f.read_bytes().decode("latin-1"), secret_strings)
    assert not found, "secrets shown:\n" + "\n".join(found)
    # The check looked at something: the log is long, the heartbeats and outputs are there.
    assert len(d.lines) > 20 and rx.heartbeats() and len(outputs) >= 16


def _secrets_with_keys(secret_strings, *keys):
    out = dict(secret_strings)
    for name, path in keys:
        for i, line in enumerate(_pem_body(path)):
            out[f"{name} (line {i + 1})"] = line
    return out


def test_no_secret_with_mqtt_uplink(tmp_path, daemon_factory, ctl_bin):
    """The same with the platform behind a broker (transport = "mqtt", mqtts:// with a client
    key, username and password_file): a refused login with a wrong password, then the right
    one and a reload; neither password nor the key is in the log, firegwctl's output, or any
    message the gateway published (events, heartbeats)."""
    tag = secrets.token_hex(8)
    right = f"UPLINKPW-{tag}-right-Hd4"
    wrong = f"UPLINKPW-{tag}-wrong-Jm8"
    ca = TestCA(tmp_path / "pki")
    broker = Broker(tmp_path / "broker", passwords={"gw": right, "platform": "pf"}, tls=ca,
                    persistence=True)
    broker.start()
    pf = None
    try:
        pf = um.Platform(broker, user="platform", password="pf", tls=ca)
        site = um.Gw(tmp_path)
        site.write(broker.port, dead=1, heartbeat="1s", user="gw", password=wrong,
                   url=f"mqtts://127.0.0.1:{broker.port}",
                   extra_platform=f'  ca_file = "{ca.ca_cert}"\n'
                                  f'  cert_file = "{ca.client_cert}"\n'
                                  f'  key_file = "{ca.client_key}"\n')
        sock = re.search(r'control_socket = "([^"]+)"', site.conf.read_text()).group(1)
        d = start_gw(daemon_factory, site)
        d.wait_log(r"<4>platform uplink: .*the broker refused the login", timeout=LONG)
        outputs = {}
        for args in (("status",), ("--json", "status")):
            r = ctl(sock, *args)
            outputs["firegwctl (refused) " + " ".join(args)] = r.stdout + r.stderr

        site.password.write_text(right + "\n", encoding="utf-8")
        d.reload(timeout=LONG)
        um.wait_delivered(site, pf, d)
        wait_until("a heartbeat at the platform", lambda: pf.on("heartbeat"), daemon=d)
        for args in (("status",), ("--json", "status"), ("--json", "devices"),
                     ("--json", "outbox"), ("--json", "hazards")):
            r = ctl(sock, *args)
            outputs["firegwctl " + " ".join(args)] = r.stdout + r.stderr
        assert d.stop(timeout=LONG) == 0
        heartbeats = pf.on("heartbeat")
        with pf.lock:
            published = "\n".join(p.decode("utf-8", "replace") for _, p in pf.msgs)
    finally:
        if pf:
            pf.close()
        broker.stop()

    secret_strings = _secrets_with_keys({"right password": right, "wrong password": wrong},
                                        ("client key", ca.client_key))
    found = _find_secrets("firegw log", "\n".join(d.lines + d.stdout_lines), secret_strings)
    for where, text in outputs.items():
        found += _find_secrets(where, text, secret_strings)
    found += _find_secrets("published messages", published, secret_strings)
    assert not found, "secrets shown:\n" + "\n".join(found)
    assert '"ok":true' in outputs["firegwctl --json status"].replace(" ", "")
    assert heartbeats and len(d.lines) > 20


# ---- TLS verification cannot be switched off ----


SWITCHES = ["verify", "insecure", "tls_verify", "ssl_verify", "verify_peer", "verify_host",
            "tls_insecure", "ssl_verifypeer", "skip_verify"]


def _check_refuses(conf, needle, message):
    r = run_firegw("check", "-c", conf)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    line = line_of(conf, needle)
    assert re.search(rf"^{re.escape(str(conf))}:{line}: {message}", r.stderr, re.M), \
        f"expected {conf}:{line}: {message}\n{r.stderr}"


@pytest.mark.parametrize("section", ["platform", "mqtt"])
@pytest.mark.parametrize("key", SWITCHES)
def test_no_switch_turns_tls_verification_off(gw, pki, section, key):
    """Every likely name for "do not verify" in the platform or mqtt section is an unknown
    option: `firegw check` refuses the file and names the line."""
    for value in ("false", "true"):
        gw.write("https://127.0.0.1:1/api", pki.ca())
        with open(gw.conf, "a", encoding="utf-8") as f:
            f.write(f"{section} {{\n  tls = true\n" if section == "mqtt" else f"{section} {{\n")
            f.write(f"  {key} = {value}\n}}\n")
        _check_refuses(gw.conf, f"  {key} = ", rf"no such option '{key}'")


@pytest.mark.parametrize("section", ["platform", "mqtt"])
@pytest.mark.parametrize("mode", [0o644, 0o602, 0o640])
def test_private_key_open_to_others_is_refused(gw, pki, tmp_path, section, mode):
    """A client certificate's key_file that others or its group can read or write is a
    config error that names the line and the chmod; at 0600 or 0400 it passes."""
    cert, key = pki.cert("client")
    mine = tmp_path / "client.key"
    shutil.copyfile(key, mine)
    tls = f'  cert_file = "{cert}"\n  key_file = "{mine}"\n'
    if section == "platform":
        gw.write("https://127.0.0.1:1/api", pki.ca(), extra_platform=tls)
    else:
        gw.write("https://127.0.0.1:1/api", pki.ca())
        with open(gw.conf, "a", encoding="utf-8") as f:
            f.write(f'mqtt {{\n  host = "127.0.0.1"\n  tls = true\n{tls}}}\n')
    who = "others" if mode & 0o007 else "its group"
    how = "readable" if mode & 0o044 else "writable"
    mine.chmod(mode)
    _check_refuses(gw.conf, "key_file", rf"{section}: key_file {re.escape(str(mine))} is "
                   rf"{how} by {who} \(mode 0{mode:o}\); a private key must stay secret: "
                   rf"chmod 600 {re.escape(str(mine))}")
    for ok in (0o600, 0o400):
        mine.chmod(ok)
        r = run_firegw("check", "-c", gw.conf)
        assert r.returncode == 0, f"mode {ok:o}: exit {r.returncode}\n{r.stdout}{r.stderr}"


@pytest.mark.parametrize("extra, needle, message", [
    ('  url = "http://127.0.0.1:1/api"\n', "http://",
     r"platform: url 'http://127\.0\.0\.1:1/api' must start with https:// \(TLS is always on\)"),
    ('  url = "HTTP://127.0.0.1:1/api"\n', "HTTP://", r"platform: url .* must start with "
     r"https://"),
    ('  transport = "http"\n', 'transport = "http"',
     r"platform: transport 'http' is not https, mqtt or gbt26875"),
])
def test_no_plaintext_platform(gw, pki, extra, needle, message):
    """The HTTPS platform cannot be pointed at plain HTTP, in any spelling."""
    gw.write("https://127.0.0.1:1/api", pki.ca())
    with open(gw.conf, "a", encoding="utf-8") as f:
        f.write("platform {\n" + extra + "}\n")
    _check_refuses(gw.conf, needle, message)


# ---- whom the platform's certificate must chain to ----


@pytest.fixture
def system_cas(tmp_path, monkeypatch, pki):
    """firegw in a private mount namespace whose system CA directory (/etc/ssl/certs, where
    libcurl looks when no ca_file is given) holds one CA: the test PKI's "other-ca", hashed
    as `openssl rehash` does. Nothing on the machine changes."""
    certs = tmp_path / "system-certs"
    certs.mkdir()
    shutil.copy(pki.ca("other-ca"), certs / "other-ca.pem")
    r = subprocess.run(["openssl", "rehash", str(certs)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wrapper = tmp_path / "firegw-system-cas"
    inner = 'mount --bind "$0" /etc/ssl/certs && exec "$@"'
    wrapper.write_text(
        "#!/bin/sh\n"
        f"exec unshare --mount --propagation private -- /bin/sh -c {shlex.quote(inner)} "
        f"{shlex.quote(str(certs))} {shlex.quote(str(conftest.FIREGW))} \"$@\"\n",
        encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setattr(conftest, "FIREGW", wrapper)


@needs_root
def test_ca_file_is_the_only_trust(gw, platform, daemon_factory, pki, system_cas):
    """With ca_file, the platform's certificate must chain to that CA: a certificate from a CA
    of the system's store is refused (libcurl would otherwise keep its default CA directory
    beside ca_file, and any public CA would do). Without ca_file, the system's store is the
    trust, and the same certificate is accepted."""
    rx = platform(cert="other-server")  # signed by other-ca, which only the system store has
    gw.write(rx.url, pki.ca(), dead=1)
    d = daemon_factory(gw.conf, name="firegw-ca-file").start(timeout=LONG)
    d.wait_log(r"<4>platform uplink: https://\S+/v1/events: SSL certificate problem",
               timeout=LONG)
    assert rx.state()["events"] == 0
    assert d.stop() == 0

    text = gw.conf.read_text(encoding="utf-8")
    gw.conf.write_text(re.sub(r'(?m)^  ca_file = ".*"\n', "", text), encoding="utf-8")
    assert "ca_file =" not in gw.conf.read_text(encoding="utf-8")
    d = daemon_factory(gw.conf, name="firegw-system-store").start(timeout=LONG)
    wait_delivered(gw, rx, d)
    assert d.stop() == 0


# ---- the files firegw reads (docs/security.md, "Files firegw trusts") ----
#
# Each rule once through `firegw check` (the message names the file, its line and the command
# that fixes it) and once through a start, which is refused with the same message.


def _refused_by_check_and_start(conf, daemon_factory, line, message):
    """`firegw check` fails with `conf[:line]: message`; `firegw -f` exits with it logged."""
    where = f"{re.escape(str(conf))}:{line}: " if line else f"{re.escape(str(conf))}: "
    r = run_firegw("check", "-c", conf)
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert re.search(rf"^{where}{message}", r.stderr, re.M), \
        f"expected {where}{message}\n{r.stderr}"
    d = daemon_factory(conf)
    d.start(wait_ready=False)
    assert d.wait_exit(timeout=LONG) != 0
    assert re.search(rf"{where}{message}", d.log_text(), re.M), d.log_text()
    assert not any("READY=1" in n for n in d.notes)


def _check_ok(conf):
    r = run_firegw("check", "-c", conf)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}{r.stderr}"


def test_token_readable_by_group_is_refused(gw, pki, daemon_factory):
    """0640 (group firegw, the operators) is no longer a token mode: check and start refuse
    it with the chmod; 0600 and 0400 pass."""
    gw.write("https://127.0.0.1:1/api", pki.ca(), token_mode=0o640)
    t = re.escape(str(gw.token))
    _refused_by_check_and_start(
        gw.conf, daemon_factory, line_of(gw.conf, "  token_file = "),
        rf"platform: token_file {t} is readable by its group \(mode 0640\); a token must stay "
        rf"secret: chmod 600 {t}")
    for ok in (0o600, 0o400):
        gw.token.chmod(ok)
        _check_ok(gw.conf)


@needs_root
def test_token_owned_by_another_user_is_refused(gw, pki, daemon_factory):
    """A token that belongs to a user other than root, firegw or the process (here nobody)
    can be read and replaced by that user: refused, with the chown."""
    gw.write("https://127.0.0.1:1/api", pki.ca())
    os.chown(gw.token, NOBODY, NOBODY)
    t = re.escape(str(gw.token))
    _refused_by_check_and_start(
        gw.conf, daemon_factory, line_of(gw.conf, "  token_file = "),
        rf"platform: token_file {t} belongs to uid {NOBODY}\b.*: chown \S+ {t}$")
    os.chown(gw.token, 0, 0)
    _check_ok(gw.conf)


def test_token_longer_than_8192_bytes_is_refused(gw, pki, daemon_factory):
    gw.write("https://127.0.0.1:1/api", pki.ca(), token="t" * 8193)
    t = re.escape(str(gw.token))
    _refused_by_check_and_start(gw.conf, daemon_factory, line_of(gw.conf, "  token_file = "),
                                rf"platform: token_file {t}: token longer than 8192 bytes")
    gw.write("https://127.0.0.1:1/api", pki.ca(), token="t" * 8192)
    _check_ok(gw.conf)


def test_token_symlink_is_refused(gw, pki, daemon_factory):
    """The daemon opens the token with O_NOFOLLOW; check says so before it does."""
    gw.write("https://127.0.0.1:1/api", pki.ca())
    real = gw.root / "real-token"
    gw.token.rename(real)
    gw.token.symlink_to(real)
    t = re.escape(str(gw.token))
    _refused_by_check_and_start(gw.conf, daemon_factory, line_of(gw.conf, "  token_file = "),
                                rf"platform: token_file {t} is a symbolic link; .*"
                                rf"cp --remove-destination")


@pytest.mark.parametrize("mode, who", [(0o664, "its group"), (0o646, "others")])
def test_config_writable_by_others_is_refused(gw, pki, daemon_factory, mode, who):
    """The config says where the token goes: writable by group or others, it is not read."""
    gw.write("https://127.0.0.1:1/api", pki.ca())
    gw.conf.chmod(mode)
    c = re.escape(str(gw.conf))
    _refused_by_check_and_start(
        gw.conf, daemon_factory, None,
        rf"refused: {c} is writable by {who} \(mode 0{mode:o}\); whoever can write it can send "
        rf"the platform token elsewhere: chmod go-w {c}")
    gw.conf.chmod(0o640)
    _check_ok(gw.conf)


@needs_root
def test_config_owned_by_another_user_is_refused(gw, pki, daemon_factory):
    gw.write("https://127.0.0.1:1/api", pki.ca())
    os.chown(gw.conf, NOBODY, NOBODY)
    c = re.escape(str(gw.conf))
    _refused_by_check_and_start(gw.conf, daemon_factory, None,
                                rf"refused: {c} belongs to uid {NOBODY}\b.*: chown root {c}$")


def test_included_file_writable_by_group_is_refused(gw, pki, daemon_factory):
    gw.write("https://127.0.0.1:1/api", pki.ca())
    inc = gw.root / "more.conf"
    inc.write_text('site {\n  town = "城关镇"\n}\n', encoding="utf-8")
    gw.conf.write_text(gw.conf.read_text(encoding="utf-8") + 'include("more.conf")\n',
                       encoding="utf-8")
    _check_ok(gw.conf)
    inc.chmod(0o664)
    i = re.escape(str(inc))
    _refused_by_check_and_start(
        gw.conf, daemon_factory, line_of(gw.conf, "include("),
        rf'include\("{i}"\): {i} is writable by its group \(mode 0664\); .*chmod go-w {i}')


def test_ca_file_writable_by_others_is_refused(gw, pki, tmp_path, daemon_factory):
    ca = tmp_path / "ca.pem"
    shutil.copyfile(pki.ca(), ca)
    gw.write("https://127.0.0.1:1/api", ca)
    ca.chmod(0o666)
    a = re.escape(str(ca))
    _refused_by_check_and_start(
        gw.conf, daemon_factory, line_of(gw.conf, "  ca_file = "),
        rf"platform: ca_file {a} is writable by others \(mode 0666\); whoever can write it "
        rf"can send the platform token elsewhere: chmod go-w {a}")
    ca.chmod(0o644)
    _check_ok(gw.conf)


def test_url_with_password_is_refused_and_not_shown(gw, pki, daemon_factory):
    gw.write("https://gw:hunter2@127.0.0.1:1/api", pki.ca())
    _refused_by_check_and_start(
        gw.conf, daemon_factory, line_of(gw.conf, "url = "),
        r"platform: url must not hold a user name or password \(user:password@host\); "
        r"remove it from the url and put the token in token_file")
    r = run_firegw("check", "-c", gw.conf)
    assert "hunter2" not in r.stdout + r.stderr


def test_plain_mqtt_with_a_password_needs_insecure_plaintext(tmp_path):
    """mqtt:// with a password is refused unless insecure_plaintext = true; that key is
    itself refused where it changes nothing (mqtts://)."""
    site = um.Gw(tmp_path)
    site.write(1883, user="gw", password="pw")
    text = site.conf.read_text(encoding="utf-8")
    assert "insecure_plaintext = true" in text  # the helper asks for it on loopback
    _check_ok(site.conf)
    site.conf.write_text(text.replace("  insecure_plaintext = true\n", ""), encoding="utf-8")
    r = run_firegw("check", "-c", site.conf)
    assert r.returncode == 1
    assert re.search(rf"^{re.escape(str(site.conf))}:{line_of(site.conf, 'url = ')}: platform: "
                     r"url 'mqtt://127\.0\.0\.1:1883' is plain MQTT: the password of "
                     r"password_file would cross the network .* add insecure_plaintext = true",
                     r.stderr, re.M), r.stderr
    site.write(1883, user="gw", password="pw", url="mqtts://127.0.0.1:8883",
               extra_platform="  insecure_plaintext = true\n")
    r = run_firegw("check", "-c", site.conf)
    assert r.returncode == 1
    assert (f"{site.conf}:{line_of(site.conf, 'insecure_plaintext')}: platform: "
            "insecure_plaintext is only for an mqtt:// url with a password") in r.stderr, r.stderr
