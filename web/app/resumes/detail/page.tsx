"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";

import { ErrorState } from "@/components/error-state";
import { PageTitle } from "@/components/page-title";
import { ResumeView } from "@/components/resume-view";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { RequireAccount } from "@/hooks/use-account";
import { useEntity } from "@/hooks/use-entity";
import { api } from "@/lib/api";

function ResumeDetail() {
  const id = useSearchParams().get("id");
  const { value, error, retry } = useEntity(id, api.resume);
  if (!id) return <ErrorState message="No resume was named in the address." />;
  if (error) return <ErrorState message={error} onRetry={retry} />;
  if (!value) return <p className="text-sm text-muted-foreground">Loading…</p>;
  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <PageTitle description={value.filename}>Resume</PageTitle>
        <Button asChild size="sm">
          <Link href={`/optimize/?resume=${value.id}`}>Optimize this resume</Link>
        </Button>
      </div>
      <Card>
        <CardContent className="pt-4 sm:pt-6">
          <ResumeView resume={value.resume} />
        </CardContent>
      </Card>
    </div>
  );
}

export default function ResumeDetailPage() {
  return (
    <RequireAccount>
      <Suspense>
        <ResumeDetail />
      </Suspense>
    </RequireAccount>
  );
}
