from tests.emulator.conftest import emulator

__all__ = ["emulator"]
