"""``diagnostic.echo``: a built-in task for health checks, tests and benchmarks.

It sleeps ``seconds`` in ``steps`` progress updates, echoes its input, and can be told to fail its
first ``failTimes`` attempts with a chosen kind, so every path of the job system can be exercised
without AI or network.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.errors import TaskError, TransientError, UserError
from app.tasks.base import TaskContext, TaskSpec


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class EchoInput(_Model):
    seconds: float = Field(default=0.0, ge=0, le=3600)
    steps: int = Field(default=0, ge=0, le=1000)
    echo: Any = None
    fail_times: int = Field(default=0, ge=0)
    fail_kind: Literal["transient", "user", "internal"] = "transient"


class EchoOutput(_Model):
    echo: Any = None
    attempt: int
    steps: int


async def echo(ctx: TaskContext, data: EchoInput) -> EchoOutput:
    if ctx.attempt <= data.fail_times:
        message = f"diagnostic failure {ctx.attempt} of {data.fail_times}"
        if data.fail_kind == "transient":
            raise TransientError(message, retry_after_s=0)
        if data.fail_kind == "user":
            raise UserError(message)
        raise RuntimeError(message)  # an internal error, as a bug would raise
    if data.steps:
        for step in range(1, data.steps + 1):
            await anyio.sleep(data.seconds / data.steps)
            await ctx.progress(step * 100 // data.steps, f"step {step} of {data.steps}")
    elif data.seconds:
        await anyio.sleep(data.seconds)
    return EchoOutput(echo=data.echo, attempt=ctx.attempt, steps=data.steps)


SPEC = TaskSpec(
    name="diagnostic.echo",
    input_model=EchoInput,
    output_model=EchoOutput,
    run=echo,
    timeout_s=3700.0,
    direct_submit=True,
    description="Sleeps, reports progress, echoes its input; can fail on purpose.",
)

__all__ = ["SPEC", "EchoInput", "EchoOutput", "TaskError"]
