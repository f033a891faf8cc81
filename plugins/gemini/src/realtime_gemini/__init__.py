"""realtime-core provider plugin for gemini (work in progress)."""
