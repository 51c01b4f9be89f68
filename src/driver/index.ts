// The package's entry point (package.json "main"): the CLI and the pipeline as a library.
export { run, helpText, readConfig, VERSION, type Io } from './cli.js';
export { compileSource, getTarget, instanceFor, lengthFor, loadSpec, TARGET_NAMES, writeAtomically, type LoadedSpec } from './pipeline.js';
export { diagnosticJson, renderDiagnostic, toDiagnostics, type SpcCode, type SpcDiagnostic } from './diagnostics.js';
export type { EmitOptions, EmittedFile, Target } from '../../codegen/target.js';
export { TargetError } from '../../codegen/target.js';
export type { LayoutIR, Instance } from '../ir/index.js';
