"""realtime-core provider plugin for openai (work in progress)."""
