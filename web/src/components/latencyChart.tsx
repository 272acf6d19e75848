// Latency over time: the phases (DNS, connect, TLS, TTFB, transfer) stacked at the chosen
// percentile, with the total's p50/p95/p99 as lines, and the target's latency baseline (its
// usual p50–p95 for each hour of the week) as a shaded band. uPlot, loaded only on the target
// page.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { BaselineBand, LatencyPoint } from '../api/model';
import { baselineBand, hasBand } from '../state/baseline';
import { chartData, type PercentileKey } from './chartData';
import { PHASES, formatMs } from '../format';
import { t } from '../i18n';

export type { PercentileKey };

const PHASE_VARS: Record<(typeof PHASES)[number], string> = {
  dns: '--c-dns',
  connect: '--c-connect',
  tls: '--c-tls',
  ttfb: '--c-ttfb',
  transfer: '--c-transfer',
};

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export default function LatencyChart({
  points,
  pct,
  themeKey,
  from,
  to,
  band,
}: {
  points: LatencyPoint[];
  pct: PercentileKey;
  themeKey: string;
  from: number;
  to: number;
  band?: BaselineBand | null;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const text = cssVar('--muted');
    const grid = cssVar('--border');
    const phaseSeries: uPlot.Series[] = PHASES.map((ph) => {
      const c = cssVar(PHASE_VARS[ph]);
      return { label: `${t(`phase.${ph}`)} ${pct}`, stroke: c, fill: `${c}55`, width: 1, value: (_u, v) => formatMs(v) };
    });
    const line = (label: string, dash: number[] | undefined, color: string): uPlot.Series => ({
      label,
      stroke: color,
      width: 1.5,
      dash,
      value: (_u, v) => formatMs(v),
    });
    const accent = cssVar('--text');
    const data = chartData(points, pct);
    // The baseline: two faint lines (its p50 and p95 at each point's hour of the week), the
    // area between them filled.
    const withBand = hasBand(band);
    const baseline = withBand ? baselineBand(data[0] as number[], band) : null;
    const bandColor = cssVar('--up');
    const bandSeries: uPlot.Series[] = baseline
      ? [
          { label: t('baseline.bandP50'), stroke: `${bandColor}88`, width: 1, dash: [1, 3], value: (_u, v) => formatMs(v) },
          { label: t('baseline.bandP95'), stroke: `${bandColor}88`, width: 1, dash: [1, 3], value: (_u, v) => formatMs(v) },
        ]
      : [];
    // Series: x, the phases, the three totals, then the baseline's p50 and p95.
    const p50At = 1 + PHASES.length + 3;
    const bandFill: uPlot.Band[] = baseline ? [{ series: [p50At + 1, p50At], fill: `${bandColor}22` }] : [];
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: 260,
      series: [
        {},
        ...phaseSeries,
        line(`${t('phase.total')} p50`, undefined, accent),
        line(`${t('phase.total')} p95`, [6, 4], cssVar('--degraded')),
        line(`${t('phase.total')} p99`, [2, 3], cssVar('--down')),
        ...bandSeries,
      ],
      // Fill each phase down to the one below it, so the areas stack.
      bands: [...PHASES.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })), ...bandFill],
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (_u, vals) => vals.map((v) => formatMs(v)), size: 70 },
      ],
      // The x axis always spans the chosen range, however few points it has.
      scales: { x: { time: true, range: () => [from, to] }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    const columns = baseline ? [...data, baseline.p50, baseline.p95] : data;
    const plot = new uPlot(opts, columns as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [points, pct, themeKey, from, to, band]);
  return <div class="chart" ref={host} data-testid="latency-chart" />;
}
