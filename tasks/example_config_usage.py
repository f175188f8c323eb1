"""
---
title: "Config Usage"
description: >
  Reads the main configuration, its own config/example_config_usage.yaml and config/secrets.yaml
  with the config helpers, and keeps a run counter with save_config in
  config/example_config_usage_state.yaml.
timeout: 60
---
"""

from datetime import datetime

from autohub_cli import every, repeat
from helpers import get_config_value, list_config_files, load_config, log_info, log_warning, save_config

CONFIG = "example_config_usage.yaml"
STATE = "example_config_usage_state.yaml"  # written by this task: keep it apart from the file you edit
MISSING = object()


@repeat(every(2).hours)
def start():
    # 1. The main config (config/config.yaml), by dot path with a default.
    level = get_config_value("logging.level", default="INFO")
    zone = get_config_value("scheduler.timezone") or "the system's zone"
    log_info(f"Main config: logging.level={level}, schedules in {zone}")

    # 2. This task's own file: {} when it is missing, so every value needs a default.
    settings = load_config(CONFIG)
    if not settings:
        log_warning(f"config/{CONFIG} is missing or empty: using the defaults")
    message = get_config_value("greeting.message", CONFIG, default="Hello (default greeting)")
    times = get_config_value("greeting.times", CONFIG, default=1)
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 10:
        log_warning(f"greeting.times should be a whole number from 1 to 10, found {times!r}; using 1")
        times = 1
    for _ in range(times):
        log_info(message)

    # 3. Secrets: config/secrets.yaml is git-ignored; say whether a key is set, never its value.
    for key in get_config_value("report.secret_keys", CONFIG, default=[]) or []:
        value = get_config_value(str(key), "secrets.yaml", default=MISSING)
        shown = "not set" if value is MISSING or value in (None, "") else f"set ({len(str(value))} characters)"
        log_info(f"secrets.yaml {key}: {shown}")

    if get_config_value("report.show_config_files", CONFIG, default=True):
        log_info(f"Config files: {', '.join(list_config_files())}")

    # 4. save_config writes atomically: a crash leaves the old file, never half a new one.
    state = load_config(STATE)
    runs = state.get("run_count", 0) if isinstance(state.get("run_count"), int) else 0
    state = {"run_count": runs + 1, "last_run": datetime.now().isoformat(timespec="seconds")}
    if not save_config(state, STATE):
        raise RuntimeError(f"could not save config/{STATE}")
    log_info(f"Run number {state['run_count']} recorded in config/{STATE}")
    return state
