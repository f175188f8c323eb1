"""
---
title: "Hello World Task"
description: "The smallest useful task: logs a greeting every 10 minutes."
dependencies: []
enabled: true
timeout: 60
---
"""

import time
from datetime import datetime

from autohub_cli import every, repeat
from helpers import log_info, log_task_complete, log_task_start


@repeat(every(10).minutes)  # :00, :10, :20 … of every hour
def start():
    """Called by `autohub tick` at each slot, or right now by `autohub run example_hello_world`."""
    started = time.monotonic()
    log_task_start()
    # logs/tasks.log: 2026-11-27 10:10:00,012 INFO [Hello World Task] Hello from a scheduled task! …
    log_info(f"Hello from a scheduled task! It is {datetime.now():%H:%M}.")
    print("Plain print() output lands in logs/tasks.log under the title as well.")
    log_task_complete(duration=time.monotonic() - started)
