"""spc golden: layout longformer (12 heads, 12 KV heads, head_dim 64). Generated: do not edit."""
VERSION = "golden"
LAYOUT = "longformer"
HEADS = 12
KV_HEADS = 12
HEAD_DIM = 64
SEQ = None
GROUP = 1  # query heads per KV head
# The kernel config: the same object as "config" in the manifest (targets/cuda/config.ts).
CONFIG = {
    "sm80": {"warps": 4, "mTiles": 1, "blockN": 64, "minBlocks": 1, "skipRescale": True},
    "sm90": {"kernel": "blockwise", "warpgroups": 2, "blockN": 64, "stages": 2, "overlap": False, "qBuffers": 1, "wgSkip": False, "minBlocks": 1},
    "bwd": {"warps": 4, "blockM": 64, "minBlocks": 1},
    "bwd90": {"rows": 64, "dq": "atomic"},
}
# The --config the package was compiled with (part of CONFIG): a run-time cache choice gets it on top, as spc compile does.
CONFIG_OVERRIDES = {}
# The spec hash (spc tune records): a run-time cache record applies to this layout only with this hash.
SPEC_HASH = "sha256:60f3b676620fbe126da0d1fea2db7c73b53193c53d735502da3191380f92c6f3"
# The sm90 (wgmma) forward configs compiled into kernel.cu, by variant: 0 is CONFIG["sm90"], the
# others a tuning record chose (kernels "sm90v1", ...). _tuning.py picks one per GPU and N.
SM90_VARIANTS = [
    {"kernel": "blockwise", "warpgroups": 2, "blockN": 64, "stages": 2, "overlap": False, "qBuffers": 1, "wgSkip": False, "minBlocks": 1},
]
SM90_IDS = [
    "sm90 blockwise wg2 n64 s2 b1",
]
# Their names in KERNELS and in the manifest (targets/cuda/source.ts sm90Key), by variant.
SM90_KEYS = ["sm90"]
# The tuning record compiled in (spc compile --tuning): the variant chosen by measured time per GPU and N.
TUNED = []
# The extern "C" kernels and launchers of kernel.cu.
KERNELS = {
    "sm90": {
        "bf16": {"kernel": "spc_longformer_fwd_sm90_bf16", "launcher": "spc_longformer_launch_sm90_bf16"},
        "fp16": {"kernel": "spc_longformer_fwd_sm90_fp16", "launcher": "spc_longformer_launch_sm90_fp16"},
    },
    "sm80": {
        "bf16": {"kernel": "spc_longformer_fwd_bf16", "launcher": "spc_longformer_launch_bf16"},
        "fp16": {"kernel": "spc_longformer_fwd_fp16", "launcher": "spc_longformer_launch_fp16"},
    },
    "bwd": {
        "bf16": {"pre": "spc_longformer_bwd_pre_bf16", "dkdv": "spc_longformer_bwd_dkdv_bf16", "convert": "spc_longformer_bwd_convert_bf16", "dkdv_det": "spc_longformer_bwd_dkdv_det_bf16", "dq": "spc_longformer_bwd_dq_bf16", "launcher": "spc_longformer_bwd_launch_bf16"},
        "fp16": {"pre": "spc_longformer_bwd_pre_fp16", "dkdv": "spc_longformer_bwd_dkdv_fp16", "convert": "spc_longformer_bwd_convert_fp16", "dkdv_det": "spc_longformer_bwd_dkdv_det_fp16", "dq": "spc_longformer_bwd_dq_fp16", "launcher": "spc_longformer_bwd_launch_fp16"},
    },
    "bwd90": {
        "bf16": {"dkdv": "spc_longformer_bwd90_dkdv_bf16", "dkdv_det": "spc_longformer_bwd90_dkdv_det_bf16", "dq": "spc_longformer_bwd90_dq_bf16", "launcher": "spc_longformer_bwd90_launch_bf16"},
        "fp16": {"dkdv": "spc_longformer_bwd90_dkdv_fp16", "dkdv_det": "spc_longformer_bwd90_dkdv_det_fp16", "dq": "spc_longformer_bwd90_dq_fp16", "launcher": "spc_longformer_bwd90_launch_fp16"},
    },
}
