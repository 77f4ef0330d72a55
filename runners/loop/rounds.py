"""The back-translation loop, run for a whole population of one task in lockstep rounds.

Each member writes code and, independently (the tester never sees the code), tests,
both from the task alone; a technique (runners/loop/techniques.py) may first add a plan, a
spec that code and tests both follow, chain-of-thought instructions or worked examples.
The sandbox runs each member's code against its own tests. A member is aligned when its
code passes all of a non-degenerate test set (at least ``min_asserts`` asserts, some of
which trivial stubs fail) and, with self-explanation on, the planner finds the code's
description faithful to the task. Until every member aligns or rounds run out, each
unaligned member takes one repair step: unusable tests or code are regenerated;
otherwise the repair policy (runners/loop/repairs.py) decides what is rewritten. Rounds are
shared by the population because blame assignment weighs a member's failing tests
against its peers' candidates.

Two options change how a population is drawn. ``test_samples`` draws the tests apart
from the code: that many test generations per task (sample j is the tester's sample j),
shared by the members (member i keeps sample i mod T as its own, for alignment and
repair) and pooled for selection. An adaptive population (``adaptive``) is drawn in
batches of ADAPTIVE_BATCH members, each batch through its rounds, until a stopping rule
(given by the caller) says the selection is settled or the population is full; member i
is always sample i.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from accord.runners.llm import LLMRequest
from accord.runners.loop import repairs, techniques
from accord.runners.loop.members import (
    MAX_PARALLEL_MEMBERS,
    LoopContext,
    Member,
    MemberState,
    both,
    each,
    harness,
    stubs,
)
from accord.runners.loop.transcript import CallEvent, ExecuteEvent
from accord.runners.sandbox import PASSED, ExecResult
from accord.runners.tasks.extract import (
    extract_code,
    extract_tests,
    imported_names,
    pinned_calls,
)
from accord.runners.tasks.load import Task
from accord.space.config import TEMPLATES, Role, RunConfig

RESAMPLE_STRIDE = 1000
"""Sample index offset per round, so a regenerated answer is a new sample."""
N_TESTS = 5
MEASURE_STAGES = frozenset({"tests", "explain", "check"})
"""The stages a lone, unrepaired sample's answer does not depend on."""
ADAPTIVE_BATCH = 4
"""Members drawn at a time by an adaptive population (the Beta criterion can first stop
at 4 unanimous samples)."""


class Loop:
    """The loops of one task's population."""

    def __init__(
        self, task: Task, config: RunConfig, ctx: LoopContext, draws: TestDraws | None = None
    ) -> None:
        self.task, self.config, self.ctx = task, config, ctx
        self.values = {
            "prompt": task.prompt.strip("\n"),
            "entry_point": task.entry_point,
            "n_tests": max(config.min_asserts, N_TESTS),
        }
        self.allowed = imported_names(task.prompt)
        self.harness = harness(task)
        # A lone sample that is never repaired is the answer whatever its tests say: its
        # tests (and a self-explanation check) only measure alignment.
        lone = config.population == 1 and config.max_rounds == 0
        self.measure_stages = MEASURE_STAGES if lone else frozenset()
        self.repair_template = config.repairer.prompt if config.repairer else TEMPLATES["repair"]
        self.planner_template = config.planner.prompt if config.planner else TEMPLATES["plan"]
        self.draws = draws if draws is not None else TestDraws()

    # -- model calls --------------------------------------------------------------------

    def ask(
        self,
        stage: str,
        template: str,
        role: Role,
        member: int,
        sample: int,
        **extra: str,
    ) -> str:
        settings = self.config.settings(role)
        request = LLMRequest(
            model=settings.model_for(member),
            messages=self.ctx.prompts.get(stage, template).render(**self.values, **extra),
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=self.config.max_tokens,
            sample=sample,
            role=role,
            stage=stage,
            task_id=self.task.task_id,
            measure=stage in self.measure_stages,
            draw=self.ctx.draw,
        )
        completion = self.ctx.gateway.complete(request, meter=self.ctx.meter)
        self.ctx.transcript.write(
            CallEvent(
                task_id=self.task.task_id, member=member, stage=stage, role=role, model=request.model,
                sample=sample, messages=tuple(dict(m) for m in request.messages), response=completion.text,
                prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd, seconds=round(completion.seconds, 3), cached=completion.cached,
            )
        )  # fmt: skip
        return completion.text

    def execute(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> list[ExecResult]:
        return self.ctx.executor.run_many(jobs, timeout_s=self.config.test_timeout_s, **self.harness)

    def write_code(self, s: MemberState, sample: int) -> str | None:
        coder = self.config.coder
        text = self.ask("code", coder.prompt, Role.CODER, s.index, sample, context=s.context.code)
        return extract_code(text, prompt=self.task.prompt, entry_point=self.task.entry_point)

    def write_tests(self, s: MemberState, sample: int) -> tuple[str, ...]:
        tester = self.config.tester
        text = self.ask("tests", tester.prompt, Role.TESTER, s.index, sample, context=s.context.tests)
        tests = extract_tests(text, entry_point=self.task.entry_point, allowed_names=self.allowed)
        return tests[: self.config.max_asserts]

    def fix(self, s: MemberState, sample: int, failures: str, reflection: str = "") -> str | None:
        assert s.code is not None
        text = self.ask(
            "repair", self.repair_template, Role.REPAIRER, s.index, sample,
            code=s.code, feedback=failures,
            reflection=f"A review of the failure:\n\n{reflection.strip()}" if reflection else "",
        )  # fmt: skip
        return extract_code(text, prompt=self.task.prompt, entry_point=self.task.entry_point) or s.code

    def reflect(self, s: MemberState, sample: int, failures: str) -> str:
        assert s.code is not None
        return self.ask("reflect", "default", Role.REPAIRER, s.index, sample, code=s.code, feedback=failures)

    # -- the loop -----------------------------------------------------------------------

    def run(self, settled: Callable[[list[Member]], bool] | None = None) -> list[Member]:
        """Every member through its rounds; with ``settled`` (an adaptive population) in
        batches, stopping early once ``settled`` holds of the members so far."""
        size = self.config.population
        batch = ADAPTIVE_BATCH if settled is not None else size
        states: list[MemberState] = []
        members: list[Member] = []
        for first in range(0, size, batch):
            drawn = [MemberState(index=i) for i in range(first, min(size, first + batch))]
            self.rounds(drawn)
            states += drawn
            members = [self.member(s) for s in states]
            if settled is not None and len(states) < size and settled(members):
                break
        return members

    def member(self, s: MemberState) -> Member:
        return Member(
            index=s.index, model=self.config.coder.model_for(s.index), code=s.code, tests=s.tests,
            tests_valid=s.valid, result=s.result, aligned=s.aligned, rounds=s.rounds,
        )  # fmt: skip

    def rounds(self, states: list[MemberState]) -> None:
        """``states`` from their first answers through their repair rounds."""
        each(self.start, states)
        round_ = 0
        while True:
            self.evaluate(states, round_)
            unaligned = [s for s in states if not s.aligned]
            if not unaligned or round_ >= self.config.max_rounds:
                break
            round_ += 1
            blamed = self.blame(states) if self.config.repair.weighs_peers else {}
            each(functools.partial(self.repair, round_=round_, blamed=blamed), unaligned)

    # -- tests drawn apart from the code (test_samples) ---------------------------------

    @property
    def sharing(self) -> bool:
        """The tests are drawn apart from the code: ``test_samples`` differs from the
        population (and the tester's prompt is the same for every member)."""
        samples = self.config.test_samples
        return (
            bool(samples) and samples != self.config.population and not self.config.technique.tests_per_member
        )

    def test_sample(self, j: int) -> tuple[str, ...]:
        """The tester's sample ``j`` of this task, written once however many ask for it."""
        s = MemberState(index=j, context=techniques.shared_tests_context(self))
        return self.first_tests(s)

    def first_tests(self, s: MemberState) -> tuple[str, ...]:
        """The tester's first answer for ``s``: written once per task, whichever member
        (or stage of a cascade) asks for the same sample with the same context."""
        return self.draws.get((s.index, s.context.tests), lambda: self.write_tests(s, s.index))

    def test_sets(self, members: Sequence[Member], earlier: Sequence[Member] = ()) -> list[tuple[str, ...]]:
        """The test samples selection pools, each once: one per member, or with
        ``test_samples`` the T shared samples (all drawn now) and any tests a repair wrote.
        ``earlier`` (a cascade's pooled candidates) adds the tests of earlier stages that
        are not the same draws."""
        if not self.sharing:
            drawn = {(m.index, m.tests) for m in members}
            return [m.tests for m in members] + [m.tests for m in earlier if (m.index, m.tests) not in drawn]
        with ThreadPoolExecutor(max_workers=MAX_PARALLEL_MEMBERS) as pool:
            shared = list(pool.map(self.test_sample, range(self.config.test_samples)))
        extra = dict.fromkeys(m.tests for m in (*earlier, *members) if m.tests not in shared)
        return shared + list(extra)

    def start(self, s: MemberState) -> None:
        s.context = techniques.BUILDERS[self.config.technique](self, s)
        # the tests never depend on the code: both requests go out at once
        if self.sharing:
            own = s.index % self.config.test_samples
            s.code, s.tests = both(lambda: self.write_code(s, s.index), lambda: self.test_sample(own))
        else:
            s.code, s.tests = both(lambda: self.write_code(s, s.index), lambda: self.first_tests(s))

    def evaluate(self, states: Sequence[MemberState], round_: int) -> None:
        """Run each member's code against its tests, and the stubs against them."""
        config = self.config
        jobs: list[tuple[str, Sequence[str]]] = []
        counts = []
        for s in states:
            trivial = stubs(self.task.entry_point, s.tests)
            counts.append(len(trivial))
            jobs.extend((stub, s.tests) for stub in trivial)
            if s.code and s.tests:
                jobs.append((s.code, s.tests))
        results = iter(self.execute(jobs))
        for s, count in zip(states, counts, strict=True):
            stub_results = [next(results) for _ in range(count)]
            enough = len(pinned_calls(s.tests, self.task.entry_point)) >= config.min_asserts
            s.valid = enough and not any(r.all_passed for r in stub_results)
            s.result = next(results) if s.code and s.tests else None
            s.aligned = bool(s.valid and s.result is not None and s.result.all_passed)
        if config.self_explain:
            each(
                lambda s: self.explain(s, round_), [s for s in states if s.aligned and s.explained != s.code]
            )
            for s in states:
                s.aligned = s.aligned and s.explained == s.code
        for s in states:
            outcomes = tuple((o.status.value, o.error) for o in s.result.outcomes) if s.result else None
            self.ctx.transcript.write(
                ExecuteEvent(
                    task_id=self.task.task_id, member=s.index, round=round_, tests_valid=s.valid,
                    aligned=s.aligned, code=s.code, tests=s.tests,
                    outcomes=outcomes,
                    explanation_mismatch=s.mismatch or None,
                )
            )  # fmt: skip

    def explain(self, s: MemberState, round_: int) -> None:
        """Back-translate the code into words, and have the planner check them against the task."""
        assert s.code is not None
        sample = s.index + RESAMPLE_STRIDE * round_
        explanation = self.ask("explain", "default", Role.PLANNER, s.index, sample, code=s.code)
        verdict = self.ask("check", "default", Role.PLANNER, s.index, sample, explanation=explanation)
        if verdict.strip().upper().startswith("YES"):
            s.explained, s.mismatch = s.code, ""
        else:
            s.mismatch = verdict.strip() or "the description does not match the task"

    def blame(self, states: Sequence[MemberState]) -> dict[int, tuple[str, ...]]:
        """Per unaligned member, its failing tests that the population's agreeing
        candidates fail too (suspect tests)."""
        coded = [s for s in states if s.code]
        if len(coded) < 3:
            return {}
        union = tuple(dict.fromkeys(t for s in states for t in s.tests))
        runs = self.execute([(s.code or "", union) for s in coded])
        vectors = {s.index: r.passed for s, r in zip(coded, runs, strict=True)}
        blamed: dict[int, tuple[str, ...]] = {}
        for s in coded:
            if s.aligned or s.result is None:
                continue
            failing = [o.test for o in s.result.outcomes if o.status != PASSED]
            peers = [v for index, v in vectors.items() if index != s.index]
            suspects = repairs.blame(s.tests, failing, peers, union)
            if suspects:
                blamed[s.index] = suspects
        return blamed

    def repair(self, s: MemberState, *, round_: int, blamed: dict[int, tuple[str, ...]]) -> None:
        """One repair step of an unaligned member."""
        sample = s.index + RESAMPLE_STRIDE * round_
        s.rounds = round_
        if s.code is None:
            s.code = self.write_code(s, sample)
            if not s.valid:
                s.tests = self.write_tests(s, sample)
            return
        if not s.valid or s.result is None:
            s.tests = self.write_tests(s, sample)
            return
        if s.mismatch:  # the tests pass, but the code does something else
            s.code = self.fix(
                s, sample, f"A review of the code found it does not match the task: {s.mismatch}"
            )
            return
        repairs.STEPS[self.config.repair](self, s, sample, blamed.get(s.index, ()))


class TestDraws:
    """A task's first test answers, keyed by sample and context: each is written once
    however many members, or stages of a cascade, ask for it (CodeT draws the tests once,
    apart from the code)."""

    def __init__(self) -> None:
        self._futures: dict[tuple[int, str], Future[tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str], write: Callable[[], tuple[str, ...]]) -> tuple[str, ...]:
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(write())
            except BaseException as exc:
                future.set_exception(exc)
        return future.result()


def run_loops(task: Task, config: RunConfig, ctx: LoopContext) -> list[Member]:
    """Every member of ``config.population`` on ``task``, after its last round."""
    return Loop(task, config, ctx).run()
