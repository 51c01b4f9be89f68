// The defaults of `spc tune --target wgsl` (src/driver/wgsl-tune.ts), apart so that the CLI's help
// text does not load the tuner (nor, through it, the WGSL target).
export const WGSL_TUNE_DEFAULTS = { maxCandidates: 24, checkN: 4096, reps: 5, timeoutS: 120 } as const;
