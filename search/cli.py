"""The accord command line: run, show, best, report, solve, dashboard, exec.

The CLI parses arguments and prints; the work happens in accord.search (run_study,
best, report) and accord.runners. Errors from accord print one line and exit 1
(``--debug`` shows the traceback); Ctrl-C and SIGTERM stop cleanly: finished trials
stay, the interrupted one is marked FAIL, child processes stop.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
from tqdm import tqdm

from accord.runners.llm import Meter
from accord.runners.loop.members import LoopContext
from accord.runners.loop.population import TaskOutcome, run_population
from accord.runners.runtime import open_runtime
from accord.runners.sandbox import Sandbox
from accord.runners.tasks.extract import extract_tests_any
from accord.runners.tasks.load import load_user_file, task_from_prompt
from accord.search.arguments import Parser, positive_int, seconds, workers
from accord.search.best import export, read_export
from accord.search.compare import holdout_trials
from accord.search.confirm import confirm
from accord.search.console import BarReporter, front_table, interval, print_summary, print_verdicts
from accord.search.dashboard import start_dashboard
from accord.search.optuna_adapter import close_storages, show_failed_trials
from accord.search.run import RunOptions, run_study
from accord.search.stats import Rate
from accord.search.study import open_study, trial_rows
from accord.search.studyfile import StudyDefinition, load_study
from accord.space import AccordError

log = logging.getLogger("accord")


def _definition(args: argparse.Namespace) -> StudyDefinition:
    definition = load_study(Path(args.study))
    if getattr(args, "data_dir", None):
        definition = replace(definition, data_dir=Path(args.data_dir).resolve())
    return definition


def cmd_run(args: argparse.Namespace) -> int:
    definition = _definition(args)
    options = RunOptions(
        n_trials=args.n_trials,
        storage=args.storage,
        workers=args.workers,
        use_cache=not args.no_cache,
        as_worker=args.as_worker,
    )
    reporter = BarReporter(enabled=not args.as_worker, prefix=f"[worker {os.getpid()}] " * args.as_worker)
    try:
        study = run_study(definition, options, reporter)
    finally:
        reporter.close()
    if not args.as_worker:
        print_summary(study, definition, None, args.storage)
    return 0


def _load_existing(definition: StudyDefinition, storage: str | None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return open_study(definition, storage, create=False)
    except KeyError as exc:
        raise AccordError(
            f"study {definition.name} has no trials yet: run `accord run {definition.path}`"
        ) from exc


def cmd_show(args: argparse.Namespace) -> int:
    definition = _definition(args)
    study = _load_existing(definition, args.storage)
    rows = trial_rows(study)
    if args.json:
        trials = [{**row, "rate": row["rate"].to_dict() if row["rate"] else None} for row in rows]
        document = {"study": definition.name, "cost_unit": definition.cost_unit, "trials": trials}
        print(json.dumps(document, indent=1))
        return 0
    print(f"study {definition.name}: {len(rows)} trials (* on the Pareto front)")
    print(front_table(rows, definition.cost_unit, mark_front=True))
    print_summary(study, definition, None, args.storage)
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    definition = _definition(args)
    chosen = print_summary(
        _load_existing(definition, args.storage), definition, args.min_pass_rate, args.storage
    )
    if chosen is None:
        return 1
    if args.export:
        confirmed = holdout_trials(args.storage or definition.storage, definition.name).get(chosen.number)
        export(chosen, definition, Path(args.export), confirmed)
        print(f"\nexported to {args.export}")
    return 0


def cmd_confirm(args: argparse.Namespace) -> int:
    """Run the front and the presets on the held-out tasks; then the summary, chosen on
    held-out figures."""
    definition = _definition(args)
    _load_existing(definition, args.storage)  # a clear error when the study has not run
    bars: list[Any] = []

    def progress(what: str, draw: int, total: int) -> Callable[[TaskOutcome], None]:
        for bar in bars:
            bar.close()
        bar = tqdm(total=total, desc=f"{what} held out, draw {draw}", unit="task", leave=False)
        bars[:] = [bar]
        return lambda outcome: bar.update(1)

    try:
        confirmed = confirm(
            definition, storage=args.storage, top=args.top, repeats=args.repeats,
            use_cache=not args.no_cache, progress=progress,
        )  # fmt: skip
    finally:
        for bar in bars:
            bar.close()
    print(f"confirmed {len(confirmed)} configurations on the held-out tasks ({args.repeats} draw(s) each)")
    for item in confirmed:
        preset = f" preset {item.preset}/{item.model}" if item.preset else ""
        print(
            f"  trial {item.trial.number:>4}{preset}: search {interval(item.search)}; "
            f"held-out {interval(item.holdout)}"
        )
    print_summary(_load_existing(definition, args.storage), definition, None, args.storage)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    definition = _definition(args)
    definition.artifact_dir.mkdir(parents=True, exist_ok=True)
    proc, url = start_dashboard(args.storage or definition.storage, definition.artifact_dir, args.port)
    print(f"optuna-dashboard for {definition.name}: {url} (Ctrl-C to stop)")
    try:
        while proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    error = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
    raise AccordError(f"optuna-dashboard exited: {error.strip()}")


def cmd_report(args: argparse.Namespace) -> int:
    from accord.search.report import write_report  # matplotlib: only for this command

    definition = _definition(args)
    study = _load_existing(definition, args.storage)
    out = Path(args.out) if args.out else definition.path.parent / "runs" / f"{definition.name}-report"
    files = write_report(study, definition, out, args.storage)
    print(f"report written: {files[0]} ({len(files) - 1} plots)")
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    """An exported configuration on new tasks: per task, the code, its tests, whether they
    aligned, and the hidden verdict where the task file has tests."""
    exported = read_export(Path(args.config))
    prompts = exported.prompts
    tasks = [task_from_prompt(args.prompt)] if args.prompt else load_user_file(Path(args.tasks))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    meter, aligned, judged = Meter(), 0, []
    try:
        with open_runtime(exported.models, use_cache=not args.no_cache) as runtime:
            ctx = LoopContext(
                gateway=runtime.gateway, executor=runtime.executor, prompts=prompts, meter=meter
            )
            for task in tqdm(tasks, desc="tasks", unit="task", disable=len(tasks) == 1):
                outcome = run_population(task, exported.config, ctx)
                aligned += outcome.aligned
                if outcome.hidden_passed is not None:
                    judged.append(outcome.hidden_passed)
                row = {
                    "task_id": task.task_id, "code": outcome.code, "tests": list(outcome.tests),
                    "aligned": outcome.aligned, "hidden_passed": outcome.hidden_passed,
                    "cost_usd": round(outcome.cost, 8),
                }  # fmt: skip
                out.write(json.dumps(row) + "\n")
                out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    spent = f"spent ${meter.spent_usd:.6f} ({meter.calls} calls)"
    hidden = (
        f"; {sum(judged)} passed their hidden tests, {interval(Rate(sum(judged), len(judged)))}"
        if judged
        else ""
    )
    print(f"{aligned} of {len(tasks)} tasks aligned{hidden}; {spent}", file=sys.stderr)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    texts = []
    for name in (args.code, args.tests):
        try:
            texts.append(Path(name).read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise AccordError(f"{name}: not UTF-8 text: is it a Python file?") from None
        except OSError as exc:
            raise AccordError(f"{name}: cannot read it ({exc.strerror})") from None
    code, tests_source = texts
    tests = extract_tests_any(tests_source)
    if not tests:
        raise AccordError(f"{args.tests}: no assert statements found")
    with Sandbox(workers=1) as sandbox:
        result = sandbox.run(code, tests, timeout_s=args.timeout)
    rows = [{"test": o.test, "status": o.status.value, "error": o.error} for o in result.outcomes]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print_verdicts(result, sandbox.mode)
    return 0 if result.all_passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="accord", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def study_command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("study", help="study file (TOML)")
        sub.add_argument("--storage", help="Optuna storage URL (default: the study file's)")
        sub.add_argument("--data-dir", help="folder holding humaneval_plus/ and mbpp/ data")
        return sub

    run = study_command("run", "run trials (again: adds trials to the same study)")
    run.add_argument(
        "--n-trials", type=positive_int, help="trials to add (default: the study's budget.n_trials)"
    )
    run.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    run.add_argument("--workers", type=workers, default=1, help="local worker processes (default 1)")
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
    run_one.add_argument(
        "--timeout", type=seconds, default=3.0, help="seconds per test (default 3, at most 600)"
    )
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
    check = study_command("confirm", "run the front and the presets on the held-out tasks")
    check.add_argument(
        "--top", type=positive_int, default=3, help="configurations of the front to confirm (default 3)"
    )
    check.add_argument("--repeats", type=positive_int, default=1, help="draws per configuration (default 1)")
    check.add_argument("--no-cache", action="store_true", help="bypass the response cache")
    check.set_defaults(func=cmd_confirm)
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
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    show_failed_trials(args.debug)  # otherwise a failed trial is one line, from the run
    # SIGTERM stops like Ctrl-C: the running trial is marked FAIL, child processes stop.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler) if main_thread else None
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(
            "\naccord: interrupted; finished trials are kept, the running one is marked FAIL",
            file=sys.stderr,
        )
        return INTERRUPTED
    except AccordError as exc:
        if args.debug:
            raise
        print(f"accord: error: {exc}", file=sys.stderr)
        return 1
    finally:
        close_storages()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


INTERRUPTED = 130


def entry() -> None:
    """The ``accord`` command. An interrupted run has marked its trial FAIL and stopped its
    servers and sandbox by the time ``main`` returns; the threads still waiting on calls
    it gave up are not waited for (they would hold the exit for minutes)."""
    code = main()
    if code == INTERRUPTED:
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
