// The one place the browser talks to the API. Same origin, cookie session: fetch() sends the
// cookie and `Sec-Fetch-Site: same-origin`, which is what the CSRF guard wants to see.
import type {
  Account,
  BackgroundJob,
  JobDetail,
  JobPage,
  JobPostingPage,
  JobPostingRead,
  JobStatus,
  OptimizationPage,
  OptimizationRead,
  ResumePage,
  ResumeRead,
} from "@/types/background-job";

/** An API answer that was not a success: the problem+json `title`/`detail` when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly field: string | null = null,
  ) {
    super(detail || title);
    this.name = "ApiError";
  }
}

/** fetch() on the same origin; a non-2xx answer becomes an ApiError. */
export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...init });
  } catch {
    throw new ApiError(0, "Network error", "The server cannot be reached. Check your connection.");
  }
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") ?? "";
  const body: unknown = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const problem = (body ?? {}) as { title?: string; detail?: string; field?: string | null };
    throw new ApiError(
      response.status,
      problem.title ?? response.statusText,
      problem.detail ?? `The request failed (${response.status}).`,
      problem.field ?? null,
    );
  }
  return body as T;
}

export function json(method: string, body: unknown): RequestInit {
  return { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export interface JobFilters {
  status?: JobStatus[];
  jobType?: string[];
  cursor?: string | null;
  limit?: number;
}

export const api = {
  me: () => request<Account>("/api/auth/me"),
  signUp: (email: string, password: string) =>
    request<Account>("/api/auth/signup", json("POST", { email, password })),
  signIn: (email: string, password: string) =>
    request<Account>("/api/auth/login", json("POST", { email, password })),
  signOut: () => request<void>("/api/auth/logout", { method: "POST" }),

  job: (id: string) => request<JobDetail>(`/api/jobs/${encodeURIComponent(id)}`),
  jobs: (filters: JobFilters = {}) => {
    const query = new URLSearchParams();
    for (const status of filters.status ?? []) query.append("status", status);
    for (const jobType of filters.jobType ?? []) query.append("jobType", jobType);
    if (filters.cursor) query.set("cursor", filters.cursor);
    query.set("limit", String(filters.limit ?? 20));
    return request<JobPage>(`/api/jobs?${query}`);
  },
  cancelJob: (id: string) =>
    request<BackgroundJob>(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
  retryJob: (id: string) =>
    request<BackgroundJob>(`/api/jobs/${encodeURIComponent(id)}/retry`, { method: "POST" }),
  deleteJob: (id: string) =>
    request<void>(`/api/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }),

  uploadResume: (file: File) => {
    const form = new FormData();
    form.append("file", file);
    return request<BackgroundJob>("/api/parse", { method: "PUT", body: form });
  },
  extractPosting: (url: string) => request<BackgroundJob>("/api/job", json("PUT", { url })),
  optimize: (resumeId: string, jobPostingId: string) =>
    request<BackgroundJob>("/api/optimize", json("PUT", { resumeId, jobId: jobPostingId })),

  resumes: (cursor?: string | null) =>
    request<ResumePage>(`/api/resumes?limit=50${cursor ? `&cursor=${cursor}` : ""}`),
  resume: (id: string) => request<ResumeRead>(`/api/resumes/${encodeURIComponent(id)}`),
  postings: (cursor?: string | null) =>
    request<JobPostingPage>(`/api/job-postings?limit=50${cursor ? `&cursor=${cursor}` : ""}`),
  posting: (id: string) => request<JobPostingRead>(`/api/job-postings/${encodeURIComponent(id)}`),
  optimizations: (cursor?: string | null) =>
    request<OptimizationPage>(`/api/optimizations?limit=50${cursor ? `&cursor=${cursor}` : ""}`),
  optimization: (id: string) =>
    request<OptimizationRead>(`/api/optimizations/${encodeURIComponent(id)}`),
};

/** The id a finished job's result names (`resumeId`, `jobPostingId`, `optimizationId`). */
export function resultId(job: BackgroundJob, key: string): string | null {
  const value = job.resultData?.[key];
  return typeof value === "string" ? value : null;
}
