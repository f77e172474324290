# SPDX-License-Identifier: MIT
"""The systemd integration, checked offline: no running systemd is needed.

- The unit meson builds (build/systemd/firegw.service, with the drop-in
  systemd/firegw.service.d/serial.conf beside it) scores an overall exposure of at most 2.3 in
  `systemd-analyze security --offline=true`, the score of systemd-timesyncd, the best-hardened
  unit of a Debian machine (Debian's mosquitto.service scores 9.6).
- `systemd-analyze verify` finds nothing to say about it (its man pages included).
- What the unit runs exists: the ExecStart= flags are firegw's own.
- The sysusers and tmpfiles snippets, applied to an empty root, make the user, the group, the
  dialout membership and the directories with the intended owners and modes.

Tests that need systemd-analyze, systemd-sysusers or systemd-tmpfiles skip with the reason when
the tool is missing (scripts/install-deps installs package `systemd`, so CI runs them).
"""

import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD_ROOT, FIREGW, SOURCE_ROOT

# systemd-timesyncd.service on Debian 12 (systemd 252).
MAX_EXPOSURE = 2.3

UNIT = BUILD_ROOT / "systemd" / "firegw.service"
DROPIN = SOURCE_ROOT / "systemd" / "firegw.service.d" / "serial.conf"
SYSUSERS = BUILD_ROOT / "systemd" / "firegw.sysusers"
TMPFILES = BUILD_ROOT / "systemd" / "firegw.tmpfiles"
MAN_DIR = BUILD_ROOT / "docs" / "man"


def tool(name):
    path = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/bin/{name}") if os.access(p, os.X_OK)), None)
    if not path:
        pytest.skip(f"{name} is not installed (Debian package systemd; scripts/install-deps "
                    f"installs it)")
    return path


def run(*args, env=None, timeout=60):
    e = dict(os.environ, LC_ALL="C", SYSTEMD_COLORS="0", SYSTEMD_PAGER="")
    if env:
        e.update(env)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          errors="replace", env=e, timeout=timeout, stdin=subprocess.DEVNULL)


def unit_lines(path):
    """[(key, value)] of a unit file, in order (keys repeat, so not a dict)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        k, _, v = line.partition("=")
        out.append((k.strip(), v.strip()))
    return out


def values(lines, key):
    return [v for k, v in lines if k == key]


@pytest.fixture
def unit_dir(tmp_path):
    """The built unit with its drop-in beside it, as systemd-analyze looks for drop-ins."""
    assert UNIT.is_file(), f"{UNIT} was not built (meson configures it from systemd/)"
    (tmp_path / "firegw.service.d").mkdir()
    shutil.copy(UNIT, tmp_path / "firegw.service")
    shutil.copy(DROPIN, tmp_path / "firegw.service.d" / "serial.conf")
    return tmp_path


def exposure(analyze, unit):
    r = run(analyze, "security", "--offline=true", "--no-pager", unit)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    assert m, f"no overall exposure in:\n{r.stdout}\n{r.stderr}"
    return float(m.group(1)), r.stdout


def test_unit_runs_firegw_as_documented():
    lines = unit_lines(UNIT)
    assert values(lines, "Type") == ["notify"]
    assert values(lines, "WatchdogSec"), "WatchdogSec= is missing"
    assert values(lines, "Restart") == ["on-failure"]
    assert "/bin/kill -HUP $MAINPID" in values(lines, "ExecReload")
    assert values(lines, "User") == ["firegw"] and values(lines, "Group") == ["firegw"]
    assert values(lines, "CapabilityBoundingSet") == [""], "the capability set must be empty"
    assert values(lines, "ProtectSystem") == ["strict"]
    assert values(lines, "DevicePolicy") == ["closed"]
    assert values(lines, "RuntimeDirectory") == ["firegw"]
    assert values(lines, "StateDirectory") == ["firegw"]
    # ExecStart runs the installed firegw in the foreground on the installed config, with
    # flags firegw really has.
    (start,) = values(lines, "ExecStart")
    argv = start.split()
    assert argv[0].endswith("/sbin/firegw"), start
    assert argv[1:3] == ["-f", "-c"] and argv[3].endswith("/firegw/firegw.conf"), start
    help_text = run(FIREGW, "--help").stdout
    assert "-f, --foreground" in help_text and "-c, --config FILE" in help_text
    # The reload checks the same file first (so a bad config fails 'systemctl reload').
    assert f"{argv[0]} check -c {argv[3]}" in values(lines, "ExecReload")
    # The control socket's default directory is the RuntimeDirectory.
    conf_c = (SOURCE_ROOT / "daemon" / "conf.c").read_text(encoding="utf-8")
    assert '"control_socket", "/run/firegw/control"' in conf_c


def test_dropin_allows_serial_ports():
    lines = unit_lines(DROPIN)
    allowed = values(lines, "DeviceAllow")
    for dev in ("char-ttyS rw", "char-ttyUSB rw"):
        assert dev in allowed, allowed


def test_security_exposure(unit_dir):
    analyze = tool("systemd-analyze")
    score, table = exposure(analyze, unit_dir / "firegw.service")
    # The drop-in was read: its DeviceAllow= shows in the table.
    assert "char-ttyUSB" in table, table
    others = []
    for name in ("systemd-timesyncd", "mosquitto", "collectd"):
        f = f"/lib/systemd/system/{name}.service"
        if os.path.exists(f):
            others.append(f"{name} {exposure(analyze, f)[0]}")
    assert score <= MAX_EXPOSURE, (
        f"firegw.service exposure {score} > {MAX_EXPOSURE} (for comparison: "
        f"{', '.join(others) or 'no other unit here'}):\n{table}")


def test_verify(unit_dir, tmp_path_factory):
    analyze = tool("systemd-analyze")
    # The installed paths do not exist here: point them at the build (verify checks them).
    unit = unit_dir / "firegw.service"
    text = unit.read_text(encoding="utf-8")
    sbin_firegw = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
    unit.write_text(text.replace(sbin_firegw, str(FIREGW)), encoding="utf-8")
    # Documentation=man:... is checked with man(1): give it the pages just built.
    man = tmp_path_factory.mktemp("man")
    for page in ("firegw.8", "firegwctl.8", "firegw.conf.5"):
        assert (MAN_DIR / page).is_file(), f"{MAN_DIR / page} was not built (scdoc missing?)"
        d = man / f"man{page[-1]}"
        d.mkdir(exist_ok=True)
        shutil.copy(MAN_DIR / page, d / page)
    if not shutil.which("man"):
        r = run(analyze, "verify", "--man=false", unit)
    else:
        r = run(analyze, "verify", unit, env={"MANPATH": str(man)})
    # verify exits 0 even for an unknown key; what it prints is the finding.
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), (
        f"systemd-analyze verify:\n{r.stdout}\n{r.stderr}")


def _passwd(root, name):
    for line in (root / "etc" / "passwd").read_text().splitlines():
        f = line.split(":")
        if f[0] == name:
            return f
    return None


def _group(root, name):
    for line in (root / "etc" / "group").read_text().splitlines():
        f = line.split(":")
        if f[0] == name:
            return f
    return None


def test_sysusers_and_tmpfiles(tmp_path):
    sysusers = tool("systemd-sysusers")
    tmpfiles = tool("systemd-tmpfiles")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    r = run(sysusers, f"--root={root}", SYSUSERS)
    assert r.returncode == 0, r.stderr
    user, group, dialout = _passwd(root, "firegw"), _group(root, "firegw"), _group(root, "dialout")
    assert user and group and dialout, (root / "etc" / "passwd").read_text()
    assert user[3] == group[2], "firegw's primary group is firegw"
    assert "firegw" in dialout[3].split(","), "firegw is a member of dialout"
    assert user[6].endswith("nologin")
    uid, gid = int(user[2]), int(group[2])
    # The web console's own user, a member of group firegw (the control socket's), not root.
    web = _passwd(root, "firegw-web")
    assert web and int(web[2]) not in (0, uid) and web[6].endswith("nologin")
    assert "firegw-web" in _group(root, "firegw")[3].split(",")

    r = run(tmpfiles, f"--root={root}", "--create", TMPFILES)
    assert r.returncode == 0, r.stderr
    made = {}
    for line in TMPFILES.read_text().splitlines():
        if line.startswith("d "):
            made[line.split()[1]] = line.split()
    assert len(made) == 2, made
    for path, (_, _, mode, owner, grp, _) in made.items():
        st = (root / path.lstrip("/")).stat()
        assert stat.S_ISDIR(st.st_mode), path
        assert stat.S_IMODE(st.st_mode) == int(mode, 8), f"{path}: {oct(st.st_mode)}"
        assert st.st_uid == (uid if owner == "firegw" else 0), path
        assert st.st_gid == gid, path


WEB_UNIT = BUILD_ROOT / "systemd" / "firegw-web.service"
WEB_MAX_EXPOSURE = 2.0  # issue 16


def test_web_unit_hardened_and_runs_firegw_web(tmp_path):
    """firegw-web.service: its own user in group firegw, no capabilities, the ledger out of
    its reach, an exposure of at most 2.0, and an ExecStart with options firegw-web has."""
    assert WEB_UNIT.is_file(), f"{WEB_UNIT} was not built"
    lines = unit_lines(WEB_UNIT)
    assert values(lines, "User") == ["firegw-web"]
    assert values(lines, "SupplementaryGroups") == ["firegw"]
    assert values(lines, "CapabilityBoundingSet") == [""]
    assert any(v.endswith("/lib/firegw") for v in
               (x.lstrip("-") for x in values(lines, "InaccessiblePaths")))
    (start,) = values(lines, "ExecStart")
    argv = start.split()
    assert argv[0].endswith("/sbin/firegw-web") and argv[1] == "-c", start
    web = BUILD_ROOT / "tools" / "web" / "firegw-web"
    help_text = run(web, "--help").stdout
    for opt in ("-c, --config FILE", "-l, --listen", "--tls-cert", "--tls-key"):
        assert opt in help_text
    assert any("-l 127.0.0.1:" in v for v in values(lines, "Environment"))
    analyze = tool("systemd-analyze")
    shutil.copy(WEB_UNIT, tmp_path / "firegw-web.service")
    score, table = exposure(analyze, tmp_path / "firegw-web.service")
    assert score <= WEB_MAX_EXPOSURE, f"firegw-web.service exposure {score}:\n{table}"
