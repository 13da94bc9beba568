"use client";

// A job posting: `?id=` shows a stored one; `?job=` shows the extraction job live and then the
// posting it made (the address switches to `?id=` so a reload or a shared link keeps working).
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useCallback } from "react";

import { ErrorState } from "@/components/error-state";
import { JobTracker } from "@/components/job-tracker";
import { PageTitle } from "@/components/page-title";
import { PostingView } from "@/components/posting-view";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { RequireAccount } from "@/hooks/use-account";
import { useEntity } from "@/hooks/use-entity";
import { api, resultId } from "@/lib/api";
import type { BackgroundJob } from "@/types/background-job";

function Loading() {
  return (
    <Card aria-busy="true" data-testid="posting-loading">
      <CardContent className="flex animate-pulse flex-col gap-3 pt-4 sm:pt-6">
        <div className="h-6 w-2/3 rounded bg-muted" />
        <div className="h-4 w-1/3 rounded bg-muted" />
        <div className="h-20 rounded bg-muted" />
      </CardContent>
    </Card>
  );
}

function PostingDetail() {
  const params = useSearchParams();
  const router = useRouter();
  const id = params.get("id");
  const jobId = params.get("job");
  const { value, error, retry } = useEntity(id, api.posting);

  const finished = useCallback(
    (job: BackgroundJob) => {
      const postingId = resultId(job, "jobPostingId");
      if (postingId) router.replace(`/postings/detail/?id=${postingId}`);
    },
    [router],
  );

  if (!id && jobId) {
    return (
      <div className="flex flex-col gap-4">
        <PageTitle>New job posting</PageTitle>
        <JobTracker
          jobId={jobId}
          title="Reading the posting"
          onFinished={finished}
          placeholder={<Loading />}
        />
      </div>
    );
  }
  if (!id) return <ErrorState message="No job posting was named in the address." />;
  if (error) return <ErrorState message={error} onRetry={retry} />;
  if (!value) return <Loading />;
  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <PageTitle>Job posting</PageTitle>
        <Button asChild size="sm">
          <Link href={`/optimize/?posting=${value.id}`}>Optimize a resume for it</Link>
        </Button>
      </div>
      <Card>
        <CardContent className="pt-4 sm:pt-6">
          <PostingView posting={{ ...value.jobPosting, url: value.jobPosting.url ?? value.url }} />
        </CardContent>
      </Card>
    </div>
  );
}

export default function PostingDetailPage() {
  return (
    <RequireAccount>
      <Suspense>
        <PostingDetail />
      </Suspense>
    </RequireAccount>
  );
}
