// Latency over time: the phases (DNS, connect, TLS, TTFB, transfer) stacked at the chosen
// percentile, with the total's p50/p95/p99 as lines. uPlot, loaded only on the target page.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { LatencyPoint } from '../api/model';
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

export default function LatencyChart({ points, pct, themeKey, from, to }: { points: LatencyPoint[]; pct: PercentileKey; themeKey: string; from: number; to: number }) {
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
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: 260,
      series: [
        {},
        ...phaseSeries,
        line(`${t('phase.total')} p50`, undefined, accent),
        line(`${t('phase.total')} p95`, [6, 4], cssVar('--degraded')),
        line(`${t('phase.total')} p99`, [2, 3], cssVar('--down')),
      ],
      // Fill each phase down to the one below it, so the areas stack.
      bands: PHASES.slice(1).map((_, i) => ({ series: [i + 2, i + 1] as [number, number] })),
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (_u, vals) => vals.map((v) => formatMs(v)), size: 70 },
      ],
      // The x axis always spans the chosen range, however few points it has.
      scales: { x: { time: true, range: () => [from, to] }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    const plot = new uPlot(opts, chartData(points, pct) as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [points, pct, themeKey, from, to]);
  return <div class="chart" ref={host} data-testid="latency-chart" />;
}
