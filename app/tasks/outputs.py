"""What every operation's output carries besides its entity: time taken and provenance."""

from __future__ import annotations

import time
import uuid

from pydantic import Field

from app.ai.schemas import CamelModel, ExtractionMeta, SourceReliability


class OperationOutput(CamelModel):
    """The seed's common output fields (``processingTime`` in seconds)."""

    processing_time: float = Field(ge=0)
    confidence_score: float = Field(ge=0, le=1)
    source_reliability: SourceReliability


def provenance(meta: ExtractionMeta | None, started: float) -> dict[str, object]:
    """The common fields for an output, from the engine's meta and the monotonic start time."""
    meta = meta or ExtractionMeta()
    return {
        "processing_time": round(time.monotonic() - started, 3),
        "confidence_score": meta.confidence_score,
        "source_reliability": meta.source_reliability,
    }


def new_id() -> uuid.UUID:
    return uuid.uuid4()
