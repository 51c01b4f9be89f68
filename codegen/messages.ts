// The diagnostics targets report (codes E100-E119), apart from the front end's table
// (dsl/messages.ts): codegen imports nothing of the front end. The driver renders both alike.
// Sorted by code; each entry is a function of its typed arguments, so
// `new TargetError('E100', ['CUDA', '64', name])` (an argument short) is a compile error.
export const TARGET_MESSAGES = {
  E100: (target: string, supported: string, layout: string, headDim: number) =>
    `the ${target} target supports head_dim ${supported}; layout ${layout} has ${headDim}`,
  E101: (target: string, computes: string, layout: string, dtype: string) =>
    `the ${target} target computes in ${computes}; layout ${layout} declares dtype ${dtype}`,
  E102: (kernel: string, layout: string, bytes: number, limit: number) =>
    `the ${kernel} kernel config of layout ${layout} needs ${bytes} bytes of shared memory, more than a block may have (${limit})`,
  E103: (kernel: string, layout: string, why: string) => `the ${kernel} kernel config of layout ${layout} cannot run: ${why}`,
  E104: (field: string, hint = '') => `kernel config: unknown field '${field}'${hint}`,
  E105: (field: string, expected: string, got: string | number) => `kernel config: field '${field}' expects ${expected}, got ${got}`,
  E106: (target: string) => `the ${target} target takes no kernel config (--config)`,
  E107: (problem: string) => `--config: ${problem}`,
} as const satisfies Record<`E1${number}`, (...args: never[]) => string>;

export type TargetCode = keyof typeof TARGET_MESSAGES;
/** The arguments a target code's message takes, in order. */
export type TargetMessageArgs<C extends TargetCode> = Parameters<(typeof TARGET_MESSAGES)[C]>;

export function formatTargetMessage<C extends TargetCode>(code: C, args: TargetMessageArgs<C>): string {
  return (TARGET_MESSAGES[code] as (...a: TargetMessageArgs<C>) => string)(...args);
}
