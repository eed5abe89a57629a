"""A local Binance USDT-M futures emulator: REST, websockets and a control API on one port.

It is an independent oracle for the assistant: it keeps its own account engine and never
imports `assistant.core.margin.book` or `assistant.core.rules`.
"""
