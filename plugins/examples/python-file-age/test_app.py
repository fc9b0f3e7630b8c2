"""Unit tests of app.py's logic, run natively with the bindings
componentize-py generates:

    componentize-py -d wit -w check bindings /tmp/file-age-bindings
    PYTHONPATH=/tmp/file-age-bindings python3 -m unittest discover -s plugins/examples/python-file-age

The host's imports (`clock`, `log`) exist only inside the agent, so the
tests cover `parse_config`, `evaluate` and `describe`, which call none.
"""

import json
import os
import unittest

import app
from wit_world.imports import types


class Stat:
    def __init__(self, mtime: float, size: int):
        self.st_mtime = mtime
        self.st_size = size


class ParseConfig(unittest.TestCase):
    def test_defaults_are_filled_in(self):
        self.assertEqual(
            app.parse_config('{"path": "/srv/x"}'),
            {"path": "/srv/x", "warning_age_secs": 3600, "critical_age_secs": 86400},
        )

    def test_errors_name_the_field(self):
        for text, message in [
            ('{"path": "/x", "critical_age_sec": 1}', "critical_age_sec: unknown field"),
            ('{"path": "x"}', "path: expected an absolute path"),
            ("{}", "path: expected an absolute path"),
            (
                '{"path": "/x", "warning_age_secs": "1h"}',
                "warning_age_secs: expected a whole number of seconds, at least 0",
            ),
            (
                '{"path": "/x", "warning_age_secs": true}',
                "warning_age_secs: expected a whole number of seconds, at least 0",
            ),
            (
                '{"path": "/x", "warning_age_secs": 10, "critical_age_secs": 5}',
                "warning_age_secs: must not be above critical_age_secs",
            ),
            ("[]", "expected a map of settings"),
        ]:
            with self.subTest(text=text):
                with self.assertRaises(app.InvalidConfig) as raised:
                    app.parse_config(text)
                self.assertEqual(str(raised.exception), message)


class Evaluate(unittest.TestCase):
    config = {"path": "/srv/x", "warning_age_secs": 60, "critical_age_secs": 120}

    def test_statuses_follow_the_ages(self):
        for age, status in [
            (0, types.Status.OK),
            (59, types.Status.OK),
            (60, types.Status.WARNING),
            (120, types.Status.CRITICAL),
        ]:
            with self.subTest(age=age):
                result = app.evaluate(self.config, 1_000_000.0, Stat(1_000_000.0 - age, 5))
                self.assertEqual(result.status, status)
                age_metric, size_metric = result.metrics
                self.assertEqual((age_metric.name, age_metric.unit), ("file_age_seconds", "s"))
                self.assertEqual(age_metric.value, age)
                self.assertEqual(size_metric.value, 5.0)
                self.assertEqual(age_metric.labels, [types.Label("path", "/srv/x")])

    def test_a_missing_file_is_critical_without_metrics(self):
        result = app.evaluate(self.config, 0.0, None)
        self.assertEqual(result.status, types.Status.CRITICAL)
        self.assertEqual(result.summary, "/srv/x is missing or unreadable")
        self.assertEqual(result.metrics, [])

    def test_a_file_from_the_future_is_fresh(self):
        result = app.evaluate(self.config, 100.0, Stat(200.0, 1))
        self.assertEqual(result.metrics[0].value, 0.0)
        self.assertEqual(result.status, types.Status.OK)


class Describe(unittest.TestCase):
    def test_the_schema_is_json_and_closed(self):
        info = app.WitWorld().describe()
        self.assertEqual((info.name, info.version), ("file-age", "0.1.0"))
        schema = json.loads(info.config_schema)
        self.assertEqual(schema["required"], ["path"])
        self.assertIs(schema["additionalProperties"], False)
        for field in schema["properties"].values():
            self.assertTrue(field["description"])


if __name__ == "__main__":
    unittest.main()
