"use client";

// The console's filter form. It edits a draft; "Apply" hands the whole filter up at once, so the
// list, the address and "retry all matching" always agree on one filter.
import { Search, X } from "lucide-react";
import { type FormEvent, useEffect, useState } from "react";

import { Button } from "@/components/ui/button";
import { Input, NativeSelect } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import {
  type DeadLetterFilter,
  EMPTY_FILTER,
  ERROR_KINDS,
  filterProblem,
  WITHIN,
} from "@/lib/dead-letter-filter";
import { JOB_TYPES } from "@/types/background-job";

export function DeadLetterFilters({
  value,
  onApply,
}: {
  value: DeadLetterFilter;
  onApply: (filter: DeadLetterFilter) => void;
}) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const problem = filterProblem(draft);
  const set = (key: keyof DeadLetterFilter) => (event: { target: { value: string } }) =>
    setDraft({ ...draft, [key]: event.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!problem) onApply(draft);
  };

  return (
    <form
      onSubmit={submit}
      aria-label="Filter failed jobs"
      className="grid gap-3 rounded-lg border border-border bg-background p-4 sm:grid-cols-2 lg:grid-cols-7"
    >
      <div className="flex flex-col gap-1.5 sm:col-span-2">
        <Label htmlFor="filter-q">Error message contains</Label>
        <Input id="filter-q" type="search" value={draft.q} onChange={set("q")} maxLength={200} placeholder="e.g. timeout" />
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="filter-type">Job type</Label>
        <NativeSelect id="filter-type" value={draft.jobType} onChange={set("jobType")}>
          <option value="">All types</option>
          {Object.entries(JOB_TYPES).map(([type, label]) => (
            <option key={type} value={type}>
              {label}
            </option>
          ))}
        </NativeSelect>
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="filter-kind">Error kind</Label>
        <NativeSelect id="filter-kind" value={draft.errorKind} onChange={set("errorKind")}>
          <option value="">All kinds</option>
          {Object.entries(ERROR_KINDS).map(([kind, label]) => (
            <option key={kind} value={kind}>
              {label}
            </option>
          ))}
        </NativeSelect>
      </div>
      <div className="flex flex-col gap-1.5">
        <Label htmlFor="filter-within">Failed</Label>
        <NativeSelect id="filter-within" value={draft.within} onChange={set("within")}>
          <option value="">Any time</option>
          {Object.entries(WITHIN).map(([key, { label }]) => (
            <option key={key} value={key}>
              {label}
            </option>
          ))}
        </NativeSelect>
      </div>
      <div className="grid grid-cols-2 gap-2 sm:col-span-2">
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="filter-from">From (UTC)</Label>
          <Input id="filter-from" type="date" value={draft.from} onChange={set("from")} />
        </div>
        <div className="flex flex-col gap-1.5">
          <Label htmlFor="filter-to">To (UTC)</Label>
          <Input id="filter-to" type="date" value={draft.to} onChange={set("to")} />
        </div>
      </div>
      <div className="flex flex-wrap items-center gap-2 sm:col-span-2 lg:col-span-7">
        <Button type="submit" size="sm" disabled={problem !== null}>
          <Search aria-hidden /> Apply filter
        </Button>
        <Button type="button" variant="ghost" size="sm" onClick={() => onApply(EMPTY_FILTER)}>
          <X aria-hidden /> Clear
        </Button>
        {problem && (
          <span role="alert" className="text-sm text-red-800">
            {problem}
          </span>
        )}
      </div>
    </form>
  );
}
