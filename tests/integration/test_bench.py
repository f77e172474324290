# SPDX-License-Identifier: MIT
"""The benchmark harness in its short form (`bench/run --quick`), as issue 8 asks CI to run it:
every group starts its own peers, runs, and prints its row; the figures are not judged here
(a slow machine is no failure), only that each scenario produced one and that no event was
lost on the way. The sanitizer and valgrind builds skip it: their firegw is too slow for the
bench's fixed waits, and the bench measures, it does not look for memory errors.
"""

import json
import os
import re
import subprocess

import pytest

import conftest
from conftest import BUILD_ROOT, SOURCE_ROOT


def _instrumented():
    return bool(os.environ.get("FIREGW_VALGRIND")) or conftest.sanitized_build()


@pytest.mark.skipif(_instrumented(), reason="an ASan or valgrind build: the bench measures")
def test_bench_quick_runs_every_scenario():
    env = dict(os.environ, FIREGW_BUILD_ROOT=str(BUILD_ROOT))
    env.pop("NOTIFY_SOCKET", None)
    r = subprocess.run(["/usr/bin/python3", str(SOURCE_ROOT / "bench" / "run"), "--quick",
                        "--build", str(BUILD_ROOT)], capture_output=True, text=True,
                       timeout=900, env=env, stdin=subprocess.DEVNULL, cwd=SOURCE_ROOT)
    print(r.stdout)
    print(r.stderr[-5000:])
    assert r.returncode == 0, f"bench/run --quick failed:\n{r.stdout}\n{r.stderr[-5000:]}"
    out = r.stdout
    assert re.search(r"^machine: \d+ cores", out, re.M), out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows and rows[0].startswith("| scenario |"), out
    figures = {cells[0][2:]: cells[1] for cells in (row.split(" | ") for row in rows[1:])}
    for scenario in ("Modbus TCP poll", "MQTT QoS 1 burst", "MQTT publish -> event committed",
                     "smoke alarm published (MQTT) -> accepted by the platform",
                     "register changed -> accepted by the platform", "backlog drain",
                     "memory, 64 devices", "CPU, 64 devices", "start-up with a ledger",
                     "ledger growth", "fleet:",
                     "fire alarm published (MQTT) -> at the monitoring centre",
                     "devices: 64", "backlog: 5,000 events for each of 3"):
        got = [f for s, f in figures.items() if s.startswith(scenario)]
        assert got and all(f.strip() for f in got), f"no figure for {scenario!r}:\n{out}"
    # The fleet and the uplink count what reached the platform: nothing may be lost there.
    assert re.search(r"\b0 lost, 0 delivered twice\b", out), out
