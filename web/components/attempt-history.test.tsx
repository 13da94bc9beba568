import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { AttemptHistory } from "@/components/attempt-history";
import type { AdminAttempt } from "@/types/admin";
import type { Attempt } from "@/types/background-job";

const first: Attempt = {
  attempt: 1,
  startedAt: "2026-11-29T10:00:00Z",
  finishedAt: "2026-11-29T10:00:02.5Z",
  outcome: "retry_scheduled",
  errorKind: "transient",
  errorMessage: "the job board answered 503",
};
const second: Attempt = {
  attempt: 2,
  startedAt: "2026-11-29T10:00:10Z",
  finishedAt: null,
  outcome: "running",
  errorKind: null,
  errorMessage: null,
};

describe("AttemptHistory", () => {
  it("shows an owner each run's outcome, duration and error, but no traceback or worker", () => {
    render(<AttemptHistory attempts={[first, second]} />);
    const [one, two] = screen.getAllByTestId("attempt");
    expect(one!.dataset.outcome).toBe("retry_scheduled");
    expect(within(one!).getByText("Failed, retry scheduled")).toBeTruthy();
    expect(within(one!).getByText(/took 2\.5 s/)).toBeTruthy();
    expect(within(one!).getByTestId("attempt-error").textContent).toBe("the job board answered 503");
    expect(within(two!).getByText("Running")).toBeTruthy();
    expect(within(two!).queryByText(/took/)).toBeNull();
    expect(screen.queryByText("Traceback")).toBeNull();
    expect(screen.queryByText(/Worker/)).toBeNull();
  });

  it("shows an admin the worker and the traceback, as text", () => {
    const attempt: AdminAttempt = {
      ...first,
      outcome: "failed",
      errorKind: "internal",
      workerId: "host-1:4242",
      traceback: 'Traceback (most recent call last):\n  <script>alert("x")</script>\nRuntimeError: boom',
    };
    render(<AttemptHistory attempts={[attempt]} />);
    expect(screen.getByText("host-1:4242")).toBeTruthy();
    expect(screen.getByTestId("traceback").textContent).toContain('<script>alert("x")</script>');
    expect(document.querySelector("script")).toBeNull();
  });

  it("says when a job has not run yet", () => {
    render(<AttemptHistory attempts={[]} />);
    expect(screen.getByText("It has not run yet.")).toBeTruthy();
  });
});
