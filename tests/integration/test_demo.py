"""The README's first command: the demo's scenario, run once (`scripts/demo.py --quick`).

It starts its own peers (the detector simulator, mosquitto, the platform receiver over HTTPS)
and firegw, drives leakage, overheating, fire alarms over Modbus and MQTT, a platform command
and a platform outage, and fails unless every step happened and the platform stored every
event exactly once. This test checks that the newcomer's first experience still works.
"""

import os
import subprocess

from conftest import BUILD_ROOT, SOURCE_ROOT


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
    for step in ("residual_current, grade significant", "overtemperature, grade significant",
                 "fire_alarm, grade immediate, at smoke-corridor",
                 "fire_alarm, grade immediate, at smoke-301", "is now acknowledged",
                 "the platform is back"):
        assert step in r.stdout, step
