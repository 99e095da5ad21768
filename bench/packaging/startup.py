#!/usr/bin/env python3
"""Cold start of the bundled window and the size of the bundle.

    python bench/packaging/startup.py [--runs 7] [--bundle dist/Certbench]

Build the bundle first (python packaging/build.py --skip-msi). Each run starts a new
certbench-gui process (offscreen when there is no display) with CERTBENCH_EXIT_WHEN_SHOWN=1:
the executable prints `certbench-shown-ms` when the main window has painted once and quits.
Reported per run: wall time from launching the process to that line (what a technician
waits), and the interpreter's own figure (from the entry script's start, i.e. without the
bootloader and library loading). The first run follows an attempt to drop the page cache
(root on Linux only); the median is over all runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=False, timeout=30)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_run(exe: Path, env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        deadline = started + TIMEOUT_S
        for line in proc.stdout:
            if line.startswith("certbench-shown-ms"):
                wall = (time.perf_counter() - started) * 1000
                inner = float(line.split()[1])
                break
            if time.perf_counter() > deadline:
                raise TimeoutError
        else:
            raise RuntimeError(f"{exe.name} exited (code {proc.wait(timeout=TIMEOUT_S)}) without showing its window")
        proc.wait(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT_S)
    return wall, inner


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "Certbench")
    args = parser.parse_args()
    exe = args.bundle / ("certbench-gui.exe" if os.name == "nt" else "certbench-gui")
    if not exe.is_file():
        print(f"{exe} is missing: run python packaging/build.py --skip-msi first.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="certbench-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTBENCH_")}
        env.update(CERTBENCH_HOME=home, CERTBENCH_EXIT_WHEN_SHOWN="1")
        if os.name != "nt" and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            env["QT_QPA_PLATFORM"] = "offscreen"
        dropped = drop_caches()
        results = [one_run(exe, env) for _ in range(args.runs)]
    walls, inners = [r[0] for r in results], [r[1] for r in results]
    total = size(args.bundle)
    print(f"platform: {platform.platform()}, {os.cpu_count()} CPUs, Qt platform {env.get('QT_QPA_PLATFORM', 'native')}")
    print(f"bundle: {total / 2**20:.1f} MiB ({total / 1e6:.1f} MB), {sum(1 for p in args.bundle.rglob('*') if p.is_file())} files")
    print(f"first run ({'page cache dropped' if dropped else 'page cache not dropped'}): {walls[0]:.0f} ms to the painted window")
    print(f"window painted, wall time from launch: median {statistics.median(walls):.0f} ms "
          f"(min {min(walls):.0f}, max {max(walls):.0f}) over {len(walls)} runs")
    print(f"  of which in Python (entry script to paint): median {statistics.median(inners):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
