"""
---
title: "System Notification"
description: >
  Shows a desktop notification on weekday mornings and records it in
  logs/notifications_YYYYMMDD.jsonl. Under cron there is usually no display: then the
  notification becomes a log line and the run still succeeds.
timeout: 60
---
"""

from datetime import datetime

from autohub_cli import cron, repeat
from helpers import log_info, send_and_log_notification


@repeat(cron("0 9 * * 1-5"))  # 09:00, Monday to Friday
def start():
    result = send_and_log_notification(
        title="autohub",
        message=f"Good morning! It is {datetime.now():%A %H:%M}; your scheduled tasks are running.",
        timeout=10,
        urgency="low",
        app_name="autohub",
    )
    if result["success"]:
        log_info(f"Notification shown with {result['method']}")
    else:  # headless (cron, a server, ssh): not an error, the log line is the notification
        log_info(f"Notification logged instead of shown: {result['error']}")
    log_info(f"Recorded in {result['log_file']}")
    return result
