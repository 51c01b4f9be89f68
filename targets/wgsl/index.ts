// The WGSL (WebGPU) target: per layout, <name>.wgsl (the compute shader), <name>.js (the shader,
// head table builder and layout constants, bound to the host runtime) and <name>.d.ts (its
// types, via ts-morph); once per output directory, the host runtime spc-wgsl-runtime.js and its
// .d.ts, copied from targets/wgsl/runtime/.
import type { EmittedFile, Target } from '../../codegen/target.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { dtsModule } from './dts.js';
import { jsModule, runtimeFiles, type WgslTuned } from './module.js';
import { planLayout, type WgslPlanOverrides } from './plan.js';
import { wgslShader } from './shader.js';
import { fitTiledConfig, planTiledVariants, tiledName, tiledShader, type TiledConfig, type TiledPlan } from './tiled.js';

export { planLayout, loopIterations, COMPAT_LIMITS, LOOP_BUDGET, MESA_LOOP_LIMIT, type WgslPlan, type WgslPlanOverrides } from './plan.js';
export { wgslShader } from './shader.js';
export {
  planTiled,
  planTiledVariants,
  tiledShader,
  tiledLoopIterations,
  tiledSharedBytes,
  tiledCandidates,
  tiledConfigSpace,
  fitTiledConfig,
  tiledName,
  TIERS,
  type TiledLimits,
  type TiledReduce,
  TILED_BODY_MARK,
  type TiledPlan,
  type TiledConfig,
} from './tiled.js';
export { RUNTIME_DTS, RUNTIME_JS, runtimeFiles, type WgslTuned } from './module.js';

/**
 * What a module holds beyond the planned variants: `extraVariants`, tiled configurations added
 * after them (by name, never picked unnamed: the tuner's candidates, a record's choices); `tuning`,
 * a tuning record's choices (spc compile --tuning), whose variants are added the same way.
 */
export interface WgslEmitExtras {
  extraVariants?: readonly TiledConfig[];
  tuning?: WgslTuning;
}

/** A tuning record's choices for one layout (EmitOptions.tunings[layout name]): WgslTuned with each choice's configuration. */
export interface WgslTuning extends Omit<WgslTuned, 'choices'> {
  choices: { n: number; config: TiledConfig; ms: number | null }[];
}

/** One layout's three files (without the runtime files, runtimeFiles(), which its .js imports); `overrides` force plan choices (tests). */
export function emitLayout(layout: LayoutIR, version: string, overrides?: WgslPlanOverrides, extras: WgslEmitExtras = {}): EmittedFile[] {
  return emitLayoutFiles(layout, version, overrides, true, extras);
}

/** The layout's .wgsl and .js only: no .d.ts, so ts-morph is never loaded (the benchmark on a machine that carries only spc's runtime packages). */
export function emitLayoutJs(layout: LayoutIR, version: string, overrides?: WgslPlanOverrides, extras: WgslEmitExtras = {}): EmittedFile[] {
  return emitLayoutFiles(layout, version, overrides, false, extras);
}

function emitLayoutFiles(layout: LayoutIR, version: string, overrides: WgslPlanOverrides | undefined, dts: boolean, extras: WgslEmitExtras): EmittedFile[] {
  const plan = planLayout(layout, overrides);
  const shader = wgslShader(plan, version);
  const planned = planTiledVariants(plan, overrides);
  const tiled: TiledPlan[] = [...planned];
  for (const c of [...(extras.extraVariants ?? []), ...(extras.tuning?.choices.map((x) => x.config) ?? [])]) {
    if (tiled.some((t) => t.name === tiledName(c))) continue;
    const t = fitTiledConfig(plan, c, null, overrides ?? {}, false);
    if (typeof t === 'string') throw new Error(`internal: tiled variant ${tiledName(c)} cannot be built for layout ${layout.name}: ${t}`);
    tiled.push(t);
  }
  const tiledWgsl = tiled.map((t) => ({ plan: t, wgsl: tiledShader(plan, t, version) }));
  const tuned: WgslTuned | null = extras.tuning
    ? { ...extras.tuning, choices: extras.tuning.choices.map((c) => ({ n: c.n, variant: tiledName(c.config), ms: c.ms })).sort((a, b) => a.n - b.n) }
    : null;
  const files = [
    { path: `${layout.name}.wgsl`, contents: shader },
    { path: `${layout.name}.js`, contents: jsModule(plan, shader, version, tiledWgsl, tuned, planned.length - 1) },
  ];
  // TILED: the compatibility-tier workgroup variant (the last planned one), whatever was added after it.
  if (dts) files.push({ path: `${layout.name}.d.ts`, contents: dtsModule({ ...plan, tiled: planned.at(-1) ?? null, variants: tiled, tuned }, version) });
  return files;
}

export const wgslTarget: Target = {
  name: 'wgsl',
  description: 'WebGPU compute shaders (WGSL, f32) with a JavaScript host module and .d.ts',
  emit(layouts: LayoutIR[], options): EmittedFile[] {
    const tunings = (options.tunings ?? {}) as Readonly<Record<string, WgslTuning>>;
    return [
      ...layouts.flatMap((layout) =>
        emitLayout(layout, options.version, undefined, Object.hasOwn(tunings, layout.name) ? { tuning: tunings[layout.name]! } : {}),
      ),
      ...runtimeFiles(),
    ];
  },
};
