"use client";

// One job for an admin: who owns it, what it was given, every attempt with its worker, outcome,
// error and traceback; retry or discard it.
import { ArrowLeft, RotateCcw, Trash2 } from "lucide-react";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState } from "react";

import { AdminsOnly, RequireAdmin } from "@/components/admin/admins-only";
import { ConfirmDialog } from "@/components/admin/confirm-dialog";
import { AttemptHistory } from "@/components/attempt-history";
import { ErrorState } from "@/components/error-state";
import { JobStatusBadge } from "@/components/job-status-badge";
import { PageTitle } from "@/components/page-title";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { RequireAccount } from "@/hooks/use-account";
import { useAdminData } from "@/hooks/use-admin-data";
import { adminApi } from "@/lib/admin-api";
import { ApiError } from "@/lib/api";
import { isTerminal, jobTypeLabel } from "@/types/background-job";

function When({ iso }: { iso: string | null }) {
  return iso ? <time dateTime={iso}>{new Date(iso).toLocaleString()}</time> : <>—</>;
}

function Inspect({ id }: { id: string }) {
  const { value, error, forbidden, loading, reload } = useAdminData(id, () => adminApi.inspect(id));
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const [discarded, setDiscarded] = useState(false);
  const status = value?.job.status;

  // A queued or running job is followed by reloading it each second until it finishes.
  useEffect(() => {
    if (!status || isTerminal(status)) return;
    const timer = setTimeout(reload, 1000);
    return () => clearTimeout(timer);
  }, [value, status, reload]);

  const act = async (action: () => Promise<void>) => {
    setBusy(true);
    setNotice(null);
    try {
      await action();
    } catch (caught) {
      setNotice(caught instanceof ApiError ? caught.detail : "The request failed.");
    } finally {
      setBusy(false);
    }
  };

  if (forbidden) return <AdminsOnly />;
  if (discarded) {
    return (
      <div className="flex flex-col gap-3" role="status">
        <p data-testid="discarded">This job was discarded with its history.</p>
        <Link className="text-primary underline-offset-4 hover:underline" href="/admin/jobs/">
          Back to failed jobs
        </Link>
      </div>
    );
  }
  if (error) {
    const gone = error.toLowerCase().includes("not found");
    return <ErrorState message={gone ? "No such job: it may have been discarded." : error} onRetry={reload} />;
  }
  if (!value) return <p className="text-sm text-muted-foreground">{loading ? "Loading…" : ""}</p>;

  const { job, attempts, traceback } = value;
  const canRetry = job.status === "failed" || job.status === "cancelled";
  const finished = canRetry || job.status === "completed";
  return (
    <div className="flex flex-col gap-4">
      <Link href="/admin/jobs/" className="inline-flex items-center gap-1 text-sm text-primary">
        <ArrowLeft aria-hidden className="size-4" /> Failed jobs
      </Link>
      <PageTitle description={<span className="break-all">{job.id}</span>}>
        {jobTypeLabel(job.jobType)} job
      </PageTitle>
      <div className="flex flex-wrap items-center gap-2" data-testid="inspect-status" data-status={job.status}>
        <JobStatusBadge status={job.status} />
        {job.errorKind && <Badge variant="outline">{job.errorKind}</Badge>}
        {canRetry && (
          <Button
            size="sm"
            variant="outline"
            disabled={busy}
            onClick={() =>
              void act(async () => {
                await adminApi.retry(job.id);
                setNotice("Queued again; this page follows it until it finishes.");
                reload();
              })
            }
          >
            <RotateCcw aria-hidden /> Retry
          </Button>
        )}
        {finished && (
          <Button size="sm" variant="ghost" disabled={busy} onClick={() => setConfirmDiscard(true)}>
            <Trash2 aria-hidden /> Discard
          </Button>
        )}
        {notice && (
          <span role="status" className="text-sm" data-testid="inspect-notice">
            {notice}
          </span>
        )}
      </div>
      <Card>
        <CardContent className="grid gap-x-6 gap-y-2 pt-4 text-sm sm:grid-cols-2 sm:pt-6">
          <p>
            <span className="text-muted-foreground">Owner </span>
            <span data-testid="inspect-owner">{job.ownerEmail}</span>
          </p>
          <p>
            <span className="text-muted-foreground">Attempts </span>
            {job.attempt} (retries {job.retryCount} of {job.maxRetries})
          </p>
          <p>
            <span className="text-muted-foreground">Submitted </span>
            <When iso={job.createdAt} />
          </p>
          <p>
            <span className="text-muted-foreground">Finished </span>
            <When iso={job.completedAt} />
          </p>
          {job.errorMessage && (
            <p className="break-words text-red-800 sm:col-span-2" data-testid="inspect-error">
              {job.errorMessage}
            </p>
          )}
        </CardContent>
      </Card>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader>
            <CardTitle className="text-base">Attempts</CardTitle>
          </CardHeader>
          <CardContent>
            <AttemptHistory attempts={attempts} />
          </CardContent>
        </Card>
        <div className="flex flex-col gap-4">
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Input</CardTitle>
            </CardHeader>
            <CardContent>
              <pre className="max-h-80 overflow-auto rounded bg-muted p-3 text-xs" data-testid="inspect-input">
                {JSON.stringify(job.inputData, null, 2)}
              </pre>
            </CardContent>
          </Card>
          {traceback && (
            <Card>
              <CardHeader>
                <CardTitle className="text-base">Last traceback</CardTitle>
              </CardHeader>
              <CardContent>
                <pre className="max-h-96 overflow-auto rounded bg-muted p-3 text-xs" data-testid="last-traceback">
                  {traceback}
                </pre>
              </CardContent>
            </Card>
          )}
        </div>
      </div>
      <ConfirmDialog
        open={confirmDiscard}
        title="Discard this job?"
        confirmLabel="Discard"
        destructive
        busy={busy}
        onCancel={() => setConfirmDiscard(false)}
        onConfirm={() =>
          void act(async () => {
            await adminApi.discard(job.id);
            setConfirmDiscard(false);
            setDiscarded(true);
          }).finally(() => setConfirmDiscard(false))
        }
      >
        <p>
          The {jobTypeLabel(job.jobType)} job of {job.ownerEmail} is deleted with its events, attempts
          and queue entry. This cannot be undone.
        </p>
      </ConfirmDialog>
    </div>
  );
}

function InspectFromAddress() {
  const id = useSearchParams().get("id");
  if (!id) return <ErrorState message="No job was named in the address." />;
  return <Inspect id={id} />;
}

export default function InspectJobPage() {
  return (
    <RequireAccount>
      <RequireAdmin>
        <Suspense>
          <InspectFromAddress />
        </Suspense>
      </RequireAdmin>
    </RequireAccount>
  );
}
