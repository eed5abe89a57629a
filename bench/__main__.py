"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from bench import emulator, margin, mirror

margin.main()
mirror.main()
emulator.main()
