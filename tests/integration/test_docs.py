# SPDX-License-Identifier: MIT
"""The docs against the code: the man pages, built by scdoc, render with man -l without a troff
warning and document every firegwctl command and firegw subcommand; every config key is
documented and every documented key is real; the Chinese guides have the English ones'
sections and tables."""

import re
import shutil
import subprocess

import pytest

from conftest import BUILD_ROOT, FIREGW, SOURCE_ROOT

PAGES = ("firegw.8", "firegwctl.8", "firegw.conf.5", "firegw-web.8")


def page(name):
    p = BUILD_ROOT / "docs" / "man" / name
    if not p.exists():
        if shutil.which("scdoc"):
            pytest.fail(f"{p} was not built although scdoc is installed")
        pytest.skip("scdoc is not installed: the man pages are not built")
    return p


def render(name):
    if not shutil.which("man"):
        pytest.skip("man is not installed")
    r = subprocess.run(["man", "--warnings", "-l", str(page(name))], capture_output=True,
                       text=True, env={"MANWIDTH": "100", "LC_ALL": "C.UTF-8", "PATH":
                                       "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", f"{name}: troff warnings:\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("name", PAGES)
def test_man_page_renders_cleanly(name):
    text = render(name)
    assert "NAME" in text and "SYNOPSIS" in text
    assert len(text.splitlines()) > 50


def test_every_firegwctl_command_is_in_its_page():
    text = render("firegwctl.8")
    helptext = subprocess.run([str(BUILD_ROOT / "firegwctl"), "--help"], capture_output=True,
                              text=True).stdout
    cmds = re.findall(r"^  ([a-z][a-z-]*)\b", helptext.split("Commands:")[1].split("Options:")[0],
                      re.M)
    assert len(cmds) == 14, cmds
    for c in cmds:
        assert re.search(rf"\b{c}\b", text), f"firegwctl {c} is not in firegwctl(8)"


def test_every_firegw_subcommand_is_in_its_page():
    text = render("firegw.8")
    helptext = subprocess.run([str(FIREGW), "--help"], capture_output=True, text=True).stdout
    for sub in ("check", "scan", "probe"):
        assert f"firegw {sub}" in helptext
        assert re.search(rf"\b{sub}\b", text), f"firegw {sub} is not in firegw(8)"


# ---- the configuration reference and the two languages of the guides (issue 17) ----


def test_every_config_key_documented_and_every_documented_key_real():
    """Each key of the config and profile schemas is in configuration.md or profiles.md, and
    each key a table of configuration.md names exists."""
    src = "".join((SOURCE_ROOT / "daemon" / f).read_text(encoding="utf-8")
                  for f in ("conf.c", "conf_platform.c", "conf_policy.c", "conf_gbt26875.c",
                            "conf_gbt26875.h", "conf_calendar.c", "profile_load.c"))
    keys = set(re.findall(r'CFG_(?:STR|INT|FLOAT|BOOL|STR_LIST|SEC)\("([a-z_0-9]+)"', src))
    # policy.grades and policy.escalation take one key per hazard kind, made at run time.
    keys |= set(re.findall(r'\[KIND_[A-Z_]+\] = "([a-z_]+)"',
                           (SOURCE_ROOT / "common" / "policy.c").read_text(encoding="utf-8")))
    keys.discard("platform_unnamed")  # `platform { }` without a name, read under another name
    assert len(keys) > 80
    conf = (SOURCE_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    docs = conf + (SOURCE_ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    missing = sorted(k for k in keys
                     if not re.search(rf"`{k}( = [^`]*)?`|^\| `{k}[ `]", docs, re.M))
    assert not missing, f"config keys no document names: {missing}"
    tabled = set(re.findall(r'^\| `([a-z_0-9]+)(?: "[^`]*")?(?: \{[^`]*\})?` \|', conf, re.M))
    assert sorted(tabled - keys) == [], "configuration.md documents keys firegw does not have"


def guide_shape(path):
    """[(section number, [rows of each table])] of a guide, code blocks left out."""
    secs, in_code, in_table = [], False, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        m = re.match(r"^#{2,3} (\d+(?:\.\d+)*)\.? ", line)
        if m:
            secs.append((m.group(1), []))
            in_table = False
        elif line.startswith("|") and secs:
            if not in_table:
                secs[-1][1].append(0)
            secs[-1][1][-1] += 1
            in_table = True
        else:
            in_table = False
    return secs


@pytest.mark.parametrize("guide", ["install", "operations"])
def test_chinese_and_english_guides_have_the_same_sections_and_tables(guide):
    en = guide_shape(SOURCE_ROOT / "docs" / f"{guide}.md")
    zh = guide_shape(SOURCE_ROOT / "docs" / f"{guide}.zh.md")
    assert [s for s, _ in en] == [s for s, _ in zh], "the sections differ"
    for (sec, a), (_, b) in zip(en, zh):
        assert a == b, f"section {sec}: tables of {a} rows in English, {b} in Chinese"


def test_layers_as_architecture_md_draws_them():
    """docs/architecture.md's layers hold in the code: no file includes a layer above its own and
    no two modules include each other (scripts/check-layers, which CI also runs first)."""
    r = subprocess.run(["/usr/bin/python3", str(SOURCE_ROOT / "scripts" / "check-layers")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "layers ok" in r.stdout
