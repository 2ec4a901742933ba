"""Subprocess entry point of the NeMo Evaluator backend (local mode): ``python -m <this> SPEC.json``.

nemo-evaluator 0.2.5's BYOB CLI (``nemo-evaluator-byob``) registers compiled benchmarks by appending a
``nemo_evaluator_byob.pth`` to site-packages, which breaks the shared environment. This runner does the
same work without touching site-packages: it calls the compiler's ``compile_benchmark`` and
``install_benchmark`` (with the .pth step disabled) into the run's temporary directory, extends
``nemo_evaluator.__path__`` in this process only, then calls nemo-evaluator's own ``run_eval`` CLI
entry point, which writes ``results.yml`` to the output directory. The compiled command gets
``--save-predictions`` so the BYOB runner also writes ``byob_predictions.jsonl`` (prompt, response,
target and scores per sample), which the backend imports into the sample ledger.

The ``__main__`` guard matters: run_eval starts its adapter server with multiprocessing's spawn.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    import nemo_evaluator
    from nemo_evaluator.contrib.byob import compiler
    from nemo_evaluator.core.entrypoint import run_eval

    compiler._ensure_pth_file = lambda _install_dir: None
    compiled = compiler.compile_benchmark(spec["benchmark_module"])
    ((name, fdf),) = compiled.items()
    # Per-sample output: the generated command has no switch for it, so append the runner's flag.
    fdf["defaults"]["command"] = fdf["defaults"]["command"] + " --save-predictions"
    pkg = compiler.install_benchmark(name, fdf, install_dir=spec["install_dir"])
    nemo_evaluator.__path__.append(os.path.join(pkg, "nemo_evaluator"))
    eval_type = fdf["evaluations"][0]["defaults"]["config"]["type"]
    sys.argv = ["nemo-evaluator", "run_eval", "--eval_type", eval_type, *spec["args"]]
    run_eval()
    return 0


if __name__ == "__main__":
    from llm_research_lab.engine.backends._orphan_guard import exit_with_parent

    exit_with_parent()
    sys.exit(main(sys.argv[1:]))
