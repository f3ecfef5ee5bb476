"""Drivers of e3suite's own end-to-end testsuite (see testsuite.py)."""
