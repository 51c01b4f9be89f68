// One numbered table of every diagnostic the front end, lowering, evaluation and the driver
// report, sorted by code. Each entry is a function of its typed arguments, so
// `diag('E030', span, 'x')` is a compile error. Codes are stable: tests and users match on them,
// so a code is never reused for a different meaning (E095, "the target cannot compile this
// spec", is retired: targets report E100-E119, codegen/messages.ts).
export const MESSAGES = {
  E001: (char: string) => `unexpected character ${char}`,
  E002: (text: string) => `bad number ${text}: numbers are whole decimal numbers such as 4096`,
  E003: (text: string, limit: string) => `number ${text} is too large (the limit is ${limit})`,
  E010: (expected: string, found: string) => `expected ${expected} but found ${found}`,
  E011: (found: string) => `unexpected ${found} after the end of the spec`,
  E012: (levels: number) => `nesting is too deep here (more than ${levels} levels)`,
  E013: (max: number) => `this value is too long: more than ${max} operators (| & + - * / %) and argument commas; split it or write it with fewer terms`,
  E020: (property: string, hint: string) => `unknown property '${property}'${hint}`,
  E021: (property: string) => `property '${property}' is given twice`,
  E022: (layout: string, property: string) => `layout '${layout}' is missing the required property '${property}'`,
  E023: (property: string, expected: string) => `property '${property}' expects ${expected}`,
  E024: (layout: string) => `layout '${layout}' is declared twice`,
  E025: (name: string, problem: string) => `the name '${name}' cannot be used: ${problem}`,
  E026: () => 'the file declares no layout (write `layout NAME { ... }`)',
  E027: (count: number, max: number) => `the file declares ${count} layouts (at most ${max}): split it into several files`,
  E030: (heads: number, max: number) => `heads must be ${heads < 1 ? 'at least 1' : `at most ${max}`}, got ${heads}`,
  E031: (kvHeads: number, heads: number) => `kv_heads (${kvHeads}) must be at least 1 and divide heads (${heads})`,
  E032: (headDim: number, max: number) => `head_dim must be between 1 and ${max}, got ${headDim}`,
  E033: (dtype: string, expected: string) => `unknown dtype '${dtype}' (expected one of ${expected})`,
  E034: (got: number | string) => `seq must be a positive length or the name N, got ${got}`,
  E040: (pattern: string, hint: string) => `unknown pattern '${pattern}'${hint}`,
  E041: (name: string, takes: string, got: number) => `'${name}' takes ${takes}, got ${got}`,
  E042: (name: string, hint: string) => `unknown name '${name}' in an expression${hint}`,
  E043: (name: string, why: string) => `'${name}' cannot be used here: ${why}`,
  E044: (name: string) => `'${name}' needs a band partition: add \`partition equal_width\` (or equal_pairs, explicit(...), tuned)`,
  E045: (lo: number, hi: number) => `empty interval: ${lo} is not below ${hi}`,
  E046: (terms: number, max: number, how: string) => `this pattern expands to ${terms} terms for a head (at most ${max}): ${how}`,
  E050: (partition: string, expected: string) => `unknown partition '${partition}' (expected one of ${expected})`,
  E051: (heads: number, need: number, got: number) => `explicit partition of ${heads} heads needs ${need} boundaries, got ${got}`,
  E052: (rule: string) => `explicit partition boundaries must ${rule}`,
  E053: (boundary: number, n: number) => `band boundary ${boundary} is out of range: it must lie in 0..${n} (N = ${n})`,
  E054: (n: number, have: string) =>
    `partition tuned has no tuned bands for N = ${n}${have}: run \`spc tune FILE --seq ${n}\` and compile with --tuning RECORD (or --untuned for the base partition)`,
  E055: (problem: string) => `tuned takes named parameters, as in tuned(base = equal_pairs, tol = 0.1): ${problem}`,
  E056: (param: string, expected: string, got: string) => `tuned's ${param} must be ${expected}, got ${got}`,
  E057: (name: string) => `'${name} = ...' is a named argument: only partition tuned(...) takes them`,
  E058: (param: string) => `tuned's parameter '${param}' is given twice`,
  E059: (n: number, why: string) => `cannot tune the bands at N = ${n}: ${why}`,
  E060: (head: number, last: number) => `head ${head} is out of range: this layout has heads 0..${last}`,
  E061: (head: number, line: number) => `head ${head} is already given a pattern on line ${line}`,
  E062: (lo: number, hi: number) => `head range ${lo}..${hi} is reversed`,
  E070: (n?: number) => `division by zero while evaluating this expression${n === undefined ? '' : ` at N = ${n}`}`,
  E072: (what: string, got: number, n?: number) => `${what} must be at least 1, got ${got}${n === undefined ? '' : ` at N = ${n}`}`,
  E073: (period: number, max: number, n: number) => `a stride or period of ${period} is too large (at most ${max}) at N = ${n}`,
  E074: (length: number | string, max: number) => `sequence length ${length} is out of range: spc compiles lengths 1..${max}`,
  E081: (fixed: number, asked: number) => `seq length ${fixed} conflicts with --seq ${asked}: this layout fixes its length`,
  E082: (layout: string) =>
    `layout '${layout}' uses partition tuned, whose bands come from a tuning record: pass --tuning RECORD (written by \`spc tune --record\`), or --untuned to compile it with its base partition`,
  E083: (file: string, why: string) => `${file} is not a valid tuning record: ${why}`,
  E084: (file: string, layout: string, why: string) => `tuning record ${file} does not fit layout '${layout}': ${why}`,
  E090: (file: string, why: string) => `cannot read ${file}: ${why}`,
  E091: (file: string) => `${file} is a directory, not a .spc file`,
  E092: (file: string) => `${file} is empty`,
  E093: (file: string) => `${file} does not look like a text spec (it holds binary data)`,
  E094: (target: string, targets: string) => `unknown target '${target}' (targets: ${targets})`,
  E096: (path: string, why: string) => `cannot write ${path}: ${why}`,
  E097: (file: string, max: number) => `${file} is too large: a spec file may hold at most ${max} bytes`,
} as const satisfies Record<`E0${number}`, (...args: never[]) => string>;

export type Code = keyof typeof MESSAGES;
/** The arguments a code's message takes, in order. */
export type MessageArgs<C extends Code> = Parameters<(typeof MESSAGES)[C]>;

export function formatMessage<C extends Code>(code: C, args: MessageArgs<C>): string {
  return (MESSAGES[code] as (...a: MessageArgs<C>) => string)(...args);
}
