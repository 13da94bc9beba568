// Shapes of the operations API (/api/admin/*), from the generated OpenAPI types like every other.
import type { components } from "@/lib/api-schema";

type Schemas = components["schemas"];

export type DeadLetter = Schemas["DeadLetterRead"];
export type DeadLetterPage = Schemas["DeadLetterPage"];
export type DeadLetterInspection = Schemas["DeadLetterInspection"];
export type AdminAttempt = Schemas["AdminAttemptRead"];
export type RetryMatchingRequest = Schemas["RetryMatchingRequest"];
export type RetryMatchingResult = Schemas["RetryMatchingResult"];
export type AuditEntry = Schemas["AuditEntryRead"];
export type AuditPage = Schemas["AuditPage"];
export type Analytics = Schemas["Analytics"];
export type DailyUsage = Schemas["DailyUsage"];
export type TypeUsage = Schemas["TypeUsage"];

/** What `GET /api/admin/audit?action=` can name (app/admin/audit.py). */
export const AUDIT_ACTIONS: Readonly<Record<string, string>> = {
  "job.retry": "Retried a job",
  "job.retry_matching": "Retried matching jobs",
  "job.cancel": "Cancelled a job",
  "job.discard": "Discarded a job",
  "queue.abort": "Aborted a queue entry",
  "queue.retry": "Retried a queue entry",
};
