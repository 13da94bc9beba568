import { act, renderHook, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { useJobStatus } from "@/hooks/use-job-status";
import { RECONNECT_DELAYS_MS } from "@/lib/job-stream";
import { FakeEventSource, fakeFetch, makeJob } from "@/test/fake-event-source";

const JOB_ID = makeJob().id;

describe("useJobStatus", () => {
  beforeEach(() => FakeEventSource.install());

  it("follows one job from its snapshot to the terminal event, then closes the stream", () => {
    const { result } = renderHook(() => useJobStatus(JOB_ID));
    const source = FakeEventSource.latest();
    expect(source.url).toBe(`/api/jobs/events?job_id=${JOB_ID}`);
    expect(result.current.connection).toBe("connecting");

    act(() => {
      source.open();
      source.send(10, "snapshot", makeJob());
      source.send(11, "start", makeJob({ status: "running", attempt: 1 }));
      source.send(12, "progress", makeJob({ status: "running", progress: 40, progressMessage: "Reading" }));
    });
    expect(result.current.status).toBe("running");
    expect(result.current.progress).toBe(40);
    expect(result.current.message).toBe("Reading");
    expect(source.closed).toBe(false);

    act(() =>
      source.send(13, "completed", makeJob({ status: "completed", progress: 100, resultData: { resumeId: "r1" } })),
    );
    expect(result.current.status).toBe("completed");
    expect(result.current.result).toEqual({ resumeId: "r1" });
    expect(result.current.connection).toBe("closed");
    expect(source.closed).toBe(true);
    expect(FakeEventSource.instances).toHaveLength(1);
  });

  it("reports a failure with the job's user-facing message and kind", () => {
    const { result } = renderHook(() => useJobStatus(JOB_ID));
    const source = FakeEventSource.latest();
    act(() =>
      source.send(5, "failed", makeJob({ status: "failed", errorMessage: "The file is not a resume", errorKind: "user" })),
    );
    expect(result.current.error).toEqual({ message: "The file is not a resume", kind: "user" });
    expect(source.closed).toBe(true);
  });

  it("leaves a dropped connection to the browser's own retry, which sends Last-Event-ID", () => {
    const { result } = renderHook(() => useJobStatus(JOB_ID));
    const source = FakeEventSource.latest();
    act(() => {
      source.open();
      source.send(21, "snapshot", makeJob({ status: "running" }));
      source.drop(false);
    });
    expect(result.current.connection).toBe("reconnecting");
    expect(FakeEventSource.instances).toHaveLength(1); // no second stream next to the browser's
    act(() => source.open());
    expect(result.current.connection).toBe("open");
  });

  it("opens a new stream after the browser gave up, resuming from the last event id", async () => {
    vi.useFakeTimers();
    const { fetch, calls } = fakeFetch({ [`GET /api/jobs/${JOB_ID}`]: [200, makeJob({ status: "running" })] });
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobStatus(JOB_ID));
    const first = FakeEventSource.latest();
    act(() => {
      first.open();
      first.send(30, "snapshot", makeJob({ status: "running" }));
      first.send(31, "progress", makeJob({ status: "running", progress: 20 }));
      first.drop(true);
    });
    expect(result.current.connection).toBe("reconnecting");
    expect(first.closed).toBe(true);

    await act(async () => {
      await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0] ?? 0);
    });
    expect(calls).toContain(`GET /api/jobs/${JOB_ID}`);
    const second = FakeEventSource.latest();
    expect(second).not.toBe(first);
    expect(second.url).toBe(`/api/jobs/events?job_id=${JOB_ID}&lastEventId=31`);
    act(() => {
      second.open();
      second.send(32, "completed", makeJob({ status: "completed", progress: 100 }));
    });
    expect(result.current.status).toBe("completed");
    expect(second.closed).toBe(true);
  });

  it("stops reconnecting when the job is gone", async () => {
    vi.useFakeTimers();
    const { fetch } = fakeFetch({
      [`GET /api/jobs/${JOB_ID}`]: [404, { title: "Not Found", detail: "No such job" }],
    });
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobStatus(JOB_ID));
    act(() => FakeEventSource.latest().drop(true));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(60_000);
    });
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(result.current.gone).toBe("No such job");
    expect(result.current.connection).toBe("closed");
  });

  it("closes the stream when the component goes away", () => {
    const { unmount } = renderHook(() => useJobStatus(JOB_ID));
    const source = FakeEventSource.latest();
    unmount();
    expect(source.closed).toBe(true);
  });

  it("opens nothing without a job id", async () => {
    const { result } = renderHook(() => useJobStatus(null));
    await waitFor(() => expect(result.current.connection).toBe("closed"));
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});
