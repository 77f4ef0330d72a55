"""Tasks: the task record, the loaders of the bundled sets and of user files, what a
prompt shows of its hidden checks (leakage), and the extraction of code and asserts from
model answers. Imports only accord.space; everything else in runners reads tasks."""

from __future__ import annotations

from accord.runners.tasks.load import load_tasks, load_user_file, task_from_prompt
from accord.runners.tasks.task import Task

__all__ = ["Task", "load_tasks", "load_user_file", "task_from_prompt"]
