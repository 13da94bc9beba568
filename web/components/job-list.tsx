"use client";

// The user's jobs as a list: what each is, its status and progress, and what can be done with it.
import Link from "next/link";

import { EmptyState } from "@/components/empty-state";
import { JobActions } from "@/components/job-actions";
import { JobStatusBadge } from "@/components/job-status-badge";
import { Progress } from "@/components/ui/progress";
import { timeAgo } from "@/lib/utils";
import { type BackgroundJob, isTerminal, jobTypeLabel } from "@/types/background-job";

export function JobList({
  jobs,
  onChange,
  onDeleted,
  empty = "No jobs yet",
}: {
  jobs: BackgroundJob[];
  onChange: (job: BackgroundJob) => void;
  onDeleted: (jobId: string) => void;
  empty?: string;
}) {
  if (jobs.length === 0) {
    return (
      <EmptyState title={empty}>
        Upload a resume, add a job posting or run an optimization: its progress shows up here.
      </EmptyState>
    );
  }
  return (
    <ul className="flex flex-col gap-2" aria-label="Jobs">
      {jobs.map((job) => (
        <li
          key={job.id}
          data-testid="job-row"
          data-job-id={job.id}
          data-status={job.status}
          className="flex flex-col gap-2 rounded-lg border border-border bg-background p-3 sm:flex-row sm:items-center sm:gap-4"
        >
          <div className="flex min-w-0 flex-1 flex-col gap-1">
            <div className="flex flex-wrap items-center gap-2">
              <Link
                href={`/jobs/detail/?id=${job.id}`}
                className="font-medium underline-offset-4 hover:underline"
              >
                {jobTypeLabel(job.jobType)}
              </Link>
              <JobStatusBadge status={job.status} />
              <span className="text-xs text-muted-foreground">{timeAgo(job.createdAt)}</span>
            </div>
            {!isTerminal(job.status) && (
              <div className="flex items-center gap-2">
                <Progress value={job.progress} label="Progress" className="max-w-xs" />
                <span className="text-xs text-muted-foreground">
                  {job.progress}% {job.progressMessage ?? ""}
                </span>
              </div>
            )}
            {job.status === "failed" && job.errorMessage && (
              <p className="truncate text-sm text-red-800">{job.errorMessage}</p>
            )}
          </div>
          <JobActions job={job} onChange={onChange} onDeleted={onDeleted} />
        </li>
      ))}
    </ul>
  );
}
