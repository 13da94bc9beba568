"""The AI engine seam: one protocol, two implementations, one factory.

Tasks depend on :class:`AIEngine` only. :func:`make_engine` picks the Agents SDK engine when an
OpenAI-compatible endpoint is configured (an API key, a base URL, or both) and the offline engine
otherwise, so the default install works with no key and no network.

Each operation takes an optional :class:`~app.ai.usage.TokenMeter`: the job's share of its user's
daily token allowance, asked before and told after every model request (the offline engine calls
no model and leaves it alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.ai.offline.engine import OfflineEngine
from app.ai.schemas import JobPosting, Optimization, Resume
from app.settings import ConfigError

if TYPE_CHECKING:
    from app.ai.breaker import CircuitBreaker
    from app.ai.usage import TokenMeter

DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
"""Used only against OpenAI itself (a key and no base URL): other endpoints serve other models,
and the SDK's own default is a Responses-only model (notes/ai.md §3.2)."""


class AIEngine(Protocol):
    """What the parse, extract and optimize tasks need from AI."""

    async def parse_resume(self, text: str, *, meter: TokenMeter | None = None) -> Resume:
        """Structure a resume's text. Never raises for odd input: fields it cannot find stay
        empty and ``meta.confidenceScore`` says how much was found."""
        ...

    async def extract_job(
        self, html: str, url: str, company_hint: str | None, *, meter: TokenMeter | None = None
    ) -> JobPosting:
        """Structure a job page's HTML fetched from ``url``; ``company_hint`` is used when the
        page does not name the employer."""
        ...

    async def optimize(
        self, resume: Resume, posting: JobPosting, *, meter: TokenMeter | None = None
    ) -> Optimization:
        """Tailor ``resume`` to ``posting`` without inventing experience, scored before and
        after by the same offline scorer."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once by the lifespan on shutdown."""
        ...


class AIConfig(BaseModel):
    """The AI part of the settings. ``api_key`` is a ``SecretStr`` so that no repr, log line
    or validation error can show it."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)  # per model call, not per job
    max_retries: int = Field(default=2, ge=0, le=10)  # after the first attempt
    retry_base_delay_s: float = Field(default=0.5, ge=0)
    # A Retry-After longer than this is not slept through inside a job: the job gives up (or
    # falls back) and lets the job system retry later.
    max_retry_wait_s: float = Field(default=30.0, ge=0)
    fallback_to_offline: bool = True
    max_input_chars: int = Field(default=60_000, ge=1000)  # bounds cost and context size
    # Circuit breaker (app/ai/breaker.py): open after this many failed calls in a row (0: off),
    # for this long before one trial call is let through.
    breaker_failures: int = Field(default=5, ge=0)
    breaker_open_s: float = Field(default=30.0, gt=0)

    @property
    def uses_model(self) -> bool:
        return bool((self.api_key and self.api_key.get_secret_value()) or self.base_url)

    def resolved_model(self) -> str:
        """The model name to send: configured, or OpenAI's default when talking to OpenAI."""
        if self.model:
            return self.model
        if self.base_url:
            msg = (
                "ATSPRO_AI_MODEL must name the model when OPENAI_BASE_URL is set "
                "(for example `llama3.1:8b` for Ollama); the endpoint decides which exist"
            )
            raise ConfigError(msg)
        return DEFAULT_OPENAI_MODEL


def make_engine(config: AIConfig, *, breaker: CircuitBreaker | None = None) -> AIEngine:
    """The Agents engine when an endpoint is configured, else the offline engine. ``breaker``
    is the process's circuit breaker for the provider (one is built from ``config`` if None)."""
    offline = OfflineEngine()
    if not config.uses_model:
        return offline
    from app.ai.agents import AgentsEngine

    config.resolved_model()  # fail at start-up, not in the first job
    return AgentsEngine(config, fallback=offline, breaker=breaker)
