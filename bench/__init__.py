"""Journeymap's benchmark: live fan-out, capacity, board pages and catch-up, against a bare relay.

`make bench` (`python -m bench`) starts its own servers on 127.0.0.1, loads its own data, measures,
stops everything and prints a markdown table. See docs/performance.md for what each figure means.
"""
