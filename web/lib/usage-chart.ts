// Shapes GET /api/admin/analytics for the usage page: one column per UTC day of the window (days
// without jobs included, at zero, so the time axis is honest), stacked by job type, a rounded
// axis maximum, and totals across types.
import type { Analytics } from "@/types/admin";

export interface Segment {
  jobType: string;
  value: number;
  /** Sum of the segments below this one: where the segment starts on the value axis. */
  base: number;
}

export interface DayColumn {
  day: string; // YYYY-MM-DD (UTC)
  total: number;
  segments: Segment[];
}

export interface ChartData {
  /** Job types, most submitted first: the stacking order and the legend. */
  types: string[];
  columns: DayColumn[];
  /** The top of the value axis: a round number at or above the busiest day. */
  axisMax: number;
  ticks: number[];
}

/** Every UTC day from `since` for `days` days, as YYYY-MM-DD. */
export function windowDays(since: string, days: number): string[] {
  const start = new Date(since);
  const first = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  return Array.from({ length: days }, (_, n) => new Date(first + n * 86_400_000).toISOString().slice(0, 10));
}

/** 1, 2 or 5 times a power of ten, at or above `max` (at least 1), split into 4 or 5 ticks. */
export function niceAxis(max: number): { axisMax: number; ticks: number[] } {
  const target = Math.max(1, max) / 4;
  const power = 10 ** Math.floor(Math.log10(target));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= target) ?? 10 * power);
  const axisMax = Math.ceil(Math.max(1, max) / step) * step;
  const ticks: number[] = [];
  for (let value = 0; value <= axisMax; value += step) ticks.push(value);
  return { axisMax, ticks };
}

/** Submitted jobs per UTC day, stacked by type. */
export function submittedPerDay(analytics: Analytics): ChartData {
  const totals = new Map<string, number>();
  for (const row of analytics.daily) totals.set(row.jobType, (totals.get(row.jobType) ?? 0) + row.submitted);
  const types = [...totals.entries()]
    .filter(([, total]) => total > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([jobType]) => jobType);
  const byDay = new Map<string, Map<string, number>>();
  for (const row of analytics.daily) {
    const day = byDay.get(row.day) ?? new Map<string, number>();
    day.set(row.jobType, (day.get(row.jobType) ?? 0) + row.submitted);
    byDay.set(row.day, day);
  }
  const columns = windowDays(analytics.since, analytics.days).map((day) => {
    let base = 0;
    const segments: Segment[] = [];
    for (const jobType of types) {
      const value = byDay.get(day)?.get(jobType) ?? 0;
      if (value > 0) segments.push({ jobType, value, base });
      base += value;
    }
    return { day, total: base, segments };
  });
  return { types, columns, ...niceAxis(Math.max(0, ...columns.map((c) => c.total))) };
}

export interface Totals {
  submitted: number;
  completed: number;
  failed: number;
  retried: number;
  /** completed / (completed + failed) over every type; null when nothing finished. */
  successRate: number | null;
}

export function totals(analytics: Analytics): Totals {
  const sum = { submitted: 0, completed: 0, failed: 0, retried: 0 };
  for (const row of analytics.byType) {
    sum.submitted += row.submitted;
    sum.completed += row.completed;
    sum.failed += row.failed;
    sum.retried += row.retried;
  }
  const finished = sum.completed + sum.failed;
  return { ...sum, successRate: finished ? sum.completed / finished : null };
}

/** A share as a whole percent ("97%"); "—" for none. */
export function formatRate(rate: number | null | undefined): string {
  return rate == null ? "—" : `${Math.round(rate * 100)}%`;
}
