"use client";

// The dead-letter console: failed jobs of every user, filtered and paged, with retry, discard and
// "retry all matching". The filter lives in the address, so a view can be bookmarked or shared.
import { RotateCcw } from "lucide-react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";

import { AdminsOnly, RequireAdmin } from "@/components/admin/admins-only";
import { ConfirmDialog } from "@/components/admin/confirm-dialog";
import { DeadLetterFilters } from "@/components/admin/dead-letter-filters";
import { DeadLetterList } from "@/components/admin/dead-letter-list";
import { EmptyState } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { PageTitle } from "@/components/page-title";
import { Button } from "@/components/ui/button";
import { RequireAccount } from "@/hooks/use-account";
import { adminApi } from "@/lib/admin-api";
import { ApiError } from "@/lib/api";
import {
  type DeadLetterFilter,
  describeFilter,
  filterFromSearch,
  filterToSearch,
  resolveFilter,
} from "@/lib/dead-letter-filter";
import type { DeadLetter } from "@/types/admin";
import { jobTypeLabel } from "@/types/background-job";

type Confirm = { kind: "discard"; job: DeadLetter } | { kind: "retry-matching" } | null;

function message(caught: unknown): string {
  return caught instanceof ApiError ? caught.detail : "The request failed.";
}

function Console() {
  const router = useRouter();
  const pathname = usePathname();
  const searchKey = filterToSearch(filterFromSearch(useSearchParams()));
  const filter = useMemo(() => filterFromSearch(new URLSearchParams(searchKey)), [searchKey]);
  const [generation, setGeneration] = useState(0);
  // Relative windows ("last hour") are fixed when the filter is applied or the list reloaded, so
  // the rows shown and a "retry all matching" cover the same jobs.
  const apiFilter = useMemo(() => resolveFilter(filter, new Date()), [filter, generation]);

  const [items, setItems] = useState<DeadLetter[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [notice, setNotice] = useState<{ text: string; failed?: boolean } | null>(null);
  const latest = useRef(0);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [confirming, setConfirming] = useState(false);

  const load = useCallback(
    async (after: string | null) => {
      // A page that arrives after a newer request started (the filter changed) is dropped.
      const request = ++latest.current;
      setLoading(true);
      setError(null);
      try {
        const page = await adminApi.deadLetters(apiFilter, after);
        if (request !== latest.current) return;
        setItems((shown) => (after ? [...shown, ...page.items] : page.items));
        setCursor(page.nextCursor);
      } catch (caught) {
        if (request !== latest.current) return;
        if (caught instanceof ApiError && caught.status === 403) setForbidden(true);
        else setError(message(caught));
      } finally {
        if (request === latest.current) setLoading(false);
      }
    },
    [apiFilter],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  const apply = (next: DeadLetterFilter) => {
    setNotice(null);
    const search = filterToSearch(next);
    if (search === searchKey) setGeneration((n) => n + 1);
    else router.replace(search ? `${pathname}?${search}` : pathname);
  };

  const withBusy = async (id: string, action: () => Promise<void>) => {
    setBusy((ids) => new Set(ids).add(id));
    try {
      await action();
    } catch (caught) {
      setNotice({ text: message(caught), failed: true });
    } finally {
      setBusy((ids) => {
        const left = new Set(ids);
        left.delete(id);
        return left;
      });
    }
  };

  const retry = (job: DeadLetter) =>
    withBusy(job.id, async () => {
      await adminApi.retry(job.id);
      setItems((shown) => shown.filter((row) => row.id !== job.id));
      setNotice({ text: `Retried the ${jobTypeLabel(job.jobType)} job of ${job.ownerEmail}: it is queued again.` });
    });

  const confirmed = async () => {
    if (!confirm) return;
    setConfirming(true);
    try {
      if (confirm.kind === "discard") {
        const { job } = confirm;
        await withBusy(job.id, async () => {
          await adminApi.discard(job.id);
          setItems((shown) => shown.filter((row) => row.id !== job.id));
          setNotice({ text: `Discarded the ${jobTypeLabel(job.jobType)} job of ${job.ownerEmail}.` });
        });
      } else {
        try {
          const { count } = await adminApi.retryMatching(apiFilter);
          setNotice({ text: `Retried ${count} ${count === 1 ? "job" : "jobs"}.` });
          setGeneration((n) => n + 1);
        } catch (caught) {
          setNotice({ text: message(caught), failed: true });
        }
      }
    } finally {
      setConfirming(false);
      setConfirm(null);
    }
  };

  if (forbidden) return <AdminsOnly />;
  return (
    <div className="flex flex-col gap-4">
      <PageTitle description="Jobs that failed for good, across every user. Inspect, retry or discard them.">
        Failed jobs
      </PageTitle>
      <DeadLetterFilters value={filter} onApply={apply} />
      <div className="flex flex-wrap items-center gap-2">
        <Button
          variant="outline"
          size="sm"
          disabled={loading || items.length === 0}
          onClick={() => setConfirm({ kind: "retry-matching" })}
        >
          <RotateCcw aria-hidden /> Retry all matching
        </Button>
        {notice && (
          <p
            role={notice.failed ? "alert" : "status"}
            className={notice.failed ? "text-sm text-red-800" : "text-sm"}
            data-testid="console-notice"
          >
            {notice.text}
          </p>
        )}
      </div>
      {error ? (
        <ErrorState message={error} onRetry={() => void load(null)} />
      ) : !loading && items.length === 0 ? (
        <EmptyState title="No failed jobs match">
          {searchKey ? "Try a wider filter." : "Nothing has failed. Enjoy the quiet."}
        </EmptyState>
      ) : (
        <DeadLetterList
          jobs={items}
          busy={busy}
          onRetry={(job) => void retry(job)}
          onDiscard={(job) => setConfirm({ kind: "discard", job })}
        />
      )}
      {loading && <p className="text-sm text-muted-foreground">Loading…</p>}
      {cursor && !loading && (
        <Button variant="outline" className="self-center" onClick={() => void load(cursor)}>
          Load more
        </Button>
      )}
      <ConfirmDialog
        open={confirm !== null}
        title={confirm?.kind === "discard" ? "Discard this job?" : "Retry every matching job?"}
        confirmLabel={confirm?.kind === "discard" ? "Discard" : "Retry all"}
        destructive={confirm?.kind === "discard"}
        busy={confirming}
        onConfirm={() => void confirmed()}
        onCancel={() => setConfirm(null)}
      >
        {confirm?.kind === "discard" ? (
          <p>
            The {jobTypeLabel(confirm.job.jobType)} job of {confirm.job.ownerEmail} is deleted with its
            history. This cannot be undone.
          </p>
        ) : (
          <>
            <p>Every failed job this filter selects goes back on its queue (at most 10,000 at a time):</p>
            <ul className="mt-2 list-disc pl-5" data-testid="confirm-filter">
              {describeFilter(filter).map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </>
        )}
      </ConfirmDialog>
    </div>
  );
}

export default function DeadLetterConsolePage() {
  return (
    <RequireAccount>
      <RequireAdmin>
        <Suspense>
          <Console />
        </Suspense>
      </RequireAdmin>
    </RequireAccount>
  );
}
