"""accord's exceptions, in one tree.

AccordError                 root: the CLI shows its message on one line and exits 1
 ├── ConfigError            a study file, task file, space or exported config is invalid;
 │                          the message names the file and the key
 ├── TaskError              a task set cannot be loaded or sliced
 ├── ModelSetupError        a local model cannot be assembled, verified or served
 ├── LLMError               a model call failed for good (after retries)
 │    ├── RateLimited, LLMTimeout, ProviderUnavailable, MalformedAnswer
 │    │                     transient: retried with backoff; once retries are exhausted
 │    │                     the trial fails and the study goes on (TRIAL_FAULTS)
 │    ├── ContextTooLong    the prompt is too long for the model: that trial fails
 │    ├── AuthFailed, RequestRejected
 │    │                     not retried; another try, or another trial, would fail the
 │    │                     same way: the run stops
 │    └── BudgetExceeded    a cost cap was reached; the run stops cleanly
 └── SandboxError           the executor itself failed (never the code under test:
                            a failing or hostile candidate is data, not an exception);
                            the run stops
"""

from __future__ import annotations


class AccordError(Exception):
    """Root of every error accord raises on purpose."""


class ConfigError(AccordError):
    """Invalid configuration. Built with the file and key so the message names both."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class TaskError(AccordError):
    """A task set cannot be loaded."""


class ModelSetupError(AccordError):
    """A local model cannot be assembled or its server cannot be started."""


class LLMError(AccordError):
    """A model call failed after retries."""

    transient = False
    """Whether another try may succeed (the gateway retries these with backoff)."""


class RateLimited(LLMError):
    transient = True


class LLMTimeout(LLMError):
    transient = True


class ProviderUnavailable(LLMError):
    transient = True


class AuthFailed(LLMError):
    """Not retried: another try would fail the same way."""


class MalformedAnswer(LLMError):
    """The provider answered, but not with a usable completion."""

    transient = True


class RequestRejected(LLMError):
    """The provider rejected the request itself (400, 404, 422): not retried."""


class ContextTooLong(LLMError):
    """Not retried: another try would fail the same way."""


class BudgetExceeded(LLMError):
    """A cost cap was reached."""


class SandboxError(AccordError):
    """The sandbox could not run a job (infrastructure fault, not a failing test)."""


TRIAL_FAULTS: tuple[type[AccordError], ...] = (
    RateLimited,
    LLMTimeout,
    ProviderUnavailable,
    MalformedAnswer,
    ContextTooLong,
)
"""Faults that fail one trial and let the study go on: transient ones whose retries ran
out, and a prompt too long for its model (another configuration may fit). Every other
fault stops the run with one line."""
