"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from bench import emulator, margin

margin.main()
emulator.main()
