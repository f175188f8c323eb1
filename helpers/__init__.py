"""The task author's toolbox: `from helpers import log_info, load_config, …`.

Same names, arguments and result keys as the original helpers, so existing task files keep
working. Importing this is cheap (yaml, plyer and subprocess load only when first needed),
because every run imports it.
"""

from .config_loader import (
    get_config_value,
    get_project_root,
    list_config_files,
    load_config,
    save_config,
)
from .external_execution import (
    execute_cli_command,
    execute_python_script,
    execute_script_with_retry,
    process_execution_results,
)
from .system_notifications import (
    log_notification,
    send_and_log_notification,
    send_notification,
)
from .task_logging import (
    create_task_logger,
    get_calling_task_name,
    log,
    log_critical,
    log_debug,
    log_error,
    log_execution_result,
    log_info,
    log_structured_data,
    log_task_complete,
    log_task_error,
    log_task_start,
    log_warning,
    task_error,
    task_info,
    task_log,
)

__all__ = [
    "create_task_logger",
    "execute_cli_command",
    "execute_python_script",
    "execute_script_with_retry",
    "get_calling_task_name",
    "get_config_value",
    "get_project_root",
    "list_config_files",
    "load_config",
    "log",
    "log_critical",
    "log_debug",
    "log_error",
    "log_execution_result",
    "log_info",
    "log_notification",
    "log_structured_data",
    "log_task_complete",
    "log_task_error",
    "log_task_start",
    "log_warning",
    "process_execution_results",
    "save_config",
    "send_and_log_notification",
    "send_notification",
    "task_error",
    "task_info",
    "task_log",
]
