// Inline SVG charts for the supervisor console, drawn with the DOM (no
// library). Colours come from a fixed palette; the legend uses the same
// index classes (c0..c11) as console.css.
'use strict';

const CHART_COLOURS = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2',
  '#db2777', '#65a30d', '#9333ea', '#ea580c', '#0d9488', '#64748b'];
const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// A round axis maximum whose quarters (the grid lines) are round too.
function niceMax(v) {
  if (v <= 8) return 4 * Math.max(1, Math.ceil(v / 4));
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1.2, 2, 4, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function legend(names, label) {
  const div = document.createElement('div');
  div.className = 'legend';
  names.forEach((n, i) => {
    const s = document.createElement('span');
    s.className = 'c' + (i % CHART_COLOURS.length);
    s.textContent = label ? label(n) : n;
    div.appendChild(s);
  });
  return div;
}

function emptyChart(container) {
  container.replaceChildren();
  const d = document.createElement('div');
  d.className = 'empty';
  d.textContent = t('ch.empty');
  container.appendChild(d);
}

// Stacked columns: table = {series: {bucket: count}}; one column per bucket.
function stackedColumns(container, table, seriesLabel) {
  const series = Object.keys(table || {}).sort();
  const buckets = [...new Set(series.flatMap((s) => Object.keys(table[s])))].sort();
  if (!series.length || !buckets.length) return emptyChart(container);
  const W = 640, H = 260, L = 44, R = 10, T = 10, B = 56;
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (table[s][b] || 0), 0));
  const max = niceMax(Math.max(...totals));
  const plotW = W - L - R, plotH = H - T - B;
  const step = plotW / buckets.length;
  const barW = Math.max(2, Math.min(40, step * 0.7));
  const svg = svgEl('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img'});
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4, y = T + plotH - (plotH * i) / 4;
    svg.appendChild(svgEl('line', {x1: L, x2: W - R, y1: y, y2: y, stroke: '#e5e7eb'}));
    svg.appendChild(svgEl('text', {x: L - 4, y: y + 4, 'text-anchor': 'end', fill: '#5f6b7a'}, String(Math.round(v * 10) / 10)));
  }
  const labelEvery = Math.ceil(buckets.length / 12);
  buckets.forEach((b, i) => {
    const x = L + step * i + (step - barW) / 2;
    let y = T + plotH;
    series.forEach((s, si) => {
      const v = table[s][b] || 0;
      if (!v) return;
      const h = (plotH * v) / max;
      y -= h;
      const rect = svgEl('rect', {x, y, width: barW, height: h, fill: CHART_COLOURS[si % CHART_COLOURS.length]});
      rect.appendChild(svgEl('title', {}, `${seriesLabel ? seriesLabel(s) : s} · ${b}: ${v}`));
      svg.appendChild(rect);
    });
    if (i % labelEvery === 0) {
      const tx = L + step * i + step / 2, ty = T + plotH + 12;
      svg.appendChild(svgEl('text', {x: tx, y: ty, 'text-anchor': 'end', fill: '#5f6b7a',
        transform: `rotate(-35 ${tx} ${ty})`}, b.length > 10 ? b.slice(5) : b));
    }
  });
  svg.appendChild(svgEl('line', {x1: L, x2: W - R, y1: T + plotH, y2: T + plotH, stroke: '#9ca3af'}));
  container.replaceChildren(svg, legend(series, seriesLabel));
}

// Horizontal bars: rows = [{label, value, text, parts: {name: n}}], value in [0, max].
function horizontalBars(container, rows, max, partNames, partLabel) {
  if (!rows.length) return emptyChart(container);
  const W = 640, rowH = 26, L = 170, R = 120, T = 6;
  const H = T * 2 + rows.length * rowH;
  const svg = svgEl('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img'});
  const plotW = W - L - R;
  rows.forEach((row, i) => {
    const y = T + i * rowH;
    svg.appendChild(svgEl('text', {x: L - 6, y: y + rowH / 2 + 4, 'text-anchor': 'end', fill: '#1f2933'}, row.label));
    svg.appendChild(svgEl('rect', {x: L, y: y + 4, width: plotW, height: rowH - 8, fill: '#f1f5f9'}));
    let x = L;
    const parts = row.parts || {value: row.value};
    const names = partNames || ['value'];
    names.forEach((n, ni) => {
      const v = parts[n] || 0;
      if (!v) return;
      const w = (plotW * v) / (max || 1);
      const rect = svgEl('rect', {x, y: y + 4, width: w, height: rowH - 8,
        fill: CHART_COLOURS[(partNames ? ni : 3) % CHART_COLOURS.length]});
      rect.appendChild(svgEl('title', {}, `${row.label} · ${partLabel ? partLabel(n) : n}: ${v}`));
      svg.appendChild(rect);
      x += w;
    });
    svg.appendChild(svgEl('text', {x: L + plotW + 6, y: y + rowH / 2 + 4, fill: '#1f2933'}, row.text));
  });
  const parts = [svg];
  if (partNames) parts.push(legend(partNames, partLabel));
  container.replaceChildren(...parts);
}
