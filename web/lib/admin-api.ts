// The operations API (/api/admin/*), for the admin pages. Same transport as lib/api.ts: a 403
// (signed in, not an admin) arrives as an ApiError the pages turn into the "admins only" state.
import { json, request } from "@/lib/api";
import { type ApiFilter, apiQuery } from "@/lib/dead-letter-filter";
import type {
  Analytics,
  AuditPage,
  DeadLetterInspection,
  DeadLetterPage,
  RetryMatchingResult,
} from "@/types/admin";
import type { BackgroundJob } from "@/types/background-job";

const path = (id: string) => `/api/admin/jobs/${encodeURIComponent(id)}`;

export const adminApi = {
  deadLetters: (filter: ApiFilter, cursor?: string | null, limit = 25) =>
    request<DeadLetterPage>(`/api/admin/jobs?${apiQuery(filter, cursor, limit)}`),
  inspect: (id: string) => request<DeadLetterInspection>(path(id)),
  retry: (id: string) => request<BackgroundJob>(`${path(id)}/retry`, { method: "POST" }),
  retryMatching: (filter: ApiFilter) =>
    request<RetryMatchingResult>("/api/admin/jobs/retry", json("POST", filter)),
  discard: (id: string) => request<void>(path(id), { method: "DELETE" }),
  audit: (action: string | null, cursor?: string | null, limit = 50) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (action) query.set("action", action);
    if (cursor) query.set("cursor", cursor);
    return request<AuditPage>(`/api/admin/audit?${query}`);
  },
  analytics: (days: number) => request<Analytics>(`/api/admin/analytics?days=${days}`),
};
