"""The accord command line: run, show, best, dashboard, exec.

Errors from accord print one line and exit 1 (``--debug`` shows the traceback);
Ctrl-C stops cleanly: finished trials stay, the interrupted one is marked FAIL.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accord.space.errors import AccordError, ConfigError

log = logging.getLogger("accord")


def _definition(args: argparse.Namespace) -> Any:
    from accord.search.studyfile import load_study

    definition = load_study(Path(args.study))
    if getattr(args, "data_dir", None):
        from dataclasses import replace

        definition = replace(definition, data_dir=Path(args.data_dir).resolve())
    return definition


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _front_table(rows: Sequence[dict[str, Any]], unit: str, *, mark_front: bool = False) -> str:
    cost = f"cost ({unit})"
    lines = [f"{'trial':>6}  {'state':<8}  {'pass_rate':>9}  {cost:>14}  {'preset':<11} configuration"]
    for row in rows:
        star = "*" if mark_front and row["pareto"] else " "
        lines.append(
            f"{star}{row['number']:>5}  {row['state']:<8}  {_fmt(row['pass_rate']):>9}  "
            f"{_fmt(row['cost']):>14}  {row['preset'] or '':<11} {row['user_attrs'].get('config', '')}"
        )
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    import optuna
    from optuna.artifacts import FileSystemArtifactStore
    from tqdm import tqdm

    from accord.runners.llm import LLMError
    from accord.runners.sandbox import SandboxError
    from accord.runners.tasks import load_tasks
    from accord.search.objective import Objective
    from accord.search.runtime import open_runtime
    from accord.search.study import enqueue_presets, open_study, remaining_budget, sweep_stale

    definition = _definition(args)
    tasks = load_tasks(
        definition.task_source,
        ids=definition.task_ids,
        data_dir=definition.data_dir,
        base_dir=definition.path.parent,
    )
    if definition.pass_source == "hidden":
        missing = [t.task_id for t in tasks if not t.has_hidden_tests]
        if missing:
            raise ConfigError(
                f"pass_rate = 'hidden' but {len(missing)} tasks have no hidden tests (first: {missing[0]}); "
                "use pass_rate = 'alignment'",
                file=str(definition.path),
                key="objectives.pass_rate",
            )
    n_trials = args.n_trials or definition.n_trials
    storage = args.storage or definition.storage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(definition, storage)
    left = remaining_budget(study, definition)
    if left is not None and left <= 0:
        print(
            f"study {definition.name} has spent its budget ({definition.max_total_cost:g} "
            f"{definition.cost_unit}, budget.max_total_cost); raise it to run more trials",
            file=sys.stderr,
        )
        _print_summary(study, definition, min_pass_rate=None)
        return 0
    if not args.as_worker:
        swept = sweep_stale(study)
        if swept:
            print(
                f"trials {', '.join(map(str, swept))} were left RUNNING by a worker that died: "
                "marked FAIL and queued again",
                file=sys.stderr,
            )
        enqueued = enqueue_presets(study, definition)
        print(
            f"study {definition.name}: {len(study.trials)} trials so far, running {n_trials} more "
            f"on {len(tasks)} tasks with {args.workers} worker{'s' * (args.workers > 1)} "
            f"({', '.join(enqueued) or 'no'} presets newly queued)",
            file=sys.stderr,
        )
    if args.workers > 1:
        code = _run_workers(args, storage, n_trials)
        _print_summary(study, definition, min_pass_rate=None)
        return code
    artifacts = FileSystemArtifactStore(str(_artifact_dir(definition)))
    bars = not args.as_worker
    trial_bar = tqdm(
        total=n_trials, desc="trials", unit="trial", position=0, dynamic_ncols=True, disable=not bars
    )
    task_bars: dict[int, Any] = {}

    def on_task_factory(number: int) -> Any:
        bar = tqdm(
            total=len(tasks),
            desc=f"trial {number} tasks",
            unit="task",
            position=1,
            leave=False,
            disable=not bars,
        )
        task_bars[number] = bar
        return lambda outcome: bar.update(1)

    prefix = f"[worker {os.getpid()}] " if args.as_worker else ""

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        bar = task_bars.pop(trial.number, None)
        if bar is not None:
            bar.close()
        trial_bar.update(1)
        values = trial.values or [None, None]
        trial_bar.write(
            f"{prefix}trial {trial.number} {trial.state.name}: pass_rate={_fmt(values[0])} "
            f"cost={_fmt(values[1])} {definition.cost_unit}  [{trial.user_attrs.get('config', '')}]"
        )
        left = remaining_budget(study, definition)
        if left is not None and left <= 0:
            trial_bar.write(f"study cost cap of {definition.max_total_cost:g} {definition.cost_unit} reached")
            study.stop()

    # SIGTERM stops like Ctrl-C: optuna marks the running trial FAIL, servers stop.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with open_runtime(definition.models, use_cache=definition.cache and not args.no_cache) as runtime:
            objective = Objective(
                definition,
                tasks,
                runtime.gateway,
                runtime.executor,
                artifacts=artifacts,
                on_task_factory=on_task_factory,
            )
            study.optimize(
                objective,
                n_trials=n_trials,
                timeout=definition.timeout_s,
                catch=(LLMError, SandboxError),
                callbacks=[after_trial],
            )
    finally:
        for bar in task_bars.values():
            bar.close()
        trial_bar.close()
    if not args.as_worker:
        _print_summary(study, definition, min_pass_rate=None)
    return 0


def _run_workers(args: argparse.Namespace, storage: str, n_trials: int) -> int:
    """Run the trials in ``args.workers`` worker processes on the same storage; the
    study exists and its presets are queued before they start."""
    import subprocess

    shares = [n_trials // args.workers + (i < n_trials % args.workers) for i in range(args.workers)]
    command = [
        sys.executable,
        "-m",
        "accord.search.cli",
        "run",
        args.study,
        "--storage",
        storage,
        "--as-worker",
    ]
    if args.no_cache:
        command.append("--no-cache")
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    procs = [subprocess.Popen([*command, "--n-trials", str(n)]) for n in shares if n]
    try:
        codes = [proc.wait() for proc in procs]
    except KeyboardInterrupt:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait()
        raise
    failed = [c for c in codes if c != 0]
    if failed:
        print(f"accord: {len(failed)} of {len(procs)} workers failed (exit {failed[0]})", file=sys.stderr)
        return 1
    return 0


def _artifact_dir(definition: Any) -> Path:
    definition.artifact_dir.mkdir(parents=True, exist_ok=True)
    return Path(definition.artifact_dir)


def _print_summary(study: Any, definition: Any, min_pass_rate: float | None) -> Any:
    from accord.search.best import cheapest_meeting
    from accord.search.study import best_trials, trial_rows

    front = best_trials(study)
    if not front:
        print("no completed feasible trial yet")
        return None
    rows = {row["number"]: row for row in trial_rows(study)}
    print(f"\nPareto front of study {definition.name} (pass rate up, cost down):")
    print(_front_table([rows[t.number] for t in front], definition.cost_unit))
    bar = min_pass_rate if min_pass_rate is not None else max(t.values[0] for t in front)
    chosen = cheapest_meeting(front, bar)
    if chosen is None:
        print(f"\nno trial on the front reaches pass rate {bar:g}")
        return None
    print(
        f"\ncheapest configuration with pass rate >= {bar:g}: trial {chosen.number} "
        f"(pass_rate {_fmt(chosen.values[0])}, cost {_fmt(chosen.values[1])} {definition.cost_unit})"
    )
    print(f"  {chosen.user_attrs.get('config', '')}")
    for name, value in sorted(chosen.params.items()):
        print(f"  {name} = {value!r}")
    return chosen


def cmd_show(args: argparse.Namespace) -> int:
    from accord.search.study import trial_rows

    definition = _definition(args)
    study = _load_existing(definition, args.storage)
    rows = trial_rows(study)
    if args.json:
        print(
            json.dumps(
                {"study": definition.name, "cost_unit": definition.cost_unit, "trials": rows},
                indent=1,
            )
        )
        return 0
    print(f"study {definition.name}: {len(rows)} trials (* on the Pareto front)")
    print(_front_table(rows, definition.cost_unit, mark_front=True))
    _print_summary(study, definition, None)
    return 0


def _load_existing(definition: Any, storage: str | None) -> Any:
    import optuna

    from accord.search.study import open_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return open_study(definition, storage, create=False)
    except KeyError as exc:
        raise AccordError(
            f"study {definition.name} has no trials yet: run `accord run {definition.path}`"
        ) from exc


def cmd_best(args: argparse.Namespace) -> int:
    from accord.search.best import export

    definition = _definition(args)
    study = _load_existing(definition, args.storage)
    chosen = _print_summary(study, definition, args.min_pass_rate)
    if chosen is None:
        return 1
    if args.export:
        export(chosen, definition, Path(args.export))
        print(f"\nexported to {args.export}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    import time

    from accord.search.dashboard import start_dashboard

    definition = _definition(args)
    storage = args.storage or definition.storage
    proc, url = start_dashboard(storage, _artifact_dir(definition), args.port)
    print(f"optuna-dashboard for {definition.name}: {url} (Ctrl-C to stop)")
    try:
        while proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 0
    error = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
    raise AccordError(f"optuna-dashboard exited: {error.strip()}")


def cmd_report(args: argparse.Namespace) -> int:
    from accord.search.report import write_report

    definition = _definition(args)
    study = _load_existing(definition, args.storage)
    out = Path(args.out) if args.out else definition.path.parent / "runs" / f"{definition.name}-report"
    files = write_report(study, definition, out)
    print(f"report written: {files[0]} ({len(files) - 1} plots)")
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    """Apply an exported configuration to new tasks: per task, the code, its tests, and
    whether they aligned (and the hidden verdict where the task file has tests)."""
    import tomllib

    from tqdm import tqdm

    from accord.runners.llm import Meter
    from accord.runners.loop import LoopContext
    from accord.runners.population import run_population
    from accord.runners.tasks import load_user_file, task_from_prompt
    from accord.search.best import load_export
    from accord.search.runtime import open_runtime
    from accord.space import PromptLibrary

    config, models, _ = load_export(Path(args.config))
    prompts = PromptLibrary.load()
    study_file = Path(tomllib.loads(Path(args.config).read_text(encoding="utf-8"))["accord"]["study_file"])
    if study_file.is_file():  # the study's own prompt folders, for templates it added
        from accord.search.studyfile import load_study

        prompts = load_study(study_file).prompts
    tasks = [task_from_prompt(args.prompt)] if args.prompt else load_user_file(Path(args.tasks))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    aligned = 0
    try:
        with open_runtime(models, use_cache=not args.no_cache) as runtime:
            meter = Meter()
            ctx = LoopContext(
                gateway=runtime.gateway, executor=runtime.executor, prompts=prompts, meter=meter
            )
            for task in tqdm(tasks, desc="tasks", unit="task", disable=len(tasks) == 1):
                outcome = run_population(task, config, ctx)
                aligned += outcome.aligned
                row = {
                    "task_id": task.task_id,
                    "code": outcome.code,
                    "tests": list(outcome.tests),
                    "aligned": outcome.aligned,
                    "hidden_passed": outcome.hidden_passed,
                    "cost_usd": round(outcome.cost, 8),
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    print(
        f"{aligned} of {len(tasks)} tasks aligned; spent ${meter.spent_usd:.6f} ({meter.calls} calls)",
        file=sys.stderr,
    )
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from accord.runners.extract import extract_tests_any
    from accord.runners.sandbox import Sandbox

    try:
        code = Path(args.code).read_text(encoding="utf-8")
        tests_source = Path(args.tests).read_text(encoding="utf-8")
    except OSError as exc:
        raise AccordError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    tests = extract_tests_any(tests_source)
    if not tests:
        raise AccordError(f"{args.tests}: no assert statements found")
    with Sandbox(workers=1) as sandbox:
        result = sandbox.run(code, tests, timeout_s=args.timeout)
    rows = [{"test": o.test, "status": o.status, "error": o.error} for o in result.outcomes]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        width = max(len(o.status) for o in result.outcomes)
        for o in result.outcomes:
            print(f"{o.status:<{width}}  {o.test}" + (f"\n{'':<{width}}  -> {o.error}" if o.error else ""))
        passed = sum(result.passed)
        print(f"{passed} passed, {len(rows) - passed} failed  (sandbox: {sandbox.mode})")
    return 0 if result.all_passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accord", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    def study_command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("study", help="study file (TOML)")
        sub.add_argument("--storage", help="Optuna storage URL (default: the study file's)")
        sub.add_argument("--data-dir", help="folder holding humaneval_plus/ and mbpp/ data")
        return sub

    run = study_command("run", "run trials (again: adds trials to the same study)")
    run.add_argument("--n-trials", type=int, help="trials to add (default: the study's budget.n_trials)")
    run.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    run.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    run.add_argument("--as-worker", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)
    show = study_command("show", "trials and Pareto front")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=cmd_show)
    best = study_command("best", "the cheapest Pareto trial meeting a pass-rate bar")
    best.add_argument("--min-pass-rate", type=float, help="the bar (default: the best pass rate found)")
    best.add_argument("--export", help="write the configuration to this TOML file")
    best.set_defaults(func=cmd_best)
    run_one = commands.add_parser("exec", help="run a code file against a file of asserts in the sandbox")
    run_one.add_argument("code", help="Python file with the candidate code")
    run_one.add_argument("tests", help="Python file of assert statements")
    run_one.add_argument("--json", action="store_true", help="print a JSON list of {test, status, error}")
    run_one.add_argument("--timeout", type=float, default=3.0, help="seconds per test (default 3)")
    run_one.set_defaults(func=cmd_exec)
    report = study_command("report", "write an HTML report with PNG plots of the study")
    report.add_argument("--out", help="folder for report.html and the plots (default: runs/<study>-report)")
    report.set_defaults(func=cmd_report)
    solve = commands.add_parser("solve", help="apply an exported configuration to new tasks")
    solve.add_argument("--config", required=True, help="a file written by `accord best --export`")
    source = solve.add_mutually_exclusive_group(required=True)
    source.add_argument("--tasks", help="task file (JSONL: task_id, prompt, optional tests)")
    source.add_argument("--prompt", help="one function stub: signature and docstring")
    solve.add_argument("--out", help="write JSON lines here (default: standard output)")
    solve.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    solve.set_defaults(func=cmd_solve)
    dash = study_command("dashboard", "open optuna-dashboard on this study")
    dash.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    dash.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "n_trials", None) is not None and args.n_trials < 1:
        print("accord: error: --n-trials must be at least 1", file=sys.stderr)
        return 2
    if getattr(args, "workers", 1) < 1:
        print("accord: error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(
            "\naccord: interrupted; finished trials are kept, the running one is marked FAIL",
            file=sys.stderr,
        )
        return 130
    except AccordError as exc:
        if args.debug:
            raise
        print(f"accord: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
