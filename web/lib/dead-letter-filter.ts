// The dead-letter console's filter, in three forms: what the form edits and the address keeps
// (`DeadLetterFilter`, plain strings, so a filtered view can be bookmarked or shared), what the API
// takes (`ApiFilter`: absolute UTC times, resolved once when the filter is applied, so the list and
// "retry all matching" cover the same window), and words for the confirm dialog.
import type { ErrorKind } from "@/types/background-job";
import { jobTypeLabel } from "@/types/background-job";

/** Relative windows offered by the form ("failed within the last …"). */
export const WITHIN: Readonly<Record<string, { label: string; ms: number }>> = {
  "1h": { label: "Last hour", ms: 3_600_000 },
  "24h": { label: "Last 24 hours", ms: 86_400_000 },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000 },
  "30d": { label: "Last 30 days", ms: 30 * 86_400_000 },
};

export const ERROR_KINDS: Readonly<Record<string, string>> = {
  internal: "Internal (bug)",
  transient: "Transient (retries used up)",
  user: "User input",
  cancelled: "Cancelled",
  llm_unavailable: "AI provider unavailable",
  over_budget: "Daily AI allowance used up",
};

export interface DeadLetterFilter {
  jobType: string; // "" = every type
  errorKind: string; // "" = every kind
  q: string; // text in the error message
  within: string; // a WITHIN key, or ""
  from: string; // YYYY-MM-DD (UTC day, inclusive), or ""
  to: string; // YYYY-MM-DD (UTC day, inclusive), or ""
}

export const EMPTY_FILTER: DeadLetterFilter = {
  jobType: "",
  errorKind: "",
  q: "",
  within: "",
  from: "",
  to: "",
};

/** The API's filter fields (query string of GET /api/admin/jobs, body of POST …/retry). */
export interface ApiFilter {
  jobType?: string[];
  errorKind?: ErrorKind[];
  q?: string;
  failedAfter?: string;
  failedBefore?: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const KEYS = Object.keys(EMPTY_FILTER) as (keyof DeadLetterFilter)[];

/** The filter an address names; unknown or malformed values are dropped, not guessed at. */
export function filterFromSearch(params: URLSearchParams): DeadLetterFilter {
  const filter = { ...EMPTY_FILTER };
  for (const key of KEYS) filter[key] = (params.get(key) ?? "").trim();
  if (filter.errorKind && !(filter.errorKind in ERROR_KINDS)) filter.errorKind = "";
  if (filter.within && !(filter.within in WITHIN)) filter.within = "";
  if (filter.from && !DAY.test(filter.from)) filter.from = "";
  if (filter.to && !DAY.test(filter.to)) filter.to = "";
  return filter;
}

/** The address's query string for a filter: only what is set, in a stable order. */
export function filterToSearch(filter: DeadLetterFilter): string {
  const params = new URLSearchParams();
  for (const key of KEYS) if (filter[key].trim()) params.set(key, filter[key].trim());
  return params.toString();
}

function dayStart(day: string, plusDays = 0): Date {
  const start = new Date(`${day}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() + plusDays);
  return start;
}

/**
 * The API filter at `now`. "Within" and "from" both bound the failure time from below: the later
 * one wins. "To" includes its whole UTC day. A "to" before "from" is the user's mistake, named.
 */
export function resolveFilter(filter: DeadLetterFilter, now: Date): ApiFilter {
  const api: ApiFilter = {};
  if (filter.jobType) api.jobType = [filter.jobType];
  if (filter.errorKind) api.errorKind = [filter.errorKind as ErrorKind];
  if (filter.q.trim()) api.q = filter.q.trim();
  const lower: Date[] = [];
  if (filter.within && WITHIN[filter.within]) lower.push(new Date(now.getTime() - WITHIN[filter.within]!.ms));
  if (filter.from) lower.push(dayStart(filter.from));
  if (lower.length) api.failedAfter = new Date(Math.max(...lower.map((d) => d.getTime()))).toISOString();
  if (filter.to) api.failedBefore = dayStart(filter.to, 1).toISOString();
  return api;
}

/** Why a filter cannot be sent, in words, or null when it can. */
export function filterProblem(filter: DeadLetterFilter): string | null {
  if (filter.from && filter.to && filter.to < filter.from) return "“To” is before “From”.";
  if (filter.q.trim().length > 200) return "The search text is longer than 200 characters.";
  return null;
}

/** GET /api/admin/jobs query string: the filter, then paging. */
export function apiQuery(filter: ApiFilter, cursor?: string | null, limit = 25): string {
  const params = new URLSearchParams();
  for (const jobType of filter.jobType ?? []) params.append("jobType", jobType);
  for (const kind of filter.errorKind ?? []) params.append("errorKind", kind);
  if (filter.q) params.set("q", filter.q);
  if (filter.failedAfter) params.set("failedAfter", filter.failedAfter);
  if (filter.failedBefore) params.set("failedBefore", filter.failedBefore);
  if (cursor) params.set("cursor", cursor);
  params.set("limit", String(limit));
  return params.toString();
}

/** The filter in words, one line per condition, for the "retry all matching" confirmation. */
export function describeFilter(filter: DeadLetterFilter): string[] {
  const lines: string[] = [];
  if (filter.jobType) lines.push(`Job type: ${jobTypeLabel(filter.jobType)}`);
  if (filter.errorKind) lines.push(`Error kind: ${ERROR_KINDS[filter.errorKind] ?? filter.errorKind}`);
  if (filter.q.trim()) lines.push(`Error message contains: “${filter.q.trim()}”`);
  if (filter.within && WITHIN[filter.within]) lines.push(`Failed: ${WITHIN[filter.within]!.label.toLowerCase()}`);
  if (filter.from) lines.push(`Failed on or after: ${filter.from} (UTC)`);
  if (filter.to) lines.push(`Failed on or before: ${filter.to} (UTC)`);
  return lines.length ? lines : ["Every failed job (no filter)"];
}
