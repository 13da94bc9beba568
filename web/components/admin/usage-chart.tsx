// Jobs submitted per UTC day, stacked by type, as a hand-written SVG: a dozen rectangles need no
// chart library, and SVG presentation attributes are not inline styles, so the strict CSP holds.
// The same numbers are in a table below the chart for screen readers and exact reading.
import { type ChartData } from "@/lib/usage-chart";
import { cn } from "@/lib/utils";
import { jobTypeLabel } from "@/types/background-job";

// Literal class names, so Tailwind's scanner generates them.
const FILLS = ["fill-blue-600", "fill-emerald-500", "fill-amber-500", "fill-violet-500", "fill-rose-500", "fill-slate-400"];
const SWATCHES = ["bg-blue-600", "bg-emerald-500", "bg-amber-500", "bg-violet-500", "bg-rose-500", "bg-slate-400"];

const HEIGHT = 220;
const LEFT = 36;
const BOTTOM = 24;
const TOP = 8;

/**
 * An SVG scales its text with it, so one drawing cannot read well on both a phone and a desktop:
 * the page draws a narrow one (`width` 360) for phones and a wide one (720) for larger screens.
 */
function Bars({ data, width, className, testId }: { data: ChartData; width: number; className: string; testId: string }) {
  const WIDTH = width;
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const slot = plotWidth / Math.max(1, data.columns.length);
  const barWidth = Math.max(1, slot * 0.7);
  const y = (value: number) => TOP + plotHeight - (value / data.axisMax) * plotHeight;
  const color = (jobType: string) => data.types.indexOf(jobType) % FILLS.length;
  const last = data.columns.length - 1;
  const anchor = (index: number) => (index === 0 ? "start" : index === last ? "end" : "middle");

  return (
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        className={cn("h-auto w-full", className)}
        role="img"
        aria-label="Jobs submitted per day, stacked by job type"
        data-testid={testId}
      >
        {data.ticks.map((tick) => (
          <g key={tick}>
            <line x1={LEFT} x2={WIDTH - 4} y1={y(tick)} y2={y(tick)} className="stroke-slate-200" strokeWidth={1} />
            <text x={LEFT - 6} y={y(tick) + 4} textAnchor="end" className="fill-slate-500 text-[11px]">
              {tick}
            </text>
          </g>
        ))}
        {data.columns.map((column, index) => {
          const x = LEFT + index * slot + (slot - barWidth) / 2;
          return (
            <g key={column.day} data-day={column.day} data-total={column.total}>
              {column.segments.map((segment) => (
                <rect
                  key={segment.jobType}
                  x={x}
                  width={barWidth}
                  y={y(segment.base + segment.value)}
                  height={y(segment.base) - y(segment.base + segment.value)}
                  className={FILLS[color(segment.jobType)]}
                >
                  <title>{`${column.day}: ${segment.value} ${jobTypeLabel(segment.jobType)}`}</title>
                </rect>
              ))}
              {(index === 0 || index === last || index === Math.floor(last / 2)) && (
                <text
                  x={index === 0 ? x : index === last ? x + barWidth : x + barWidth / 2}
                  y={HEIGHT - 6}
                  textAnchor={anchor(index)}
                  className="fill-slate-500 text-[11px]"
                >
                  {column.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
  );
}

export function UsageChart({ data }: { data: ChartData }) {
  const color = (jobType: string) => data.types.indexOf(jobType) % FILLS.length;
  return (
    <figure className="flex flex-col gap-3">
      <Bars data={data} width={360} className="sm:hidden" testId="usage-chart-compact" />
      <Bars data={data} width={720} className="hidden sm:block" testId="usage-chart" />
      <figcaption className="flex flex-wrap gap-x-4 gap-y-1 text-xs text-muted-foreground">
        {data.types.map((jobType) => (
          <span key={jobType} className="inline-flex items-center gap-1.5">
            <span aria-hidden className={cn("inline-block size-2.5 rounded-sm", SWATCHES[color(jobType)])} />
            {jobTypeLabel(jobType)}
          </span>
        ))}
        {data.types.length === 0 && <span>No jobs in this window.</span>}
      </figcaption>
    </figure>
  );
}
