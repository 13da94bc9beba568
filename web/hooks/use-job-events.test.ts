import { act, renderHook } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { useJobEvents } from "@/hooks/use-job-events";
import { RECONNECT_DELAYS_MS } from "@/lib/job-stream";
import { FakeEventSource, fakeFetch, makeJob } from "@/test/fake-event-source";

describe("useJobEvents", () => {
  beforeEach(() => FakeEventSource.install());

  it("hands every job change of the caller to the dashboard", () => {
    const seen: string[] = [];
    renderHook(() => useJobEvents((job, eventType) => seen.push(`${eventType}:${job.status}`)));
    const source = FakeEventSource.latest();
    expect(source.url).toBe("/api/jobs/events");
    act(() => {
      source.open();
      source.send(1, "snapshot", makeJob({ status: "running" }));
      source.send(2, "completed", makeJob({ status: "completed" }));
      source.send(3, "created", makeJob({ id: "another", status: "pending" }));
    });
    expect(seen).toEqual(["snapshot:running", "completed:completed", "created:pending"]);
    expect(source.closed).toBe(false); // the dashboard's stream never ends on its own
  });

  it("resumes after the browser gave up, and asks the dashboard to resync once open", async () => {
    vi.useFakeTimers();
    vi.stubGlobal("fetch", fakeFetch({ "GET /api/auth/me": [200, { id: "u" }] }).fetch);
    const resync = vi.fn();
    const { result } = renderHook(() => useJobEvents(() => undefined, resync));
    const first = FakeEventSource.latest();
    act(() => {
      first.open();
      first.send(41, "progress", makeJob({ status: "running" }));
      first.drop(true);
    });
    expect(result.current).toBe("reconnecting");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(RECONNECT_DELAYS_MS[0] ?? 0);
    });
    const second = FakeEventSource.latest();
    expect(second.url).toBe("/api/jobs/events?lastEventId=41");
    expect(resync).not.toHaveBeenCalled();
    act(() => second.open());
    expect(resync).toHaveBeenCalledTimes(1);
    expect(result.current).toBe("open");
  });

  it("gives up once signed out", async () => {
    vi.useFakeTimers();
    vi.stubGlobal(
      "fetch",
      fakeFetch({ "GET /api/auth/me": [401, { title: "Unauthorized", detail: "Not signed in" }] }).fetch,
    );
    const { result } = renderHook(() => useJobEvents(() => undefined));
    act(() => FakeEventSource.latest().drop(true));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(60_000);
    });
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(result.current).toBe("closed");
  });
});
