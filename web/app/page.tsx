"use client";

// The dashboard: the user's jobs, live, filtered by status and type, a page at a time.
import { ChevronLeft, ChevronRight } from "lucide-react";
import Link from "next/link";
import { useCallback, useEffect, useState } from "react";

import { ErrorState } from "@/components/error-state";
import { JobList } from "@/components/job-list";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { RequireAccount } from "@/hooks/use-account";
import { useJobEvents } from "@/hooks/use-job-events";
import { api, ApiError } from "@/lib/api";
import {
  type BackgroundJob,
  JOB_STATUSES,
  JOB_TYPES,
  type JobStatus,
} from "@/types/background-job";

const PAGE_SIZE = 20;

function Dashboard() {
  const [status, setStatus] = useState<JobStatus | "">("");
  const [jobType, setJobType] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // one per page seen
  const [jobs, setJobs] = useState<BackgroundJob[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1] ?? null;

  const load = useCallback(async () => {
    setError(null);
    try {
      const page = await api.jobs({
        status: status ? [status] : [],
        jobType: jobType ? [jobType] : [],
        cursor,
        limit: PAGE_SIZE,
      });
      setJobs(page.items);
      setNext(page.nextCursor);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "Could not load your jobs.");
    }
  }, [status, jobType, cursor]);

  useEffect(() => {
    void load();
  }, [load]);

  const upsert = useCallback(
    (job: BackgroundJob) =>
      setJobs((current) => {
        if (!current) return current;
        const index = current.findIndex((item) => item.id === job.id);
        if (index >= 0) {
          // Keep the links the list answer had; events carry the job alone.
          const merged = { ...job, links: { ...current[index]?.links, ...job.links } };
          return current.map((item, i) => (i === index ? merged : item));
        }
        const matches = (!status || job.status === status) && (!jobType || job.jobType === jobType);
        return cursors.length === 1 && matches ? [job, ...current] : current;
      }),
    [status, jobType, cursors.length],
  );
  const connection = useJobEvents(upsert, () => void load());

  const remove = (jobId: string) =>
    setJobs((current) => current?.filter((job) => job.id !== jobId) ?? null);

  const changeFilter = (apply: () => void) => {
    apply();
    setCursors([null]);
  };

  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Your jobs</h1>
          <p className="text-sm text-muted-foreground">
            Live: changes show up as they happen
            {connection === "reconnecting" && " (reconnecting…)"}.
          </p>
        </div>
        <div className="flex flex-wrap gap-2">
          <Button asChild variant="outline" size="sm">
            <Link href="/resumes/">Upload a resume</Link>
          </Button>
          <Button asChild variant="outline" size="sm">
            <Link href="/postings/">Add a posting</Link>
          </Button>
          <Button asChild size="sm">
            <Link href="/optimize/">Optimize</Link>
          </Button>
        </div>
      </div>
      <div className="grid grid-cols-2 gap-3 sm:max-w-md">
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="filter-status">Status</Label>
          <NativeSelect
            id="filter-status"
            value={status}
            onChange={(event) => changeFilter(() => setStatus(event.target.value as JobStatus | ""))}
          >
            <option value="">All</option>
            {JOB_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </NativeSelect>
        </div>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="filter-type">Type</Label>
          <NativeSelect
            id="filter-type"
            value={jobType}
            onChange={(event) => changeFilter(() => setJobType(event.target.value))}
          >
            <option value="">All</option>
            {Object.entries(JOB_TYPES).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </NativeSelect>
        </div>
      </div>
      {error && <ErrorState message={error} onRetry={() => void load()} />}
      {jobs === null && !error && <p className="text-sm text-muted-foreground">Loading…</p>}
      {jobs && (
        <JobList
          jobs={jobs}
          onChange={upsert}
          onDeleted={remove}
          empty={status || jobType ? "No jobs match these filters" : "No jobs yet"}
        />
      )}
      <nav aria-label="Pages" className="flex justify-between">
        <Button
          variant="outline"
          size="sm"
          disabled={cursors.length === 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          <ChevronLeft aria-hidden /> Newer
        </Button>
        <Button
          variant="outline"
          size="sm"
          disabled={!next}
          onClick={() => next && setCursors([...cursors, next])}
        >
          Older <ChevronRight aria-hidden />
        </Button>
      </nav>
    </div>
  );
}

export default function DashboardPage() {
  return (
    <RequireAccount>
      <Dashboard />
    </RequireAccount>
  );
}
