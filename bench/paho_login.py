"""Runs one test of an Eclipse Paho interoperability suite, unmodified, with a login.

Usage: PAHO_USERNAME=.. PAHO_PASSWORD=.. python3 paho_login.py SUITE.py TEST [suite options]

The suites (client_test.py, client_test5.py) have no login option, so this wrapper gives
the suite client's `Client.connect` a default username and password (a plantd integration
token: id and secret) and hands unittest only the test name (client_test.py leaves its own
`-p PORT` in argv, which unittest would reject). Nothing else of the suite is touched.
"""
import functools
import importlib
import os
import runpy
import sys
import unittest

suite = os.path.abspath(sys.argv[1])
test = sys.argv[2]
sys.path.insert(0, os.path.dirname(suite))
user = os.environ.get("PAHO_USERNAME")
password = os.environ.get("PAHO_PASSWORD", "")
if user:
    for name in ("mqtt.clients.V5.main", "mqtt.clients.V311.main"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        original = module.Client.connect

        def connect(self, *args, _original=original, **kwargs):
            kwargs.setdefault("username", user)
            kwargs.setdefault("password", password.encode("utf-8"))
            return _original(self, *args, **kwargs)

        module.Client.connect = connect
sys.argv = [suite] + sys.argv[3:]
unittest.main = functools.partial(unittest.main, argv=[suite, test], verbosity=2)
runpy.run_path(suite, run_name="__main__")
