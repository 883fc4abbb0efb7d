"""Use cases shared by every entry point: recording, derivation, evidence, tokens, verification."""
