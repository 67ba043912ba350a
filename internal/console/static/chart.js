// chart.js: small line charts drawn as inline SVG.

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const k of kids) if (k) el.append(k);
  return el;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * lineChart draws points [{t: ms, v}] from start to end (ms) as an SVG
 * element, with a title and a unit.
 */
export function lineChart({ title, unit = '', points, start, end, width = 420, height = 150 }) {
  const pad = { l: 40, r: 10, t: 24, b: 22 };
  const w = width - pad.l - pad.r;
  const hh = height - pad.t - pad.b;
  const max = niceMax(Math.max(0, ...points.map((p) => p.v)));
  const x = (t) => pad.l + ((t - start) / Math.max(1, end - start)) * w;
  const y = (v) => pad.t + hh - (v / max) * hh;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title });
  svg.append(s('text', { x: pad.l, y: 15, class: 'chart-title' }, document.createTextNode(title + (unit ? ` (${unit})` : ''))));
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    svg.append(s('line', { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(s('text', { x: pad.l - 4, y: y(v) + 3, class: 'axis', 'text-anchor': 'end' }, document.createTextNode(fmt(v))));
  }
  const span = end - start;
  for (let i = 0; i <= 3; i++) {
    const t = start + (span / 3) * i;
    const d = new Date(t);
    const label = span > 36 * 3600e3 ? d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    svg.append(s('text', { x: x(t), y: height - 6, class: 'axis', 'text-anchor': i === 0 ? 'start' : i === 3 ? 'end' : 'middle' }, document.createTextNode(label)));
  }
  const pts = [...points].sort((a, b) => a.t - b.t);
  if (pts.length === 0) {
    svg.append(s('text', { x: pad.l + w / 2, y: pad.t + hh / 2, class: 'axis', 'text-anchor': 'middle' }, document.createTextNode('no data')));
  } else {
    const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(p.v).toFixed(1)).join(' ');
    svg.append(s('path', { d, class: 'line' }));
    for (const p of pts) {
      const c = s('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: pts.length > 60 ? 1.5 : 2.5, class: 'dot' });
      c.append(s('title', {}, document.createTextNode(new Date(p.t).toLocaleString() + ': ' + fmt(p.v) + (unit ? ' ' + unit : ''))));
      svg.append(c);
    }
  }
  svg.dataset.total = String(points.reduce((n, p) => n + p.v, 0));
  return svg;
}
