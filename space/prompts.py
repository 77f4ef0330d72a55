"""The prompt library: templates as files, rendered with $-placeholders.

A template file is named ``<role>_<name>.txt`` (roles: ``code``, ``tests``, ``repair``).
Above a line holding only ``---`` is the system message, below it the user message.
Users add templates from their own folder (``[prompts] dirs`` in the study file).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from accord.space.errors import ConfigError

ROLES = ("code", "tests", "repair")
BUILTIN_DIR = Path(__file__).with_name("prompts")


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    role: str
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
        messages = ({"role": "system", "content": system},) if system else ()
        return (*messages, {"role": "user", "content": user})


def _parse(path: Path) -> Template:
    role, _, name = path.stem.partition("_")
    text = path.read_text(encoding="utf-8")
    system, sep, user = text.partition("\n---\n")
    if not sep:
        system, user = "", text
    return Template(role=role, name=name, system=system.strip(), user=user.strip(), path=str(path))


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
                if template.role in ROLES:
                    found[(template.role, template.name)] = template
        return cls(found)

    def names(self, role: str) -> tuple[str, ...]:
        return tuple(sorted(name for r, name in self.templates if r == role))

    def get(self, role: str, name: str) -> Template:
        try:
            return self.templates[(role, name)]
        except KeyError:
            known = ", ".join(self.names(role)) or "none"
            raise ConfigError(f"no {role} template named {name!r} (known: {known})") from None
