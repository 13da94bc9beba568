import { afterEach, describe, expect, it, vi } from "vitest";

import { safeNext } from "@/components/auth-form";
import { api, ApiError } from "@/lib/api";
import { fakeFetch, makeJob } from "@/test/fake-event-source";

describe("api", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("turns a problem+json answer into an ApiError with the server's words", async () => {
    vi.stubGlobal(
      "fetch",
      fakeFetch({
        "PUT /api/job": [422, { title: "Invalid input", detail: "url: not a URL", field: "url" }],
      }).fetch,
    );
    const error = await api.extractPosting("nope").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, detail: "url: not a URL", field: "url" });
  });

  it("sends dashboard filters and the cursor as the API names them", async () => {
    const { fetch, calls } = fakeFetch({
      "GET /api/jobs?status=failed&jobType=job.extract&cursor=abc&limit=20": [
        200,
        { items: [makeJob()], nextCursor: null },
      ],
    });
    vi.stubGlobal("fetch", fetch);
    const page = await api.jobs({ status: ["failed"], jobType: ["job.extract"], cursor: "abc" });
    expect(page.items).toHaveLength(1);
    expect(calls).toEqual(["GET /api/jobs?status=failed&jobType=job.extract&cursor=abc&limit=20"]);
  });

  it("says the server is unreachable when fetch itself fails", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    await expect(api.me()).rejects.toMatchObject({ status: 0, title: "Network error" });
  });
});

describe("safeNext", () => {
  it("only ever returns to a path on this site", () => {
    expect(safeNext("/optimize/?resume=1")).toBe("/optimize/?resume=1");
    expect(safeNext("https://evil.example/")).toBe("/");
    expect(safeNext("//evil.example/")).toBe("/");
    expect(safeNext("/\\evil.example/")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});
