import { CheckCircle2, Clock, Loader2, OctagonX, XCircle } from "lucide-react";

import { Badge } from "@/components/ui/badge";
import type { JobStatus } from "@/types/background-job";

const LOOK = {
  pending: { label: "Queued", variant: "muted", Icon: Clock },
  running: { label: "Running", variant: "info", Icon: Loader2 },
  completed: { label: "Completed", variant: "success", Icon: CheckCircle2 },
  failed: { label: "Failed", variant: "danger", Icon: XCircle },
  cancelled: { label: "Cancelled", variant: "warning", Icon: OctagonX },
} as const;

export function JobStatusBadge({ status }: { status: JobStatus }) {
  const { label, variant, Icon } = LOOK[status];
  return (
    <Badge variant={variant} data-status={status}>
      <Icon aria-hidden className={status === "running" ? "size-3 animate-spin" : "size-3"} />
      {label}
    </Badge>
  );
}
