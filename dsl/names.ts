// Names from specs end up in CUDA, C++, Python, JavaScript and WGSL code and in file names.
// One rule keeps all of them safe: a letter, then letters, digits or single underscores,
// at most 64 characters, no keyword of any of those languages, and no Python module's name.
import { PYTHON_COMMON_PACKAGES, PYTHON_STDLIB_MODULES } from './python-modules.js';

const PYTHON_MODULES = new Set([...PYTHON_STDLIB_MODULES, ...PYTHON_COMMON_PACKAGES]);

const RESERVED = new Set(
  `alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class compl
  concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype default delete do
  double dynamic_cast else enum explicit export extern false float for friend goto if inline int long mutable namespace
  new noexcept not not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires return
  short signed sizeof static static_assert static_cast struct switch template this thread_local throw true try typedef
  typeid typename union unsigned using virtual void volatile wchar_t while xor xor_eq
  __global__ __device__ __host__ __shared__ __constant__ half bfloat16 dim3 float2 float4 int2 int4 uint
  False None True as assert async await def del elif except finally from global import in is lambda nonlocal pass
  raise with yield print self cls
  arguments await break case catch class const continue debugger default delete do else enum eval export extends false
  finally for function if implements import in instanceof interface let new null package private protected public return
  static super switch this throw true try typeof undefined var void while with yield NaN Infinity
  alias array atomic bitcast f16 f32 i32 u32 fn loop mat2x2 mat3x3 mat4x4 override ptr sampler storage texture uniform
  vec2 vec3 vec4 workgroup private function read write read_write discard fallthrough
  layout head N H S W`
    .split(/\s+/)
    .filter(Boolean),
);

/** Null when the name is safe, else the reason it is not. */
export function nameProblem(name: string): string | null {
  if (!/^[A-Za-z]/.test(name)) return 'names start with a letter';
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return 'names hold only letters, digits and underscores';
  if (name.length > 64) return 'names are at most 64 characters long';
  if (name.includes('__')) return 'a double underscore is reserved in C++';
  if (name.endsWith('_')) return 'names do not end with an underscore';
  if (RESERVED.has(name)) return 'it is a keyword or reserved name in a language spc generates';
  if (PYTHON_MODULES.has(name))
    return `it is the name of a Python module, which the generated Python package '${name}' would shadow (\`import ${name}\` would load spc's package)`;
  return null;
}

export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      // An adjacent transposition ('haeds' for 'heads') counts as one edit.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** " (did you mean 'x'?)" for the closest candidate within a small distance, else "". */
export function suggest(word: string, candidates: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean '${best}'?)` : '';
}
