"use client";

import { Progress as ProgressPrimitive } from "radix-ui";
import { useEffect, useRef } from "react";

import { cn } from "@/lib/utils";

/**
 * A progress bar. The indicator's width is set through the DOM (CSSOM), not a `style` attribute:
 * the page's CSP allows no inline style attributes, and CSSOM changes are not inline styles.
 */
export function Progress({
  value,
  className,
  label,
}: {
  value: number;
  className?: string;
  label: string;
}) {
  const indicator = useRef<HTMLDivElement>(null);
  const clamped = Math.min(100, Math.max(0, value));
  useEffect(() => {
    indicator.current?.style.setProperty("width", `${clamped}%`);
  }, [clamped]);
  return (
    <ProgressPrimitive.Root
      value={clamped}
      aria-label={label}
      className={cn("relative h-2.5 w-full overflow-hidden rounded-full bg-muted", className)}
    >
      <ProgressPrimitive.Indicator
        ref={indicator}
        className="h-full w-0 bg-primary transition-[width] duration-300"
      />
    </ProgressPrimitive.Root>
  );
}
