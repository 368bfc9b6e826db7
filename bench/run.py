"""``make bench``: runs every benchmark in bench/ and prints one table of their figures.

Each benchmark runs as its own process with the environment given (DATABASE_URL, and
REDIS_URL for bench/engine.py). A benchmark reports table rows by printing lines
``BENCH<TAB>figure<TAB>value<TAB>baseline<TAB>ratio<TAB>goal`` (every benchmark does, through
``common.bench_row``); one that fails or prints none is listed with its exit status, and
every benchmark's own output stays above the table. ``BENCH_ONLY=segments,ingest`` runs
only those. ``BENCH_ARGS_<name>`` passes arguments to one benchmark, e.g. the issue's scale:
``BENCH_ARGS_segments="--database journeys_bench_1m --reuse --keep --profiles 1000000
--events 20000000"`` and ``BENCH_ARGS_ingest="--during-journey-start journeys_bench_1m"``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"common.py", "run.py"}


def main() -> int:
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    scripts = [
        path
        for path in sorted(HERE.glob("*.py"))
        if path.name not in NOT_BENCHMARKS and (not only or path.stem in only)
    ]
    rows: list[list[str]] = []
    failed = 0
    for script in scripts:
        extra = shlex.split(os.environ.get(f"BENCH_ARGS_{script.stem}", ""))
        print(f"=== bench/{script.name} {' '.join(extra)}".rstrip(), flush=True)
        process = subprocess.Popen(
            [sys.executable, str(script), *extra],
            cwd=HERE.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        reported = 0
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith("BENCH\t"):
                rows.append((line.rstrip("\n").split("\t")[1:] + [""] * 5)[:5])
                reported += 1
        status = process.wait()
        if status:
            failed += 1
        if status or not reported:
            outcome = f"exit {status}" if status else "ran; no BENCH rows (figures above)"
            rows.append([f"{script.stem}: {outcome}", "", "", "", ""])
    header = ["figure", "value", "baseline (same run)", "ratio", "goal"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    print()
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
