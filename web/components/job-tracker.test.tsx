import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { JobTracker } from "@/components/job-tracker";
import { FakeEventSource, fakeFetch, makeJob } from "@/test/fake-event-source";

const JOB_ID = makeJob().id;

describe("JobTracker", () => {
  beforeEach(() => FakeEventSource.install());

  it("shows progress, the current step and the elapsed time, and cancels", async () => {
    const running = makeJob({
      status: "running",
      progress: 60,
      progressMessage: "Reading page 3 of 5",
      startedAt: new Date(Date.now() - 75_000).toISOString(),
      attempt: 1,
    });
    const cancelled = makeJob({ status: "cancelled", errorKind: "cancelled", progress: 60 });
    const { fetch, calls } = fakeFetch({ [`POST /api/jobs/${JOB_ID}/cancel`]: [200, cancelled] });
    vi.stubGlobal("fetch", fetch);

    render(<JobTracker jobId={JOB_ID} />);
    expect(screen.getByText("Connecting…")).toBeTruthy();
    act(() => FakeEventSource.latest().send(1, "snapshot", running));

    expect(screen.getByTestId("job-step").textContent).toBe("Reading page 3 of 5");
    expect(screen.getByTestId("job-progress").textContent).toBe("60%");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("60");
    expect(screen.getByLabelText("Elapsed time").textContent).toMatch(/^1:1\d$/);
    expect(screen.getByText("Running")).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Retry/ })).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: /Cancel/ }));
    await waitFor(() => expect(screen.getByText("Cancelled")).toBeTruthy());
    expect(calls).toContain(`POST /api/jobs/${JOB_ID}/cancel`);
    expect(screen.getByRole("button", { name: /Retry/ })).toBeTruthy();
  });

  it("shows a failed job's message and retries it", async () => {
    const failed = makeJob({
      status: "failed",
      errorKind: "transient",
      errorMessage: "The job board did not answer",
      progress: 10,
    });
    const retried = makeJob({ status: "pending", retryCount: 1 });
    const { fetch, calls } = fakeFetch({ [`POST /api/jobs/${JOB_ID}/retry`]: [202, retried] });
    vi.stubGlobal("fetch", fetch);
    const finished = vi.fn();

    render(<JobTracker jobId={JOB_ID} onFinished={finished} />);
    act(() => FakeEventSource.latest().send(1, "snapshot", failed));
    expect(screen.getByTestId("error-message").textContent).toBe(
      "The job board did not answer This looks temporary: retrying usually helps.",
    );
    expect(FakeEventSource.latest().closed).toBe(true);

    fireEvent.click(screen.getByRole("button", { name: /Retry/ }));
    await waitFor(() => expect(screen.getByText("Queued")).toBeTruthy());
    expect(calls).toContain(`POST /api/jobs/${JOB_ID}/retry`);
    // A retried job is live again: a new stream follows it to its new end.
    const reopened = FakeEventSource.latest();
    expect(reopened.closed).toBe(false);
    act(() => reopened.send(9, "completed", makeJob({ status: "completed", progress: 100 })));
    expect(screen.getByText("Completed")).toBeTruthy();
    expect(finished).toHaveBeenCalledTimes(1);
  });

  it("shows the API's refusal when an action is no longer allowed", async () => {
    const { fetch } = fakeFetch({
      [`POST /api/jobs/${JOB_ID}/cancel`]: [409, { title: "Conflict", detail: "The job already finished" }],
    });
    vi.stubGlobal("fetch", fetch);
    render(<JobTracker jobId={JOB_ID} />);
    act(() => FakeEventSource.latest().send(1, "snapshot", makeJob({ status: "running" })));
    fireEvent.click(screen.getByRole("button", { name: /Cancel/ }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("The job already finished"));
  });
});
