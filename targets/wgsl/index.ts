// The WGSL (WebGPU) target: per layout, <name>.wgsl (the compute shader), <name>.js (the shader,
// head table builder and layout constants, bound to the host runtime) and <name>.d.ts (its
// types, via ts-morph); once per output directory, the host runtime spc-wgsl-runtime.js and its
// .d.ts, copied from targets/wgsl/runtime/.
import type { EmittedFile, Target } from '../../codegen/target.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { dtsModule } from './dts.js';
import { jsModule, runtimeFiles } from './module.js';
import { planLayout, type WgslPlanOverrides } from './plan.js';
import { wgslShader } from './shader.js';
import { planTiledVariants, tiledShader } from './tiled.js';

export { planLayout, loopIterations, COMPAT_LIMITS, LOOP_BUDGET, MESA_LOOP_LIMIT, type WgslPlan, type WgslPlanOverrides } from './plan.js';
export { wgslShader } from './shader.js';
export {
  planTiled,
  planTiledVariants,
  tiledShader,
  tiledLoopIterations,
  tiledSharedBytes,
  tiledCandidates,
  TIERS,
  TILED_BODY_MARK,
  type TiledPlan,
  type TiledConfig,
} from './tiled.js';
export { RUNTIME_DTS, RUNTIME_JS, runtimeFiles } from './module.js';

/** One layout's three files (without the runtime files, runtimeFiles(), which its .js imports); `overrides` force plan choices (tests). */
export function emitLayout(layout: LayoutIR, version: string, overrides?: WgslPlanOverrides): EmittedFile[] {
  return emitLayoutFiles(layout, version, overrides, true);
}

/** The layout's .wgsl and .js only: no .d.ts, so ts-morph is never loaded (the benchmark on a machine that carries only spc's runtime packages). */
export function emitLayoutJs(layout: LayoutIR, version: string, overrides?: WgslPlanOverrides): EmittedFile[] {
  return emitLayoutFiles(layout, version, overrides, false);
}

function emitLayoutFiles(layout: LayoutIR, version: string, overrides: WgslPlanOverrides | undefined, dts: boolean): EmittedFile[] {
  const plan = planLayout(layout, overrides);
  const shader = wgslShader(plan, version);
  const tiled = planTiledVariants(plan, overrides);
  const tiledWgsl = tiled.map((t) => ({ plan: t, wgsl: tiledShader(plan, t, version) }));
  const files = [
    { path: `${layout.name}.wgsl`, contents: shader },
    { path: `${layout.name}.js`, contents: jsModule(plan, shader, version, tiledWgsl) },
  ];
  if (dts) files.push({ path: `${layout.name}.d.ts`, contents: dtsModule({ ...plan, tiled: tiled.at(-1) ?? null, variants: tiled }, version) });
  return files;
}

export const wgslTarget: Target = {
  name: 'wgsl',
  description: 'WebGPU compute shaders (WGSL, f32) with a JavaScript host module and .d.ts',
  emit(layouts: LayoutIR[], options): EmittedFile[] {
    return [...layouts.flatMap((layout) => emitLayout(layout, options.version)), ...runtimeFiles()];
  },
};
