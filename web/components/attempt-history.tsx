// A job's runs, oldest first: when each ran, how it ended and why. Owners see the message; admins
// (`operator`) also see the worker and the traceback, which may name internals.
import { Badge } from "@/components/ui/badge";
import { formatSeconds } from "@/lib/utils";
import type { AdminAttempt } from "@/types/admin";
import type { Attempt, AttemptOutcome } from "@/types/background-job";

type Variant = "muted" | "info" | "success" | "warning" | "danger";

export const OUTCOMES: Readonly<Record<AttemptOutcome, { label: string; variant: Variant }>> = {
  running: { label: "Running", variant: "info" },
  completed: { label: "Completed", variant: "success" },
  failed: { label: "Failed", variant: "danger" },
  retry_scheduled: { label: "Failed, retry scheduled", variant: "warning" },
  requeued: { label: "Requeued (restart or lost worker)", variant: "muted" },
  stalled: { label: "Stalled", variant: "warning" },
  cancelled: { label: "Cancelled", variant: "muted" },
};

function isOperator(attempt: Attempt | AdminAttempt): attempt is AdminAttempt {
  return "traceback" in attempt;
}

function took(attempt: Attempt): string | null {
  if (!attempt.finishedAt) return null;
  return formatSeconds((Date.parse(attempt.finishedAt) - Date.parse(attempt.startedAt)) / 1000);
}

export function AttemptHistory({ attempts }: { attempts: (Attempt | AdminAttempt)[] }) {
  if (attempts.length === 0) {
    return <p className="text-sm text-muted-foreground">It has not run yet.</p>;
  }
  return (
    <ol className="flex flex-col gap-3" aria-label="Attempts">
      {attempts.map((attempt) => {
        const outcome = OUTCOMES[attempt.outcome] ?? { label: attempt.outcome, variant: "muted" };
        const duration = took(attempt);
        return (
          <li
            key={attempt.attempt}
            data-testid="attempt"
            data-outcome={attempt.outcome}
            className="rounded-md border border-border p-3"
          >
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-medium">Attempt {attempt.attempt}</span>
              <Badge variant={outcome.variant}>{outcome.label}</Badge>
              {attempt.errorKind && <Badge variant="outline">{attempt.errorKind}</Badge>}
              <span className="text-xs text-muted-foreground">
                <time dateTime={attempt.startedAt}>{new Date(attempt.startedAt).toLocaleString()}</time>
                {duration && ` · took ${duration}`}
              </span>
            </div>
            {isOperator(attempt) && attempt.workerId && (
              <p className="mt-1 text-xs text-muted-foreground">
                Worker <code className="break-all">{attempt.workerId}</code>
              </p>
            )}
            {attempt.errorMessage && (
              <p className="mt-2 text-sm break-words text-red-800" data-testid="attempt-error">
                {attempt.errorMessage}
              </p>
            )}
            {isOperator(attempt) && attempt.traceback && (
              <details className="mt-2">
                <summary className="cursor-pointer text-sm text-muted-foreground">Traceback</summary>
                <pre className="mt-2 max-h-80 overflow-auto rounded bg-muted p-3 text-xs" data-testid="traceback">
                  {attempt.traceback}
                </pre>
              </details>
            )}
          </li>
        );
      })}
    </ol>
  );
}
