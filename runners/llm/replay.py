"""The replay provider: real recorded generations served as if a model wrote them.

A model named ``replay/<corpus>`` answers sample i of a request with recorded sample i
of that task and role, so large-population studies run offline on real model output.
The corpus format is that of ../shared/data/replay (one JSON line per task: task_id,
code_prompt, code_samples, test_prompt, test_samples). Code samples are function-body
completions of the prompt; test samples continue a prompt that ends with ``assert ``.
Token counts come from a tokenizer (tiktoken's cl100k_base, as bundled with litellm:
``provider.count_tokens``); prices come from the study file.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accord.runners.llm.provider import count_tokens
from accord.runners.llm.records import REPLAY_PREFIX, LLMRequest, ModelSpec, RawCompletion
from accord.space.errors import ConfigError, LLMError

REPLAY_DIR_ENV = "ACCORD_REPLAY_DIR"
DRAW_STRIDE = 37
"""Draw d serves recorded sample (i + 37 d) mod n: a population smaller than the corpus
gets other samples; one as large as the corpus gets the same ones (there are no others)."""
PREFIX = REPLAY_PREFIX


def corpus_path(spec: ModelSpec) -> Path:
    """Where a replay model's corpus lives: its ``path``, else $ACCORD_REPLAY_DIR/<corpus>.jsonl.gz."""
    if spec.path:
        return Path(spec.path)
    folder = os.environ.get(REPLAY_DIR_ENV)
    if not folder:
        raise ConfigError(
            f"replay model {spec.model} needs `path = ...` in [models.{spec.alias}] or {REPLAY_DIR_ENV}",
            key=f"models.{spec.alias}.path",
        )
    return Path(folder) / f"{spec.model.removeprefix(PREFIX)}.jsonl.gz"


class ReplayCorpus:
    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"replay corpus {path} not found")
        opener = gzip.open if path.suffix == ".gz" else open
        self.rows: dict[str, dict[str, Any]] = {}
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["task_id"]] = row
        self.name = path.name


@functools.lru_cache(maxsize=8)
def load_corpus(path: Path) -> ReplayCorpus:
    """A corpus, read once per process (preflight and the backend share it)."""
    return ReplayCorpus(path)


class ReplayBackend:
    """Serves ``replay/<corpus>`` models; corpora are loaded once and shared."""

    def __init__(self) -> None:
        self._corpora: dict[Path, ReplayCorpus] = {}
        self._lock = threading.Lock()
        self._count: Callable[[str], int] | None = None

    def corpus(self, spec: ModelSpec) -> ReplayCorpus:
        path = corpus_path(spec)
        with self._lock:
            if path not in self._corpora:
                self._corpora[path] = load_corpus(path)
            if self._count is None:
                self._count = count_tokens()
            return self._corpora[path]

    def __call__(self, spec: ModelSpec, request: LLMRequest) -> RawCompletion:
        corpus = self.corpus(spec)
        row = corpus.rows.get(request.task_id)
        if row is None:
            raise LLMError(f"{spec.alias}: replay corpus {corpus.name} has no task {request.task_id!r}")
        if request.role == "coder":
            samples, prompt, prefix = row["code_samples"], row["code_prompt"], ""
        elif request.role == "tester":
            samples, prompt, prefix = row["test_samples"], row["test_prompt"], "assert "
        else:
            raise LLMError(
                f"{spec.alias}: replay corpus {corpus.name} records no {request.role or 'such'} samples "
                "(use loop.max_rounds = 0, or a live model for repairs)"
            )
        index = request.sample
        if request.draw:  # another draw: other recorded samples, as far as there are any
            index = (request.sample + DRAW_STRIDE * request.draw) % len(samples)
        if not 0 <= index < len(samples):
            raise LLMError(
                f"{spec.alias}: replay corpus {corpus.name} has {len(samples)} {request.role} samples "
                f"for {request.task_id}; sample {request.sample} was asked for (population too large?)"
            )
        text = prefix + samples[index]
        assert self._count is not None
        return RawCompletion(
            text=text, prompt_tokens=self._count(prompt), completion_tokens=self._count(text), seconds=0.0
        )
