"""Pull code and assert statements out of chatty model output. Pure functions.

Models wrap answers in prose and fences, repeat the prompt, or forget the imports the
prompt had. Unusable output gives None or an empty tuple: a failed generation, never an
exception.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar, cast

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_BUILTINS = frozenset(dir(builtins))
_AST_LOCK = threading.RLock()
P = ParamSpec("P")
R = TypeVar("R")


def _parsing(unusable: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Every entry point here parses model output or candidate code in accord's own
    process, so it must never raise: output nested deep enough to exhaust the parser
    (RecursionError, MemoryError) is as unusable as output that does not parse, and gives
    ``unusable``. And CPython 3.11 before 3.11.8 can raise "SystemError: AST constructor
    recursion depth mismatch" when threads parse at once (gh-106905); population members
    extract in parallel threads, so every entry point parses under one lock."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with _AST_LOCK:
                try:
                    return fn(*args, **kwargs)
                except (RecursionError, MemoryError):
                    return cast(R, unusable)

        return wrapper

    return decorate


def _blocks(text: str) -> list[str]:
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    return blocks or [text]


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name for node in tree.body
    )


def _prompt_imports(prompt: str) -> list[str]:
    try:
        tree = ast.parse(prompt)
    except (SyntaxError, ValueError):
        return []
    return [ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]


def _longest_parsing_prefix(source: str) -> str:
    """Drop trailing lines until the rest parses (a cut-off or prose tail)."""
    lines = source.splitlines()
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        if _parses(candidate):
            return candidate
    return ""


_KEEP = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
    ast.Try,
)


def _strip_scaffolding(source: str) -> str:
    """Drop top-level demo code (calls, prints, asserts, ``if __name__`` blocks) that
    models add after the function: it runs at load and would fail a correct function."""
    tree = ast.parse(source)
    kept = [node for node in tree.body if isinstance(node, _KEEP)]
    if len(kept) == len(tree.body):
        return source
    lines = source.splitlines()

    def start(node: ast.stmt) -> int:
        decorators = getattr(node, "decorator_list", [])
        return min([node.lineno, *(d.lineno for d in decorators)]) - 1

    return "\n".join("\n".join(lines[start(node) : node.end_lineno]) for node in kept)


@_parsing(None)
def extract_code(text: str, *, prompt: str, entry_point: str) -> str | None:
    """The function from a completion, with the prompt's imports; None when unusable."""
    blocks = _blocks(text)
    candidates = []
    for block in blocks:
        body = block if _parses(block) else _longest_parsing_prefix(block)
        if _defines(body, entry_point):
            candidates.append(body)
    if not candidates:
        # A body completion of the prompt's signature, as base models write them.
        for block in blocks:
            first = next((line for line in block.splitlines() if line.strip()), "")
            if first[:1].isspace():
                joined = _longest_parsing_prefix(prompt.rstrip("\n") + "\n" + block)
                if _defines(joined, entry_point) and len(joined) > len(prompt.rstrip()):
                    candidates.append(joined)
    if not candidates:
        return None
    code = _strip_scaffolding(max(candidates, key=len)).strip("\n")
    missing = [line for line in _prompt_imports(prompt) if line not in code]
    return "\n".join([*missing, code]) + "\n" if missing else code + "\n"


def _free_names(node: ast.AST) -> set[str]:
    bound = {
        target.id
        for sub in ast.walk(node)
        if isinstance(sub, ast.comprehension)
        for target in ast.walk(sub.target)
        if isinstance(target, ast.Name)
    }
    bound |= {arg.arg for sub in ast.walk(node) if isinstance(sub, ast.Lambda) for arg in sub.args.args}
    loads = {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)}
    return loads - bound


def _starts_statement(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and line[0] not in ")]}"


def _statements(source: str, max_merge: int = 6) -> list[ast.stmt]:
    """Top-level statements, skipping those that do not parse (one broken line must
    not swallow the statements after it)."""
    try:
        return list(ast.parse(source).body)
    except (SyntaxError, ValueError):
        pass
    groups: list[list[str]] = []
    for line in source.splitlines():
        if groups and not _starts_statement(line):
            groups[-1].append(line)
        else:
            groups.append([line])
    found: list[ast.stmt] = []
    i = 0
    while i < len(groups):
        for j in range(i + 1, min(i + max_merge, len(groups)) + 1):
            try:
                tree = ast.parse("\n".join(line for group in groups[i:j] for line in group))
            except (SyntaxError, ValueError):
                continue
            found.extend(tree.body)
            i = j
            break
        else:
            i += 1
    return found


@_parsing(())
def extract_tests(
    text: str, *, entry_point: str, allowed_names: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """Single self-contained assert statements that call ``entry_point``, deduplicated.

    An assert is kept only if every name it reads is the entry point, a builtin or in
    ``allowed_names`` (the prompt's imports): asserts that lean on helper variables
    would fail for reasons unrelated to the code under test.
    """
    allowed = _BUILTINS | allowed_names | {entry_point}
    tests: list[str] = []
    for block in _blocks(text):
        for statement in _statements(block):
            for node in ast.walk(statement):
                if not isinstance(node, ast.Assert):
                    continue
                names = _free_names(node)
                if entry_point in names and names <= allowed:
                    source = ast.unparse(node)
                    if source not in tests:
                        tests.append(source)
    return tuple(tests)


@_parsing(frozenset())
def imported_names(prompt: str) -> frozenset[str]:
    """Names the prompt's import lines bind (tests may use them too)."""
    names: set[str] = set()
    for line in _prompt_imports(prompt):
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return frozenset(names)


@_parsing(())
def extract_tests_any(source: str) -> tuple[str, ...]:
    """Every top-level assert statement of a tests file, whatever function it calls."""
    return tuple(
        dict.fromkeys(ast.unparse(node) for node in _statements(source) if isinstance(node, ast.Assert))
    )


@_parsing(())
def probes(
    tests: Sequence[str], entry_point: str, allowed_names: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """One statement per distinct call of ``entry_point`` found in ``tests`` (inputs only:
    the expected values are ignored). A probe fails on purpose with the call's output as
    its message, so running candidates on the probes compares their behaviour: equal
    outputs give equal (status, message) pairs. Sets are sorted, as their order varies
    between interpreters."""
    calls: list[str] = []
    allowed = _BUILTINS | allowed_names | {entry_point}
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == entry_point
                and _free_names(node) <= allowed
            ):
                calls.append(ast.unparse(node))
    show = "repr(sorted(_v, key=repr) if isinstance(_v, (set, frozenset)) else _v)[:200]"
    return tuple(f"_v = {call}\nassert False, {show}" for call in dict.fromkeys(calls))


BUILTIN_NAMES = frozenset(dir(builtins))


@_parsing(())
def called_functions(code: str, tests: Sequence[str]) -> tuple[str, ...]:
    """The top-level functions ``code`` defines that ``tests`` call by name (``accord exec``
    and tests name no entry point: these are the ones the tests reach through the proxy)."""
    try:
        defined = [
            node.name
            for node in ast.parse(code).body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
    except (SyntaxError, ValueError):
        return ()
    used: set[str] = set()
    for test in tests:
        try:
            used |= {n.id for n in ast.walk(ast.parse(test)) if isinstance(n, ast.Name)}
        except (SyntaxError, ValueError):
            continue
    # a test's call of a builtin is the builtin, whatever the candidate defines
    return tuple(name for name in dict.fromkeys(defined) if name in used and name not in BUILTIN_NAMES)


_TYPE_ONLY = frozenset({"isinstance", "type", "callable", "hasattr"})


@_parsing(frozenset())
def pinned_calls(tests: Sequence[str], entry_point: str) -> frozenset[str]:
    """The distinct calls of ``entry_point`` whose output the asserts pin down: a call
    seen only inside isinstance(), type(), callable() or hasattr() pins nothing, and
    rewording an assert about the same call adds no call."""
    calls: set[str] = set()
    for test in tests:
        try:
            tree = ast.parse(test)
        except (SyntaxError, ValueError):
            continue
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point
            ):
                continue
            parent = parents.get(id(node))
            typed = (
                isinstance(parent, ast.Call)
                and isinstance(parent.func, ast.Name)
                and parent.func.id in _TYPE_ONLY
            )
            if not typed:
                calls.add(ast.unparse(node))
    return frozenset(calls)


@_parsing(())
def expected_constants(tests: Sequence[str], entry_point: str, limit: int = 5) -> tuple[str, ...]:
    """The literal values the asserts expect of ``entry_point`` (``assert f(x) == 3``): a
    function that always returns one of them must not pass a meaningful test set."""
    found: list[str] = []
    for test in tests:
        try:
            node = ast.parse(test).body[0]
        except (SyntaxError, ValueError, IndexError):
            continue
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        compare = node.test
        if len(compare.ops) != 1 or not isinstance(compare.ops[0], ast.Eq | ast.Is):
            continue
        for side, other in ((compare.left, compare.comparators[0]), (compare.comparators[0], compare.left)):
            is_call = (
                isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == entry_point
            )
            if not is_call:
                continue
            try:
                value = ast.literal_eval(other)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            text = repr(value)
            if text not in found and len(text) < 10_000:
                found.append(text)
    return tuple(found[:limit])
