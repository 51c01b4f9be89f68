// The diagnostics targets report (codes E100-E119), apart from the front end's table
// (dsl/messages.ts): codegen imports nothing of the front end. The driver renders both alike.
export const TARGET_MESSAGES = {
  E100: "the {0} target supports head_dim {1}; layout {2} has {3}",
  E101: "the {0} target computes in {1}; layout {2} declares dtype {3}",
  E102: "the {0} kernel config of layout {1} needs {2} bytes of shared memory, more than a block may have ({3})",
  E103: "the {0} kernel config of layout {1} cannot run: {2}",
  E104: "kernel config: unknown field '{0}'{1}",
  E105: "kernel config: field '{0}' expects {1}, got {2}",
  E106: "the {0} target takes no kernel config (--config)",
  E107: "--config: {0}",
} as const;

export type TargetCode = keyof typeof TARGET_MESSAGES;

export function formatTargetMessage(code: TargetCode, args: readonly (string | number)[]): string {
  return TARGET_MESSAGES[code].replace(/\{(\d+)\}/g, (_, k: string) => String(args[Number(k)] ?? ''));
}
