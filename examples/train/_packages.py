"""The spc packages the training examples use: their names, loading, and building the kernels.

Torch-free (the test suite imports it on a machine without torch). The packages come from
`npx tsx examples/train/prepare.ts DIR` (names <pattern>_h<H>_kv<KV>_d<D>, as prepare.ts writes
them); the kernels of each package are compiled on first use by torch's load_inline, which
build_all() runs in parallel processes first.
"""
import importlib
import os
import subprocess
import sys
import time

PATTERNS = ("paper", "released", "balanced")
GPT_SHAPE = (16, 16, 64)  # heads, kv_heads, head_dim of gpt.py's model (and of tasks' learning runs)
LLAMA_SHAPE = (16, 4, 64)  # of hf_llama.py's Llama (grouped-query attention: 4 query heads per KV head)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREPARE = "npx tsx examples/train/prepare.ts"


def package_name(pattern, heads, kv_heads, head_dim):
    return f"{pattern}_h{heads}_kv{kv_heads}_d{head_dim}"


def gpt_packages():
    return [package_name(p, *GPT_SHAPE) for p in PATTERNS]


def llama_packages():
    return [package_name(p, *LLAMA_SHAPE) for p in PATTERNS]


def required():
    """Every package the scripts import, in a fixed order."""
    return gpt_packages() + llama_packages()


def use_dir(packages_dir):
    """Put packages_dir first on sys.path (once) and default TORCH_EXTENSIONS_DIR to out/torch_extensions
    of the repository, a path the device machine keeps between calls (not under the carried packages
    folder, which is replaced on every call)."""
    d = os.path.abspath(packages_dir)
    if not os.path.isdir(d):
        raise SystemExit(f"error: packages folder {d} does not exist: run `{PREPARE} {packages_dir}` on a machine with Node first")
    if d not in sys.path:
        sys.path.insert(0, d)
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", os.path.join(REPO, "out", "torch_extensions"))
    return d


def load(packages_dir, name):
    """Import one package from packages_dir, with a message that says how to make it when it is missing."""
    d = use_dir(packages_dir)
    if not os.path.isfile(os.path.join(d, name, "__init__.py")):
        raise SystemExit(f"error: package {name} is not in {d}: run `{PREPARE} {packages_dir}` first (it writes {', '.join(required())})")
    mod = importlib.import_module(name)
    if os.path.dirname(os.path.dirname(os.path.abspath(mod.__file__))) != d:
        raise SystemExit(f"error: `import {name}` loaded {mod.__file__}, not the package in {d}")
    return mod


def partition_bounds(mod, n):
    """The layout's band boundaries S_0 = 0 <= ... <= S_H = N at length n (head h: [S_h, S_h+1))."""
    return list(mod._table.partition_bounds(n))


def build_all(packages_dir, names, log=None):
    """Compile the packages' kernels (load_inline for this GPU) in parallel processes, so the timed runs
    find them built. Returns {name: seconds}; raises SystemExit naming the packages whose build failed
    (with the end of their compiler output)."""
    d = use_dir(packages_dir)
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    for name in names:
        load(packages_dir, name)  # fail early, with the message, when a package is missing
    procs = []
    t0 = time.time()
    for name in names:
        code = (
            f"import sys, torch; sys.path.insert(0, {d!r}); import {name} as m; "
            f"m._extension(*torch.cuda.get_device_capability())"
        )
        procs.append((name, subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    log(f"building {len(names)} spc packages in parallel (TORCH_EXTENSIONS_DIR={os.environ['TORCH_EXTENSIONS_DIR']})")
    seconds, failed = {}, []
    for name, p in procs:
        out = p.communicate()[0].decode(errors="replace")
        seconds[name] = time.time() - t0
        if p.returncode != 0:
            failed.append(name)
            log(f"BUILD FAILED {name} (exit {p.returncode}):\n{out[-4000:]}")
        else:
            log(f"  built {name} ({seconds[name]:.0f} s since the start)")
    if failed:
        raise SystemExit(f"error: building {', '.join(failed)} failed (output above)")
    return seconds


def bench_cuda():
    """bench/cuda/bench_cuda.py as a module (its flex_mask and band_intervals); it imports torch and triton."""
    path = os.path.join(REPO, "bench", "cuda")
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("bench_cuda")


if __name__ == "__main__":
    # `python3 examples/train/_packages.py`: the package names, one a line (the test suite reads them).
    # `python3 examples/train/_packages.py --build DIR`: build all of them for this GPU (in parallel).
    if sys.argv[1:2] == ["--build"] and len(sys.argv) == 3:
        build_all(sys.argv[2], required())
    elif len(sys.argv) == 1:
        print("\n".join(required()))
    else:
        sys.exit("usage: python3 examples/train/_packages.py [--build PACKAGES_DIR]")
