"""Run a benchmark: ``python -m bench NAME [options]``. Each prints ``name: value`` lines."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("routing", "screen_pop", "ami", "email", "login", "workers", "history", "config_change",
              "figures", "sip", "waiting", "kb", "board_burst")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{argv[0]}")
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
