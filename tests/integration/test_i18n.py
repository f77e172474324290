# SPDX-License-Identifier: MIT
"""firegw and firegwctl in the reader's language (issue 17, DESIGN.md section 10).

The catalogue po/zh_CN.po is complete and its format specifiers match the English ones; a
Chinese installer (LANG=zh_CN.UTF-8, with or without that locale installed) reads help, check
errors and firegwctl errors in Chinese, an English one in English; JSON stays English.
"""

import ast
import calendar
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zoneinfo
from pathlib import Path

import pytest

from conftest import (BUILD_ROOT, SOURCE_ROOT, _run_to_end, firegw_argv, person_env,
                      write_site_config)
from test_control import sockdir, write as ctl_write  # noqa: F401 (fixture)
from test_uplink import (GATEWAY, LONG, gw, start_gw, wait_until,  # noqa: F401 (fixtures)
                         _clean_exit)

PO = SOURCE_ROOT / "po" / "zh_CN.po"
FIREGWCTL = BUILD_ROOT / "firegwctl"
HAN = re.compile(r"[\u4e00-\u9fff]")


def firegw(lang, *args):
    argv, pattern = firegw_argv("i18n")
    return _run_to_end("firegw", argv, pattern, args, 30, env=person_env(lang))


def firegwctl(lang, *args):
    return _run_to_end("firegwctl", [str(FIREGWCTL)], None, args, 30, env=person_env(lang))


def po_entries(text):
    """{(msgctxt, msgid): (msgstr, flags)} of a .po or .pot text."""
    out = {}
    for block in text.split("\n\n"):
        ctx, cur, flags = None, None, ""
        parts = {"msgid": [], "msgstr": []}
        for line in block.splitlines():
            if line.startswith("#,"):
                flags = line
            elif line.startswith("msgctxt "):
                ctx = ast.literal_eval(line[8:])
                cur = None
            elif line.startswith(("msgid ", "msgstr ")):
                cur, rest = line.split(" ", 1)
                parts[cur] = [rest]
            elif line.startswith('"') and cur:
                parts[cur].append(line)
        if not parts["msgid"]:
            continue
        msgid = "".join(ast.literal_eval(s) for s in parts["msgid"])
        if msgid:
            out[(ctx, msgid)] = ("".join(ast.literal_eval(s) for s in parts["msgstr"]), flags)
    return out


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="gettext is not installed")
def test_catalogue_formats_match():
    """msgfmt --check-format: every translation takes the same arguments as its msgid."""
    r = subprocess.run(["msgfmt", "--check", "--check-format", "--statistics", "-o", os.devnull,
                        str(PO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "untranslated" not in r.stderr and "fuzzy" not in r.stderr, r.stderr


@pytest.mark.skipif(not shutil.which("xgettext"), reason="gettext is not installed")
def test_catalogue_complete():
    """Every marked message of the sources has a zh_CN translation (none fuzzy), and every
    source that marks messages is in po/POTFILES."""
    files = [l.strip() for l in (SOURCE_ROOT / "po" / "POTFILES").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    marked = sorted(str(p.relative_to(SOURCE_ROOT))
                    for d in ("common", "protocols", "daemon", "tools", "tools/web")
                    for p in (SOURCE_ROOT / d).glob("*.c")
                    if re.search(r'\b(_|N_|NC_)\("', p.read_text(encoding="utf-8"))
                    and p.name != "i18n.c")
    assert sorted(files) == marked, "po/POTFILES does not list exactly the files with _()"
    with tempfile.TemporaryDirectory() as d:
        pot = Path(d) / "firegw.pot"
        subprocess.run(["xgettext", "--keyword=_", "--keyword=N_", "--keyword=NC_:1c,2",
                        "--from-code=UTF-8", "-D", str(SOURCE_ROOT), "-o", str(pot), *files],
                       check=True, capture_output=True)
        want = po_entries(pot.read_text(encoding="utf-8"))
    have = po_entries(PO.read_text(encoding="utf-8"))
    assert len(want) > 300
    missing = [k for k in want if k not in have or not have[k][0]]
    fuzzy = [k for k in want if k in have and "fuzzy" in have[k][1]]
    assert not missing, f"{len(missing)} message(s) without a translation: {missing[:5]}"
    assert not fuzzy, f"fuzzy translations: {fuzzy[:5]}"


@pytest.mark.parametrize("lang", ["zh_CN.UTF-8", "zh_CN"])
def test_help_in_chinese(lang):
    """Chinese help whether or not the zh_CN locale is installed on the machine."""
    r = firegw(lang, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("用法：firegw"), r.stdout
    r = firegwctl(lang, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("用法：firegwctl") and "网关概况" in r.stdout, r.stdout


def test_english_stays_english():
    for lang in ("C", "en_US.UTF-8", "C.UTF-8"):
        r = firegw(lang, "--help")
        assert r.stdout.startswith("Usage: firegw") and not HAN.search(r.stdout), (lang, r.stdout)


def test_firegwctl_errors_in_both_languages(tmp_path):
    sock = tmp_path / "none"
    zh = firegwctl("zh_CN.UTF-8", "-s", sock, "status")
    en = firegwctl("C", "-s", sock, "status")
    assert zh.returncode == en.returncode == 3
    assert f"firegw 没有运行（{sock} 上无应答）" in zh.stderr, zh.stderr
    assert f"firegw is not running (nothing answers on {sock})" in en.stderr, en.stderr


def test_check_in_chinese(tmp_path):
    """A config mistake in the installer's language, at its line; the summary too."""
    conf = write_site_config(tmp_path / "site.conf", tmp_path / "data",
                             extra='bus "b9" {\n  type = "serial"\n  port = "/dev/null"\n}\n')
    line = conf.read_text().splitlines().index('  type = "serial"') + 1
    zh = firegw("zh_CN.UTF-8", "check", "-c", conf)
    assert zh.returncode == 1
    assert f'{conf}:{line}: 总线“b9”：type“serial”不是 "rtu" 或 "tcp"' in zh.stderr, zh.stderr
    assert f"{conf}：1 处错误" in zh.stderr, zh.stderr
    en = firegw("C", "check", "-c", conf)
    assert f"{conf}:{line}: bus 'b9': type 'serial' is not \"rtu\" or \"tcp\"" in en.stderr
    ok = write_site_config(tmp_path / "ok.conf", tmp_path / "data")
    r = firegw("zh_CN.UTF-8", "check", "-c", ok)
    assert r.returncode == 0 and "：正确（网关 " in r.stdout, r.stdout + r.stderr


def test_gateway_language_checked(tmp_path):
    conf = write_site_config(tmp_path / "site.conf", tmp_path / "data",
                             extra='gateway {\n  language = "Chinese"\n}\n')
    r = firegw("C", "check", "-c", conf)
    assert r.returncode == 1
    assert "gateway: language 'Chinese' is not a language name" in r.stderr, r.stderr
    conf.write_text(conf.read_text().replace('"Chinese"', '"zh_CN"'))
    r = firegw("C", "check", "-c", conf)
    assert r.returncode == 0, r.stderr


def test_daemon_speaks_gateway_language(daemon_factory, site):
    """Under systemd the locale is often C: gateway.language makes the log lines an operator
    acts on Chinese anyway (the test's environment has LC_ALL=C)."""
    site.conf.write_text(site.conf.read_text(encoding="utf-8") +
                         'gateway {\n  language = "zh_CN"\n}\n', encoding="utf-8")
    d = daemon_factory(site.conf).start()
    d.wait_log(r"^<5>firegw \S+ 已就绪：网关 ZW-0001，1 条总线，5 台设备，台账 ")
    assert d.stop() == 0, d.log_text()
    assert any(re.match(r"^<5>\S+：正在停止$", l) for l in d.lines), d.log_text()


# ---- firegwctl's tables: local time with its offset, Chinese columns aligned ----

def cols(s):
    """Terminal columns of s: a wide (CJK) character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def col_of(line, text):
    """The terminal column where text starts in line."""
    return cols(line[:line.index(text)])


def local(utc, tz="Asia/Shanghai"):
    """'2026-11-23T13:40:02.123Z' -> '2026-11-23 21:40:02 +08', as firegwctl shows it."""
    t = datetime.datetime.strptime(utc[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).astimezone(zoneinfo.ZoneInfo(tz))
    off = t.utcoffset().total_seconds()
    sign = "-" if off < 0 else "+"
    off = abs(int(off))
    return t.strftime("%Y-%m-%d %H:%M:%S ") + (
        f"{sign}{off // 3600:02d}" if off % 3600 == 0 else
        f"{sign}{off // 3600:02d}:{off // 60 % 60:02d}")


def ctl_as(lang, sock, *args, tz="Asia/Shanghai"):
    env = person_env(lang)
    env["TZ"] = tz
    r = _run_to_end("firegwctl", [str(FIREGWCTL)], None, ["-s", sock, *args], 60, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_firegwctl_tables_local_time_both_languages(gw, sockdir, sims, daemon_factory):
    sim = sims("20")
    # The gateway speaks Chinese (its hazard titles, for the platform); each firegwctl the
    # language of its own shell.
    sock = ctl_write(gw, sockdir, smoke_port=sim.port, dead=0,
                     extra='gateway {\n  language = "zh_CN"\n}\n')
    d = start_gw(daemon_factory, gw)
    sim.set(20, "input", 0, 0b1)
    hid = d.wait_log(r"hazard (\S+) raised: fire_alarm", timeout=LONG).group(1)

    def item():
        hs = json.loads(ctl_as("C", sock, "--json", "hazards"))["hazards"]
        return next((x for x in hs if x["id"] == hid), None)
    wait_until("the alarm committed", item, daemon=d)
    h = item()
    assert h["title"] == "火灾报警：3F 走廊 / smoke", h["title"]
    # JSON keeps UTC. A fire alarm is an incident (警情): no rectification deadline.
    assert h["first_seen"].endswith("Z") and h["deadline"] is None
    first, deadline = local(h["first_seen"]), "-"
    assert first.endswith(" +08")

    en = ctl_as("C", sock, "hazards").splitlines()
    zh = ctl_as("zh_CN.UTF-8", sock, "hazards").splitlines()
    for lines, heads, words in (
            (en, ["ID", "GRADE", "STATUS", "KIND", "DEVICE/POINT", "LOCATION", "FIRST SEEN",
                  "DEADLINE", "FLAGS"], ["immediate", "open", "fire_alarm"]),
            (zh, ["编号", "等级", "状态", "类型", "设备/监测点", "安装位置", "首次发现", "整改期限",
                  "标记"], ["立查立改", "待处理", "火灾报警"])):
        head, row = lines[0], next(l for l in lines if l.startswith(hid))
        # Every column of the row starts where its heading does, counted in terminal columns.
        # (An incident's deadline is "-", which col_of would find in its id.)
        for name, value in zip(heads, [hid, *words, "smoke-1/smoke", "3F 走廊", first]):
            assert col_of(head, name) == col_of(row, value), (name, value, head, row)
    one = ctl_as("zh_CN.UTF-8", sock, "hazard", hid)
    assert re.search(r"^首次发现 +" + re.escape(first) + "$", one, re.M), one
    # An incident has no rectification deadline: no such line; its class says what it is.
    assert "整改期限" not in one and re.search(r"^类别 +警情$", one, re.M), one
    assert re.search(r"^等级 +立查立改$", one, re.M) and "报警" in one, one
    one_en = ctl_as("C", sock, "hazard", hid, tz="UTC")
    assert re.search(r"^first seen +" + re.escape(local(h["first_seen"], "UTC")) + "$",
                     one_en, re.M), one_en

    devs = ctl_as("zh_CN.UTF-8", sock, "devices").splitlines()
    assert devs[0].split()[:4] == ["设备", "类型", "接入", "状态"]
    smoke = next(l for l in devs if l.startswith("smoke-1"))
    last_ok = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08", smoke)
    assert last_ok, smoke
    assert col_of(devs[0], "最近正常") == col_of(smoke, last_ok.group(0)), devs
    assert col_of(devs[0], "安装位置") == col_of(smoke, "3F 走廊"), devs
    assert col_of(devs[0], "状态") == col_of(smoke, "正常"), devs
    st = ctl_as("zh_CN.UTF-8", sock, "status")
    assert "网关          " + GATEWAY in st and "未销号隐患    立查立改 0" in st, st
    assert "未关闭警情    1 起（火警），其中未核警 1 起" in st, st
    ob = ctl_as("zh_CN.UTF-8", sock, "outbox")
    assert "报警" in ob and "产生时间" in ob, ob
    # The daemon's replies are in its language (gateway.language), whoever asks.
    r = _run_to_end("firegwctl", [str(FIREGWCTL)], None,
                    ["-s", sock, "hazard", f"{GATEWAY}-999999"], 60, env=person_env("C"))
    assert r.returncode == 1
    assert r.stderr == "firegwctl: 没有这条隐患；“firegwctl hazards”可列出所有隐患\n", r.stderr
    month = h["first_seen"][:7]
    rep = ctl_as("zh_CN.UTF-8", sock, "report", "--month", month, tz="UTC")
    y, m = int(month[:4]), int(month[5:])
    last = calendar.monthrange(y, m)[1]
    assert rep.startswith(f"消防安全月通报（{month}）\n"), rep
    assert re.search(rf"^  统计时段（本地时间） +{y}年{m}月1日0时至{y}年{m}月{last}日24时$", rep,
                     re.M), rep
    # The fire alarm is a 警情 counted apart from the hazards, not verified yet.
    assert "火警1起" in rep, rep
