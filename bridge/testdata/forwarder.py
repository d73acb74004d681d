"""The ECS logging guide's minimal Python forwarder, written from its description, for the
side-by-side benchmark and the gated tests of the Go bridge (bridge/bench_test.go,
bridge/gated_test.go).

What it does, as the guide says: base64-decode event["awslogs"]["data"], gunzip, json.loads;
for each logEvent one line {"_msg": message, "timestamp": ..., "log_group": ..., "log_stream":
...}; one POST of all the lines with urlopen(timeout=5), no retry; VICTORIALOGS_URL ends in
/insert/jsonline?_stream_fields=log_group,log_stream.

The guide's urlopen sends no Content-Type, so urllib sends
application/x-www-form-urlencoded, and VictoriaLogs v1.26 then reads the body as form values
and stores nothing (it answers 200): --guide-exact keeps that behaviour; by default the
forwarder sets Content-Type: application/stream+json, so that it can be compared doing its
work.

    python3 forwarder.py EVENT_FILE ITERATIONS [--guide-exact] [--no-post]

runs the handler ITERATIONS times on the event in EVENT_FILE (a Lambda payload) and prints
{"records": ..., "iterations": ..., "wall_s": ..., "cpu_s": ...} (CPU: time.process_time, this
process's user and system time; start-up excluded). --no-post stops before the POST: the
forwarder's own work alone, for instruction counts.
"""

import base64
import gzip
import json
import os
import sys
import time
import urllib.request

VICTORIALOGS_URL = os.environ.get("VICTORIALOGS_URL", "")


def handler(event, context=None, content_type=True, post=True):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    lines = []
    for e in data["logEvents"]:
        lines.append(json.dumps({
            "_msg": e["message"],
            "timestamp": e["timestamp"],
            "log_group": data["logGroup"],
            "log_stream": data["logStream"],
        }))
    body = ("\n".join(lines) + "\n").encode()
    if not post:
        return len(lines)
    headers = {"Content-Type": "application/stream+json"} if content_type else {}
    req = urllib.request.Request(VICTORIALOGS_URL, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        resp.read()
    return len(lines)


def main():
    path, iterations = sys.argv[1], int(sys.argv[2])
    content_type = "--guide-exact" not in sys.argv[3:]
    post = "--no-post" not in sys.argv[3:]
    with open(path) as f:
        event = json.load(f)
    records = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        records += handler(event, content_type=content_type, post=post)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"records": records, "iterations": iterations, "wall_s": wall, "cpu_s": cpu}))


if __name__ == "__main__":
    main()
