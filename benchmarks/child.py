"""Run one benchmark case in this (fresh) process: ``python -m benchmarks.child MODULE PARAMS OUT``.

``MODULE`` is a module of this package with ``run(**params) -> list[Result]``; ``PARAMS`` is a
JSON object; the results are written as a JSON list to the file ``OUT``. A fresh process per
case makes ``ru_maxrss`` (peak memory) the case's own and keeps imports, caches and
allocator state of one benchmark from flattering or penalising the next.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: python -m benchmarks.child MODULE PARAMS_JSON OUT_JSON\n")
        return 2
    module_name, params_json, out_path = argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    params = json.loads(params_json)
    # the allocator settings of finmt's own entry points (finmt commands, the dashboard)
    from finmt_core.runtime import tune_allocator

    tune_allocator()
    module = importlib.import_module(f"benchmarks.{module_name}")
    results = module.run(**params)
    Path(out_path).write_text(json.dumps([r.as_plain() for r in results]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
