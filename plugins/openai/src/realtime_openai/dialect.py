"""The dialect this plugin speaks: realtime-openai-protocol's :data:`GA` (re-exported here for
``from realtime_openai import GA, Dialect``)."""

from realtime_openai_protocol import GA, Dialect

__all__ = ["GA", "Dialect"]
