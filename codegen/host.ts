// Host code that builds the head table (see src/ir/table.ts) for any N at run time, in
// JavaScript and in Python. It reproduces the IR's partition formulas and term evaluation
// exactly; tests run both and compare with the TypeScript IR.
import { tableShape, type IExpr, type LayoutIR, type Term, type TunedBands } from '../src/ir/index.js';
import { EMPTY_TERM, FIELD, MOD_ON_D, MOD_ON_J, MOD_STRIDE, NEUTRAL_MOD, modOffset } from '../src/ir/schema.js';
import { renderExpr, type ExprSyntax } from './expr.js';
import { CodeWriter } from './writer.js';

const PY: ExprSyntax = {
  floorDiv: (a, b) => `_fdiv(${a}, ${b})`,
  floorMod: (a, b) => `_fmod(${a}, ${b})`,
  min: (xs) => `min(${xs.join(', ')})`,
  max: (xs) => `max(${xs.join(', ')})`,
  variable: (n) => n,
};

/**
 * JavaScript over an arithmetic A (NUM: Numbers that throw INEXACT once a value may not be an exact
 * safe integer; BIG: BigInt), so the host table equals Python's exact integers at any N while the
 * common case stays in Number. Literals and variables enter through A.c; results leave through A.out.
 */
function renderA(e: IExpr): string {
  switch (e.op) {
    case 'num':
      return `A.c(${e.value})`;
    case 'var':
      return `A.c(${e.name})`;
    case 'neg':
      return `A.neg(${renderA(e.arg)})`;
    case 'min':
    case 'max':
      return `A.${e.op}(${e.args.map(renderA).join(', ')})`;
    default:
      return `A.${({ '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod' } as const)[e.op]}(${renderA(e.left)}, ${renderA(e.right)})`;
  }
}

/** The fields of a term in the A form: intervals clamped, then converted back to Number. */
function jsFieldExprs(t: Term<IExpr>, modSlots: number): string[] {
  const cl = (lo: string, x: IExpr | undefined, hi: string, isLo: boolean) =>
    x ? `A.out(A.min(A.c(${hi}), A.max(A.c(${lo}), ${renderA(x)})))` : isLo ? lo : hi;
  const iv = (x: [IExpr, IExpr] | undefined, lo: string, hi: string) => [cl(lo, x?.[0], hi, true), cl(lo, x?.[1], hi, false)];
  const f = [...iv(t.d, 'dMin', 'N'), ...iv(t.k, '0', 'N'), ...iv(t.q, '0', 'N')];
  for (const m of t.mods) {
    const mm = renderA(m.m);
    f.push(
      String(m.on === 'd' ? MOD_ON_D : MOD_ON_J),
      `chkmod(A.out(${mm}))`,
      `A.out(A.min(${mm}, A.max(A.c(0), ${renderA(m.lo)})))`,
      `A.out(A.min(${mm}, A.max(A.c(0), ${renderA(m.hi)})))`,
    );
  }
  for (let k = t.mods.length; k < modSlots; k++) f.push(...NEUTRAL_MOD.map(String));
  return f;
}

function fieldExprs(t: Term<IExpr>, modSlots: number, s: ExprSyntax, clamp: (lo: string, x: IExpr | undefined, hi: string, isLo: boolean) => string): string[] {
  const iv = (x: [IExpr, IExpr] | undefined, lo: string, hi: string) => [clamp(lo, x?.[0], hi, true), clamp(lo, x?.[1], hi, false)];
  const f = [...iv(t.d, 'dMin', 'N'), ...iv(t.k, '0', 'N'), ...iv(t.q, '0', 'N')];
  for (const m of t.mods) {
    const mm = renderExpr(m.m, s);
    f.push(
      String(m.on === 'd' ? MOD_ON_D : MOD_ON_J),
      `chkmod(${mm})`,
      s.min([mm, s.max(['0', renderExpr(m.lo, s)])]),
      s.min([mm, s.max(['0', renderExpr(m.hi, s)])]),
    );
  }
  for (let k = t.mods.length; k < modSlots; k++) f.push(...NEUTRAL_MOD.map(String));
  return f;
}

/** The fields of an empty term slot (schema.ts encodings). */
const emptySlot = (modSlots: number): string[] => [...EMPTY_TERM, ...Array.from({ length: modSlots }, () => NEUTRAL_MOD).flat()].map(String);

/** Index expressions into the table t at term offset o: field k, and field f of mod slot m (a loop variable). */
const at = (k: number) => (k ? `t[o + ${k}]` : 't[o]');
const modAt = (f: 'lo' | 'hi') => `t[o + ${modOffset(0, f)} + ${MOD_STRIDE} * m]`;

/** JavaScript (ES module) source defining `equalWidthBounds`, `equalPairsBounds`, `partitionBounds(N)` and `headTable(N)`. */
export function jsHostTable(layout: LayoutIR): string {
  const shape = tableShape(layout);
  const w = new CodeWriter();
  w.line(`// Head table for layout ${layout.name}: ${layout.heads} heads x ${shape.termSlots} term slots x ${shape.fieldsPerTerm} int32.`);
  w.line('// Fields per term: dLo, dHi, kLo, kHi, qLo, qHi, then (on, m, lo, hi) per mod slot. Same formulas as the spc IR.');
  w.line(`export const TERM_SLOTS = ${shape.termSlots};`);
  w.line(`export const MOD_SLOTS = ${shape.modSlots};`);
  w.line(`export const FIELDS_PER_TERM = ${shape.fieldsPerTerm};`);
  w.block('export function equalWidthBounds(N, H) {', () => {
    w.line('const base = Math.floor(N / H), rem = N % H;');
    w.line('return Array.from({ length: H + 1 }, (_, h) => h * base + Math.min(h, rem));');
  });
  w.block('export function equalPairsBounds(N, H) {', () => {
    w.line('const n = BigInt(N), HH = BigInt(H);');
    w.line('const C = (b) => (b * (2n * n - b + 1n)) / 2n;');
    w.line('const P = C(n);');
    w.line('const out = [0];');
    w.block('for (let k = 1; k < H; k++) {', () => {
      w.line('const target = BigInt(k) * P;');
      w.line('let lo = 0n, hi = n;');
      w.block('while (lo < hi) {', () => {
        w.line('const mid = (lo + hi) / 2n;');
        w.line('if (HH * C(mid) >= target) hi = mid; else lo = mid + 1n;');
      });
      w.line('out.push(Number(lo));');
    });
    w.line('out.push(N);');
    w.line('return out;');
  });
  w.line('// Exact integer arithmetic: NUM while every value is a safe integer, else (it throws INEXACT) BIG.');
  w.line("const INEXACT = Symbol('inexact');");
  w.block('function safe(r) {', () => {
    w.line('if (!Number.isSafeInteger(r)) throw INEXACT;');
    w.line('return r;');
  });
  w.block('function zero() {', () => {
    w.line("throw new RangeError('spc: division by zero in a pattern expression at this N');");
  });
  w.block('function fdiv(a, b) {', () => {
    w.line('if (b === 0) zero();');
    w.line('if (Math.abs(a) >= 4503599627370496 || Math.abs(b) >= 4503599627370496) throw INEXACT;');
    w.line('let q = Math.floor(a / b), r = a - q * b;');
    w.line('if (b > 0) { while (r < 0) { q--; r += b; } while (r >= b) { q++; r -= b; } }');
    w.line('else { while (r > 0) { q--; r += b; } while (r <= b) { q++; r -= b; } }');
    w.line('return q;');
  });
  w.block('function bdiv(a, b) {', () => {
    w.line('if (b === 0n) zero();');
    w.line('const q = a / b;');
    w.line('return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;');
  });
  w.line(
    'const NUM = { c: safe, out: (x) => x, neg: (a) => -a, add: (a, b) => safe(a + b), sub: (a, b) => safe(a - b), mul: (a, b) => safe(a * b), div: fdiv, mod: (a, b) => safe(a - b * fdiv(a, b)), min: Math.min, max: Math.max };',
  );
  w.line(
    'const BIG = { c: BigInt, out: Number, neg: (a) => -a, add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: bdiv, mod: (a, b) => a - b * bdiv(a, b), min: (...x) => x.reduce((p, y) => (y < p ? y : p)), max: (...x) => x.reduce((p, y) => (y > p ? y : p)) };',
  );
  w.block('function exact(f) {', () => {
    w.block('try {', () => w.line('return f(NUM);'), '} catch (e) {');
    w.line('  if (e !== INEXACT) throw e;');
    w.line('  return f(BIG);');
    w.line('}');
  });
  w.block('function chkmod(m) {', () => {
    w.line('if (m < 1) throw new RangeError(`spc: a stride or period must be at least 1, got ${m}`);');
    w.line('if (m > 2147483647) throw new RangeError(`spc: a stride or period of ${m} is too large (at most 2147483647)`);');
    w.line('return m;');
  });
  w.block('export function partitionBounds(N) {', () => {
    w.line(`const H = ${layout.heads};`);
    jsPartition(w, layout);
  });
  w.block('export function headTable(N) {', () => {
    w.line('if (!Number.isSafeInteger(N) || N < 1 || N > 1073741824) throw new RangeError(`spc: N must be an integer in 1..1073741824, got ${N}`);');
    if (layout.seq !== null)
      w.line(`if (N !== ${layout.seq}) throw new RangeError(\`spc: layout ${layout.name} has a fixed length ${layout.seq}, got \${N}\`);`);
    w.line(`const H = ${layout.heads};`);
    w.line(`const dMin = ${layout.causal ? '0' : '1 - N'};`);
    w.line('const bounds = partitionBounds(N);');
    w.line(`const t = new Int32Array(H * ${shape.termSlots * shape.fieldsPerTerm});`);
    w.block(
      'exact((A) => {',
      () => {
        for (const g of layout.groups) {
          w.block(`for (let h = ${g.lo}; h < ${g.hi}; h++) {`, () => {
            w.line(layout.partition ? 'const S = bounds[h], W = bounds[h + 1] - bounds[h];' : 'void bounds;');
            const slots = g.terms.map((t) => jsFieldExprs(t, shape.modSlots));
            for (let k = g.terms.length; k < shape.termSlots; k++) slots.push(emptySlot(shape.modSlots));
            slots.forEach((f, k) => w.line(`t.set([${f.join(', ')}], (h * ${shape.termSlots} + ${k}) * ${shape.fieldsPerTerm});`));
          });
        }
      },
      '});',
    );
    if (shape.modSlots > 0) {
      w.line('// A term with an empty residue window allows nothing: empty its distance interval too.');
      w.block(`for (let o = 0; o < t.length; o += ${shape.fieldsPerTerm}) {`, () => {
        w.line(`for (let m = 0; m < ${shape.modSlots}; m++) if (${modAt('lo')} >= ${modAt('hi')}) ${at(FIELD.dLo)} = ${at(FIELD.dHi)} = 0;`);
      });
    }
    w.line('return t;');
  });
  return w.toString();
}

/** The runtime error of a tuned layout called at a length its record does not cover (no quotes: it goes in JS and Python strings). */
function tunedMissing(name: string, bands: readonly TunedBands[]): string {
  const have = bands.length ? `bands for N = ${bands.map((b) => b.n).join(', ')} only` : 'no tuned bands';
  return `layout ${name} has partition tuned with ${have} (run spc tune for this N and compile with --tuning RECORD)`;
}

function jsPartition(w: CodeWriter, layout: LayoutIR): void {
  const p = layout.partition;
  if (!p) return void w.line('return null;');
  if (p.kind === 'tuned') {
    const base = p.base === 'equal_width' ? 'return equalWidthBounds(N, H);' : 'return equalPairsBounds(N, H);';
    if (p.useBase) {
      w.line(`// partition tuned, compiled with --untuned: the base partition ${p.base} at every N.`);
      return void w.line(base);
    }
    w.line(`// partition tuned(base = ${p.base}, tol = ${p.tol}): the bands of a tuning record, for these N only.`);
    w.line(`const TUNED = new Map([${p.bands.map((b) => `[${b.n}, [${b.bounds.join(', ')}]]`).join(', ')}]);`);
    w.line('const b = TUNED.get(N);');
    w.line(`if (b === undefined) throw new RangeError(\`spc: ${tunedMissing(layout.name, p.bands)}, got N = \${N}\`);`);
    return void w.line('return b.slice();');
  }
  if (p.kind !== 'explicit') return void w.line(p.kind === 'equal_width' ? 'return equalWidthBounds(N, H);' : 'return equalPairsBounds(N, H);');
  w.line(`const b = exact((A) => [${p.bounds.map((e) => `A.out(${renderA(e)})`).join(', ')}]);`);
  w.block('for (let k = 0; k < b.length; k++) {', () => {
    w.line('if (b[k] < 0 || b[k] > N) throw new RangeError(`spc: band boundary ${b[k]} is out of range 0..${N}`);');
    w.line('if (k > 0 && b[k] < b[k - 1]) throw new RangeError(`spc: band boundaries decrease at N = ${N}: bands would overlap`);');
  });
  w.line('if (b[0] !== 0 || b[b.length - 1] !== N) throw new RangeError(`spc: band boundaries must run from 0 to N = ${N}`);');
  w.line('return b;');
}

/** Python source defining `equal_width_bounds`, `equal_pairs_bounds`, `partition_bounds(N)` and `head_table(N)` (a list of ints). */
export function pyHostTable(layout: LayoutIR): string {
  const shape = tableShape(layout);
  const w = new CodeWriter('    ');
  w.line(`# Head table for layout ${layout.name}: ${layout.heads} heads x ${shape.termSlots} term slots x ${shape.fieldsPerTerm} int32.`);
  w.line('# Fields per term: dLo, dHi, kLo, kHi, qLo, qHi, then (on, m, lo, hi) per mod slot. Same formulas as the spc IR.');
  w.line(`TERM_SLOTS = ${shape.termSlots}`);
  w.line(`MOD_SLOTS = ${shape.modSlots}`);
  w.line(`FIELDS_PER_TERM = ${shape.fieldsPerTerm}`);
  w.line();
  w.block(
    'def equal_width_bounds(N, H):',
    () => {
      w.line('base, rem = N // H, N % H');
      w.line('return [h * base + min(h, rem) for h in range(H + 1)]');
    },
    '',
  );
  w.block(
    'def equal_pairs_bounds(N, H):',
    () => {
      w.line('def C(b):');
      w.line('    return b * (2 * N - b + 1) // 2');
      w.line('P = C(N)');
      w.line('out = [0]');
      w.block(
        'for k in range(1, H):',
        () => {
          w.line('target = k * P');
          w.line('lo, hi = 0, N');
          w.block(
            'while lo < hi:',
            () => {
              w.line('mid = (lo + hi) // 2');
              w.line('if H * C(mid) >= target:');
              w.line('    hi = mid');
              w.line('else:');
              w.line('    lo = mid + 1');
            },
            '',
          );
          w.line('out.append(lo)');
        },
        '',
      );
      w.line('out.append(N)');
      w.line('return out');
    },
    '',
  );
  w.block(
    'def _fdiv(a, b):',
    () => {
      w.line('if b == 0:');
      w.line("    raise ValueError('spc: division by zero in a pattern expression at this N')");
      w.line('return a // b');
    },
    '',
  );
  w.block(
    'def _fmod(a, b):',
    () => {
      w.line('if b == 0:');
      w.line("    raise ValueError('spc: division by zero in a pattern expression at this N')");
      w.line('return a % b');
    },
    '',
  );
  w.block(
    'def chkmod(m):',
    () => {
      w.line('if m < 1:');
      w.line("    raise ValueError(f'spc: a stride or period must be at least 1, got {m}')");
      w.line('if m > 2147483647:');
      w.line("    raise ValueError(f'spc: a stride or period of {m} is too large (at most 2147483647)')");
      w.line('return m');
    },
    '',
  );
  w.block(
    'def partition_bounds(N):',
    () => {
      w.line(`H = ${layout.heads}`);
      const p = layout.partition;
      if (!p) w.line('return None');
      else if (p.kind === 'tuned' && p.useBase) {
        w.line(`# partition tuned, compiled with --untuned: the base partition ${p.base} at every N.`);
        w.line(p.base === 'equal_width' ? 'return equal_width_bounds(N, H)' : 'return equal_pairs_bounds(N, H)');
      } else if (p.kind === 'tuned') {
        w.line(`# partition tuned(base = ${p.base}, tol = ${p.tol}): the bands of a tuning record, for these N only.`);
        w.line(`tuned = {${p.bands.map((b) => `${b.n}: [${b.bounds.join(', ')}]`).join(', ')}}`);
        w.line('if N not in tuned:');
        w.line(`    raise ValueError(f'spc: ${tunedMissing(layout.name, p.bands)}, got N = {N}')`);
        w.line('return list(tuned[N])');
      } else if (p.kind !== 'explicit') w.line(p.kind === 'equal_width' ? 'return equal_width_bounds(N, H)' : 'return equal_pairs_bounds(N, H)');
      else {
        w.line(`b = [${p.bounds.map((e) => renderExpr(e, PY)).join(', ')}]`);
        w.line('for k, x in enumerate(b):');
        w.line('    if x < 0 or x > N:');
        w.line("        raise ValueError(f'spc: band boundary {x} is out of range 0..{N}')");
        w.line('    if k > 0 and x < b[k - 1]:');
        w.line("        raise ValueError(f'spc: band boundaries decrease at N = {N}: bands would overlap')");
        w.line('if b[0] != 0 or b[-1] != N:');
        w.line("    raise ValueError(f'spc: band boundaries must run from 0 to N = {N}')");
        w.line('return b');
      }
    },
    '',
  );
  w.block(
    'def head_table(N):',
    () => {
      w.line('if not isinstance(N, int) or N < 1 or N > 1073741824:');
      w.line("    raise ValueError(f'spc: N must be an integer in 1..1073741824, got {N!r}')");
      if (layout.seq !== null) {
        w.line(`if N != ${layout.seq}:`);
        w.line(`    raise ValueError(f'spc: layout ${layout.name} has a fixed length ${layout.seq}, got {N}')`);
      }
      w.line(`H = ${layout.heads}`);
      w.line(`dMin = ${layout.causal ? '0' : '1 - N'}`);
      w.line('bounds = partition_bounds(N)');
      w.line(`t = [0] * (H * ${shape.termSlots * shape.fieldsPerTerm})`);
      for (const g of layout.groups) {
        w.block(
          `for h in range(${g.lo}, ${g.hi}):`,
          () => {
            if (layout.partition) w.line('S, W = bounds[h], bounds[h + 1] - bounds[h]');
            const slots = g.terms.map((t) =>
              fieldExprs(t, shape.modSlots, PY, (lo, x, hi, isLo) => (x ? PY.min([hi, PY.max([lo, renderExpr(x, PY)])]) : isLo ? lo : hi)),
            );
            for (let k = g.terms.length; k < shape.termSlots; k++) slots.push(emptySlot(shape.modSlots));
            slots.forEach((f, k) => {
              w.line(`o = (h * ${shape.termSlots} + ${k}) * ${shape.fieldsPerTerm}`);
              w.line(`t[o:o + ${shape.fieldsPerTerm}] = [${f.join(', ')}]`);
            });
          },
          '',
        );
      }
      if (shape.modSlots > 0) {
        w.line('# A term with an empty residue window allows nothing: empty its distance interval too.');
        w.block(
          `for o in range(0, len(t), ${shape.fieldsPerTerm}):`,
          () => {
            w.block(
              `for m in range(${shape.modSlots}):`,
              () => {
                w.block(`if ${modAt('lo')} >= ${modAt('hi')}:`, () => w.line(`${at(FIELD.dLo)} = ${at(FIELD.dHi)} = 0`), '');
              },
              '',
            );
          },
          '',
        );
      }
      w.line('return t');
    },
    '',
  );
  return w.toString();
}
