"use client";

// Upload a resume (checked before it is sent), watch it being parsed, then read the result.
import Link from "next/link";
import { useCallback, useEffect, useState } from "react";

import { EmptyState } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { FileDrop } from "@/components/file-drop";
import { JobTracker } from "@/components/job-tracker";
import { PageTitle } from "@/components/page-title";
import { ResumeView } from "@/components/resume-view";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { RequireAccount } from "@/hooks/use-account";
import { api, ApiError, resultId } from "@/lib/api";
import { timeAgo } from "@/lib/utils";
import type { BackgroundJob, ResumeRead } from "@/types/background-job";

function Resumes() {
  const [jobId, setJobId] = useState<string | null>(null);
  const [uploading, setUploading] = useState(false);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [parsed, setParsed] = useState<ResumeRead | null>(null);
  const [resumes, setResumes] = useState<ResumeRead[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [lastFile, setLastFile] = useState<File | null>(null);

  const loadList = useCallback(() => {
    setListError(null);
    api
      .resumes()
      .then((page) => setResumes(page.items))
      .catch((caught: Error) => setListError(caught.message));
  }, []);
  useEffect(loadList, [loadList]);

  const upload = async (file: File) => {
    setLastFile(file);
    setUploading(true);
    setUploadError(null);
    setParsed(null);
    setJobId(null);
    try {
      setJobId((await api.uploadResume(file)).id);
    } catch (caught) {
      setUploadError(caught instanceof ApiError ? caught.detail : "The upload failed.");
    } finally {
      setUploading(false);
    }
  };

  const finished = useCallback(
    async (job: BackgroundJob) => {
      const id = resultId(job, "resumeId");
      if (id) setParsed(await api.resume(id));
      loadList();
    },
    [loadList],
  );

  return (
    <div className="flex flex-col gap-6">
      <PageTitle description="Upload a resume: it is read in the background, and you can watch.">
        Resumes
      </PageTitle>
      <FileDrop onFile={upload} disabled={uploading} />
      {uploading && <p className="text-sm text-muted-foreground">Uploading…</p>}
      {uploadError && (
        <ErrorState
          title="The upload was refused"
          message={uploadError}
          onRetry={lastFile ? () => void upload(lastFile) : undefined}
        />
      )}
      {jobId && <JobTracker jobId={jobId} title="Reading your resume" onFinished={finished} />}
      {parsed && (
        <Card>
          <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
            <CardTitle>{parsed.filename}</CardTitle>
            <Button asChild size="sm">
              <Link href={`/optimize/?resume=${parsed.id}`}>Optimize this resume</Link>
            </Button>
          </CardHeader>
          <CardContent>
            <ResumeView resume={parsed.resume} />
          </CardContent>
        </Card>
      )}
      <section className="flex flex-col gap-2">
        <h2 className="text-lg font-semibold">Your resumes</h2>
        {listError && <ErrorState message={listError} onRetry={loadList} />}
        {resumes?.length === 0 && <EmptyState title="No resumes yet">Upload one above.</EmptyState>}
        <ul className="flex flex-col gap-2">
          {resumes?.map((item) => (
            <li key={item.id} className="rounded-lg border border-border bg-background p-3">
              <Link
                href={`/resumes/detail/?id=${item.id}`}
                className="font-medium underline-offset-4 hover:underline"
              >
                {item.resume.contact?.name ?? item.filename}
              </Link>
              <span className="ml-2 text-sm text-muted-foreground">
                {item.filename} · {timeAgo(item.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

export default function ResumesPage() {
  return (
    <RequireAccount>
      <Resumes />
    </RequireAccount>
  );
}
