"""Run benchmark cases per backend and print one table (``hatch run bench``).

Usage: ``hatch run bench [--case NAME ...] [--backend NAME ...] [--repeat N]
[--json PATH] [--full]``. Each case runs several times per backend; the table shows the
median rate and the min-max range, and the same figures are written as JSON
so that runs on different commits can be compared.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import pkgutil
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cases as cases_package
from benchmarks.harness import ALL_BACKENDS, CASES, Case


def load_cases() -> None:
    for module in pkgutil.iter_modules(cases_package.__path__):
        importlib.import_module(f"{cases_package.__name__}.{module.name}")


def backend_env(backend: str, workdir: str) -> dict[str, str] | None:
    """Environment for one backend, or None (with a message) if unavailable."""
    env = {"PERSISTENCE_MODULE": backend}
    if backend == "sqlite":
        env["SQLITE_DBNAME"] = os.path.join(workdir, "bench.sqlite")
    elif backend == "postgres":
        env.update(
            POSTGRES_DBNAME=os.environ.get("POSTGRES_DBNAME", "eventsourcing_bench"),
            POSTGRES_HOST=os.environ.get("POSTGRES_HOST", "127.0.0.1"),
            POSTGRES_PORT=os.environ.get("POSTGRES_PORT", "5432"),
            POSTGRES_USER=os.environ.get("POSTGRES_USER", "postgres"),
            POSTGRES_PASSWORD=os.environ.get("POSTGRES_PASSWORD", ""),
        )
    try:
        from eventsourcing.plugins import persistence_modules

        if backend not in persistence_modules():
            print(f"skipping backend {backend!r}: not installed", file=sys.stderr)
            return None
    except Exception as e:  # pragma: no cover - reported, not hidden
        print(f"skipping backend {backend!r}: {e}", file=sys.stderr)
        return None
    if backend == "postgres":
        problem = ensure_postgres_database(env)
        if problem:
            print(f"skipping backend 'postgres': {problem}", file=sys.stderr)
            return None
    return env


def ensure_postgres_database(env: dict[str, str]) -> str | None:
    """Create the benchmark database if it is missing; say why if that fails."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        return "psycopg is not installed"
    params: dict[str, Any] = {
        "host": env["POSTGRES_HOST"],
        "port": int(env["POSTGRES_PORT"]),
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
        "connect_timeout": 5,
    }
    dbname = env["POSTGRES_DBNAME"]
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except Exception as e:
        return (
            f"cannot use database {dbname!r} on {params['host']}:{params['port']} ({e}); "
            "set POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DBNAME"
        )
    return None


def run_case(case: Case, backend: str, env: dict[str, str], repeat: int) -> list[float]:
    rates = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as workdir:
            run_env = dict(env)
            if "SQLITE_DBNAME" in run_env:
                run_env["SQLITE_DBNAME"] = os.path.join(workdir, "bench.sqlite")
            # Each run starts with no garbage left by earlier runs and cases: a
            # full collection of theirs (10-15 ms) landing in a short case's timed
            # work made app: replay on PostgreSQL look 23% slower than it is.
            gc.collect()
            started = time.perf_counter()
            result = case.func(backend, run_env)
            elapsed = time.perf_counter() - started
            if isinstance(result, tuple):
                count, elapsed = result  # the case timed its own measured work
            else:
                count = result
        rates.append(count / elapsed if elapsed > 0 else float("inf"))
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", action="append", default=[], help="case name (repeatable)")
    parser.add_argument("--backend", action="append", default=[], help="backend (repeatable)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case and backend")
    parser.add_argument("--json", default="bench-results.json", help="where to write JSON")
    parser.add_argument("--list", action="store_true", help="list cases and exit")
    parser.add_argument(
        "--full", action="store_true", help="growth cases at full size (1,000,000 events)"
    )
    args = parser.parse_args(argv)
    if args.full:
        os.environ["BENCH_FULL"] = "1"  # read by benchmarks/cases/growth.py when loaded

    load_cases()
    if args.list:
        for name, c in sorted(CASES.items()):
            print(f"{name:32} {', '.join(c.backends)}")
        return 0
    unknown = [c for c in args.case if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(sorted(CASES))}")
    selected = [CASES[c] for c in (args.case or sorted(CASES))]
    backends = args.backend or list(ALL_BACKENDS)

    results: list[dict[str, Any]] = []
    print(f"cores: {os.cpu_count()}  python: {platform.python_version()}")
    header = f"{'case':32} {'backend':9} {'median':>14} {'min':>12} {'max':>12}  unit"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as workdir:
        envs = {b: backend_env(b, workdir) for b in backends}
        for case in selected:
            for backend in backends:
                env = envs[backend]
                if env is None or backend not in case.backends:
                    continue
                try:
                    rates = run_case(case, backend, env, case.repeat or args.repeat)
                except Exception as e:
                    print(f"{case.name:32} {backend:9} failed: {e!r}")
                    results.append({"case": case.name, "backend": backend, "error": repr(e)})
                    continue
                median = statistics.median(rates)
                digits = 2 if case.unit in ("ratio", "MiB") else 0
                print(
                    f"{case.name:32} {backend:9} {median:14,.{digits}f} "
                    f"{min(rates):12,.{digits}f} {max(rates):12,.{digits}f}  {case.unit}",
                    flush=True,
                )
                results.append(
                    {
                        "case": case.name,
                        "backend": backend,
                        "unit": case.unit,
                        "median": median,
                        "min": min(rates),
                        "max": max(rates),
                        "runs": rates,
                    }
                )
    with open(args.json, "w") as f:
        json.dump(
            {
                "python": platform.python_version(),
                "cores": os.cpu_count(),
                "time": time.time(),
                "results": results,
            },
            f,
            indent=2,
        )
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
