"use client";

// useJobStatus(jobId): one job, live. The stream starts with the job's current state (a
// "snapshot"), then every change; it is closed on the terminal event, so the browser does not
// reconnect to a job that can no longer change.
import { useEffect, useState } from "react";

import { api, ApiError } from "@/lib/api";
import { type ConnectionState, JobStream } from "@/lib/job-stream";
import { type BackgroundJob, isTerminal, type JobStatus } from "@/types/background-job";

export interface JobStatusState {
  job: BackgroundJob | null;
  status: JobStatus | null;
  progress: number;
  message: string | null;
  result: BackgroundJob["resultData"];
  error: { message: string; kind: BackgroundJob["errorKind"] } | null;
  connection: ConnectionState;
  /** Why the job cannot be followed (deleted, not yours, signed out), when it cannot. */
  gone: string | null;
}

const IDLE: JobStatusState = {
  job: null,
  status: null,
  progress: 0,
  message: null,
  result: null,
  error: null,
  connection: "closed",
  gone: null,
};

export function stateOf(job: BackgroundJob, connection: ConnectionState): JobStatusState {
  return {
    job,
    status: job.status,
    progress: job.progress,
    message: job.progressMessage,
    result: job.resultData,
    error:
      job.status === "failed" || job.status === "cancelled"
        ? {
            message: job.errorMessage ?? (job.status === "cancelled" ? "Cancelled" : "Failed"),
            kind: job.errorKind,
          }
        : null,
    connection,
    gone: null,
  };
}

/** Live status of one job; `job` replaces the local copy after an action (cancel, retry). */
export function useJobStatus(jobId: string | null | undefined): JobStatusState & {
  replace: (job: BackgroundJob) => void;
} {
  const [state, setState] = useState<JobStatusState>(IDLE);
  // A retry turns a terminal job back into a live one: reopen the stream.
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    if (!jobId) {
      setState(IDLE);
      return;
    }
    setState({ ...IDLE, connection: "connecting" });
    const stream = new JobStream(`/api/jobs/events?job_id=${encodeURIComponent(jobId)}`, {
      onMessage: ({ job }) => {
        if (job.id !== jobId) return;
        const done = isTerminal(job.status);
        setState(stateOf(job, done ? "closed" : "open"));
        if (done) stream.close();
      },
      onState: (connection) => setState((current) => ({ ...current, connection })),
      shouldReconnect: async () => {
        try {
          const job = await api.job(jobId);
          setState((current) => stateOf(job, current.connection));
          return !isTerminal(job.status);
        } catch (caught) {
          if (caught instanceof ApiError && caught.status >= 400 && caught.status < 500) {
            setState((current) => ({ ...current, gone: caught.detail }));
            return false;
          }
          throw caught;
        }
      },
    });
    return () => stream.close();
  }, [jobId, generation]);

  const replace = (job: BackgroundJob) => {
    setState((current) => stateOf(job, current.connection));
    if (!isTerminal(job.status)) setGeneration((n) => n + 1);
  };
  return { ...state, replace };
}
