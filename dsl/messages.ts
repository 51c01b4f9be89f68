// One numbered table of every diagnostic spc reports. Codes are stable: tests and
// users match on them, so a code is never reused for a different meaning.
export const MESSAGES = {
  E001: 'unexpected character {0}',
  E002: 'bad number {0}: numbers are whole decimal numbers such as 4096',
  E003: 'number {0} is too large (the limit is {1})',
  E010: 'expected {0} but found {1}',
  E011: 'unexpected {0} after the end of the spec',
  E020: "unknown property '{0}'{1}",
  E021: "property '{0}' is given twice",
  E022: "layout '{0}' is missing the required property '{1}'",
  E023: "property '{0}' expects {1}",
  E024: "layout '{0}' is declared twice",
  E025: "the name '{0}' cannot be used: {1}",
  E026: 'the file declares no layout (write `layout NAME { ... }`)',
  E030: 'heads must be at least 1, got {0}',
  E031: 'kv_heads ({0}) must be at least 1 and divide heads ({1})',
  E032: 'head_dim must be between 1 and {1}, got {0}',
  E033: "unknown dtype '{0}' (expected one of {1})",
  E034: "seq must be a positive length or the name N, got {0}",
  E040: "unknown pattern '{0}'{1}",
  E041: "'{0}' takes {1}, got {2}",
  E042: "unknown name '{0}' in an expression{1}",
  E043: "'{0}' cannot be used here: {1}",
  E044: "'{0}' needs a band partition: add `partition equal_width` (or equal_pairs, explicit(...), tuned)",
  E045: 'empty interval: {0} is not below {1}',
  E050: "unknown partition '{0}' (expected one of {1})",
  E051: 'explicit partition of {0} heads needs {1} boundaries, got {2}',
  E052: 'explicit partition boundaries must {0}',
  E053: 'band boundary {0} is out of range: it must lie in 0..{1} (N = {1})',
  E060: 'head {0} is out of range: this layout has heads 0..{1}',
  E061: 'head {0} is already given a pattern on line {1}',
  E062: 'head range {0}..{1} is reversed',
  E070: 'division by zero while evaluating this expression at N = {0}',
  E072: '{0} must be at least 1, got {1}{2}',
  E073: 'a stride or period of {0} is too large (at most {1}) at N = {2}',
  E074: 'sequence length {0} is out of range: spc compiles lengths 1..{1}',
  E046: 'this pattern expands to {0} terms for a head (at most {1}): write it with fewer unions inside intersections',
  E012: 'nesting is too deep here (more than {0} levels)',
  E096: 'cannot write {0}: {1}',
  E081: 'seq length {0} conflicts with --seq {1}: this layout fixes its length',
  E090: 'cannot read {0}: {1}',
  E091: '{0} is a directory, not a .spc file',
  E092: '{0} is empty',
  E093: '{0} does not look like a text spec (it holds binary data)',
  E094: '{0}',
  E095: 'the target cannot compile this spec: {0}',
} as const;

export type Code = keyof typeof MESSAGES;

export function formatMessage(code: Code, args: readonly (string | number)[]): string {
  return MESSAGES[code].replace(/\{(\d+)\}/g, (_, k: string) => String(args[Number(k)] ?? ''));
}
