# SPDX-License-Identifier: MIT
"""The README's first command: the demo's scenario, run once (`scripts/demo.py --quick`).

It starts its own peers (the detector simulator, mosquitto, the platform receiver over HTTPS)
and firegw on config/examples/demo.conf, drives leakage through pre-alarm to alarm,
overheating, fire alarms over Modbus and MQTT, an unplugged detector, platform commands and a
platform outage, and fails unless every step happened and the platform stored every event
exactly once. This test checks that the newcomer's first experience still works.
"""

import os
import re
import subprocess

from conftest import BUILD_ROOT, SOURCE_ROOT, run_firegw


def test_demo_scenario_runs_end_to_end():
    env = dict(os.environ, FIREGW_BUILD_ROOT=str(BUILD_ROOT))
    env.pop("NOTIFY_SOCKET", None)
    r = subprocess.run(["/usr/bin/python3", str(SOURCE_ROOT / "scripts" / "demo.py"),
                        "--quick"], capture_output=True, text=True, timeout=300, env=env,
                       stdin=subprocess.DEVNULL)
    print(r.stdout)
    print(r.stderr)
    assert r.returncode == 0, f"the demo failed:\n{r.stdout}\n{r.stderr}"
    assert "the scenario worked: every alarm reached the platform, once" in r.stdout
    for step in ("residual_current, grade general, at box-3f",
                 "escalated to grade significant",
                 "overtemperature, grade significant, at box-5f",
                 "fire_alarm, grade immediate, at smoke-east",
                 "fire_alarm, grade immediate, at smoke-301", "'silenced' recorded",
                 "is acknowledged in the ledger", "device_offline, grade general, at box-6f",
                 "the platform is back", "is closed; its whole history is on the platform",
                 "12 online, 0 offline"):
        assert step in r.stdout, step
    # The web console starts with it, and the demo says where.
    assert re.search(r"web console: http://127\.0\.0\.1:\d+/ \(user admin", r.stdout)


def test_demo_config_is_a_valid_example():
    """config/examples/demo.conf, as shipped, passes `firegw check`: twelve devices."""
    r = run_firegw("check", "-c", SOURCE_ROOT / "config" / "examples" / "demo.conf")
    assert r.returncode == 0, r.stderr
    assert "12 devices" in r.stdout
