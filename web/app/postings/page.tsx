"use client";

// Add a job posting by URL: the posting page opens at once and fills in as extraction runs.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type FormEvent, useCallback, useEffect, useState } from "react";

import { EmptyState } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { PageTitle } from "@/components/page-title";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { RequireAccount } from "@/hooks/use-account";
import { api, ApiError } from "@/lib/api";
import { timeAgo } from "@/lib/utils";
import type { JobPostingRead } from "@/types/background-job";

function Postings() {
  const router = useRouter();
  const [url, setUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [postings, setPostings] = useState<JobPostingRead[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);

  const loadList = useCallback(() => {
    setListError(null);
    api
      .postings()
      .then((page) => setPostings(page.items))
      .catch((caught: Error) => setListError(caught.message));
  }, []);
  useEffect(loadList, [loadList]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const job = await api.extractPosting(url.trim());
      router.push(`/postings/detail/?job=${job.id}`);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "The request failed.");
      setBusy(false);
    }
  };

  return (
    <div className="flex flex-col gap-6">
      <PageTitle description="Paste the address of a job posting; we read it in the background.">
        Job postings
      </PageTitle>
      <form onSubmit={submit} className="flex flex-col gap-2 sm:flex-row sm:items-end">
        <div className="flex flex-1 flex-col gap-1.5">
          <Label htmlFor="posting-url">Posting URL</Label>
          <Input
            id="posting-url"
            type="url"
            required
            placeholder="https://jobs.example.com/123"
            value={url}
            onChange={(event) => setUrl(event.target.value)}
          />
        </div>
        <Button type="submit" disabled={busy}>
          Add posting
        </Button>
      </form>
      {error && <Alert variant="destructive">{error}</Alert>}
      <section className="flex flex-col gap-2">
        <h2 className="text-lg font-semibold">Your postings</h2>
        {listError && <ErrorState message={listError} onRetry={loadList} />}
        {postings?.length === 0 && (
          <EmptyState title="No job postings yet">Add one by its URL above.</EmptyState>
        )}
        <ul className="flex flex-col gap-2">
          {postings?.map((item) => (
            <li key={item.id} className="rounded-lg border border-border bg-background p-3">
              <Link
                href={`/postings/detail/?id=${item.id}`}
                className="font-medium underline-offset-4 hover:underline"
              >
                {item.jobPosting.title ?? item.url}
              </Link>
              <span className="ml-2 text-sm text-muted-foreground">
                {item.jobPosting.company ?? ""} · {timeAgo(item.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

export default function PostingsPage() {
  return (
    <RequireAccount>
      <Postings />
    </RequireAccount>
  );
}
