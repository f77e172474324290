# SPDX-License-Identifier: MIT
"""`firegw check` names every mistake of a file in one run (issue 17, item 4).

Each as file:line: message, in line order, in the installer's language; after a syntax
error or an unknown key too (libconfuse stops at the first: the line is blanked and the
parse goes on); the checks after the parse run on what did parse. A file that is not UTF-8
is refused, by check and at start, with the iconv that converts it; a BOM, full-width spaces,
Chinese quotes, ＝ and ｛｝ are named as such.
"""

import re

import pytest

from conftest import PROFILES, _run_to_end, firegw_argv, person_env


def check(conf, lang="C"):
    argv, pattern = firegw_argv("check")
    return _run_to_end("firegw", argv, pattern, ["check", "-c", conf], 30, env=person_env(lang))


# (marker in the file, English message, Chinese message): the marker's line is where the
# mistake must be reported.
MISTAKES = [
    ('colour = "red"', "no such option 'colour'", "没有“colour”这个配置项"),
    ('responsible = ""', "warning: site: responsible (消防安全责任人) is empty",
     "警告：site：responsible（消防安全责任人）为空"),
    ('baud = "fast"', "invalid integer value for option 'baud'", "配置项“baud”的值不是整数"),
    ("unit = 0", "device 'd1': unit id 0 is outside 1-247", "从站地址 0 不在 1-247 之间"),
    ("unit = 300", "device 'd2': unit id 300 is outside 1-247", "从站地址 300 不在 1-247 之间"),
    ('device "d3" { # again', "device 'd3' is defined twice (first at",
     "device“d3”定义了两次（第一次在"),
    ("retries = 99", "device 'd3': retries 99 is outside 0-10", "retries 99 不在 0-10 之间"),
    ('bus = "line9"', "device 'd4': unknown bus 'line9'", "未知总线“line9”"),
    ('profile = "nosuch"', "device 'd5': unknown profile 'nosuch'", "未知型号模板“nosuch”"),
    ("alarm = 300", "alarm level 300 is below the prealarm level 500",
     "alarm 阈值 300 低于 prealarm 阈值 500"),
    ('url = "http://', "must start with https:// (TLS is always on)", "必须以 https:// 开头"),
    ("token_file =", "is readable by others (mode 0644); a token must stay secret: chmod 600",
     "可被其他用户读取（权限 0644）；令牌必须保密：chmod 600"),
]


def bad_config(tmp_path):
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    token.chmod(0o644)
    conf = tmp_path / "bad.conf"
    conf.write_text(f'''gateway {{
  id = "ZW-0009"
  data_dir = "{tmp_path / 'data'}"
  profile_dir = "{PROFILES}"
  colour = "red"
}}
site {{
  county = "示例县"
  responsible = ""
  acceptor = "李验收"
}}
bus "line1" {{
  type = "rtu"
  port = "/dev/ttyS1"
  baud = "fast"
}}
device "d1" {{
  bus = "line1"
  unit = 0
  profile = "rcd-4t"
}}
device "d2" {{
  bus = "line1"
  unit = 300
  profile = "rcd-4t"
}}
device "d3" {{
  bus = "line1"
  unit = 3
  profile = "rcd-4t"
}}
device "d3" {{ # again
  bus = "line1"
  unit = 7
  retries = 99
  profile = "rcd-4t"
}}
device "d4" {{
  bus = "line9"
  profile = "rcd-4t"
}}
device "d5" {{
  bus = "line1"
  unit = 5
  profile = "nosuch"
}}
device "d6" {{
  bus = "line1"
  unit = 6
  profile = "rcd-4t"
  setpoint "leak" {{
    prealarm = 500
    alarm = 300
  }}
}}
platform {{
  url = "http://platform.example.cn/api"
  token_file = "{token}"
}}
''', encoding="utf-8")
    return conf


def line_of(text, marker):
    return next(i for i, l in enumerate(text.splitlines(), 1) if marker in l)


@pytest.mark.parametrize("lang", ["C", "zh_CN.UTF-8"])
def test_every_mistake_in_one_run(tmp_path, lang):
    conf = bad_config(tmp_path)
    text = conf.read_text(encoding="utf-8")
    r = check(conf, lang)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.splitlines()
    found = []
    for marker, en, zh in MISTAKES:
        want = en if lang == "C" or zh is None else zh
        line = line_of(text, marker)
        hits = [l for l in lines if l.startswith(f"{conf}:{line}: ") and want in l]
        assert hits, f"line {line} ({marker}): no '{want}' in:\n{r.stderr}"
        found.append(lines.index(hits[0]))
    # In line order, one line each, and a summary with the counts.
    assert found == sorted(found), r.stderr
    if lang == "C":
        assert lines[-1] == f"{conf}: 11 error(s), 1 warning(s)", r.stderr
    else:
        assert lines[-1] == f"{conf}：11 处错误，1 处警告", r.stderr
        # Chinese all through: the message part of every line has Chinese in it.
        for l in lines[:-1]:
            assert re.search(r"[\u4e00-\u9fff]", l.split(": ", 1)[1]), l
    assert len(lines) == 13, r.stderr


def test_gbk_file_refused_with_iconv(tmp_path, daemon_factory):
    conf = bad_config(tmp_path)
    text = conf.read_text(encoding="utf-8")
    conf.write_bytes(text.encode("gbk"))
    line = line_of(text, "示例县")
    for lang, want in (("C", "this file is not UTF-8"), ("zh_CN.UTF-8", "此文件不是 UTF-8 编码")):
        r = check(conf, lang)
        assert r.returncode == 1
        assert r.stderr.splitlines()[0].startswith(f"{conf}:{line}: {want}"), r.stderr
        assert f"iconv -f GBK -t UTF-8 {conf} -o {conf}.utf8 && mv {conf}.utf8 {conf}" \
            in r.stderr
    # The daemon refuses it at start, too.
    d = daemon_factory(conf).start(wait_ready=False)
    assert d.wait_exit() == 1
    assert any("is not UTF-8" in l for l in d.lines), d.log_text()


def good_config(tmp_path):
    return (f'gateway {{\n  id = "ZW-0010"\n  data_dir = "{tmp_path / "data"}"\n'
            f'  profile_dir = "{PROFILES}"\n}}\n'
            'site {\n  county = "示例县"\n  responsible = "王"\n  acceptor = "李"\n}\n'
            'bus "b" {\n  type = "rtu"\n  port = "/dev/ttyS1"\n}\n')


@pytest.mark.parametrize("name,change,line,en,zh", [
    ("bom", lambda t: "\ufeff" + t, 1, "the file begins with a UTF-8 byte order mark (BOM)",
     "文件开头有 UTF-8 字节顺序标记（BOM）"),
    ("full-width space", lambda t: t.replace("site {", "site\u3000{"), 6,
     "a full-width space (全角空格)", "此处有全角空格"),
    ("full-width equals", lambda t: t.replace('county = ', 'county ＝ '), 7,
     "a full-width equals sign '＝'", "此处有全角等号“＝”"),
    ("full-width brace", lambda t: t.replace('bus "b" {', 'bus "b" ｛'), 11,
     "a full-width brace '｛'", "此处有全角大括号“｛”"),
    ("chinese quotes", lambda t: t.replace('"王"', '“王”'), 8,
     "a Chinese quotation mark '“'", "此处有中文引号““”"),
])
def test_lookalikes_named(tmp_path, name, change, line, en, zh):
    conf = tmp_path / "site.conf"
    conf.write_text(good_config(tmp_path), encoding="utf-8")
    assert check(conf).returncode == 0
    conf.write_text(change(good_config(tmp_path)), encoding="utf-8")
    for lang, want in (("C", en), ("zh_CN.UTF-8", zh)):
        r = check(conf, lang)
        assert r.returncode == 1
        lines = r.stderr.splitlines()
        # Named once, at its line; nothing else is wrong with the file.
        assert len(lines) == 2 and lines[0].startswith(f"{conf}:{line}: {want}"), r.stderr


def test_missing_site_and_token_are_warnings(tmp_path):
    conf = tmp_path / "site.conf"
    text = good_config(tmp_path)
    text = text[:text.index("site {")] + text[text.index('bus "b"'):]
    conf.write_text(text + f'platform {{\n  url = "https://p.example.cn/api"\n'
                           f'  token_file = "{tmp_path / "no-token"}"\n}}\n', encoding="utf-8")
    r = check(conf)
    assert r.returncode == 0, r.stderr
    assert f"{conf}: warning: no site section" in r.stderr
    line = line_of(conf.read_text(), "token_file")
    assert f"{conf}:{line}: warning: platform: token_file {tmp_path / 'no-token'} does not " \
           f"exist yet" in r.stderr and "install -m 600 -o firegw /dev/null" in r.stderr
    assert r.stderr.splitlines()[-1] == f"{conf}: 2 warning(s)"


def test_many_syntax_errors_stop_at_a_limit_that_says_so(tmp_path):
    """Fifty syntax errors are each reported; past them the check says it stopped."""
    conf = tmp_path / "many.conf"
    conf.write_text(good_config(tmp_path) +
                    "".join(f'device "d{i}" {{\n  bus = "b"\n  unit = {i}\n'
                            f'  profile = "rcd-4t"\n  colour{i} = "x"\n}}\n'
                            for i in range(1, 61)), encoding="utf-8")
    r = check(conf)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert sum("no such option 'colour" in l for l in lines) == 50, r.stderr
    last = line_of(conf.read_text(), "colour50 =")
    assert lines[-2] == (f"{conf}:{last}: the check stops after 50 syntax errors; fix these "
                         "and run it again for the rest"), r.stderr
    assert lines[-1] == f"{conf}: 51 error(s)"
