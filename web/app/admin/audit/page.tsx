"use client";

// What admins did, newest first, narrowed by action, a page at a time.
import { useCallback, useEffect, useRef, useState } from "react";

import { AdminsOnly, RequireAdmin } from "@/components/admin/admins-only";
import { AuditList } from "@/components/admin/audit-list";
import { EmptyState } from "@/components/empty-state";
import { ErrorState } from "@/components/error-state";
import { PageTitle } from "@/components/page-title";
import { Button } from "@/components/ui/button";
import { NativeSelect } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { RequireAccount } from "@/hooks/use-account";
import { adminApi } from "@/lib/admin-api";
import { ApiError } from "@/lib/api";
import { AUDIT_ACTIONS, type AuditEntry } from "@/types/admin";

function AuditLog() {
  const [action, setAction] = useState("");
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const latest = useRef(0);

  const load = useCallback(
    async (after: string | null) => {
      const request = ++latest.current; // an answer for an older choice of action is dropped
      setLoading(true);
      setError(null);
      try {
        const page = await adminApi.audit(action || null, after);
        if (request !== latest.current) return;
        setEntries((shown) => (after ? [...shown, ...page.items] : page.items));
        setCursor(page.nextCursor);
      } catch (caught) {
        if (request !== latest.current) return;
        if (caught instanceof ApiError && caught.status === 403) setForbidden(true);
        else setError(caught instanceof Error ? caught.message : "The request failed.");
      } finally {
        if (request === latest.current) setLoading(false);
      }
    },
    [action],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  if (forbidden) return <AdminsOnly />;
  return (
    <div className="flex flex-col gap-4">
      <PageTitle description="Every retry, cancel and discard an admin made, newest first.">Audit log</PageTitle>
      <div className="flex max-w-xs flex-col gap-1.5">
        <Label htmlFor="audit-action">Action</Label>
        <NativeSelect id="audit-action" value={action} onChange={(event) => setAction(event.target.value)}>
          <option value="">All actions</option>
          {Object.entries(AUDIT_ACTIONS).map(([key, label]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </NativeSelect>
      </div>
      {error ? (
        <ErrorState message={error} onRetry={() => void load(null)} />
      ) : !loading && entries.length === 0 ? (
        <EmptyState title="Nothing recorded yet">Admin actions show up here.</EmptyState>
      ) : (
        <AuditList entries={entries} />
      )}
      {loading && <p className="text-sm text-muted-foreground">Loading…</p>}
      {cursor && !loading && (
        <Button variant="outline" className="self-center" onClick={() => void load(cursor)}>
          Load more
        </Button>
      )}
    </div>
  );
}

export default function AuditLogPage() {
  return (
    <RequireAccount>
      <RequireAdmin>
        <AuditLog />
      </RequireAdmin>
    </RequireAccount>
  );
}
