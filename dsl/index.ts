export * from './ast.js';
export * from './diagnostic.js';
export * from './messages.js';
export { parseSpec } from './parse.js';
export { checkSpec, EXPR_NAMES, MAX_HEADS, MAX_HEAD_DIM, MAX_NUMBER } from './check.js';
export { nameProblem, suggest } from './names.js';

import type { CheckedLayout } from './ast.js';
import { checkSpec } from './check.js';
import { parseSpec } from './parse.js';

/** Source text to checked layouts; throws SpecError on any problem. */
export function frontEnd(text: string): CheckedLayout[] {
  return checkSpec(parseSpec(text));
}
