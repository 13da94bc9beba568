import { describe, expect, it } from "vitest";

import {
  apiQuery,
  describeFilter,
  EMPTY_FILTER,
  filterFromSearch,
  filterProblem,
  filterToSearch,
  resolveFilter,
} from "@/lib/dead-letter-filter";

const NOW = new Date("2026-11-29T15:00:00Z");

describe("dead-letter filter", () => {
  it("round-trips through the address, keeping only what is set, and drops malformed values", () => {
    const filter = { ...EMPTY_FILTER, jobType: "diagnostic.echo", q: "boom & bust", within: "24h" };
    const search = filterToSearch(filter);
    expect(search).toBe("jobType=diagnostic.echo&q=boom+%26+bust&within=24h");
    expect(filterFromSearch(new URLSearchParams(search))).toEqual(filter);
    expect(
      filterFromSearch(new URLSearchParams("errorKind=oops&within=1y&from=yesterday&to=2026-11-31x&q=%20x%20")),
    ).toEqual({ ...EMPTY_FILTER, q: "x" });
  });

  it("resolves relative windows and UTC days into absolute failure times", () => {
    expect(resolveFilter({ ...EMPTY_FILTER, within: "1h" }, NOW)).toEqual({
      failedAfter: "2026-11-29T14:00:00.000Z",
    });
    // "to" takes in its whole day; the later of "within" and "from" bounds from below.
    expect(resolveFilter({ ...EMPTY_FILTER, within: "30d", from: "2026-11-20", to: "2026-11-28" }, NOW)).toEqual({
      failedAfter: "2026-11-20T00:00:00.000Z",
      failedBefore: "2026-11-29T00:00:00.000Z",
    });
    expect(resolveFilter({ ...EMPTY_FILTER, within: "24h", from: "2026-01-01" }, NOW).failedAfter).toBe(
      "2026-11-28T15:00:00.000Z",
    );
  });

  it("builds the API query: repeated list fields, trimmed text, then paging", () => {
    const api = resolveFilter({ ...EMPTY_FILTER, jobType: "job.extract", errorKind: "internal", q: " timeout " }, NOW);
    expect(api).toEqual({ jobType: ["job.extract"], errorKind: ["internal"], q: "timeout" });
    expect(apiQuery(api, "c1", 10)).toBe("jobType=job.extract&errorKind=internal&q=timeout&cursor=c1&limit=10");
    expect(apiQuery({})).toBe("limit=25");
  });

  it("names an impossible range, and describes a filter in words for the confirmation", () => {
    expect(filterProblem({ ...EMPTY_FILTER, from: "2026-11-20", to: "2026-11-19" })).toMatch(/before/);
    expect(filterProblem({ ...EMPTY_FILTER, from: "2026-11-20", to: "2026-11-20" })).toBeNull();
    expect(describeFilter(EMPTY_FILTER)).toEqual(["Every failed job (no filter)"]);
    expect(describeFilter({ ...EMPTY_FILTER, jobType: "diagnostic.echo", q: "boom", within: "7d" })).toEqual([
      "Job type: Diagnostic",
      "Error message contains: “boom”",
      "Failed: last 7 days",
    ]);
  });
});
