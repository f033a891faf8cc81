"""realtime-core provider plugin for nova (work in progress)."""
