"""The metric instruments realtime-otel records, made once per meter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import Meter
from opentelemetry.util.types import AttributeValue

from . import semconv as sc

if TYPE_CHECKING:  # the event classes (pydantic) load with the first session, not at discovery
    from realtime_core import (
        RealtimeUsageEvent,
    )

Attributes = dict[str, AttributeValue]

# Bucket boundaries the GenAI conventions recommend for token counts and operation durations.
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# Sessions last minutes, not seconds.
_SESSION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


class Instruments:
    """Every instrument, created from one meter; recording methods take the session's base attributes."""

    def __init__(self, meter: Meter) -> None:
        self.token_usage = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.operation_duration = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            sc.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the end of the user's turn to the first audio of the response.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.input_tokens = meter.create_counter(
            sc.METRIC_INPUT_TOKENS, unit="{token}", description="Input tokens used, including cached tokens."
        )
        self.output_tokens = meter.create_counter(
            sc.METRIC_OUTPUT_TOKENS, unit="{token}", description="Output tokens used."
        )
        self.cache_read_tokens = meter.create_counter(
            sc.METRIC_CACHE_READ_TOKENS, unit="{token}", description="Input tokens served from the provider's cache."
        )
        self.interruptions = meter.create_counter(
            sc.METRIC_INTERRUPTIONS, unit="{interruption}", description="Responses cut off (barge-in or interrupt())."
        )
        self.reconnections = meter.create_counter(
            sc.METRIC_RECONNECTIONS, unit="{reconnection}", description="Sessions reconnected (drops and renewals)."
        )
        self.errors = meter.create_counter(sc.METRIC_ERRORS, unit="{error}", description="Errors reported by sessions.")
        self.session_duration = meter.create_histogram(
            sc.METRIC_SESSION_DURATION,
            unit="s",
            description="Realtime session duration, from connect to the final disconnect.",
            explicit_bucket_boundaries_advisory=_SESSION_BUCKETS,
        )

    def record_usage(self, event: RealtimeUsageEvent, base: Attributes) -> None:
        """Token usage of one usage event: totals by type, then by modality (what the provider split out,
        the rest as ``unknown``), and cached input tokens."""
        attrs = {**base, sc.OPERATION_NAME: sc.OPERATION_REALTIME_INFERENCE}
        for token_type, total, parts, counter in (
            (
                sc.TOKEN_TYPE_INPUT,
                event.input_tokens,
                (
                    ("text", event.input_text_tokens),
                    ("audio", event.input_audio_tokens),
                    ("image", event.input_image_tokens),
                ),
                self.input_tokens,
            ),
            (
                sc.TOKEN_TYPE_OUTPUT,
                event.output_tokens,
                (("text", event.output_text_tokens), ("audio", event.output_audio_tokens)),
                self.output_tokens,
            ),
        ):
            known = [(modality, n) for modality, n in parts if n]
            split = sum(n for _, n in known)
            if total is None and not known:
                continue
            self.token_usage.record(total if total is not None else split, {**attrs, sc.TOKEN_TYPE: token_type})
            for modality, n in known:
                counter.add(n, {**attrs, sc.TOKEN_MODALITY: modality})
            if total is not None and total > split:
                counter.add(total - split, {**attrs, sc.TOKEN_MODALITY: sc.MODALITY_UNKNOWN})
        if event.cached_input_tokens:
            # core reports cached input tokens without a modality split
            self.cache_read_tokens.add(event.cached_input_tokens, {**attrs, sc.TOKEN_MODALITY: sc.MODALITY_UNKNOWN})


def usage_attributes(event: RealtimeUsageEvent) -> dict[str, int]:
    """The span attributes of one usage event (``gen_ai.usage.*``), only for the counts the provider gave."""
    pairs = (
        (sc.USAGE_INPUT_TOKENS, event.input_tokens),
        (sc.USAGE_OUTPUT_TOKENS, event.output_tokens),
        (sc.USAGE_CACHE_READ_INPUT_TOKENS, event.cached_input_tokens),
        (sc.USAGE_BY_MODALITY["input", "text"], event.input_text_tokens),
        (sc.USAGE_BY_MODALITY["input", "audio"], event.input_audio_tokens),
        (sc.USAGE_BY_MODALITY["input", "image"], event.input_image_tokens),
        (sc.USAGE_BY_MODALITY["output", "text"], event.output_text_tokens),
        (sc.USAGE_BY_MODALITY["output", "audio"], event.output_audio_tokens),
    )
    return {key: value for key, value in pairs if value is not None}
