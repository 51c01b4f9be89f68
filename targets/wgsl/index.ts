// The WGSL (WebGPU) target: per layout, <name>.wgsl (the compute shader), <name>.js (the shader,
// head table builder and host code) and <name>.d.ts (its types, via ts-morph).
import type { EmittedFile, Target } from '../../codegen/target.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { dtsModule } from './dts.js';
import { jsModule } from './module.js';
import { planLayout, type WgslPlanOverrides } from './plan.js';
import { wgslShader } from './shader.js';

export { planLayout, loopIterations, COMPAT_LIMITS, LOOP_BUDGET, MESA_LOOP_LIMIT, type WgslPlan, type WgslPlanOverrides } from './plan.js';
export { wgslShader } from './shader.js';

/** One layout's three files; `overrides` force plan choices (tests). */
export function emitLayout(layout: LayoutIR, version: string, overrides?: WgslPlanOverrides): EmittedFile[] {
  const plan = planLayout(layout, overrides);
  const shader = wgslShader(plan, version);
  return [
    { path: `${layout.name}.wgsl`, contents: shader },
    { path: `${layout.name}.js`, contents: jsModule(plan, shader, version) },
    { path: `${layout.name}.d.ts`, contents: dtsModule(plan, version) },
  ];
}

export const wgslTarget: Target = {
  name: 'wgsl',
  description: 'WebGPU compute shaders (WGSL, f32) with a JavaScript host module and .d.ts',
  emit(layouts: LayoutIR[], options): EmittedFile[] {
    return layouts.flatMap((layout) => emitLayout(layout, options.version));
  },
};
