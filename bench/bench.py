#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmark: `passthructl list --json` through the bus against what people run today, on
the same simulated machine (pcisim) so every contender reads the same sysfs:

  - the listing script from the forums (find /sys/kernel/iommu_groups … lspci -nns per device)
  - `lspci -nn`

Machines: the Ryzen + GTX 1650 desktop of tests/fixtures (38 functions) and a generated
machine of 4,096 functions with SR-IOV virtual functions (bench/gen-machine.py).

Each contender runs inside the simulated machine's namespace (nsenter), timed from Python,
REPEAT times; medians are reported with ratios. On the large machine the listing script, which
runs lspci once per device, would take minutes: it is timed on the first SAMPLE and 2*SAMPLE
devices, and the difference (the cost of one more device) scales it to all of them (it says so). passthrud's resident memory after start is reported too.

Usage: bench/bench.py [--build DIR] [--repeat N] [--sample N]   (root; after tests/build.sh)"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "bus"))

LISTING_SCRIPT = r'''
for g in $(find /sys/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V | head -n "$1"); do
    for d in $g/devices/*; do
        echo "IOMMU Group ${g##*/} $(lspci -nns ${d##*/})"
    done
done
'''

# Runs inside the namespace: times each command REPEAT times, prints JSON.
MEASURE = r'''
import json, subprocess, sys, time
repeat = int(sys.argv[1]); cmds = json.loads(sys.argv[2]); out = {}
for name, (argv, n) in cmds.items():
    times, lines = [], 0
    for _ in range(n or repeat):
        t = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
        lines = p.stdout.count(b"\n")
    out[name] = {"times": times, "lines": lines}
print(json.dumps(out))
'''


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def daemon_pid(bed):
    out = subprocess.run(["busctl", "--system", "status", "org.passthru1"], env=bed.env,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("PID="):
            return int(line[4:])
    return None


def bench_machine(label, listing, repeat, sample, script_repeat):
    from harness import Bed

    with Bed(listing, start_timeout=300) as bed:
        t = time.perf_counter()
        r = bed.ctl("list", "--json")
        first = time.perf_counter() - t
        n_devices = sum(len(g["devices"]) for g in r.json()["groups"]) + len(r.json()["ungrouped"])
        n_groups = len(r.json()["groups"])
        pid = daemon_pid(bed)
        rss = rss_kib(pid) if pid else 0

        script = os.path.join(bed.dir, "listing.sh")
        with open(script, "w") as f:
            f.write(LISTING_SCRIPT)
        ctl = os.environ["PASSTHRUCTL"]
        cmds = {
            # DBUS_SYSTEM_BUS_ADDRESS reaches it through nsenter's environment.
            "passthructl list --json": ([ctl, "list", "--json"], 0),
            "lspci -nn": (["lspci", "-nn"], 0),
        }
        # The listing script on the first groups holding at least k devices.
        def groups_holding(k):
            count, n = 0, 0
            for g in sorted(r.json()["groups"], key=lambda g: g["number"]):
                if count >= k:
                    break
                count += len(g["devices"])
                n += 1
            return n, count

        if sample <= 0 or n_devices <= 2 * sample:
            samples = {"listing script": groups_holding(n_devices)}
        else:
            # Two sample sizes: the difference gives the cost of one more device, the rest
            # (find + sort over every group) is paid once. Scaled linearly to all devices.
            samples = {"listing script": groups_holding(sample), "listing script (2x)": groups_holding(2 * sample)}
        for name, (n_groups_run, _) in samples.items():
            cmds[name] = (["bash", script, str(n_groups_run)], script_repeat)

        res = bed.run(["nsenter", "-t", str(bed.sim_pid()), "-m", "-n", "--", "python3", "-c", MEASURE,
                       str(repeat), json.dumps(cmds)], timeout=7200)
        if res.code != 0:
            raise SystemExit(f"measurement failed: {res}")
        data = json.loads(res.out)

    med = {k: statistics.median(v["times"]) for k, v in data.items()}
    if "listing script (2x)" in med:
        (_, n1), (_, n2) = samples["listing script"], samples["listing script (2x)"]
        per_device = (med["listing script (2x)"] - med["listing script"]) / (n2 - n1)
        scaled_script = med["listing script"] + per_device * (n_devices - n1)
        note = (f"  (measured on {n1} and {n2} devices: {per_device * 1000:.1f} ms per device; "
                f"scaled to {n_devices}: {scaled_script:.1f} s)")
    else:
        scaled_script, note = med["listing script"], ""
    print(f"\n== {label}: {n_devices} functions in {n_groups} groups (passthrud RSS {rss / 1024:.1f} MiB, "
          f"first list {first * 1000:.1f} ms)")
    print(f"   {'contender':28} {'median':>12} {'lines':>7}")
    for k in med:
        print(f"   {k:28} {med[k] * 1000:10.1f} ms {data[k]['lines']:7}{note if k == 'listing script' else ''}")
    ctl_t = med["passthructl list --json"]
    print(f"   ratio listing script / passthructl: {scaled_script / ctl_t:,.0f}x (goal >= 100x)")
    print(f"   ratio lspci -nn / passthructl:      {med['lspci -nn'] / ctl_t:,.2f}x (goal >= 1x)")
    return {"label": label, "devices": n_devices, "groups": n_groups, "rss_kib": rss, "medians_s": med,
            "listing_script_scaled_s": scaled_script}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--sample", type=int, default=8, help="devices the listing script runs on, large machine")
    ap.add_argument("--script-repeat", type=int, default=3, help="runs of the (slow) listing script")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()

    os.environ.setdefault("PASSTHRUD", os.path.join(a.build, "service", "passthrud"))
    os.environ.setdefault("PASSTHRUCTL", os.path.join(a.build, "clients", "passthructl"))
    os.environ.setdefault("PCISIM", os.path.join(a.build, "tests", "sim", "pcisim"))
    os.environ.setdefault("PASSTHRU_SOURCE_DIR", SRC)

    results = []
    results.append(bench_machine("Ryzen + GTX 1650", os.path.join(SRC, "tests", "fixtures", "amd-matisse-gtx1650.txt"),
                                 a.repeat, 0, a.script_repeat))
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "gen-4096.txt")
        subprocess.run([sys.executable, os.path.join(SRC, "bench", "gen-machine.py"), "4096", big], check=True)
        results.append(bench_machine("generated, SR-IOV", big, a.repeat, a.sample, a.script_repeat))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
