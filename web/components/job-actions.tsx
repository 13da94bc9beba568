"use client";

// Cancel, retry and delete for one job, as the job's status allows; the API's refusal (a 409
// when the job moved on meanwhile) is shown, not swallowed.
import { Ban, RotateCcw, Trash2 } from "lucide-react";
import { useState } from "react";

import { Button } from "@/components/ui/button";
import { api, ApiError } from "@/lib/api";
import { type BackgroundJob, isTerminal } from "@/types/background-job";

export function JobActions({
  job,
  onChange,
  onDeleted,
  size = "sm",
}: {
  job: BackgroundJob;
  onChange: (job: BackgroundJob) => void;
  onDeleted?: (jobId: string) => void;
  size?: "sm" | "default";
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "The request failed.");
    } finally {
      setBusy(false);
    }
  };

  const canRetry = job.status === "failed" || job.status === "cancelled";
  return (
    <div className="flex flex-wrap items-center gap-2">
      {!isTerminal(job.status) && (
        <Button
          variant="outline"
          size={size}
          disabled={busy}
          onClick={() => run(async () => onChange(await api.cancelJob(job.id)))}
        >
          <Ban aria-hidden /> Cancel
        </Button>
      )}
      {canRetry && (
        <Button
          variant="outline"
          size={size}
          disabled={busy}
          onClick={() => run(async () => onChange(await api.retryJob(job.id)))}
        >
          <RotateCcw aria-hidden /> Retry
        </Button>
      )}
      {onDeleted && isTerminal(job.status) && (
        <Button
          variant="ghost"
          size={size}
          disabled={busy}
          aria-label="Delete job"
          onClick={() =>
            run(async () => {
              await api.deleteJob(job.id);
              onDeleted(job.id);
            })
          }
        >
          <Trash2 aria-hidden /> Delete
        </Button>
      )}
      {error && (
        <span role="alert" className="text-sm text-red-800">
          {error}
        </span>
      )}
    </div>
  );
}
