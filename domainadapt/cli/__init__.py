"""The ``domainadapt`` command (also ``python -m domainadapt``).

* ``domainadapt compare --source s.csv --target t.csv --label-column y``: which
  strategy for your own data (:mod:`domainadapt.cli.compare`);
* ``domainadapt benchmark [...]``: the benchmark runner
  (``python -m domainadapt.benchmarks``). For compatibility, ``domainadapt``
  followed by the runner's own options (or nothing) still runs the benchmark.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

USAGE = """usage: domainadapt <command> [options]

commands:
  compare     compare the strategies on your own data (CSV, Parquet or .npz files):
              domainadapt compare --source s.csv --target t.csv --label-column y
  benchmark   run every strategy on the benchmark tasks (python -m domainadapt.benchmarks);
              'domainadapt' with the benchmark options and no command does the same

'domainadapt <command> --help' describes a command's options; 'domainadapt compare --list'
lists the strategies and the benchmark groups.
"""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``compare`` or to the benchmark runner; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "compare":
        from .compare import main as compare_main

        return compare_main(argv[1:])
    if argv and argv[0] in ("benchmark", "benchmarks"):
        argv = argv[1:]
    elif argv and argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    from ..benchmarks.__main__ import main as benchmark_main

    return benchmark_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
