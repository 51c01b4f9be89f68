// Golden snapshots of unrolled code, losslessly shorter: a run of 4 or more consecutive lines that
// are equal except for integers that step by a constant from line to line (an unrolled loop over
// D, say) is written as its first line with those integers as `{a+d*i}` and the run's length.
// expand() restores the text exactly; the golden tests check that round trip, so a snapshot
// still pins every generated character.
const INT = /\d+/g;

interface Shape {
  parts: string[];
  ints: number[];
}
function shape(line: string): Shape {
  return { parts: line.split(INT), ints: (line.match(INT) ?? []).map(Number) };
}
const sameParts = (a: Shape, b: Shape) => a.parts.length === b.parts.length && a.parts.every((p, k) => p === b.parts[k]);

export function collapse(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length;) {
    const first = shape(lines[i]!);
    let j = i + 1;
    let steps: number[] | null = null;
    while (j < lines.length) {
      const prev = shape(lines[j - 1]!);
      const cur = shape(lines[j]!);
      if (!sameParts(first, cur)) break;
      const d = cur.ints.map((x, k) => x - prev.ints[k]!);
      if (steps === null) {
        if (!d.some((x) => x !== 0)) break;
        steps = d;
      } else if (!d.every((x, k) => x === steps![k])) break;
      j++;
    }
    const count = j - i;
    if (steps !== null && count >= 4 && !lines[i]!.includes('⟦')) {
      const st = steps;
      const body = first.parts
        .map((p, k) => (k < first.ints.length ? p + (st[k] === 0 ? String(first.ints[k]) : `{${first.ints[k]}${st[k]! > 0 ? '+' : ''}${st[k]}*i}`) : p))
        .join('');
      out.push(`${body} ⟦unrolled: i = 0..${count - 1}⟧`);
      i = j;
    } else out.push(lines[i++]!);
  }
  return out.join('\n');
}

export function expand(text: string): string {
  return text
    .split('\n')
    .flatMap((line) => {
      const m = /^(.*) ⟦unrolled: i = 0\.\.(\d+)⟧$/.exec(line);
      if (!m) return [line];
      return Array.from({ length: Number(m[2]) + 1 }, (_, i) =>
        m[1]!.replace(/\{(\d+)([+-]\d+)\*i\}/g, (_, a: string, d: string) => String(Number(a) + Number(d) * i)),
      );
    })
    .join('\n');
}

/** Splits generated text at the first line that starts with `marker`: [the part before it, the rest]. */
export function splitAt(text: string, marker: string): [string, string] {
  const at = text.indexOf(`\n${marker}`);
  if (at < 0) throw new Error(`no line starting with ${marker}`);
  return [text.slice(0, at + 1), text.slice(at + 1)];
}
