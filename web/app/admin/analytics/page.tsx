"use client";

// Usage over the last N UTC days: the headline numbers, jobs per day by type, and per type the
// success rate, median and p95 durations and retries; the most used operations.
import { type ReactNode, useMemo, useState } from "react";

import { AdminsOnly, RequireAdmin } from "@/components/admin/admins-only";
import { UsageChart } from "@/components/admin/usage-chart";
import { ErrorState } from "@/components/error-state";
import { PageTitle } from "@/components/page-title";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { NativeSelect } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { RequireAccount } from "@/hooks/use-account";
import { useAdminData } from "@/hooks/use-admin-data";
import { adminApi } from "@/lib/admin-api";
import { formatRate, submittedPerDay, totals } from "@/lib/usage-chart";
import { formatSeconds } from "@/lib/utils";
import { jobTypeLabel } from "@/types/background-job";

const WINDOWS = [7, 30, 90];

function Stat({ label, value, testId }: { label: string; value: ReactNode; testId: string }) {
  return (
    <div className="rounded-lg border border-border bg-background p-4">
      <p className="text-xs text-muted-foreground">{label}</p>
      <p className="mt-1 text-2xl font-semibold tabular-nums" data-testid={testId}>
        {value}
      </p>
    </div>
  );
}

function UsageAnalytics() {
  const [days, setDays] = useState(30);
  const { value, error, forbidden, loading, reload } = useAdminData(String(days), () => adminApi.analytics(days));
  const chart = useMemo(() => (value ? submittedPerDay(value) : null), [value]);
  const sum = useMemo(() => (value ? totals(value) : null), [value]);

  if (forbidden) return <AdminsOnly />;
  return (
    <div className="flex flex-col gap-4">
      <PageTitle description="Counted per UTC day, today included.">Usage</PageTitle>
      <div className="flex max-w-xs flex-col gap-1.5">
        <Label htmlFor="analytics-days">Window</Label>
        <NativeSelect id="analytics-days" value={days} onChange={(event) => setDays(Number(event.target.value))}>
          {WINDOWS.map((n) => (
            <option key={n} value={n}>
              Last {n} days
            </option>
          ))}
        </NativeSelect>
      </div>
      {error && <ErrorState message={error} onRetry={reload} />}
      {!value && loading && <p className="text-sm text-muted-foreground">Loading…</p>}
      {value && chart && sum && (
        <>
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-5">
            <Stat label="Jobs submitted" value={sum.submitted} testId="stat-submitted" />
            <Stat label="Success rate" value={formatRate(sum.successRate)} testId="stat-success" />
            <Stat label="Failed" value={sum.failed} testId="stat-failed" />
            <Stat label="Automatic retries" value={sum.retried} testId="stat-retried" />
            <Stat label="Active users" value={value.activeUsers} testId="stat-active-users" />
          </div>
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Jobs per day</CardTitle>
            </CardHeader>
            <CardContent>
              <UsageChart data={chart} />
            </CardContent>
          </Card>
          <Card>
            <CardHeader>
              <CardTitle className="text-base">By job type</CardTitle>
            </CardHeader>
            <CardContent className="overflow-x-auto">
              <table className="w-full min-w-[36rem] text-sm" data-testid="by-type">
                <thead className="text-left text-xs text-muted-foreground">
                  <tr>
                    <th className="py-2 pr-3 font-medium">Type</th>
                    <th className="py-2 pr-3 text-right font-medium">Submitted</th>
                    <th className="py-2 pr-3 text-right font-medium">Completed</th>
                    <th className="py-2 pr-3 text-right font-medium">Failed</th>
                    <th className="py-2 pr-3 text-right font-medium">Success</th>
                    <th className="py-2 pr-3 text-right font-medium">Median</th>
                    <th className="py-2 pr-3 text-right font-medium">p95</th>
                    <th className="py-2 text-right font-medium">Retries</th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-border tabular-nums">
                  {value.byType.map((row) => (
                    <tr key={row.jobType} data-job-type={row.jobType}>
                      <th scope="row" className="py-2 pr-3 text-left font-medium">
                        {jobTypeLabel(row.jobType)}
                      </th>
                      <td className="py-2 pr-3 text-right" data-col="submitted">{row.submitted}</td>
                      <td className="py-2 pr-3 text-right" data-col="completed">{row.completed}</td>
                      <td className="py-2 pr-3 text-right" data-col="failed">{row.failed}</td>
                      <td className="py-2 pr-3 text-right" data-col="success">{formatRate(row.successRate)}</td>
                      <td className="py-2 pr-3 text-right" data-col="median">{formatSeconds(row.medianDurationS)}</td>
                      <td className="py-2 pr-3 text-right" data-col="p95">{formatSeconds(row.p95DurationS)}</td>
                      <td className="py-2 text-right" data-col="retried">{row.retried}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {value.byType.length === 0 && <p className="py-4 text-sm text-muted-foreground">No jobs in this window.</p>}
            </CardContent>
          </Card>
          <Card>
            <CardHeader>
              <CardTitle className="text-base">Most used operations</CardTitle>
            </CardHeader>
            <CardContent>
              <ol className="flex flex-col gap-1 text-sm" data-testid="top-operations">
                {value.topOperations.map((op, index) => (
                  <li key={op.jobType} className="flex justify-between gap-3">
                    <span>
                      {index + 1}. {jobTypeLabel(op.jobType)}
                    </span>
                    <span className="tabular-nums">{op.submitted}</span>
                  </li>
                ))}
              </ol>
            </CardContent>
          </Card>
        </>
      )}
    </div>
  );
}

export default function AnalyticsPage() {
  return (
    <RequireAccount>
      <RequireAdmin>
        <UsageAnalytics />
      </RequireAdmin>
    </RequireAccount>
  );
}
