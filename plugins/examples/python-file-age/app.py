"""`file-age`: a NeuralLog check plugin written in Python.

It reports how long ago a file was last modified (the metric
`file_age_seconds`) and its size (`file_size_bytes`), and turns `warning`
or `critical` when the file is older than the configured ages: the shape of
"has the nightly export run?" or "is the heartbeat file still touched?".

Built with componentize-py against the agent's WIT contract (world `check`
of `neurallog:plugin@0.1.1`); see README.md. The file must be inside a
directory granted to the check (`grants.directories`): the agent shows it
to the plugin at its real path, read-only, and nothing else.
"""

import json
import os
from datetime import datetime, timezone

import wit_world
from componentize_py_types import Err
from wit_world.imports import clock, log, types

NAME = "file-age"
VERSION = "0.1.0"

DEFAULT_WARNING_AGE_SECS = 3600
DEFAULT_CRITICAL_AGE_SECS = 86400

# The JSON Schema `describe` publishes: the agent's `validate` checks a
# check's `config:` against it before anything runs.
CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Config",
    "description": "Configuration of the file-age check.",
    "type": "object",
    "properties": {
        "path": {
            "description": "Absolute path of the file to check, inside a granted directory.",
            "type": "string",
            "minLength": 1,
        },
        "warning_age_secs": {
            "description": "Age in seconds from which the check reports `warning`.",
            "type": "integer",
            "minimum": 0,
            "default": DEFAULT_WARNING_AGE_SECS,
        },
        "critical_age_secs": {
            "description": "Age in seconds from which the check reports `critical`; "
            "at least `warning_age_secs`.",
            "type": "integer",
            "minimum": 0,
            "default": DEFAULT_CRITICAL_AGE_SECS,
        },
    },
    "required": ["path"],
    "additionalProperties": False,
}


class InvalidConfig(Exception):
    """A configuration the check cannot use; the message names the field."""


def parse_config(text: str) -> dict:
    """The check's configuration from the agent's JSON, defaults filled in.

    The agent has validated it against CONFIG_SCHEMA already when it came
    from its configuration file; `plugin run --config` passes it as is, so
    the same rules are enforced here.
    """
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidConfig(f"not JSON: {error}") from None
    if not isinstance(config, dict):
        raise InvalidConfig("expected a map of settings")
    for key in config:
        if key not in CONFIG_SCHEMA["properties"]:
            raise InvalidConfig(f"{key}: unknown field")
    path = config.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidConfig("path: expected an absolute path")
    ages = {}
    for field, default in (
        ("warning_age_secs", DEFAULT_WARNING_AGE_SECS),
        ("critical_age_secs", DEFAULT_CRITICAL_AGE_SECS),
    ):
        value = config.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidConfig(f"{field}: expected a whole number of seconds, at least 0")
        ages[field] = value
    if ages["warning_age_secs"] > ages["critical_age_secs"]:
        raise InvalidConfig("warning_age_secs: must not be above critical_age_secs")
    return {"path": path, **ages}


def evaluate(config: dict, now: float, stat) -> types.CheckResult:
    """The outcome for the file `stat` describes (None when it is missing or
    unreadable) at the time `now` (seconds since the epoch)."""
    path = config["path"]
    if stat is None:
        return types.CheckResult(
            types.Status.CRITICAL, f"{path} is missing or unreadable", [], []
        )
    labels = [types.Label("path", path)]
    # A file modified after `now` (clock skew) is as fresh as can be.
    age = max(0.0, now - stat.st_mtime)
    if age >= config["critical_age_secs"]:
        status = types.Status.CRITICAL
    elif age >= config["warning_age_secs"]:
        status = types.Status.WARNING
    else:
        status = types.Status.OK
    modified = datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc)
    return types.CheckResult(
        status,
        f"{path} was modified {age:.0f} s ago",
        [
            types.Metric(
                "file_age_seconds",
                "Time since the checked file was last modified.",
                "s",
                types.MetricKind.GAUGE,
                age,
                labels,
            ),
            types.Metric(
                "file_size_bytes",
                "Size of the checked file.",
                "By",
                types.MetricKind.GAUGE,
                float(stat.st_size),
                labels,
            ),
        ],
        [types.Detail("modified", modified.isoformat())],
    )


class WitWorld(wit_world.WitWorld):
    """The component's exports: the world `check`."""

    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            NAME,
            VERSION,
            "Reports how long ago a file was modified, and its size; "
            "warning or critical past the configured ages.",
            json.dumps(CONFIG_SCHEMA),
        )

    def run(self, config: str) -> types.CheckResult:
        try:
            parsed = parse_config(config)
        except InvalidConfig as error:
            raise Err(types.RunError_InvalidConfig(str(error)))
        # The host's clock, so that every check of the agent agrees on it.
        instant = clock.now()
        now = instant.seconds + instant.nanoseconds / 1e9
        try:
            stat = os.stat(parsed["path"])
        except OSError as error:
            log.log(log.Level.DEBUG, f"cannot stat {parsed['path']}: {error}")
            stat = None
        return evaluate(parsed, now, stat)
