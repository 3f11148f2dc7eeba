"""Reliability runs, ``make stress`` (``python -m stress [NAME...]``): crashes, a flaky network
and two servers with two schedulers, each bounded in requests and time, on 127.0.0.1 only.

Every scenario ends with the same check: the set of responses the clients saw acknowledged
equals the set the database holds, each stored once. The suite runs lighter versions
(``tests/test_stress_light.py``).
"""
