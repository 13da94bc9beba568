"""The Agents SDK engine: structured output from any OpenAI-compatible Chat Completions endpoint.

Choices, each for a reason (notes/ai.md §3):

* ``agents`` and ``openai`` are imported on first use: ``import agents`` costs seconds of CPU,
  and most installs never configure a model.
* Chat Completions with an explicit model name: the most widely implemented endpoint (Ollama,
  vLLM, proxies); the SDK's defaults (Responses API, a vendor model) break local endpoints.
* Tracing is off, globally and per run: it would post to api.openai.com whatever the base URL.
* Retries are ours, not the client's (``max_retries=0``): one loop covers HTTP 429/5xx, timeouts
  and invalid answers, which the SDK does not retry, and it honours ``Retry-After`` up to
  ``max_retry_wait_s`` through an injected ``sleep``.
* Provider error text never leaves this module: it can quote the API key ("Incorrect API key
  provided: sk-…"). Errors and log lines are built from status codes and our own words, and are
  raised outside the ``except`` block so no exception chain carries the original.
* Every answer is validated by the schema; a tailored resume is also checked for claims the
  source does not support (:mod:`app.ai.offline.evidence`). Scores always come from the offline
  scorer. When the model keeps failing, the offline result is returned (``fallbackReason`` says
  why) or, with ``fallback_to_offline`` off, a :class:`~app.errors.TransientError` lets the job
  system retry later.
* A circuit breaker (:mod:`app.ai.breaker`, per process) stops calling a provider whose calls
  keep giving up as unavailable: refused calls fall back, or raise
  :class:`~app.errors.ProviderUnavailable` with ``retry_after_s`` = time until the breaker lets a
  trial through, so the job system retries after it may have closed.
* Tokens are metered per request (:class:`~app.ai.usage.TokenMeter`): a request whose prompt
  would go over the user's daily allowance is not sent, and each answer's usage is counted, from
  what the provider reports or, when it reports none, from an estimate.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError

from app.ai import prompts
from app.ai.breaker import CircuitBreaker
from app.ai.engine import AIConfig
from app.ai.offline.engine import OfflineEngine, scored
from app.ai.offline.evidence import unsupported
from app.ai.offline.posting import completeness as posting_completeness
from app.ai.offline.resume import completeness as resume_completeness
from app.ai.schemas import (
    Engine,
    ExtractionMeta,
    JobPosting,
    JobPostingContent,
    Optimization,
    Resume,
    ResumeContent,
    SourceReliability,
    TailoringContent,
)
from app.ai.usage import TokenMeter, estimate_tokens
from app.errors import ProviderUnavailable, TaskError, TransientError

if TYPE_CHECKING:
    from agents import Agent, ModelResponse, RunConfig, RunContextWrapper, RunHooks
    from openai import AsyncOpenAI

log = logging.getLogger("atspro.ai")
Output = TypeVar("Output", bound=BaseModel)
Result = TypeVar("Result", Resume, JobPosting, Optimization)
Sleep = Callable[[float], Awaitable[None]]
MAX_BACKOFF_S = 20.0


class Failure(StrEnum):
    """Why a model call did not give a usable answer."""

    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNREACHABLE = "unreachable"
    INVALID_OUTPUT = "invalid_output"
    UNSUPPORTED_CLAIMS = "unsupported_claims"
    REJECTED = "rejected"  # 400/401/403/404: configuration, not luck; retrying will not help
    CIRCUIT_OPEN = "circuit_open"  # not sent: the breaker is open

    @property
    def retryable(self) -> bool:
        return self is not Failure.REJECTED

    @property
    def unavailable(self) -> bool:
        """The provider did not answer: counts towards the circuit breaker."""
        return self in _UNAVAILABLE


_USER_MESSAGES = {
    Failure.TIMEOUT: "The AI model did not answer in time.",
    Failure.RATE_LIMITED: "The AI provider is limiting requests right now.",
    Failure.SERVER_ERROR: "The AI provider had a server error.",
    Failure.UNREACHABLE: "The AI provider could not be reached.",
    Failure.INVALID_OUTPUT: "The AI model's answer did not have the expected structure.",
    Failure.UNSUPPORTED_CLAIMS: "The AI model's tailoring claimed things the resume does not say.",
    Failure.CIRCUIT_OPEN: "The AI provider has been failing, so calls to it are paused for now.",
}
_UNAVAILABLE = frozenset(
    {
        Failure.TIMEOUT,
        Failure.RATE_LIMITED,
        Failure.SERVER_ERROR,
        Failure.UNREACHABLE,
        Failure.CIRCUIT_OPEN,
    }
)


class ModelGaveUp(Exception):
    """Every attempt failed; carries only our own facts, never provider text."""

    def __init__(self, failure: Failure, *, status: int | None, retry_after_s: float | None):
        super().__init__(f"model call failed: {failure.value} (HTTP {status or '-'})")
        self.failure = failure
        self.status = status
        self.retry_after_s = retry_after_s


class AgentsEngine:
    """:class:`~app.ai.engine.AIEngine` backed by the OpenAI Agents SDK."""

    def __init__(
        self,
        config: AIConfig,
        *,
        fallback: OfflineEngine | None = None,
        sleep: Sleep = anyio.sleep,
        jitter: Callable[[], float] = random.random,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._config = config
        self.breaker = breaker or CircuitBreaker(config.breaker_failures, config.breaker_open_s)
        self._model_name = config.resolved_model()
        self._offline = fallback or OfflineEngine()
        self._sleep = sleep
        self._jitter = jitter
        self._client: AsyncOpenAI | None = None
        self._agents: dict[str, Agent[Any]] = {}
        self._run_config: RunConfig | None = None

    # --- the three operations --------------------------------------------------------------

    async def parse_resume(self, text: str, *, meter: TokenMeter | None = None) -> Resume:
        offline = await self._offline.parse_resume(text)
        data = prompts.fenced("resume", text, self._config.max_input_chars)
        try:
            content = await self._ask(
                "parse_resume", prompts.PARSE_RESUME, ResumeContent, data, meter=meter
            )
        except ModelGaveUp as gave_up:
            return self._fall_back(offline, gave_up)
        resume = Resume.model_validate(content.model_dump())
        # Contact details are exact strings a regex finds reliably; fill what the model missed.
        for name in ("name", "email", "phone", "location"):
            if getattr(resume.contact, name) is None:
                setattr(resume.contact, name, getattr(offline.contact, name))
        resume.contact.links = resume.contact.links or offline.contact.links
        resume.meta = _model_meta(resume_completeness(resume))
        return resume

    async def extract_job(
        self, html: str, url: str, company_hint: str | None, *, meter: TokenMeter | None = None
    ) -> JobPosting:
        reading = await self._offline.read_job_page(html, url, company_hint)
        offline, text = reading.posting, reading.text
        meta = offline.meta
        if meta and meta.method == "json-ld" and (offline.requirements or offline.responsibilities):
            return offline  # the publisher's structured data beats any reading of it
        hint = f"Employer hint: {company_hint}\n" if company_hint else ""
        data = f"Page address: {url}\n{hint}" + prompts.fenced(
            "job_page", text, self._config.max_input_chars
        )
        try:
            content = await self._ask(
                "extract_job", prompts.EXTRACT_JOB, JobPostingContent, data, meter=meter
            )
        except ModelGaveUp as gave_up:
            return self._fall_back(offline, gave_up)
        posting = JobPosting.model_validate({**content.model_dump(), "url": url})
        for name in ("title", "company", "location", "remote", "employment_type", "salary"):
            if getattr(posting, name) is None:
                setattr(posting, name, getattr(offline, name))
        posting.company = posting.company or company_hint
        posting.description = posting.description or offline.description
        known = {skill.casefold() for skill in posting.skills}
        posting.skills += [skill for skill in offline.skills if skill.casefold() not in known]
        posting.meta = _model_meta(posting_completeness(posting))
        return posting

    async def optimize(
        self, resume: Resume, posting: JobPosting, *, meter: TokenMeter | None = None
    ) -> Optimization:
        source = ResumeContent.model_validate(resume.model_dump(exclude={"meta"}))
        resume_json = source.model_dump_json(by_alias=True)
        posting_json = posting.model_dump_json(by_alias=True, exclude={"meta", "url"})
        limit = self._config.max_input_chars
        data = prompts.fenced("resume", resume_json, limit) + "\n\n"
        data += prompts.fenced("job_posting", posting_json, limit)

        def check(draft: TailoringContent) -> list[str]:
            draft.tailored_resume.contact = source.contact  # never the model's to change
            return unsupported(source, draft.tailored_resume)

        try:
            draft = await self._ask(
                "optimize", prompts.OPTIMIZE, TailoringContent, data, check=check, meter=meter
            )
        except ModelGaveUp as gave_up:
            return self._fall_back(await self._offline.optimize(resume, posting), gave_up)
        suggestions = draft.suggestions
        if not suggestions:
            suggestions = (await self._offline.optimize(resume, posting)).suggestions
        result = await anyio.to_thread.run_sync(
            lambda: scored(source, draft.tailored_resume, posting, suggestions, method="model")
        )
        if result.meta is not None:
            result.meta.engine = Engine.AGENTS
        return result

    async def aclose(self) -> None:
        """Close the HTTP client; a later call would build a fresh one."""
        client, self._client = self._client, None
        self._agents.clear()  # they hold the closed client
        if client is not None:
            await client.close()

    # --- the model call ----------------------------------------------------------------------

    async def _ask(
        self,
        task: str,
        instructions: str,
        output_type: type[Output],
        data: str,
        *,
        check: Callable[[Output], list[str]] | None = None,
        meter: TokenMeter | None = None,
    ) -> Output:
        """One structured answer through the circuit breaker; :class:`ModelGaveUp` when none
        came."""
        agent = self._agent(task, instructions, output_type)
        prompt_tokens = estimate_tokens(instructions, data)
        if meter is not None:
            meter.admit(prompt_tokens)  # before the breaker: a refused job takes no trial slot
        if not self.breaker.admit():
            log.info("ai.breaker_refused", extra={"task": task})
            retry_after_s = self.breaker.retry_after_s
            raise ModelGaveUp(Failure.CIRCUIT_OPEN, status=None, retry_after_s=retry_after_s)
        try:
            outcome = await self._attempts(
                task, agent, output_type, data, check, meter, prompt_tokens
            )
        except BaseException:
            self.breaker.abandoned()  # over budget, cancelled, or a bug: no verdict either way
            raise
        if not isinstance(outcome, ModelGaveUp):
            self.breaker.succeeded()
            return outcome
        if outcome.failure.unavailable:
            self.breaker.failed()
        else:
            self.breaker.succeeded()  # it answered, however badly: the provider is up
        if self.breaker.blocks():
            outcome.retry_after_s = max(outcome.retry_after_s or 0.0, self.breaker.retry_after_s)
        raise outcome

    async def _attempts(
        self,
        task: str,
        agent: Agent[Any],
        output_type: type[Output],
        data: str,
        check: Callable[[Output], list[str]] | None,
        meter: TokenMeter | None,
        prompt_tokens: int,
    ) -> Output | ModelGaveUp:
        """The answer, with bounded retries, or why there is none."""
        from agents import Runner

        attempts = self._config.max_retries + 1
        failure, status, retry_after = Failure.INVALID_OUTPUT, None, None
        for attempt in range(1, attempts + 1):
            if meter is not None and attempt > 1:
                meter.admit(prompt_tokens)  # the failed answers before were paid for too
            try:
                result = await Runner.run(
                    agent,
                    data,
                    max_turns=1,
                    run_config=self._run_config,
                    hooks=_metering(meter, prompt_tokens),
                )
                output = result.final_output
            except Exception as error:  # classified below; unknown ones are re-raised
                failure, status, retry_after = _classify(error)
            else:
                if not isinstance(output, output_type):
                    failure, status, retry_after = Failure.INVALID_OUTPUT, None, None
                elif problems := (check(output) if check else []):
                    failure, status, retry_after = Failure.UNSUPPORTED_CLAIMS, None, None
                    log.info("ai.unsupported_claims", extra={"task": task, "count": len(problems)})
                else:
                    return output
            log.warning(
                "ai.attempt_failed",
                extra={"task": task, "attempt": attempt, "reason": failure.value, "status": status},
            )
            if not failure.retryable or attempt == attempts:
                break
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if delay > self._config.max_retry_wait_s:
                break  # the provider asks for longer than a job should sit; let the job retry
            await self._sleep(delay)
            if self.breaker.blocks():
                break  # other calls opened the breaker meanwhile: stop adding to the storm
        return ModelGaveUp(failure, status=status, retry_after_s=retry_after)

    def _backoff(self, attempt: int) -> float:
        """Exponential with jitter: half fixed, half random, capped."""
        base = self._config.retry_base_delay_s * 2.0 ** (attempt - 1)
        return min(MAX_BACKOFF_S, base * (0.5 + 0.5 * self._jitter()))

    def _agent(self, task: str, instructions: str, output_type: type[BaseModel]) -> Agent[Any]:
        if task not in self._agents:
            self._agents[task] = self._build_agent(task, instructions, output_type)
        return self._agents[task]

    def _build_agent(
        self, task: str, instructions: str, output_type: type[BaseModel]
    ) -> Agent[Any]:
        from agents import (
            Agent,
            ModelSettings,
            OpenAIChatCompletionsModel,
            RunConfig,
            set_tracing_disabled,
        )
        from openai import AsyncOpenAI

        set_tracing_disabled(True)
        if self._client is None:
            key = self._config.api_key.get_secret_value() if self._config.api_key else None
            self._client = AsyncOpenAI(
                # A local endpoint needs no key, but the client refuses to start without one.
                api_key=key or "not-needed",
                base_url=self._config.base_url,
                timeout=self._config.timeout_s + 5,  # backstop; ModelSettings.timeout bounds it
                max_retries=0,
            )
            self._run_config = RunConfig(tracing_disabled=True, trace_include_sensitive_data=False)
        model = OpenAIChatCompletionsModel(model=self._model_name, openai_client=self._client)
        return Agent(
            name=task,
            instructions=instructions,
            output_type=_fence_tolerant(output_type),
            model=model,
            model_settings=ModelSettings(temperature=0, timeout=self._config.timeout_s),
        )

    # --- giving up -----------------------------------------------------------------------------

    def _fall_back(self, offline: Result, gave_up: ModelGaveUp) -> Result:
        """The offline result, marked with why; or an error the job system understands."""
        if self._config.fallback_to_offline:
            log.warning("ai.fallback", extra={"reason": gave_up.failure.value})
            meta = offline.meta or ExtractionMeta()
            offline.meta = meta.model_copy(update={"fallback_reason": gave_up.failure.value})
            return offline
        if not gave_up.failure.retryable:
            message = (
                f"The AI provider refused the request (HTTP {gave_up.status or '?'}); "
                "check the AI configuration."
            )
            raise TaskError(message) from None
        if gave_up.failure.unavailable:
            reason = _USER_MESSAGES[gave_up.failure]
            raise ProviderUnavailable(reason, retry_after_s=gave_up.retry_after_s) from None
        message = _USER_MESSAGES[gave_up.failure] + " The job will be retried."
        raise TransientError(message, retry_after_s=gave_up.retry_after_s) from None


def _model_meta(share: float) -> ExtractionMeta:
    return ExtractionMeta(
        engine=Engine.AGENTS,
        method="model",
        confidence_score=round(0.5 + 0.45 * share, 2),
        source_reliability=SourceReliability.MEDIUM,
    )


def _metering(meter: TokenMeter | None, prompt_tokens: int) -> RunHooks[Any] | None:
    """Run hooks that count every answer's tokens on ``meter``, invalid answers included (they
    were paid for too): as the provider reports them, or estimated when it reports none."""
    if meter is None:
        return None
    from agents import RunHooks

    counted = meter  # narrowed, for the closure

    class Metering(RunHooks[Any]):
        async def on_llm_end(
            self, context: RunContextWrapper[Any], agent: Agent[Any], response: ModelResponse
        ) -> None:
            usage = response.usage
            if usage.input_tokens or usage.output_tokens:
                counted.add(usage.input_tokens, usage.output_tokens)
                return
            answer = "".join(item.model_dump_json() for item in response.output)
            counted.add(prompt_tokens, estimate_tokens(answer))

    return Metering()


def _classify(error: Exception) -> tuple[Failure, int | None, float | None]:
    """Failure kind, HTTP status and Retry-After of an exception from a model call."""
    import openai
    from agents.exceptions import (
        MaxTurnsExceeded,
        ModelBehaviorError,
        ModelRefusalError,
        ModelTimeoutError,
    )

    if isinstance(error, ModelTimeoutError | openai.APITimeoutError | TimeoutError):
        return Failure.TIMEOUT, None, None
    if isinstance(
        error,
        ModelBehaviorError
        | MaxTurnsExceeded
        | ModelRefusalError
        | ValidationError
        | openai.LengthFinishReasonError
        | openai.ContentFilterFinishReasonError,
    ):
        return Failure.INVALID_OUTPUT, None, None
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        retry_after = _retry_after(error.response.headers)
        if status == 429:
            return Failure.RATE_LIMITED, status, retry_after
        if status >= 500 or status in (408, 409):
            return Failure.SERVER_ERROR, status, retry_after
        return Failure.REJECTED, status, None
    if isinstance(error, openai.APIConnectionError):
        return Failure.UNREACHABLE, None, None
    raise error


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or HTTP date)."""
    if milliseconds := str(headers.get("retry-after-ms") or ""):
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = str(headers.get("retry-after") or "")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _fence_tolerant(output_type: type[BaseModel]) -> Any:
    """The output schema, accepting JSON wrapped in a Markdown fence or in prose, as small
    local models often answer."""
    from agents import AgentOutputSchema

    class FenceTolerantSchema(AgentOutputSchema):
        def validate_json(self, json_str: str) -> Any:
            return super().validate_json(_unfenced(json_str))

    return FenceTolerantSchema(output_type)


def _unfenced(text: str) -> str:
    stripped = text.strip()
    fence = re.match(r"^```[\w-]*\s*\n(.*?)\n?```$", stripped, re.S)
    if fence:
        return fence.group(1)
    if not stripped.startswith("{") and "{" in stripped and "}" in stripped:
        return stripped[stripped.index("{") : stripped.rindex("}") + 1]
    return stripped
