"""A stand-in for the shop's queue worker: says which queue it takes, then waits."""

import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--queue", required=True)
args = parser.parse_args()
print(f"worker on queue {args.queue}", flush=True)
while True:
    time.sleep(3600)
