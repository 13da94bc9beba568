import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { JobList } from "@/components/job-list";
import { JobStatusBadge } from "@/components/job-status-badge";
import { fakeFetch, makeJob } from "@/test/fake-event-source";

describe("JobList", () => {
  it("has a friendly empty state", () => {
    render(<JobList jobs={[]} onChange={() => undefined} onDeleted={() => undefined} />);
    expect(screen.getByText("No jobs yet")).toBeTruthy();
  });

  it("shows each job with its status, progress, error and the actions its status allows", () => {
    const jobs = [
      makeJob({ id: "a", status: "running", progress: 30, progressMessage: "step 1 of 3", jobType: "diagnostic.echo" }),
      makeJob({ id: "b", status: "failed", errorMessage: "The URL could not be fetched", jobType: "job.extract" }),
      makeJob({ id: "c", status: "completed", jobType: "resume.optimize" }),
    ];
    render(<JobList jobs={jobs} onChange={() => undefined} onDeleted={() => undefined} />);
    const [running, failed, done] = screen.getAllByTestId("job-row");

    // next build adds the trailing slash (trailingSlash: true); vitest runs next/link without it.
    expect(within(running!).getByRole("link", { name: "Diagnostic" }).getAttribute("href")).toMatch(
      /^\/jobs\/detail\/?\?id=a$/,
    );
    expect(within(running!).getByText("30% step 1 of 3")).toBeTruthy();
    expect(within(running!).getByRole("button", { name: /Cancel/ })).toBeTruthy();
    expect(within(running!).queryByRole("button", { name: /Delete/ })).toBeNull();

    expect(within(failed!).getByText("The URL could not be fetched")).toBeTruthy();
    expect(within(failed!).getByRole("button", { name: /Retry/ })).toBeTruthy();

    expect(within(done!).getByText("Completed")).toBeTruthy();
    expect(within(done!).queryByRole("button", { name: /Cancel|Retry/ })).toBeNull();
    expect(within(done!).getByRole("button", { name: "Delete job" })).toBeTruthy();
  });

  it("deletes a finished job through the API", async () => {
    const { fetch, calls } = fakeFetch({ "DELETE /api/jobs/c": [204, null] });
    vi.stubGlobal("fetch", fetch);
    const onDeleted = vi.fn();
    render(<JobList jobs={[makeJob({ id: "c", status: "completed" })]} onChange={() => undefined} onDeleted={onDeleted} />);
    fireEvent.click(screen.getByRole("button", { name: "Delete job" }));
    await waitFor(() => expect(onDeleted).toHaveBeenCalledWith("c"));
    expect(calls).toEqual(["DELETE /api/jobs/c"]);
  });
});

describe("JobStatusBadge", () => {
  it("names every status in words", () => {
    const { container } = render(
      <>
        {(["pending", "running", "completed", "failed", "cancelled"] as const).map((status) => (
          <JobStatusBadge key={status} status={status} />
        ))}
      </>,
    );
    expect(container.textContent).toBe("QueuedRunningCompletedFailedCancelled");
  });
});
