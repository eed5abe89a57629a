"""The margin assistant for Binance USDT-M futures."""

DISTRIBUTION = "binance-margin-assistant"


def version() -> str:
    """The installed package's version (pyproject.toml's), as `assistant --version` says it."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree run without being installed
        return "0+unknown"
