"""`[bot] log_format = "json"`: one JSON object per log line, for log collectors.

Keys: `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`, and `exception` (the
traceback text) when there is one. The handler's RedactingFilter (bot.redact) runs before any
formatter, so the message and the exception text are already masked when they are put in here.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)
