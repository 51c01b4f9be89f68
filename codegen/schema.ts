// Renderers of the head-table schema (src/ir/schema.ts): its constants and span helpers as C++
// (CUDA device and host), WGSL, JavaScript and Python source, all from the one definition.
//
//   renderSchema('cpp')   header text: namespace spc { inline constexpr int D_LO ...; (inline: external linkage, so an
//                         unused constant draws no nvcc warning #177 in a file that includes the header) struct Span { int lo, hi; };
//                         SPC_HD Span key_span(const int* t, int i0, int i1, int n); ... }
//   renderSchema('py')    module text: D_LO = 0 ...; def key_span(t, o, i0, i1, n) -> (lo, hi) ...
//   renderSchema('js')    ES module text: export const D_LO = 0 ...; export function key_span(t, o, i0, i1, n) -> { lo, hi } ...
//   renderSchema('wgsl')  const D_LO = 0 ...; fn key_span(o: u32, i0: i32, i1: i32, n: i32) -> vec2<i32> ...,
//                         reading fields through fn spc_field(x: u32) -> i32, which the shader defines
//   renderInlineJs(...)   one helper as JS statements with numeric offsets (for gpu.js kernels)
import {
  FIELD,
  MOD_SLOTS_PARAM,
  SCHEMA_CONSTANTS,
  SPAN_HELPERS,
  fieldConst,
  isBool,
  modConst,
  type BinOp,
  type ModField,
  type SExpr,
  type SpanHelper,
  type TermField,
} from '../src/ir/schema.js';
import { CodeWriter } from './writer.js';

export type SchemaLang = 'cpp' | 'wgsl' | 'js' | 'py';

/** How one language spells reads, names and operators; expressions come back fully parenthesised. */
interface Syntax {
  field(f: TermField): string;
  modField(f: ModField): string;
  variable(name: string): string;
  /** Spelling of 'max' / 'min' over two or more arguments. */
  minmax(op: 'max' | 'min', args: string[]): string;
  and: string;
  or: string;
  select(cond: string, a: string, b: string): string;
}

const flatten = (e: SExpr, op: BinOp): SExpr[] => (e.op === op ? [...flatten(e.a, op), ...flatten(e.b, op)] : [e]);

// Precedence levels, the same in C++, WGSL, JS and Python: atom > additive > comparison > and > or.
const ATOM = 4;
const ADD = 3;
const CMP = 2;
const AND = 1;
const OR = 0;

/** Text of e with the parentheses it needs at precedence `min` or above. */
function render(e: SExpr, s: Syntax, min = OR): string {
  const [text, prec] = renderPrec(e, s);
  return prec < min ? `(${text})` : text;
}

function renderPrec(e: SExpr, s: Syntax): [string, number] {
  switch (e.op) {
    case 'int':
      return [String(e.value), e.value < 0 ? ADD : ATOM];
    case 'field':
      return [s.field(e.field), ATOM];
    case 'modField':
      return [s.modField(e.field), ATOM];
    case 'var':
      return [s.variable(e.name), ATOM];
    case 'select':
      return [`(${s.select(render(e.cond, s), render(e.then, s), render(e.else, s))})`, ATOM];
    case 'allMods':
      throw new Error('internal: allMods is a statement (a local of its own)');
    case 'max':
    case 'min':
      return [
        s.minmax(
          e.op,
          flatten(e, e.op).map((a) => render(a, s)),
        ),
        ATOM,
      ];
    case 'and':
    case 'or':
      // Operands of either are comparisons or parenthesised (WGSL forbids mixing && and || bare).
      return [
        flatten(e, e.op)
          .map((a) => render(a, s, CMP))
          .join(` ${s[e.op]} `),
        e.op === 'and' ? AND : OR,
      ];
    case '+':
    case '-':
      return [`${render(e.a, s, ADD)} ${e.op} ${render(e.b, s, ATOM)}`, ADD];
    case '<':
    case '<=':
      return [`${render(e.a, s, ADD)} ${e.op} ${render(e.b, s, ADD)}`, CMP];
  }
}

const nested = (fn: string) => (args: string[]) => args.reduce((a, b) => `${fn}(${a}, ${b})`);
const ternary = (c: string, a: string, b: string) => `${c} ? ${a} : ${b}`;
const id = (n: string) => n;

const modIndex = (o: string, f: ModField) => `${o}MOD_BASE + MOD_STRIDE * m + ${modConst(f)}`;

const SYNTAX: Record<SchemaLang, Syntax> = {
  cpp: {
    field: (f) => `t[${fieldConst(f)}]`,
    modField: (f) => `t[${modIndex('', f)}]`,
    variable: id,
    minmax: (op, args) => nested(op === 'max' ? 'imax' : 'imin')(args),
    and: '&&',
    or: '||',
    select: ternary,
  },
  wgsl: {
    field: (f) => `spc_field(o + ${fieldConst(f)})`,
    modField: (f) => `spc_field(${modIndex('o + ', f)})`,
    variable: id,
    minmax: (op, args) => nested(op)(args),
    and: '&&',
    or: '||',
    select: (c, a, b) => `select(${b}, ${a}, ${c})`,
  },
  js: {
    field: (f) => `t[o + ${fieldConst(f)}]`,
    modField: (f) => `t[${modIndex('o + ', f)}]`,
    variable: id,
    minmax: (op, args) => `Math.${op}(${args.join(', ')})`,
    and: '&&',
    or: '||',
    select: ternary,
  },
  py: {
    field: (f) => `t[o + ${fieldConst(f)}]`,
    modField: (f) => `t[${modIndex('o + ', f)}]`,
    variable: id,
    minmax: (op, args) => `${op}(${args.join(', ')})`,
    and: 'and',
    or: 'or',
    select: (c, a, b) => `${a} if ${c} else ${b}`,
  },
};

const COMMENT: Record<SchemaLang, string> = { cpp: '//', wgsl: '//', js: '//', py: '#' };

function constant(lang: SchemaLang, name: string, value: number | readonly number[]): string {
  if (typeof value === 'number') {
    return {
      cpp: `inline constexpr int ${name} = ${value};`,
      wgsl: `const ${name} = ${value};`,
      js: `export const ${name} = ${value};`,
      py: `${name} = ${value}`,
    }[lang];
  }
  const list = value.join(', ');
  return {
    cpp: `inline constexpr int ${name}[${value.length}] = {${list}};`,
    wgsl: `const ${name} = array(${list});`,
    js: `export const ${name} = Object.freeze([${list}]);`,
    py: `${name} = (${list})`,
  }[lang];
}

/** The signature line that opens a helper's body. */
function signature(lang: SchemaLang, h: SpanHelper): string {
  const ps = h.params;
  switch (lang) {
    case 'cpp':
      return `SPC_HD Span ${h.name}(const int* t, ${ps.map((p) => `int ${p}`).join(', ')}) {`;
    case 'wgsl':
      return `fn ${h.name}(o: u32, ${ps.map((p) => `${p}: ${p === MOD_SLOTS_PARAM ? 'u32' : 'i32'}`).join(', ')}) -> vec2<i32> {`;
    case 'js':
      return `export function ${h.name}(t, o, ${ps.join(', ')}) {`;
    case 'py':
      return `def ${h.name}(t, o, ${ps.join(', ')}):`;
  }
}

/** The helper's body: one statement per local, then the span (canonical empty unless ok). */
function body(lang: SchemaLang, h: SpanHelper, w: CodeWriter): void {
  const s = SYNTAX[lang];
  const bools = new Map<string, boolean>();
  for (const [name, e] of h.locals) {
    const b = isBool(e, bools);
    bools.set(name, b);
    if (e.op === 'allMods') {
      const cond = render(e.body, s);
      const n = MOD_SLOTS_PARAM;
      if (lang === 'py') w.line(`${name} = all(${cond} for m in range(${n}))`);
      else {
        w.line({ cpp: `bool ${name} = true;`, wgsl: `var ${name} = true;`, js: `let ${name} = true;` }[lang]);
        w.line(
          {
            cpp: `for (int m = 0; m < ${n}; ++m) ${name} = ${name} && (${cond});`,
            wgsl: `for (var m = 0u; m < ${n}; m++) { ${name} = ${name} && (${cond}); }`,
            js: `for (let m = 0; m < ${n}; m++) ${name} = ${name} && (${cond});`,
          }[lang],
        );
      }
      continue;
    }
    const rhs = render(e, s);
    w.line(
      { cpp: `const ${b ? 'bool' : 'int'} ${name} = ${rhs};`, wgsl: `let ${name} = ${rhs};`, js: `const ${name} = ${rhs};`, py: `${name} = ${rhs}` }[lang],
    );
  }
  const [ok, lo, hi] = [render(h.ok, s), render(h.lo, s), render(h.hi, s)];
  w.line(
    {
      cpp: `return (${ok}) ? Span{${lo}, ${hi}} : Span{0, 0};`,
      wgsl: `return select(vec2<i32>(0, 0), vec2<i32>(${lo}, ${hi}), ${ok});`,
      js: `return ${ok} ? { lo: ${lo}, hi: ${hi} } : { lo: 0, hi: 0 };`,
      py: `return (${lo}, ${hi}) if ${ok} else (0, 0)`,
    }[lang],
  );
}

/** Source text of the schema's constants and span helpers in one language (see the header comment). */
export function renderSchema(lang: SchemaLang): string {
  const w = new CodeWriter(lang === 'py' ? '    ' : '  ');
  const c = COMMENT[lang];
  w.line(`${c} The spc head-table schema (generated from src/ir/schema.ts; do not edit). A term slot is`);
  w.line(`${c} D_LO, D_HI, K_LO, K_HI, Q_LO, Q_HI, then mod slots (MOD_ON, MOD_M, MOD_LO, MOD_HI) at`);
  w.line(`${c} MOD_BASE + MOD_STRIDE * m. Spans are half-open [lo, hi); the empty span is (0, 0).`);
  if (lang === 'wgsl') w.line("// The including shader defines fn spc_field(x: u32) -> i32: the table's int32 at index x.");
  if (lang === 'cpp') {
    w.line('#ifndef SPC_TABLE_CUH');
    w.line('#define SPC_TABLE_CUH');
    w.line('#ifndef SPC_HD');
    w.line('#ifdef __CUDACC__');
    w.line('#define SPC_HD __host__ __device__ __forceinline__');
    w.line('#else');
    w.line('#define SPC_HD inline');
    w.line('#endif');
    w.line('#endif');
    w.line('namespace spc {');
  }
  w.line();
  for (const k of SCHEMA_CONSTANTS) w.line(`${constant(lang, k.name, k.value)}  ${c} ${k.doc}`);
  w.line();
  const fpt = 'MOD_BASE + MOD_STRIDE * mod_slots';
  if (lang === 'cpp') {
    w.line('struct Span { int lo, hi; };');
    w.line();
    w.line(`SPC_HD constexpr int fields_per_term(int mod_slots) { return ${fpt}; }`);
    w.line('SPC_HD int imax(int a, int b) { return a > b ? a : b; }');
    w.line('SPC_HD int imin(int a, int b) { return a < b ? a : b; }');
  } else if (lang === 'wgsl') w.line(`fn fields_per_term(mod_slots: u32) -> u32 { return ${fpt}; }`);
  else if (lang === 'js') w.line(`export function fields_per_term(mod_slots) { return ${fpt}; }`);
  else {
    w.line();
    w.block('def fields_per_term(mod_slots):', () => w.line(`return ${fpt}`), '');
  }
  for (const h of SPAN_HELPERS) {
    w.line();
    if (lang === 'py') {
      w.line();
      w.block(
        signature(lang, h),
        () => {
          w.line(`"""${h.doc} t: the table (a list), o: the term slot's offset."""`);
          body(lang, h, w);
        },
        '',
      );
    } else {
      w.line(`${c} ${h.doc}`);
      w.block(signature(lang, h), () => body(lang, h, w));
    }
  }
  if (lang === 'cpp') {
    w.line();
    w.line('}  // namespace spc');
    w.line('#endif  // SPC_TABLE_CUH');
  }
  return w.toString();
}

/**
 * One helper as JavaScript statements for code that cannot call functions or read module
 * constants (gpu.js kernels): fields are read as field(offset) with numeric offsets, parameters
 * are the given expressions, locals get `suffix`. Returns the statements and the span's ends.
 * Helpers that loop over mod slots are not supported here.
 */
export function renderInlineJs(
  h: SpanHelper,
  o: { field: (offset: number) => string; args: readonly string[]; suffix: string },
): { lines: string[]; lo: string; hi: string } {
  const params = new Map(h.params.map((p, k) => [p, /^[\w.]+$/.test(o.args[k]!) ? o.args[k]! : `(${o.args[k]})`]));
  const s: Syntax = {
    ...SYNTAX.js,
    minmax: (op, args) => nested(`Math.${op}`)(args), // gpu.js: two arguments
    field: (f) => o.field(FIELD[f]),
    modField: () => {
      throw new Error(`internal: ${h.name} reads mods; it cannot be inlined`);
    },
    variable: (n) => params.get(n) ?? `${n}${o.suffix}`,
  };
  const lines = h.locals.map(([name, e]) => `const ${name}${o.suffix} = ${render(e, s)};`);
  const ok = render(h.ok, s);
  lines.push(`const ok${o.suffix} = ${ok};`);
  const okv = `ok${o.suffix}`;
  return { lines, lo: `(${okv} ? ${render(h.lo, s)} : 0)`, hi: `(${okv} ? ${render(h.hi, s)} : 0)` };
}
