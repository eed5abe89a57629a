"""Run every benchmark: `python -m bench` (what `make bench` does)."""

from bench import actions, early, emulator, journal, margin, mirror, peer, replay, soak, telegram

margin.main()
mirror.main()
journal.main()
emulator.main()
actions.main()
telegram.main()
replay.main()
peer.main()
early.main()
soak.main()
