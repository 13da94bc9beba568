"""TokenMeter: the model tokens one job attempt uses, against what its user has left today.

The job system hands a meter to the engine (``meter=``); the Agents engine asks it before each
model request (:meth:`TokenMeter.admit`, with an estimate of the prompt) and tells it what each
answer cost (:meth:`TokenMeter.add`, from the usage the provider reports). The job then stores
the total (:mod:`app.budget`). The offline engine uses no provider tokens, so it never touches the
meter: the budget bounds what users cost in model calls, and offline work is bounded by the
submission rate limit and the fair-share cap instead.
"""

from __future__ import annotations

from app.errors import OverBudget

CHARS_PER_TOKEN = 4  # a common rule of thumb for English text with BPE tokenizers


def estimate_tokens(*texts: str) -> int:
    """A rough token count: used before a request (to refuse one that cannot fit) and when an
    endpoint reports no usage (some local servers do not), so the budget cannot be bypassed."""
    return sum(len(text) for text in texts) // CHARS_PER_TOKEN


class TokenMeter:
    """``remaining`` is the user's allowance left when the attempt began (None: unlimited)."""

    def __init__(self, remaining: int | None = None) -> None:
        self.remaining = remaining
        self.input_tokens = 0
        self.output_tokens = 0

    @property
    def used(self) -> int:
        return self.input_tokens + self.output_tokens

    def admit(self, prompt_tokens: int) -> None:
        """Refuse a request whose prompt alone would go over the allowance."""
        if self.remaining is not None and self.used + prompt_tokens > self.remaining:
            raise OverBudget(
                "This job would go over your daily AI token allowance, so it was stopped "
                "before calling the model. The allowance resets at 00:00 UTC."
            )

    def add(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += max(0, input_tokens)
        self.output_tokens += max(0, output_tokens)
