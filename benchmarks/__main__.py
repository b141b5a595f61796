"""Run every benchmark at its default size, one after the other: `make bench` / `python -m benchmarks`.

Each benchmark prints its own figures and a same-run baseline ratio. Pass a name to run one:
`python -m benchmarks detector`. Each module also runs alone with its own options
(`python -m benchmarks.bench_research --n 1000000`).
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = ["detector", "bot", "fanout", "load", "research"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"Error: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n===== benchmarks.bench_{name} =====", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{name}"])
        print(f"----- bench_{name}: exit {rc}, {time.perf_counter() - t:.1f} s", flush=True)
        if rc:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
