import type { LatencyPoint, Percentiles } from '../api/model';
import { PHASES } from '../format';

export type PercentileKey = keyof Percentiles;

/** Columns for uPlot: time, then the stacked phase tops, then total p50/p95/p99. */
export function chartData(points: LatencyPoint[], pct: PercentileKey): (number | null)[][] {
  const xs: number[] = [];
  const stacks: (number | null)[][] = PHASES.map(() => []);
  const totals: (number | null)[][] = [[], [], []];
  for (const p of points) {
    xs.push(Date.parse(p.t) / 1000);
    let acc = 0;
    let any = false;
    PHASES.forEach((ph, i) => {
      const v = p[ph]?.[pct];
      if (v !== null && v !== undefined) {
        acc += v;
        any = true;
      }
      stacks[i]!.push(any ? acc : null);
    });
    totals[0]!.push(p.total?.p50 ?? null);
    totals[1]!.push(p.total?.p95 ?? null);
    totals[2]!.push(p.total?.p99 ?? null);
  }
  return [xs, ...stacks, ...totals];
}

