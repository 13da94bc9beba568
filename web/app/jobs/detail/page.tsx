"use client";

// One job: live tracker, what it was given, what it returned, what it made, and each attempt.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";

import { AttemptHistory } from "@/components/attempt-history";
import { ErrorState } from "@/components/error-state";
import { JobTracker } from "@/components/job-tracker";
import { PageTitle } from "@/components/page-title";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { RequireAccount } from "@/hooks/use-account";
import { useEntity } from "@/hooks/use-entity";
import { api } from "@/lib/api";
import type { BackgroundJob } from "@/types/background-job";

const PAGES: Record<string, string> = {
  resumeId: "/resumes/detail/?id=",
  jobPostingId: "/postings/detail/?id=",
  optimizationId: "/optimizations/detail/?id=",
};

function made(job: BackgroundJob): { href: string; label: string }[] {
  return Object.entries(PAGES).flatMap(([key, page]) => {
    const value = job.resultData?.[key];
    return typeof value === "string"
      ? [{ href: page + value, label: `Open the ${key.replace(/Id$/, "").replace("jobPosting", "job posting")}` }]
      : [];
  });
}

function Json({ value }: { value: unknown }) {
  return (
    <pre className="max-h-80 overflow-auto rounded bg-muted p-3 text-xs">
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

function JobDetail() {
  const id = useSearchParams().get("id");
  // The tracker streams the live state; this copy is for the input and result panels.
  const { value: job, error, retry } = useEntity(id, api.job);
  if (!id) return <ErrorState message="No job was named in the address." />;
  if (error) return <ErrorState message={error} onRetry={retry} />;
  return (
    <div className="flex flex-col gap-4">
      <PageTitle description={<span className="break-all">{id}</span>}>Job</PageTitle>
      <JobTracker jobId={id} onFinished={retry} />
      {job && made(job).length > 0 && (
        <ul className="flex flex-wrap gap-3">
          {made(job).map((link) => (
            <li key={link.href}>
              <Link className="text-primary underline-offset-4 hover:underline" href={link.href}>
                {link.label}
              </Link>
            </li>
          ))}
        </ul>
      )}
      {job && (
        <div className="grid gap-4 lg:grid-cols-2">
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Input</CardTitle>
            </CardHeader>
            <CardContent>
              <Json value={job.inputData} />
            </CardContent>
          </Card>
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Result</CardTitle>
            </CardHeader>
            <CardContent>
              {job.resultData ? (
                <Json value={job.resultData} />
              ) : (
                <p className="text-sm text-muted-foreground">No result yet.</p>
              )}
            </CardContent>
          </Card>
          <Card className="lg:col-span-2">
            <CardHeader>
              <CardTitle className="text-base">Attempts</CardTitle>
            </CardHeader>
            <CardContent>
              <AttemptHistory attempts={job.attempts ?? []} />
            </CardContent>
          </Card>
        </div>
      )}
    </div>
  );
}

export default function JobDetailPage() {
  return (
    <RequireAccount>
      <Suspense>
        <JobDetail />
      </Suspense>
    </RequireAccount>
  );
}
