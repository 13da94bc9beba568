"""The one registry of job types. Built-in tasks plus ``ATSPRO_EXTRA_TASKS=module:attr,…``."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import Any

from app.errors import Invalid
from app.tasks import diagnostic, job_posting, optimize, resume
from app.tasks.base import TaskSpec

BUILTIN: tuple[TaskSpec[Any, Any], ...] = (
    diagnostic.SPEC,
    resume.SPEC,
    job_posting.SPEC,
    optimize.SPEC,
)


class TaskRegistry:
    def __init__(self, specs: Iterable[TaskSpec[Any, Any]] = ()) -> None:
        self._specs: dict[str, TaskSpec[Any, Any]] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: TaskSpec[Any, Any]) -> None:
        if spec.name in self._specs:
            raise ValueError(f"task type {spec.name!r} is registered twice")
        self._specs[spec.name] = spec

    def get(self, name: str) -> TaskSpec[Any, Any]:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise Invalid(f"unknown job type {name!r}; known types: {known}") from None

    def __iter__(self) -> Iterator[TaskSpec[Any, Any]]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    @classmethod
    def load(cls, extra: Iterable[str] = ()) -> TaskRegistry:
        """Built-in tasks plus each ``module:attr`` (a TaskSpec or an iterable of them)."""
        registry = cls(BUILTIN)
        for ref in extra:
            module_name, _, attr = ref.partition(":")
            if not attr:
                raise ValueError(f"ATSPRO_EXTRA_TASKS entry {ref!r} must look like module:attr")
            obj = getattr(importlib.import_module(module_name), attr)
            for spec in [obj] if isinstance(obj, TaskSpec) else obj:
                registry.add(spec)
        return registry
