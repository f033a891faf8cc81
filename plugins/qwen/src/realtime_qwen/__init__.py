"""realtime-core provider plugin for qwen (work in progress)."""
