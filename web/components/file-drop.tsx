"use client";

// Pick or drop a resume file. Type and size are checked here first, so an obvious mistake is
// explained at once instead of after an upload; the server checks both again, content included.
import { FileUp } from "lucide-react";
import { type DragEvent, type KeyboardEvent, useId, useRef, useState } from "react";

import { cn } from "@/lib/utils";

export const ACCEPTED_EXTENSIONS = [".pdf", ".docx", ".txt", ".md"];
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024; // ATSPRO_MAX_UPLOAD_BYTES' default

/** Why a file cannot be uploaded, or null when it may be. */
export function fileProblem(file: File, maxBytes = MAX_UPLOAD_BYTES): string | null {
  const name = file.name.toLowerCase();
  if (!ACCEPTED_EXTENSIONS.some((extension) => name.endsWith(extension))) {
    return `"${file.name}" is not a PDF, DOCX, TXT or MD file.`;
  }
  if (file.size === 0) return `"${file.name}" is empty.`;
  if (file.size > maxBytes) {
    return `"${file.name}" is larger than ${Math.floor(maxBytes / (1024 * 1024))} MiB.`;
  }
  return null;
}

export function FileDrop({
  onFile,
  disabled = false,
}: {
  onFile: (file: File) => void;
  disabled?: boolean;
}) {
  const input = useRef<HTMLInputElement>(null);
  const hint = useId();
  const [over, setOver] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const take = (file: File | undefined) => {
    if (!file) return;
    const reason = fileProblem(file);
    setProblem(reason);
    if (!reason) onFile(file);
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (!disabled) take(event.dataTransfer.files[0]);
  };

  const key = (event: KeyboardEvent) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.current?.click();
    }
  };

  return (
    <div className="flex flex-col gap-2">
      <div
        role="button"
        tabIndex={disabled ? -1 : 0}
        aria-disabled={disabled}
        aria-describedby={hint}
        data-testid="file-drop"
        onClick={() => !disabled && input.current?.click()}
        onKeyDown={key}
        onDragOver={(event) => {
          event.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        className={cn(
          "flex cursor-pointer flex-col items-center gap-2 rounded-lg border-2 border-dashed border-border bg-background p-8 text-center transition-colors focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
          over && "border-primary bg-blue-50",
          disabled && "cursor-not-allowed opacity-60",
        )}
      >
        <FileUp aria-hidden className="size-8 text-muted-foreground" />
        <p className="font-medium">Drop your resume here, or click to choose a file</p>
        <p id={hint} className="text-sm text-muted-foreground">
          PDF, DOCX, TXT or MD, up to {MAX_UPLOAD_BYTES / (1024 * 1024)} MiB
        </p>
        <input
          ref={input}
          type="file"
          data-testid="file-input"
          accept={ACCEPTED_EXTENSIONS.join(",")}
          className="sr-only"
          tabIndex={-1}
          aria-hidden
          disabled={disabled}
          onChange={(event) => {
            take(event.target.files?.[0]);
            event.target.value = "";
          }}
        />
      </div>
      {problem && (
        <p role="alert" className="text-sm text-red-800">
          {problem}
        </p>
      )}
    </div>
  );
}
