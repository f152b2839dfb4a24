#!/usr/bin/env python3
"""Scrapes a Prometheus endpoint and prints what the official Python client's text parser
(prometheus_client.parser.text_string_to_metric_families) reads from it, as JSON:

  {"content_type": "...", "families": {NAME: TYPE}, "samples": [{"name", "labels", "value"}]}

Used by tests/tests/metrics.rs against a real kgentd. Fails (exit 1) when the exposition does
not parse.

  scrape_metrics.py URL
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    with urllib.request.urlopen(argv[1], timeout=10) as reply:
        content_type = reply.headers.get("Content-Type", "")
        text = reply.read().decode("utf-8")
    families = {}
    samples = []
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        for s in family.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": s.value})
    print(json.dumps({"content_type": content_type, "families": families, "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
