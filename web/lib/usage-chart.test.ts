import { describe, expect, it } from "vitest";

import { formatRate, niceAxis, submittedPerDay, totals, windowDays } from "@/lib/usage-chart";
import type { Analytics } from "@/types/admin";

const usage = (day: string, jobType: string, submitted: number) => ({
  day,
  jobType,
  submitted,
  completed: 0,
  failed: 0,
  retried: 0,
});

const ANALYTICS: Analytics = {
  days: 4,
  since: "2026-11-26T00:00:00Z",
  daily: [
    usage("2026-11-26", "resume.parse", 2),
    usage("2026-11-26", "diagnostic.echo", 5),
    usage("2026-11-28", "diagnostic.echo", 3),
    usage("2026-11-29", "job.extract", 0),
  ],
  byType: [
    { jobType: "diagnostic.echo", submitted: 8, completed: 6, failed: 1, retried: 2, successRate: 6 / 7, medianDurationS: 0.5, p95DurationS: 2 },
    { jobType: "resume.parse", submitted: 2, completed: 1, failed: 1, retried: 0, successRate: 0.5, medianDurationS: 3, p95DurationS: 4 },
  ],
  activeUsers: 2,
  topOperations: [],
};

describe("usage chart data", () => {
  it("has a column for every day of the window, empty days at zero", () => {
    expect(windowDays("2026-11-26T00:00:00Z", 4)).toEqual(["2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"]);
    const chart = submittedPerDay(ANALYTICS);
    expect(chart.columns.map((c) => [c.day, c.total])).toEqual([
      ["2026-11-26", 7],
      ["2026-11-27", 0],
      ["2026-11-28", 3],
      ["2026-11-29", 0],
    ]);
  });

  it("stacks types most-submitted first and leaves out types with nothing submitted", () => {
    const chart = submittedPerDay(ANALYTICS);
    expect(chart.types).toEqual(["diagnostic.echo", "resume.parse"]);
    expect(chart.columns[0]!.segments).toEqual([
      { jobType: "diagnostic.echo", value: 5, base: 0 },
      { jobType: "resume.parse", value: 2, base: 5 },
    ]);
    expect(chart.axisMax).toBeGreaterThanOrEqual(7);
    expect(chart.ticks[0]).toBe(0);
    expect(chart.ticks.at(-1)).toBe(chart.axisMax);
  });

  it("rounds the axis to 1, 2 or 5 times a power of ten in whole steps", () => {
    expect(niceAxis(0)).toEqual({ axisMax: 1, ticks: [0, 1] });
    expect(niceAxis(7)).toEqual({ axisMax: 8, ticks: [0, 2, 4, 6, 8] });
    expect(niceAxis(93)).toEqual({ axisMax: 100, ticks: [0, 50, 100] });
    expect(niceAxis(1234).axisMax).toBe(1500);
  });

  it("totals the types, with the success rate over finished jobs only", () => {
    expect(totals(ANALYTICS)).toEqual({ submitted: 10, completed: 7, failed: 2, retried: 2, successRate: 7 / 9 });
    expect(totals({ ...ANALYTICS, byType: [] }).successRate).toBeNull();
    expect(formatRate(7 / 9)).toBe("78%");
    expect(formatRate(null)).toBe("—");
  });
});
