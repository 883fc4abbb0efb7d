"""The pure domain: no I/O, no clock, no randomness. Everything here is replayable."""
