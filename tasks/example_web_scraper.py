"""
---
title: "Web Scraper"
description: >
  Fetches a web page with requests (a dependency this file declares, installed before the first
  run), extracts its title and links, and saves a JSON snapshot to data/example_web_scraper/.
dependencies:
  - "requests>=2.25"
timeout: 120
retry_count: 2        # a network hiccup fails the run; it is retried twice,
retry_delay: 300      # each retry at least 5 minutes after the failure
---
"""

import json
import os
import time
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import requests

from autohub_cli import every, repeat
from helpers import get_project_root, log_execution_result, log_info, log_task_complete, log_task_start

URL = "https://example.com/"


class PageParser(HTMLParser):
    """Collects the <title> text and the href of every link, with the standard library only."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.links: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


@repeat(every().hour.at(":15"))  # 00:15, 01:15, 02:15 …
def start():
    started = time.monotonic()
    log_task_start()
    response = requests.get(URL, timeout=30, headers={"User-Agent": "autohub-example/1.0"})
    response.raise_for_status()  # an HTTP error fails the run, and retry_count retries it

    parser = PageParser()
    parser.feed(response.text)
    snapshot = {
        "url": URL,
        "fetched_at": datetime.now().isoformat(timespec="seconds"),
        "status": response.status_code,
        "title": " ".join(parser.title.split()),
        "links": parser.links,
    }
    path = save_snapshot(snapshot)
    log_execution_result(
        f"fetch {URL}",
        True,
        {"status": response.status_code, "bytes": len(response.content), "links": len(parser.links)},
    )
    log_info(f"Page title: {snapshot['title']!r}; snapshot saved to {path}")
    log_task_complete(duration=time.monotonic() - started)


def save_snapshot(snapshot: dict) -> Path:
    """Write data/example_web_scraper/latest.json atomically: a reader never sees half a file."""
    folder = get_project_root() / "data" / "example_web_scraper"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "latest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(snapshot, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
