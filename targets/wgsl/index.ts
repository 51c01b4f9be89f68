// The WGSL (WebGPU) target: per layout, <name>.wgsl (the compute shader), <name>.js (the shader,
// head table builder and layout constants, bound to the host runtime) and <name>.d.ts (its
// types, via ts-morph); once per output directory, the host runtime spc-wgsl-runtime.js and its
// .d.ts, copied from targets/wgsl/runtime/.
import type { EmittedFile, Target } from '../../codegen/target.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { dtsModule } from './dts.js';
import { jsModule, runtimeFiles } from './module.js';
import { planLayout } from './plan.js';
import { wgslShader } from './shader.js';

export { planLayout, COMPAT_LIMITS, type WgslPlan } from './plan.js';
export { wgslShader } from './shader.js';
export { RUNTIME_DTS, RUNTIME_JS, runtimeFiles } from './module.js';

export const wgslTarget: Target = {
  name: 'wgsl',
  description: 'WebGPU compute shaders (WGSL, f32) with a JavaScript host module and .d.ts',
  emit(layouts: LayoutIR[], options): EmittedFile[] {
    const perLayout = layouts.flatMap((layout) => {
      const plan = planLayout(layout);
      const shader = wgslShader(plan, options.version);
      return [
        { path: `${layout.name}.wgsl`, contents: shader },
        { path: `${layout.name}.js`, contents: jsModule(plan, shader, options.version) },
        { path: `${layout.name}.d.ts`, contents: dtsModule(plan, options.version) },
      ];
    });
    return [...perLayout, ...runtimeFiles()];
  },
};
