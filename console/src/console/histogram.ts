// The histogram's arithmetic, kept pure so it can be tested without a
// browser: which interval fits a range, where UTC buckets start and end, and
// where each bucket's bar goes in the chart's coordinates.

export type Interval = "MINUTE" | "HOUR" | "DAY" | "WEEK" | "MONTH";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Fine to coarse; MONTH is counted as 31 days when choosing (an upper bound on the bars). */
const WIDTHS: [Interval, number][] = [
  ["MINUTE", MINUTE],
  ["HOUR", HOUR],
  ["DAY", DAY],
  ["WEEK", WEEK],
  ["MONTH", 31 * DAY],
];

/** The most bars the chart draws for a range, so each stays wide enough to click. */
export const MAX_BARS = 100;

/** The finest interval that keeps [from, to) within `maxBars` buckets (MONTH if none does). */
export function chooseInterval(from: number, to: number, maxBars = MAX_BARS): Interval {
  for (const [interval, width] of WIDTHS) {
    // +1: a range that does not start on a boundary touches one bucket more.
    if (Math.ceil((to - from) / width) + 1 <= maxBars) return interval;
  }
  return "MONTH";
}

/** The first instant of the UTC bucket holding `at` (weeks start on Monday, as the server's do). */
export function bucketStart(at: number, interval: Interval): number {
  const d = new Date(at);
  switch (interval) {
    case "MINUTE":
      return Math.floor(at / MINUTE) * MINUTE;
    case "HOUR":
      return Math.floor(at / HOUR) * HOUR;
    case "DAY":
      return Math.floor(at / DAY) * DAY;
    case "WEEK": {
      const day = Math.floor(at / DAY) * DAY;
      const sinceMonday = (d.getUTCDay() + 6) % 7;
      return day - sinceMonday * DAY;
    }
    case "MONTH":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

/** The first instant after the bucket starting at `start`. */
export function bucketEnd(start: number, interval: Interval): number {
  if (interval === "MONTH") {
    const d = new Date(start);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  return start + WIDTHS.find(([i]) => i === interval)![1];
}

export type Bar = { start: number; end: number; count: number; x: number; y: number; width: number; height: number };

/**
 * One bar per bucket, in a `width` × `height` box showing [from, to): x by
 * time (a bucket only partly in range is cut at its edge), height by count
 * against the largest. Buckets wholly outside the range are left out; a
 * non-empty bucket is at least one unit tall so it can be seen and clicked.
 */
export function layoutBars(
  buckets: { start: string | number; count: number }[],
  range: { from: number; to: number },
  interval: Interval,
  box: { width: number; height: number; gap?: number },
): Bar[] {
  const span = range.to - range.from;
  if (!(span > 0)) return [];
  const gap = box.gap ?? 1;
  const scale = (t: number) => ((Math.min(Math.max(t, range.from), range.to) - range.from) / span) * box.width;
  const shown = buckets
    .map((b) => ({ start: typeof b.start === "number" ? b.start : Date.parse(b.start), count: b.count }))
    .map((b) => ({ ...b, end: bucketEnd(b.start, interval) }))
    .filter((b) => b.end > range.from && b.start < range.to && b.count > 0);
  // Heights against the largest bar shown, not one outside the range.
  const max = shown.reduce((m, b) => Math.max(m, b.count), 0);
  const bars: Bar[] = [];
  for (const bucket of shown) {
    const { start, end } = bucket;
    const left = scale(start);
    const right = scale(end);
    const barWidth = Math.max(right - left - gap, Math.min(1, right - left));
    const height = Math.max((bucket.count / max) * box.height, 1);
    bars.push({ start, end, count: bucket.count, x: left, y: box.height - height, width: barWidth, height });
  }
  return bars;
}

/** The instant at `x` in a chart of `width` showing [from, to). */
export function timeAt(x: number, width: number, range: { from: number; to: number }): number {
  const fraction = Math.min(Math.max(x / width, 0), 1);
  return range.from + fraction * (range.to - range.from);
}

/**
 * The time range a click or drag between x positions `a` and `b` selects:
 * from the start of the first bucket touched to the end of the last, within
 * the chart's range.
 */
export function selection(a: number, b: number, width: number, range: { from: number; to: number }, interval: Interval) {
  const first = timeAt(Math.min(a, b), width, range);
  // The right edge itself belongs to the next bucket: step back from it.
  const last = Math.max(timeAt(Math.max(a, b), width, range) - 1, first);
  return {
    from: Math.max(bucketStart(first, interval), range.from),
    to: Math.min(bucketEnd(bucketStart(last, interval), interval), range.to),
  };
}
