"""
---
title: "System Monitor"
description: >
  Samples CPU, memory and disk use with psutil every 5 minutes and logs a warning for each value
  above its threshold in config/example_system_monitor.yaml.
dependencies:
  - "psutil>=5.9"
timeout: 60
---
"""

import os

import psutil

from autohub_cli import every, repeat
from helpers import get_project_root, load_config, log_info, log_structured_data, log_warning

CONFIG = "example_system_monitor.yaml"
DEFAULT_THRESHOLDS = {"cpu_percent": 90.0, "memory_percent": 90.0, "disk_percent": 90.0}


@repeat(every(5).minutes)
def start():
    settings = load_config(CONFIG)  # {} when the file is missing: the defaults apply
    thresholds = read_thresholds(settings.get("thresholds"))
    disk_path = settings.get("disk_path") or str(get_project_root())
    seconds = settings.get("cpu_sample_seconds", 1)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= 10:
        seconds = 1

    sample = {
        "cpu_percent": psutil.cpu_percent(interval=seconds),
        "memory_percent": psutil.virtual_memory().percent,
        "disk_percent": psutil.disk_usage(disk_path).percent,
    }
    if hasattr(os, "getloadavg"):
        sample["load_average"] = [round(x, 2) for x in os.getloadavg()]

    log_info(
        f"CPU {sample['cpu_percent']:.1f}% · memory {sample['memory_percent']:.1f}% · "
        f"disk {sample['disk_percent']:.1f}% ({disk_path})"
    )
    above = []
    for key, limit in thresholds.items():
        if sample[key] > limit:
            above.append(key)
            log_warning(f"{key.replace('_', ' ')} is {sample[key]:.1f}, above the threshold of {limit:g}")
    log_structured_data("system_metrics", {**sample, "thresholds": thresholds, "above": above})
    return sample


def read_thresholds(given) -> dict:
    """The configured thresholds over the defaults; anything unusable is warned about and ignored."""
    thresholds = dict(DEFAULT_THRESHOLDS)
    if given is None:
        return thresholds
    if not isinstance(given, dict):
        log_warning(f"{CONFIG}: thresholds should be a mapping such as cpu_percent: 90, found {given!r}")
        return thresholds
    for key, value in given.items():
        if key not in thresholds:
            log_warning(f"{CONFIG}: unknown threshold {key!r}; known: {', '.join(thresholds)}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            thresholds[key] = float(value)
        else:
            log_warning(f"{CONFIG}: thresholds.{key} should be a number, found {value!r}; using {thresholds[key]:g}")
    return thresholds
