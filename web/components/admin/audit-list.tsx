// The audit log's rows: when, which admin, what they did, to what. A discarded job's id is shown
// as text: there is nothing left to open.
import Link from "next/link";

import { Badge } from "@/components/ui/badge";
import { AUDIT_ACTIONS, type AuditEntry } from "@/types/admin";

/** The entry's detail in one line: a bulk retry's count and filter, or the fields as `key: value`. */
export function auditDetail(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" · ");
}

function Target({ entry }: { entry: AuditEntry }) {
  if (!entry.target) return <span className="text-muted-foreground">—</span>;
  const openable = entry.action.startsWith("job.") && entry.action !== "job.discard";
  return openable ? (
    <Link className="break-all text-primary underline-offset-4 hover:underline" href={`/admin/jobs/detail/?id=${entry.target}`}>
      {entry.target}
    </Link>
  ) : (
    <code className="break-all text-xs">{entry.target}</code>
  );
}

export function AuditList({ entries }: { entries: AuditEntry[] }) {
  return (
    <ul className="flex flex-col divide-y divide-border rounded-lg border border-border bg-background">
      {entries.map((entry) => (
        <li key={entry.id} data-testid="audit-entry" data-action={entry.action} className="flex flex-col gap-1 p-4 text-sm">
          <div className="flex flex-wrap items-center gap-2">
            <Badge variant={entry.action.endsWith("discard") ? "danger" : "info"}>
              {AUDIT_ACTIONS[entry.action] ?? entry.action}
            </Badge>
            <span className="font-medium">{entry.adminEmail}</span>
            <time className="text-xs text-muted-foreground" dateTime={entry.createdAt}>
              {new Date(entry.createdAt).toLocaleString()}
            </time>
          </div>
          <Target entry={entry} />
          {Object.keys(entry.detail).length > 0 && (
            <p className="break-words text-xs text-muted-foreground">{auditDetail(entry.detail)}</p>
          )}
        </li>
      ))}
    </ul>
  );
}
