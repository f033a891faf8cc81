"""realtime-conformance (work in progress)."""
