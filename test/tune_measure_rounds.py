"""Drives bench/cuda/tune_measure.py's control flow without a GPU: the build and timing child
processes are replaced by fakes (no torch), so what is tested is the rounds, failures, medians and
the measurements file, not any kernel. Run by test/tune-measure-py.test.ts:
    python3 test/tune_measure_rounds.py DIR OUT"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench", "cuda"))
import tune_measure as tm  # noqa: E402

d, out = sys.argv[1], sys.argv[2]
cands = [{"package": f"p{i}", "entry": 0, "candidate": i, "layout": "l", "n": 4096, "id": f"c{i}", "heads": 2, "kv_heads": 2, "head_dim": 64}
         for i in range(4)]
with open(os.path.join(d, "tune_candidates.json"), "w") as f:
    json.dump(cands, f)


class FakeBuild:
    """A build process that succeeded, except p3's."""

    def __init__(self, argv, **kw):
        self.c = json.loads(argv[4])
        self.returncode = 1 if self.c["package"] == "p3" else 0
        self.stderr = type("E", (), {"read": staticmethod(lambda: "nvcc: error: boom")})()

    def poll(self):
        return self.returncode

    def kill(self):
        pass


calls = []


def fake_child(d, c, reps, mode, timeout, per_head=False):
    # Round r of candidate i takes (i + 1) * [1.0, 3.0, 2.0][r] ms; p2 crashes in round 2.
    k = sum(1 for x in calls if x[0] == c["package"])
    calls.append((c["package"], per_head))
    if c["package"] == "p2" and k == 1:
        return None, "time: exit -11: Segmentation fault"
    r = {"ms": (c["candidate"] + 1) * [1.0, 3.0, 2.0][k], "batch": 1}
    if per_head:
        r["per_head_ms"], r["per_head_batch"] = [0.5, 0.7], 2
    return r, None


tm.subprocess.Popen = FakeBuild
tm.child = fake_child
tm.device_info = lambda: {"name": "fake", "sm_count": 132, "driver": None, "cuda": None, "pytorch": None}
sys.argv = ["tune_measure.py", d, "--out", out, "--rounds", "3", "--per-head"]
try:
    tm.main()
except SystemExit as e:
    print(json.dumps({"exit": e.code, "calls": calls}))
