# SPDX-License-Identifier: MIT
"""The man pages: built by scdoc, they render with man -l without a troff warning, and every
firegwctl command and firegw subcommand the tools offer is documented in its page."""

import re
import shutil
import subprocess

import pytest

from conftest import BUILD_ROOT, FIREGW

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
    assert len(cmds) == 13, cmds
    for c in cmds:
        assert re.search(rf"\b{c}\b", text), f"firegwctl {c} is not in firegwctl(8)"


def test_every_firegw_subcommand_is_in_its_page():
    text = render("firegw.8")
    helptext = subprocess.run([str(FIREGW), "--help"], capture_output=True, text=True).stdout
    for sub in ("check", "scan", "probe"):
        assert f"firegw {sub}" in helptext
        assert re.search(rf"\b{sub}\b", text), f"firegw {sub} is not in firegw(8)"
