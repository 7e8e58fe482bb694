#!/usr/bin/env python3
"""Sends N requests with distinct made-up API keys to a running askpanel
server and prints the server's RSS before and after (the bound of README's
"Durability and hostile input"). Usage:
    loadtest/bad-keys.py URL SERVER_PID [N] [THREADS]
Standard library only."""
import http.client
import sys
import threading
import time
import urllib.parse
from collections import Counter


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def worker(host, port, start, count, statuses, lock):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    seen = Counter()
    for i in range(start, start + count):
        conn.request("GET", "/v1/panels", headers={"Authorization": f"Bearer ap_made_up_{i:012d}"})
        response = conn.getresponse()
        response.read()
        seen[response.status] += 1
    conn.close()
    with lock:
        statuses.update(seen)


def main():
    url, pid = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    parsed = urllib.parse.urlparse(url)
    before = rss_kib(pid)
    statuses, lock = Counter(), threading.Lock()
    started = time.time()
    per = n // threads
    pool = [threading.Thread(target=worker, args=(parsed.hostname, parsed.port, t * per, per, statuses, lock)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.time() - started
    after = rss_kib(pid)
    print(f"{per * threads} requests with distinct made-up keys in {elapsed:.1f} s; statuses {dict(statuses)}")
    print(f"server RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB, growth {(after - before) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
