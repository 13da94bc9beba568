// The API's shapes, taken from the generated OpenAPI types (lib/api-schema.ts, `npm run gen:api`),
// never written by hand: a change in app/schemas.py shows up here as a type error.
import type { components } from "@/lib/api-schema";

type Schemas = components["schemas"];

export type BackgroundJob = Schemas["JobRead"];
/** `GET /api/jobs/{id}`: the job with its attempts, oldest first. */
export type JobDetail = Schemas["JobDetail"];
export type Attempt = Schemas["AttemptRead"];
export type AttemptOutcome = Schemas["Outcome"];
export type JobStatus = Schemas["JobStatus"];
export type ErrorKind = Schemas["ErrorKind"];
export type JobPage = Schemas["JobPage"];
export type Account = Schemas["Account"];
export type ResumeRead = Schemas["ResumeRead"];
export type ResumePage = Schemas["ResumePage"];
export type Resume = Schemas["Resume"];
export type JobPostingRead = Schemas["JobPostingRead"];
export type JobPostingPage = Schemas["JobPostingPage"];
export type JobPosting = Schemas["JobPosting"];
export type OptimizationRead = Schemas["OptimizationRead"];
export type OptimizationPage = Schemas["OptimizationPage"];

/** The `data:` of one SSE message on /api/jobs/events (`eventType` is "snapshot" or a change). */
export interface JobEventMessage {
  eventType: string;
  job: BackgroundJob;
}

export const JOB_STATUSES: readonly JobStatus[] = [
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
];

const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "failed", "cancelled"]);

/** A job in one of these states never changes again (app/jobs/status.py). */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}

/** Job types the dashboard filters by, with the names users see. */
export const JOB_TYPES: Readonly<Record<string, string>> = {
  "resume.parse": "Resume parse",
  "job.extract": "Posting extraction",
  "resume.optimize": "Optimization",
  "diagnostic.echo": "Diagnostic",
};

export function jobTypeLabel(jobType: string): string {
  return JOB_TYPES[jobType] ?? jobType;
}
