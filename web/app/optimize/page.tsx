"use client";

// Pick a resume and a posting, watch the optimization run, then see the score, the keyword gap and
// the tailored resume beside the original.
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { type FormEvent, Suspense, useCallback, useEffect, useState } from "react";

import { EmptyState } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { JobTracker } from "@/components/job-tracker";
import { OptimizationView } from "@/components/optimization-view";
import { PageTitle } from "@/components/page-title";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { RequireAccount } from "@/hooks/use-account";
import { api, ApiError, resultId } from "@/lib/api";
import type {
  BackgroundJob,
  JobPostingRead,
  OptimizationRead,
  ResumeRead,
} from "@/types/background-job";

function Optimize() {
  const params = useSearchParams();
  const [resumes, setResumes] = useState<ResumeRead[] | null>(null);
  const [postings, setPostings] = useState<JobPostingRead[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [resumeId, setResumeId] = useState(params.get("resume") ?? "");
  const [postingId, setPostingId] = useState(params.get("posting") ?? "");
  const [jobId, setJobId] = useState<string | null>(null);
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [result, setResult] = useState<OptimizationRead | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    setLoadError(null);
    Promise.all([api.resumes(), api.postings()])
      .then(([resumePage, postingPage]) => {
        setResumes(resumePage.items);
        setPostings(postingPage.items);
        setResumeId((current) => current || resumePage.items[0]?.id || "");
        setPostingId((current) => current || postingPage.items[0]?.id || "");
      })
      .catch((caught: Error) => setLoadError(caught.message));
  }, []);
  useEffect(load, [load]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setSubmitError(null);
    setResult(null);
    setJobId(null);
    try {
      setJobId((await api.optimize(resumeId, postingId)).id);
    } catch (caught) {
      setSubmitError(caught instanceof ApiError ? caught.detail : "The request failed.");
    } finally {
      setBusy(false);
    }
  };

  const finished = useCallback(async (job: BackgroundJob) => {
    const id = resultId(job, "optimizationId");
    if (id) setResult(await api.optimization(id));
  }, []);

  if (loadError) return <ErrorState message={loadError} onRetry={load} />;
  if (!resumes || !postings) return <p className="text-sm text-muted-foreground">Loading…</p>;
  if (resumes.length === 0 || postings.length === 0) {
    return (
      <div>
        <PageTitle>Optimize</PageTitle>
        <EmptyState title="You need a resume and a job posting first">
          {resumes.length === 0 && (
            <p>
              <Link className="text-primary underline" href="/resumes/">
                Upload a resume
              </Link>
            </p>
          )}
          {postings.length === 0 && (
            <p>
              <Link className="text-primary underline" href="/postings/">
                Add a job posting
              </Link>
            </p>
          )}
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="flex flex-col gap-6">
      <PageTitle description="Tailor a resume to a posting and see how well it matches.">
        Optimize
      </PageTitle>
      <form onSubmit={submit} className="grid gap-3 sm:grid-cols-[1fr_1fr_auto] sm:items-end">
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="resume">Resume</Label>
          <NativeSelect id="resume" value={resumeId} onChange={(e) => setResumeId(e.target.value)}>
            {resumes.map((item) => (
              <option key={item.id} value={item.id}>
                {item.resume.contact?.name ?? item.filename} ({item.filename})
              </option>
            ))}
          </NativeSelect>
        </div>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="posting">Job posting</Label>
          <NativeSelect id="posting" value={postingId} onChange={(e) => setPostingId(e.target.value)}>
            {postings.map((item) => (
              <option key={item.id} value={item.id}>
                {[item.jobPosting.title, item.jobPosting.company].filter(Boolean).join(" · ") ||
                  item.url}
              </option>
            ))}
          </NativeSelect>
        </div>
        <Button type="submit" disabled={busy || !resumeId || !postingId}>
          Optimize
        </Button>
      </form>
      {submitError && <Alert variant="destructive">{submitError}</Alert>}
      {jobId && <JobTracker jobId={jobId} title="Tailoring your resume" onFinished={finished} />}
      {result && (
        <>
          <p className="text-sm">
            <Link
              className="text-primary underline-offset-4 hover:underline"
              href={`/optimizations/detail/?id=${result.id}`}
            >
              Open this optimization on its own page
            </Link>
          </p>
          <OptimizationView optimization={result} />
        </>
      )}
    </div>
  );
}

export default function OptimizePage() {
  return (
    <RequireAccount>
      <Suspense>
        <Optimize />
      </Suspense>
    </RequireAccount>
  );
}
