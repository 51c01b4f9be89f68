// Pictures of a pattern: per-head panels of the query x key mask (cell shade = share of
// allowed pairs in the cell) and the distance bands, as SVG and as compact terminal text.
import { classifyBox, minDistance, type HeadInstance, type Instance } from '../ir/index.js';
import { describeTerms } from './describe.js';

/** Density of allowed pairs in each of cells x cells blocks of the N x N grid. */
export function densityGrid(head: HeadInstance, n: number, cells: number): number[][] {
  const r = Math.min(cells, n);
  const edges = Array.from({ length: r + 1 }, (_, k) => Math.round((k * n) / r));
  const grid: number[][] = [];
  for (let a = 0; a < r; a++) {
    const row: number[] = [];
    for (let b = 0; b < r; b++) {
      const box = { i0: edges[a]!, i1: edges[a + 1]!, j0: edges[b]!, j1: edges[b + 1]! };
      const { pairs } = classifyBox(head, box);
      row.push(pairs / ((box.i1 - box.i0) * (box.j1 - box.j0)));
    }
    grid.push(row);
  }
  return grid;
}

const SHADES = [' ', '.', ':', '+', '#'];

export function textPicture(inst: Instance, cells = 16, perRow = 4): string {
  const r = Math.min(cells, inst.n);
  const panels = inst.heads.map((h) => {
    const grid = densityGrid(h, inst.n, r);
    const title = `head ${h.head}`.padEnd(r + 2);
    const body = grid.map((row) => '|' + row.map((x) => (x === 0 ? ' ' : x === 1 ? '#' : SHADES[1 + Math.min(2, Math.floor(x * 3))])).join('') + '|');
    return [title, '+' + '-'.repeat(r) + '+', ...body, '+' + '-'.repeat(r) + '+'];
  });
  const out: string[] = [];
  for (let p = 0; p < panels.length; p += perRow) {
    const chunk = panels.slice(p, p + perRow);
    for (let line = 0; line < chunk[0]!.length; line++)
      out.push(
        chunk
          .map((c) => c[line]!.padEnd(r + 2))
          .join('  ')
          .trimEnd(),
      );
    out.push('');
  }
  out.push(`rows: queries i (0..${inst.n - 1}, top to bottom); columns: keys j; '#' every pair allowed, '+:.' partly, ' ' none`);
  return out.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Width of one character of the 11 px monospace font, a little generous. */
export const CHAR_PX = 6.8;

/** The title cut to fit `width` pixels, with an ellipsis when cut (the full text is the SVG tooltip). */
export function fitTitle(title: string, width: number): string {
  const max = Math.max(4, Math.floor(width / CHAR_PX));
  return title.length <= max ? title : `${title.slice(0, max - 1)}\u2026`;
}

const fmod = (a: number, m: number) => ((a % m) + m) % m;

/** Some d in [lo, hi) satisfies every mod on d (exact for one mod; a bounded scan for more). */
function someDistance(lo: number, hi: number, mods: { m: number; lo: number; hi: number }[]): boolean {
  if (lo >= hi) return false;
  if (mods.length === 0) return true;
  if (mods.length === 1) {
    const { m, lo: rlo, hi: rhi } = mods[0]!;
    if (rlo >= rhi) return false;
    const r = fmod(lo, m);
    if (r >= rlo && r < rhi) return true;
    return lo + fmod(rlo - r, m) < hi;
  }
  for (let d = lo; d < Math.min(hi, lo + 4096); d++) if (mods.every((x) => fmod(d, x.m) >= x.lo && fmod(d, x.m) < x.hi)) return true;
  return false;
}

/**
 * The pixel runs [a, b) of a `size`-pixel bar over distances 0..n-1 holding some distance the
 * head allows through a term that constrains only d (an interval and mods on d).
 */
export function distanceBar(h: HeadInstance, n: number, size: number): [number, number][] {
  const terms = h.terms.filter((t) => t.kLo <= 0 && t.kHi >= n && t.qLo <= 0 && t.qHi >= n && t.mods.every((m) => m.on === 'd'));
  const runs: [number, number][] = [];
  for (let p = 0; p < size; p++) {
    const d0 = Math.floor((p * n) / size);
    const d1 = Math.max(d0 + 1, Math.floor(((p + 1) * n) / size));
    const on = terms.some((t) => someDistance(Math.max(d0, t.dLo), Math.min(d1, t.dHi), t.mods));
    if (!on) continue;
    const last = runs[runs.length - 1];
    if (last && last[1] === p) last[1] = p + 1;
    else runs.push([p, p + 1]);
  }
  return runs;
}

export function svgPicture(inst: Instance, cells = 96): string {
  const r = Math.min(cells, inst.n);
  const px = Math.max(1, Math.floor(192 / r));
  const size = r * px;
  const perRow = Math.min(4, inst.heads.length);
  const panelW = size + 40;
  const panelH = size + 90;
  const width = perRow * panelW + 20;
  const height = Math.ceil(inst.heads.length / perRow) * panelH + 70;
  const L = inst.layout;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14">${esc(`${L.name}: ${L.heads} heads, N = ${inst.n}${L.partition ? `, partition ${L.partition.kind}` : ''}`)}</text>`,
    `<text x="10" y="36" fill="#555">each panel: queries i down, keys j across; darker = more allowed pairs</text>`,
    `<text x="10" y="50" fill="#555">bar under a panel: distances 0..N-1, the head's allowed distances in orange</text>`,
  ];
  inst.heads.forEach((h, idx) => {
    const x0 = 10 + (idx % perRow) * panelW;
    const y0 = 60 + Math.floor(idx / perRow) * panelH;
    parts.push(`<g transform="translate(${x0},${y0})">`);
    const title = `head ${h.head}: ${describeTerms(h, inst.n, minDistance(L, inst.n))}`;
    parts.push(`<text x="0" y="12">${esc(fitTitle(title, panelW - 8))}<title>${esc(title)}</title></text>`);
    parts.push(`<rect x="0" y="18" width="${size}" height="${size}" fill="#f4f4f4" stroke="#999"/>`);
    const grid = densityGrid(h, inst.n, r);
    grid.forEach((row, a) =>
      row.forEach((x, b) => {
        if (x > 0)
          parts.push(`<rect x="${b * px}" y="${18 + a * px}" width="${px}" height="${px}" fill="#1f4e9c" fill-opacity="${(0.25 + 0.75 * x).toFixed(3)}"/>`);
      }),
    );
    // Distance bar: which distances this head allows at all (from its terms on d alone,
    // mods on d included: strided and dilated heads show their ticks).
    const barY = 18 + size + 10;
    parts.push(`<rect x="0" y="${barY}" width="${size}" height="10" fill="#eee" stroke="#999"/>`);
    for (const [a, b] of distanceBar(h, inst.n, size)) parts.push(`<rect x="${a}" y="${barY}" width="${b - a}" height="10" fill="#d9822b"/>`);
    parts.push(
      `<text x="0" y="${barY + 24}" fill="#555">d = 0</text><text x="${size}" y="${barY + 24}" text-anchor="end" fill="#555">d = ${inst.n - 1}</text>`,
    );
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
