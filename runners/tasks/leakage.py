"""What a task's prompt gives away: the calls of its function that it shows (docstring
examples), and the hidden checks those calls answer.

HumanEval's docstring examples are often among its hidden asserts: that is the benchmark's
convention and stays, so pass rates remain comparable with published numbers. But a test
set that copies the shown examples is no evidence of understanding, so false alignment
and tester accuracy are computed on the hidden asserts the prompt does not show
(``unseen_check``). Calls are compared after normalisation (``ast.unparse``: spacing,
quotes, number spelling).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.runners.tasks.extract import _parsing

if TYPE_CHECKING:
    from accord.runners.tasks.task import Task

_DOCTEST = re.compile(r"^(\s*)>>>")


def _normal(node: ast.AST) -> str | None:
    try:
        return ast.unparse(node)
    except (ValueError, TypeError, RecursionError):
        return None


def _closing(text: str, start: int) -> int | None:
    """Index just past the parenthesis matching the one at ``start``."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


@_parsing(frozenset())
def prompt_calls(prompt: str, entry_point: str) -> frozenset[str]:
    """Every call of ``entry_point`` the prompt shows, normalised (its own ``def`` line
    excluded)."""
    found: set[str] = set()
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", prompt):
        if prompt[max(0, match.start() - 4) : match.start()].endswith("def "):
            continue
        end = _closing(prompt, match.end() - 1)
        if end is None:
            continue
        try:
            node = ast.parse(prompt[match.start() : end], mode="eval").body
        except (SyntaxError, ValueError, RecursionError):
            continue
        text = _normal(node)
        if text:
            found.add(text)
    return frozenset(found)


def _calls(node: ast.AST, name: str, entry_point: str) -> list[str]:
    """The calls of ``name`` in ``node``, renamed to the entry point and normalised."""
    calls = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == name:
            renamed = ast.Call(
                func=ast.Name(id=entry_point, ctx=ast.Load()), args=sub.args, keywords=sub.keywords
            )
            text = _normal(renamed)
            if text:
                calls.append(text)
    return calls


@_parsing(False)
def shows(test: str, entry_point: str, visible: frozenset[str]) -> bool:
    """Whether a generated assert only restates a call the prompt shows."""
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError, RecursionError):
        return False
    calls = _calls(tree, entry_point, entry_point)
    return bool(calls) and all(call in visible for call in calls)


def _keep(values: Iterable[ast.expr], keep: Sequence[bool]) -> list[ast.expr]:
    return [value for value, kept in zip(values, keep, strict=True) if kept]


@_parsing((None, 0, 0))
def unseen_check(test: str, entry_point: str, visible: frozenset[str]) -> tuple[str | None, int, int]:
    """A HumanEval-style ``check(candidate)`` source without the asserts (or, for
    HumanEval+'s input tables, the inputs) the prompt shows. Returns (source or None when
    nothing unseen is left or the format is unknown, checks shown, checks in all)."""
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError, RecursionError):
        return None, 0, 0
    check: ast.FunctionDef | ast.Module | None = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None
    )
    if isinstance(check, ast.FunctionDef) and check.args.args:
        param = check.args.args[0].arg
    else:  # a plain list of asserts on the function itself (a user's task file)
        check, param = tree, entry_point
    tables = {
        n.targets[0].id: n
        for n in check.body
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    }
    if {"inputs", "results"} <= set(tables) and all(
        isinstance(tables[k].value, ast.List) for k in ("inputs", "results")
    ):
        inputs, results = tables["inputs"].value, tables["results"].value
        assert isinstance(inputs, ast.List) and isinstance(results, ast.List)
        if len(inputs.elts) != len(results.elts):
            return None, 0, 0
        keep = []
        for args in inputs.elts:
            starred: list[ast.expr] = [ast.Starred(value=args, ctx=ast.Load())]
            call = _normal(ast.Call(func=ast.Name(id=entry_point, ctx=ast.Load()), args=starred, keywords=[]))
            spread = _normal(
                ast.Call(
                    func=ast.Name(id=entry_point, ctx=ast.Load()),
                    args=list(getattr(args, "elts", [])),
                    keywords=[],
                )
            )
            keep.append(call not in visible and spread not in visible)
        total, shown = len(keep), keep.count(False)
        inputs.elts, results.elts = _keep(inputs.elts, keep), _keep(results.elts, keep)
        return (ast.unparse(tree) if any(keep) else None), shown, total
    asserts = [n for n in check.body if isinstance(n, ast.Assert)]
    keep_node = {id(n): not (set(_calls(n, param, entry_point)) & visible) for n in asserts}
    check.body = [n for n in check.body if keep_node.get(id(n), True)] or [ast.Pass()]
    shown = sum(not kept for kept in keep_node.values())
    return (ast.unparse(tree) if any(keep_node.values()) else None), shown, len(asserts)


def one_example(prompt: str) -> str:
    """The prompt with at most one docstring example (``>>>`` line and its output): MBPP+'s
    convention, so the other asserts stay hidden for scoring."""
    lines, kept, seen, skipping = prompt.splitlines(keepends=True), [], 0, False
    for line in lines:
        if _DOCTEST.match(line):
            seen += 1
            skipping = seen > 1
        elif skipping and (not line.strip() or line.strip() in ('"""', "'''")):
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept)


@dataclass(frozen=True, slots=True, kw_only=True)
class HiddenSplit:
    visible: frozenset[str]
    """The calls the prompt shows."""
    unseen: str | None
    """The hidden check without what the prompt shows (None: nothing unseen, or no
    hidden tests)."""
    shown: int
    total: int


@functools.lru_cache(maxsize=8192)
def split(task: Task) -> HiddenSplit:
    """What ``task``'s prompt shows of its hidden tests (computed once per task)."""
    visible = prompt_calls(task.prompt, task.entry_point)
    if task.hidden_test is None:
        return HiddenSplit(visible=visible, unseen=None, shown=0, total=0)
    unseen, shown, total = unseen_check(task.hidden_test, task.entry_point, visible)
    return HiddenSplit(visible=visible, unseen=unseen, shown=shown, total=total)
