"""Rules: pure decisions from the mirrored state, the rules' memory and the time."""
