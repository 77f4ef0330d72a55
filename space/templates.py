"""The prompt library: templates as files, rendered with $-placeholders.

A template file is named ``<stage>_<name>.txt``. Stages: ``code`` and ``tests`` (the
coder's and the tester's first answers), ``repair`` and ``reflect`` (the repairer),
``plan``, ``spec``, ``explain`` and ``check`` (the planner's steps), ``distinguish``
(the tester's inputs that set two clusters apart) and ``judge`` (which of two outputs
the task asks for). Above a line holding
only ``---`` is the system message, below it the user message. ``$context`` in a code or
tests template receives what the technique adds (reasoning instructions, a plan, a spec,
worked examples); an empty placeholder leaves no blank lines behind. Users add templates
from their own folders (``[prompts] dirs`` in the study file); a user template with the
name of a built-in one replaces it. ``examples.jsonl`` holds the worked examples of the
few-shot technique.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from accord.space.errors import ConfigError

STAGES = ("code", "tests", "repair", "reflect", "plan", "spec", "explain", "check", "distinguish", "judge")
BUILTIN_DIR = Path(__file__).with_name("prompts")
EXAMPLES_FILE = BUILTIN_DIR / "examples.jsonl"
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    stage: str
    name: str
    system: str
    user: str
    path: str

    def render(self, **values: object) -> tuple[dict[str, str], ...]:
        """Chat messages with the placeholders filled; a missing value is a ConfigError."""
        try:
            system = string.Template(self.system).substitute(values)
            user = string.Template(self.user).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"template placeholder {exc} has no value", file=self.path) from exc
        system, user = _BLANKS.sub("\n\n", system).strip(), _BLANKS.sub("\n\n", user).strip()
        messages = ({"role": "system", "content": system},) if system else ()
        return (*messages, {"role": "user", "content": user})


def _parse(path: Path) -> Template:
    stage, _, name = path.stem.partition("_")
    text = path.read_text(encoding="utf-8")
    system, sep, user = text.partition("\n---\n")
    if not sep:
        system, user = "", text
    return Template(stage=stage, name=name, system=system.strip(), user=user.strip(), path=str(path))


@dataclass(frozen=True, slots=True)
class PromptLibrary:
    templates: Mapping[tuple[str, str], Template]

    @classmethod
    def load(cls, extra_dirs: Iterable[Path] = ()) -> PromptLibrary:
        found: dict[tuple[str, str], Template] = {}
        for folder in (BUILTIN_DIR, *extra_dirs):
            if not folder.is_dir():
                raise ConfigError(f"prompt folder {folder} does not exist", key="prompts.dirs")
            for path in sorted(folder.glob("*_*.txt")):
                template = _parse(path)
                if template.stage in STAGES:
                    found[(template.stage, template.name)] = template
        return cls(found)

    def names(self, stage: str) -> tuple[str, ...]:
        return tuple(sorted(name for s, name in self.templates if s == stage))

    def get(self, stage: str, name: str) -> Template:
        try:
            return self.templates[(stage, name)]
        except KeyError:
            known = ", ".join(self.names(stage)) or "none"
            raise ConfigError(f"no {stage} template named {name!r} (known: {known})") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """A solved task shown to few-shot prompts."""

    prompt: str
    solution: str
    tests: tuple[str, ...]


def load_examples(path: Path = EXAMPLES_FILE) -> tuple[Example, ...]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuple(Example(prompt=r["prompt"], solution=r["solution"], tests=tuple(r["tests"])) for r in rows)


def fewshot_context(examples: Sequence[Example], stage: str) -> str:
    """Worked examples for a code or tests prompt."""
    parts = ["Worked examples of the same kind of task:"]
    for example in examples:
        answer = example.solution if stage == "code" else "\n".join(example.tests)
        parts.append(
            f"Task:\n```python\n{example.prompt.strip()}\n```\n"
            f"{'Solution' if stage == 'code' else 'Tests'}:\n```python\n{answer.strip()}\n```"
        )
    return "\n\n".join(parts)
