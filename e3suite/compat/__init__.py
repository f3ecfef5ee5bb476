"""Compatibility layers that run other engines' testsuites on e3suite.

Each subpackage mirrors another tool's public API and maps it onto
e3suite's engine; nothing under ``e3suite/`` outside this package may
import from here (the engine never depends on a compatibility layer).
"""
