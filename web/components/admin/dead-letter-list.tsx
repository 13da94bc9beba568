"use client";

// The console's rows: what failed, whose it was, when and why, with retry, discard and a link to
// inspect it. Rows stack into cards on a phone.
import { RotateCcw, Trash2 } from "lucide-react";
import Link from "next/link";

import { JobStatusBadge } from "@/components/job-status-badge";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import type { DeadLetter } from "@/types/admin";
import { jobTypeLabel } from "@/types/background-job";

export function DeadLetterList({
  jobs,
  busy,
  onRetry,
  onDiscard,
}: {
  jobs: DeadLetter[];
  busy: ReadonlySet<string>;
  onRetry: (job: DeadLetter) => void;
  onDiscard: (job: DeadLetter) => void;
}) {
  return (
    <ul className="flex flex-col divide-y divide-border rounded-lg border border-border bg-background">
      {jobs.map((job) => {
        const when = job.completedAt ?? job.updatedAt;
        const canRetry = job.status === "failed" || job.status === "cancelled";
        const finished = canRetry || job.status === "completed";
        return (
          <li key={job.id} data-testid="dead-letter" data-job-id={job.id} className="flex flex-col gap-2 p-4 md:flex-row md:items-start">
            <div className="min-w-0 flex-1">
              <div className="flex flex-wrap items-center gap-2">
                <Link
                  href={`/admin/jobs/detail/?id=${job.id}`}
                  className="font-medium text-primary underline-offset-4 hover:underline"
                  aria-label={`Inspect ${jobTypeLabel(job.jobType)} job ${job.id}`}
                >
                  {jobTypeLabel(job.jobType)}
                </Link>
                <JobStatusBadge status={job.status} />
                {job.errorKind && <Badge variant="outline">{job.errorKind}</Badge>}
                <span className="text-xs text-muted-foreground">
                  {job.attempt} {job.attempt === 1 ? "attempt" : "attempts"}
                </span>
              </div>
              {job.errorMessage && (
                <p className="mt-1 line-clamp-2 text-sm break-words text-red-800" data-testid="dead-letter-error">
                  {job.errorMessage}
                </p>
              )}
              <p className="mt-1 text-xs text-muted-foreground">
                <span data-testid="owner-email">{job.ownerEmail}</span> ·{" "}
                <time dateTime={when}>{new Date(when).toLocaleString()}</time>
              </p>
            </div>
            <div className="flex shrink-0 gap-2">
              {canRetry && (
                <Button variant="outline" size="sm" disabled={busy.has(job.id)} onClick={() => onRetry(job)}>
                  <RotateCcw aria-hidden /> Retry
                </Button>
              )}
              {finished && (
                <Button variant="ghost" size="sm" disabled={busy.has(job.id)} onClick={() => onDiscard(job)}>
                  <Trash2 aria-hidden /> Discard
                </Button>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
