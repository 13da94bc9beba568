"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";

import { ErrorState } from "@/components/error-state";
import { OptimizationView } from "@/components/optimization-view";
import { PageTitle } from "@/components/page-title";
import { RequireAccount } from "@/hooks/use-account";
import { useEntity } from "@/hooks/use-entity";
import { api } from "@/lib/api";

function OptimizationDetail() {
  const id = useSearchParams().get("id");
  const { value, error, retry } = useEntity(id, api.optimization);
  if (!id) return <ErrorState message="No optimization was named in the address." />;
  if (error) return <ErrorState message={error} onRetry={retry} />;
  if (!value) return <p className="text-sm text-muted-foreground">Loading…</p>;
  return (
    <div className="flex flex-col gap-4">
      <PageTitle
        description={
          value.jobPostingId ? (
            <Link
              className="text-primary underline-offset-4 hover:underline"
              href={`/postings/detail/?id=${value.jobPostingId}`}
            >
              The job posting
            </Link>
          ) : undefined
        }
      >
        Optimization
      </PageTitle>
      <OptimizationView optimization={value} />
    </div>
  );
}

export default function OptimizationDetailPage() {
  return (
    <RequireAccount>
      <Suspense>
        <OptimizationDetail />
      </Suspense>
    </RequireAccount>
  );
}
