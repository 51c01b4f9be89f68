// The CUDA config space for `spc tune`: every sm90 (wgmma) forward config the kernels can run
// for a layout, each checked by checkConfig (shared memory, E102; combinations, E103), the sm80
// part kept at the heuristic's. The tuner (src/tuner) prices them; the driver joins the two.
import { TargetError, type EmittedFile } from '../../codegen/target.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { blockMSm90, checkConfig, CONFIG_FIELDS, configFor, single, sm90Id, type CudaConfig, type Sm90Config } from './config.js';
import { makeCudaTarget } from './index.js';

export interface CudaTuneCandidate {
  /** e.g. "sm90 persistent wg2 n128 s3 q1": the fields that vary. */
  id: string;
  /** The part of a CudaConfig this candidate sets: `spc compile --config` takes it as is. */
  config: { sm90: Sm90Config };
  /** The sm90 forward tile: query rows x keys. */
  bm: number;
  bn: number;
  isDefault: boolean;
}

const values = (k: keyof Sm90Config): readonly (number | string | boolean)[] => {
  const f = CONFIG_FIELDS.sm90[k];
  return f.kind === 'bool' ? [false, true] : f.values;
};

export { sm90Id };

/**
 * Every distinct sm90 config the kernels accept for this layout, in a fixed order, the heuristic's
 * marked; and how many of the space's combinations checkConfig refused, by its message. Fields a
 * kernel family ignores are fixed (the persistent kernel always overlaps and runs one block per
 * SM; the block-wise one has one Q buffer and no warpgroup skip), so no two candidates are the
 * same kernel.
 */
export function cudaTuneSpace(layout: LayoutIR): { candidates: CudaTuneCandidate[]; rejected: Record<string, number> } {
  const def = configFor(layout); // E100 / E101 for a layout the target cannot compile at all
  const candidates: CudaTuneCandidate[] = [];
  const rejected: Record<string, number> = {};
  const seen = new Set<string>();
  for (const kernel of values('kernel') as Sm90Config['kernel'][])
    for (const warpgroups of values('warpgroups') as number[])
      for (const blockN of values('blockN') as number[])
        for (const stages of values('stages') as number[])
          for (const overlap of kernel === 'persistent' ? [true] : [false, true])
            for (const qBuffers of kernel === 'persistent' ? (values('qBuffers') as number[]) : [1])
              for (const wgSkip of kernel === 'persistent' ? [false, true] : [false])
                for (const minBlocks of kernel === 'persistent' ? [1] : (values('minBlocks') as number[])) {
                  const sm90: Sm90Config = { kernel, warpgroups, blockN, stages, overlap, qBuffers, wgSkip, minBlocks };
                  const cfg: CudaConfig = { ...def, sm90 };
                  try {
                    checkConfig(layout, cfg);
                  } catch (e) {
                    if (!(e instanceof TargetError)) throw e;
                    const why = e.message
                      .replace(/\d+ bytes/g, 'N bytes')
                      .replace(/\(got [^)]*\)/g, '')
                      .trim();
                    rejected[why] = (rejected[why] ?? 0) + 1;
                    continue;
                  }
                  const id = sm90Id(sm90);
                  if (seen.has(id)) continue;
                  seen.add(id);
                  candidates.push({ id, config: { sm90 }, bm: blockMSm90(sm90), bn: blockN, isDefault: false });
                }
  const defId = sm90Id(def.sm90);
  const d = candidates.find((c) => c.id === defId);
  if (d) d.isDefault = true;
  else candidates.unshift({ id: defId, config: { sm90: def.sm90 }, bm: blockMSm90(def.sm90), bn: def.sm90.blockN, isDefault: true });
  return { candidates, rejected };
}

/** The sm90 forward tile of the heuristic config: what tuned bands are tuned for by default. */
export function defaultTile(layout: LayoutIR): [number, number] {
  const s = configFor(layout).sm90;
  return [blockMSm90(s), s.blockN];
}

/**
 * The package of one tuning candidate (for the measuring half on the GPU machine): the layout as
 * given (named for the candidate, its bands already chosen), compiled with the candidate's config
 * part over the heuristic.
 */
export function emitCandidate(layout: LayoutIR, config: Record<string, unknown>, version: string): EmittedFile[] {
  const cfg = configFor(layout, config);
  return makeCudaTarget(() => single(cfg)).emit([layout], { version });
}
