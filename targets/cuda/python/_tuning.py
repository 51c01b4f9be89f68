"""Which of the package's sm90 forward configs a call uses, by GPU name and length N. No torch.

kernel.cu holds one or more sm90 (wgmma) forward configs (_layout.SM90_VARIANTS): variant 0 is
the package's config (CONFIG["sm90"]: the heuristic, with spc compile --config over it), the
others are configs a tuning record chose by measured time. A tile config changes no result
beyond rounding; bands are fixed when the package is compiled and are never chosen here.

The choices come from two places, pooled:
- "record": the tuning record compiled in (spc compile --tuning RECORD; _layout.TUNED);
- "cache": tuning records (the JSON files spc tune --record writes) in the run-time cache
  directory, SPC_TUNING_CACHE or by default ~/.cache/spc/tuning (SPC_TUNING_CACHE= turns it
  off). Every *.json file directly in it is read once per process; an entry counts when its
  spec_hash is this layout's (SPEC_HASH), its target is cuda, it was measured, and its chosen
  config (over CONFIG) is one of SM90_VARIANTS. A chosen config this package does not hold is
  ignored with a one-line warning (compile with that record to hold it); a file that is not a
  record is ignored with a one-line warning too.

A call of length n on a GPU named G (torch.cuda.get_device_name) takes, among the entries for G
(exactly that name), the one with the smallest N >= n: entry k's bucket is (N of the entry
below it, N_k], the first one's (0, N_0]. At the same N a cache entry wins over the record's,
and among cache entries the record created last (then the file name last in order). No entry
for G at or above n: "heuristic", variant 0. SPC_CUDA_CONFIG=heuristic forces variant 0 (for
comparisons).
"""
import json
import os
import warnings

from ._layout import CONFIG, CONFIG_OVERRIDES, LAYOUT, SM90_IDS, SM90_VARIANTS, SPEC_HASH, TUNED

# The largest record file read (as spc reads records: src/driver/tuning.ts MAX_RECORD_BYTES).
MAX_RECORD_BYTES = 64 << 20


def cache_dir():
    """The run-time cache directory: SPC_TUNING_CACHE, or ~/.cache/spc/tuning; None when turned off."""
    d = os.environ.get("SPC_TUNING_CACHE")
    if d is None:
        return os.path.join(os.path.expanduser("~"), ".cache", "spc", "tuning")
    return d or None


def variant_of(config):
    """The variant index of a record candidate's config (a part of a kernel config, over CONFIG),
    or None when this package does not hold that kernel (another sm90 config, or other parts)."""
    if not isinstance(config, dict):
        return None
    # As spc compile builds a variant: the heuristic, the record's choice over it, then the
    # package's --config over both (CONFIG is the heuristic with --config; CONFIG_OVERRIDES is --config).
    merged = {}
    for part, base in CONFIG.items():
        over = config.get(part, {})
        if not isinstance(over, dict):
            return None
        merged[part] = {**base, **over, **CONFIG_OVERRIDES.get(part, {})}
    if any(p not in CONFIG for p in config) or merged["sm80"] != CONFIG["sm80"] or merged["bwd"] != CONFIG["bwd"]:
        return None
    return SM90_VARIANTS.index(merged["sm90"]) if merged["sm90"] in SM90_VARIANTS else None


def _warn(msg):
    warnings.warn(f"spc {LAYOUT}: {msg}", RuntimeWarning, stacklevel=3)


def read_cache(directory):
    """The cache entries of this layout in directory: [{"device", "n", "variant", "id", "file",
    "created"}], variant None for a config this package does not hold. Files that cannot be read
    as records are warned about (one line each) and skipped; records of other layouts are skipped
    silently (the directory serves every layout)."""
    if directory is None or not os.path.isdir(directory):
        return []
    out = []
    try:
        names = sorted(os.listdir(directory))
    except Exception as e:  # an unreadable directory must not break attention()
        _warn(f"tuning cache {directory}: ignored ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
        return []
    for name in names:
        path = os.path.join(directory, name)
        if not name.endswith(".json") or not os.path.isfile(path):
            continue
        try:
            if os.path.getsize(path) > MAX_RECORD_BYTES:
                raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
            with open(path, encoding="utf8") as f:
                rec = json.load(f)
            if not isinstance(rec, dict) or rec.get("format") != "spc-tuning-record" or rec.get("version") != 1:
                raise ValueError("not an spc tuning record (format spc-tuning-record, version 1)")
            device = rec["device"].get("name") if isinstance(rec.get("device"), dict) else None
            entries = rec.get("entries")
            if not isinstance(entries, list):
                raise ValueError("its entries are not a list")
        except Exception as e:  # any unreadable file (bad JSON, too deep, no permission) is skipped, never raised
            _warn(f"tuning cache {path}: ignored ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
            continue
        mine = [e for e in entries if isinstance(e, dict) and e.get("spec_hash") == SPEC_HASH and e.get("target") == "cuda" and e.get("measured") is True]
        for e in mine:
            cands, choice, n = e.get("candidates"), e.get("choice"), e.get("n")
            ok = isinstance(device, str) and isinstance(n, int) and n >= 1 and isinstance(cands, list) and isinstance(choice, int) and 0 <= choice < len(cands)
            cand = cands[choice] if ok else None
            if not isinstance(cand, dict):
                _warn(f"tuning cache {path}: an entry of this layout has no GPU name, N or chosen candidate; ignored")
                continue
            out.append({
                "device": device,
                "n": n,
                "variant": variant_of(cand.get("config")),
                "id": str(cand.get("id")),
                "file": path,
                "created": str(rec.get("created", "")),
            })
    return out


_CACHE = {}  # directory -> read_cache(directory), read once per process
_WARNED = set()


def _cache_entries(directory):
    if directory not in _CACHE:
        _CACHE[directory] = read_cache(directory)
    return _CACHE[directory]


def select(n, device, record=TUNED, cache=()):
    """The config a call of length n on the GPU named device uses: {"variant", "id", "source"
    ("record", "cache" or "heuristic"), "n" (the entry's N, or None), "device", "file" (a cache
    entry's record file, or None)}. record: the compiled-in entries (_layout.TUNED); cache: what
    read_cache returned. Cache entries of device whose config is not compiled in are warned about
    once and take no part."""
    pool = []
    for e in record:
        if e["device"] == device and e["n"] >= n:
            pool.append((e["n"], 1, "", "", "record", e))
    for e in cache:
        if e["device"] != device:
            continue
        if e["variant"] is None:
            key = (e["file"], e["n"], e["device"])
            if key not in _WARNED:
                _WARNED.add(key)
                _warn(
                    f"tuning cache {e['file']}: the config chosen on {device} at N = {e['n']} ({e['id']}) is not compiled into this package;"
                    " ignored (spc compile --tuning with that record compiles it in)"
                )
            continue
        if e["n"] >= n:
            pool.append((e["n"], 0, _neg(e["created"]), _neg(e["file"]), "cache", e))
    if not pool:
        return {"variant": 0, "id": SM90_IDS[0], "source": "heuristic", "n": None, "device": device, "file": None}
    _, _, _, _, source, e = min(pool, key=lambda p: p[:4])
    return {"variant": e["variant"], "id": SM90_IDS[e["variant"]], "source": source, "n": e["n"], "device": device, "file": e.get("file")}


def _neg(s):
    """A sort key that orders strings last first (newest created date, last file name)."""
    return tuple(-ord(c) for c in s) + (1,)


def choose(n, device, cache=True):
    """select() with the compiled-in record and (cache=True) the run-time cache, unless SPC_CUDA_CONFIG=heuristic."""
    if os.environ.get("SPC_CUDA_CONFIG") == "heuristic":
        return {"variant": 0, "id": SM90_IDS[0], "source": "heuristic", "n": None, "device": device, "file": None}
    return select(n, device, TUNED, _cache_entries(cache_dir()) if cache else ())
