"""A stand-in for the shop's mail worker: says which queue it takes, then waits."""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--queue", required=True)
parser.add_argument("--concurrency", type=int, default=1)
args = parser.parse_args()
print(f"mailer on {args.queue} x{args.concurrency} via {os.environ['QUEUE_URL']}", flush=True)
while True:
    time.sleep(3600)
