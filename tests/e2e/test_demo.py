"""The README's `make up` / `make demo` path: scripts/services, scripts/demo-data
and scripts/demo against the devstack, on the default ports 8081-8083."""
import os
import subprocess

import sgtest

ROOT = sgtest.ROOT


def run(*cmd, timeout=180):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SG_") or k == "SG_BUILD_DIR"}
    env["SG_BUILD_DIR"] = sgtest.BUILD
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_demo_drives_a_report_to_coins_and_a_redemption():
    already = run("scripts/services", "status").returncode == 0
    up = run("scripts/services", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        data = run("scripts/demo-data")
        assert data.returncode == 0, data.stdout + data.stderr
        assert "Demo data loaded" in data.stdout
        demo = run("scripts/demo", timeout=120)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        out = demo.stdout
        assert "case decided: verdict=violation" in out, out
        assert "signature valid" in out, out
        assert "redeemed" in out and "demo: case" in out, out
    finally:
        if not already:
            down = run("scripts/services", "down")
            assert down.returncode == 0, down.stdout + down.stderr
