import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { UsageChart } from "@/components/admin/usage-chart";
import { submittedPerDay } from "@/lib/usage-chart";

describe("UsageChart", () => {
  it("draws one stacked bar segment per type and day, scaled to the axis, with no inline style", () => {
    const data = submittedPerDay({
      days: 2,
      since: "2026-11-28T00:00:00Z",
      daily: [
        { day: "2026-11-28", jobType: "diagnostic.echo", submitted: 6, completed: 6, failed: 0, retried: 0 },
        { day: "2026-11-29", jobType: "diagnostic.echo", submitted: 2, completed: 1, failed: 1, retried: 1 },
        { day: "2026-11-29", jobType: "resume.parse", submitted: 2, completed: 2, failed: 0, retried: 0 },
      ],
      byType: [],
      activeUsers: 1,
      topOperations: [],
    });
    const { container } = render(<UsageChart data={data} />);
    const svg = screen.getByTestId("usage-chart");
    const days = [...svg.querySelectorAll("g[data-day]")].map((g) => [g.getAttribute("data-day"), g.getAttribute("data-total")]);
    expect(days).toEqual([
      ["2026-11-28", "6"],
      ["2026-11-29", "4"],
    ]);
    const bars = [...svg.querySelectorAll("rect")];
    expect(bars).toHaveLength(3);
    // The axis tops out at 6 (ticks 0, 2, 4, 6): the busiest day's bar spans the whole plot.
    const heights = bars.map((bar) => Number(bar.getAttribute("height")));
    expect(heights[0]).toBeCloseTo(188);
    // The phone-sized drawing shows the same bars.
    expect(screen.getByTestId("usage-chart-compact").querySelectorAll("rect")).toHaveLength(3);
    expect(heights[1]! + heights[2]!).toBeCloseTo((188 * 4) / 6);
    expect(screen.getByText("Resume parse")).toBeTruthy();
    expect(container.querySelector("[style]")).toBeNull();
  });
});
