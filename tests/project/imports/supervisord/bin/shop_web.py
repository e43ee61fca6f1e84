"""A stand-in for the shop's web server: says where it would listen, then waits."""

import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--workers", type=int, default=1)
args = parser.parse_args()
print(f"web on port {args.port} ({args.workers} workers, {os.environ['SHOP_ENV']})", flush=True)
while True:
    time.sleep(3600)
