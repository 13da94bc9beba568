"use client";

// One job, live: status, progress bar, current step, elapsed time, cancel and retry. Used wherever
// the user waits for a job (upload, posting, optimize, job detail).
import { type ReactNode, useEffect, useRef } from "react";

import { ErrorState } from "@/components/error-state";
import { JobActions } from "@/components/job-actions";
import { JobStatusBadge } from "@/components/job-status-badge";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Progress } from "@/components/ui/progress";
import { useJobStatus } from "@/hooks/use-job-status";
import { useNow } from "@/hooks/use-now";
import { formatDuration } from "@/lib/utils";
import { type BackgroundJob, isTerminal, jobTypeLabel } from "@/types/background-job";

export function elapsedMs(job: BackgroundJob, now: number): number {
  const start = new Date(job.startedAt ?? job.createdAt).getTime();
  const end = job.completedAt ? new Date(job.completedAt).getTime() : now;
  return end - start;
}

const USER_FIXABLE_HINT: Partial<Record<NonNullable<BackgroundJob["errorKind"]>, string>> = {
  transient: "This looks temporary: retrying usually helps.",
  internal: "This is a fault on our side; retrying may help.",
};

export function JobTracker({
  jobId,
  title,
  onFinished,
  placeholder,
}: {
  jobId: string;
  title?: string;
  onFinished?: (job: BackgroundJob) => void;
  /** Shown under the tracker while the result may still come (e.g. a skeleton of it). */
  placeholder?: ReactNode;
}) {
  const state = useJobStatus(jobId);
  const { job } = state;
  const live = job !== null && !isTerminal(job.status);
  const now = useNow(live);
  const reported = useRef<string | null>(null);

  useEffect(() => {
    if (job && job.status === "completed" && reported.current !== job.updatedAt) {
      reported.current = job.updatedAt;
      onFinished?.(job);
    }
  }, [job, onFinished]);

  if (!job && state.gone) {
    return <ErrorState title="This job cannot be shown" message={state.gone} />;
  }
  if (!job) {
    return (
      <>
        <Card aria-busy="true">
          <CardContent className="pt-4 text-sm text-muted-foreground sm:pt-6">
            {state.connection === "reconnecting" ? "Reconnecting…" : "Connecting…"}
          </CardContent>
        </Card>
        {placeholder}
      </>
    );
  }

  return (
    <>
    <Card data-testid="job-tracker" data-status={job.status} aria-live="polite">
      <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
        <CardTitle className="text-base">{title ?? jobTypeLabel(job.jobType)}</CardTitle>
        <JobStatusBadge status={job.status} />
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <Progress value={job.progress} label={`${jobTypeLabel(job.jobType)} progress`} />
        <div className="flex flex-wrap justify-between gap-2 text-sm text-muted-foreground">
          <span data-testid="job-step">
            {job.status === "pending"
              ? (job.progressMessage ?? "Waiting for a worker")
              : job.status === "running" || job.status === "completed"
                ? (job.progressMessage ?? "")
                : ""}
          </span>
          <span>
            <span data-testid="job-progress">{job.progress}%</span> ·{" "}
            <span aria-label="Elapsed time">{formatDuration(elapsedMs(job, now))}</span>
            {job.attempt > 1 && <> · attempt {job.attempt}</>}
          </span>
        </div>
        {state.connection === "reconnecting" && (
          <p className="text-xs text-muted-foreground">Connection lost, reconnecting…</p>
        )}
        {state.error && job.status === "failed" && (
          <ErrorState
            title="The job failed"
            message={`${state.error.message}${
              state.error.kind && USER_FIXABLE_HINT[state.error.kind]
                ? ` ${USER_FIXABLE_HINT[state.error.kind]}`
                : ""
            }`}
          />
        )}
        {job.status === "cancelled" && (
          <p className="text-sm text-muted-foreground">This job was cancelled.</p>
        )}
        <JobActions job={job} onChange={state.replace} />
      </CardContent>
    </Card>
    {(job.status === "pending" || job.status === "running") && placeholder}
    </>
  );
}
